package transport

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/marlon-go/marlon/actors"
)

// ping is the test message type.
type ping struct {
	N    int
	Text string
}

// unregistered is never registered: sending it to another node fails.
type unregistered struct{ N int }

func init() { Register[ping]("transport_test.ping") }

// cluster is a set of keys trusted by each other, for test nodes.
type cluster struct {
	keys    map[string]*Key
	trusted Trusted
}

func newCluster(t testing.TB, names ...string) *cluster {
	t.Helper()
	c := &cluster{keys: map[string]*Key{}, trusted: Trusted{}}
	for _, name := range names {
		k, err := GenerateKey(name)
		if err != nil {
			t.Fatal(err)
		}
		c.keys[name] = k
		c.trusted.Add(k)
	}
	return c
}

func testLogger() *slog.Logger {
	if os.Getenv("TRANSPORT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// config is a node configuration for tests: short heartbeats, but a second
// of silence before a node is declared down, so that a loaded machine does
// not fail nodes spuriously.
func (c *cluster) config(name, url string) Config {
	return Config{
		Name: name, URL: url, Key: c.keys[name], Trusted: c.trusted,
		Heartbeat: 100 * time.Millisecond, MissedHeartbeats: 10, ReconnectWait: 20 * time.Millisecond,
		Logger: testLogger(),
	}
}

func (c *cluster) start(t testing.TB, name, url string, edit ...func(*Config)) *Node {
	t.Helper()
	cfg := c.config(name, url)
	for _, e := range edit {
		e(&cfg)
	}
	n, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

func startServer(t testing.TB, o ServerOptions) *server.Server {
	t.Helper()
	s, err := StartServer(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// waitMembers waits until every node sees count members.
func waitMembers(t testing.TB, count int, nodes ...*Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range nodes {
		if _, err := n.WaitMembers(ctx, count); err != nil {
			t.Fatalf("node %s: %v", n.Name(), err)
		}
	}
}

// events collects what actors saw, for assertions from the test goroutine.
type events struct {
	mu   sync.Mutex
	list []string
	ch   chan struct{}
}

func newEvents() *events { return &events{ch: make(chan struct{}, 1)} }

func (e *events) add(format string, args ...any) {
	e.mu.Lock()
	e.list = append(e.list, fmt.Sprintf(format, args...))
	e.mu.Unlock()
	select {
	case e.ch <- struct{}{}:
	default:
	}
}

func (e *events) snapshot() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.list...)
}

func (e *events) count(s string) int {
	k := 0
	for _, x := range e.snapshot() {
		if x == s {
			k++
		}
	}
	return k
}

// waitFor waits until an event satisfies ok, and returns it.
func (e *events) waitFor(t testing.TB, timeout time.Duration, what string, ok func(string) bool) string {
	t.Helper()
	deadline := time.After(timeout)
	seen := 0
	for {
		list := e.snapshot()
		for ; seen < len(list); seen++ {
			if ok(list[seen]) {
				return list[seen]
			}
		}
		select {
		case <-e.ch:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no %s within %v; events: %q", what, timeout, e.snapshot())
		}
	}
}

func (e *events) waitEq(t testing.TB, timeout time.Duration, want string) {
	t.Helper()
	e.waitFor(t, timeout, fmt.Sprintf("event %q", want), func(s string) bool { return s == want })
}

// eventually polls cond until it holds.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recorder is an actor that records every message it receives.
func recorder(ev *events) actors.Actor {
	return actors.ActorFunc(func(ctx actors.Context, msg any) {
		switch m := msg.(type) {
		case actors.Started:
		case actors.Down:
			ev.add("down %v %v", m.Actor, m.Reason)
		case NodeJoined:
			ev.add("joined %s", m.Member.Name)
		case NodeLeft:
			ev.add("left %s", m.Member.Name)
		default:
			ev.add("msg %v from %v", m, ctx.Sender())
		}
	})
}
