package actors

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// loopback is a Remote that connects Live runtimes in one process, standing
// in for a transport.
type loopback struct {
	mu    sync.Mutex
	nodes map[string]*Live
	cut   map[string]bool
}

var errCut = errors.New("link cut")

func (l *loopback) node(name string) (*Live, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut[name] {
		return nil, errCut
	}
	return l.nodes[name], nil
}

func (l *loopback) Deliver(e Envelope) error {
	n, err := l.node(e.To.Node)
	if err != nil {
		return err
	}
	n.Inject(e)
	return nil
}

func (l *loopback) Watch(target, watcher Addr) error {
	n, err := l.node(target.Node)
	if err != nil {
		return err
	}
	n.WatchFor(target, watcher)
	return nil
}

func (l *loopback) Unwatch(target, watcher Addr) {
	if n, err := l.node(target.Node); err == nil {
		n.UnwatchFor(target, watcher)
	}
}

func TestLiveRemoteSeam(t *testing.T) {
	lb := &loopback{nodes: map[string]*Live{}, cut: map[string]bool{}}
	a := NewLive(LiveOptions{Node: "a", Remote: lb})
	b := NewLive(LiveOptions{Node: "b", Remote: lb})
	lb.nodes["a"], lb.nodes["b"] = a, b
	defer a.Close()
	defer b.Close()

	var l log
	server := b.Spawn(&deferredServer{})
	a.Spawn(ActorFunc(func(ctx Context, msg any) {
		switch m := msg.(type) {
		case Started:
			ctx.Watch(server)
			ctx.Request(server, 5, 1e4, func(ctx Context, reply any, err error) {
				l.add(ctx.Now(), "reply %v %v", reply, err)
				lb.mu.Lock()
				lb.cut["b"] = true
				lb.mu.Unlock()
				ctx.Send(server, 1)
				ctx.Request(server, 2, 1e4, func(ctx Context, reply any, err error) {
					l.add(ctx.Now(), "cut request %v", errors.Is(err, errCut))
					a.NodeDown("b", "heartbeats stopped")
				})
			})
		case Undeliverable:
			l.add(ctx.Now(), "undeliverable %v %v", m.Msg, errors.Is(m.Err, errCut))
		case Down:
			l.add(ctx.Now(), "down %v %v", m.Actor == server, m.Reason)
		}
	}))
	deadline := time.Now().Add(10 * time.Second)
	for l.len() < 4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	got, _ := l.snapshot()
	want := []string{"reply 10 <nil>", "undeliverable 1 true", "cut request true", "down true node down"}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func TestLiveRemoteWatcherSeesStop(t *testing.T) {
	lb := &loopback{nodes: map[string]*Live{}, cut: map[string]bool{}}
	a := NewLive(LiveOptions{Node: "a", Remote: lb})
	b := NewLive(LiveOptions{Node: "b", Remote: lb})
	lb.nodes["a"], lb.nodes["b"] = a, b
	defer a.Close()
	defer b.Close()
	var l log
	target := b.Spawn(ActorFunc(func(ctx Context, msg any) {}))
	a.Spawn(ActorFunc(func(ctx Context, msg any) {
		switch m := msg.(type) {
		case Started:
			ctx.Watch(target)
			ctx.Request(target, "ping", 50, func(ctx Context, reply any, err error) {
				b.Stop(target) // the ping was queued before the stop
			})
		case Down:
			l.add(ctx.Now(), "down %v", m.Reason)
		}
	}))
	deadline := time.Now().Add(10 * time.Second)
	for l.len() < 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got, _ := l.snapshot(); len(got) != 1 || got[0] != "down stopped" {
		t.Fatalf("got %q", got)
	}
	a.rmu.Lock()
	left := len(a.rwatch)
	a.rmu.Unlock()
	if left != 0 {
		t.Fatalf("remote watch table still holds %d entries after Down", left)
	}
}

// FirstID moves the actors' numbers, not their random sources.
func TestLiveFirstID(t *testing.T) {
	draw := func(first uint64) (Addr, uint64) {
		rt := NewLive(LiveOptions{Seed: 9, FirstID: first})
		defer rt.Close()
		c := make(chan uint64, 1)
		a := rt.Spawn(ActorFunc(func(ctx Context, msg any) {
			if _, ok := msg.(Started); ok {
				c <- ctx.Rand().Uint64()
			}
		}))
		return a, <-c
	}
	a0, r0 := draw(0)
	a1, r1 := draw(1 << 40)
	if a0.ID != 1 || a1.ID != 1<<40+1 || r0 != r1 {
		t.Fatalf("first actor %v draws %d; from 1<<40: %v draws %d", a0, r0, a1, r1)
	}
}
