package hosting

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/transport"
)

// echoRun is a run of no particular environment: its actors answer a
// request with what they were placed with and the time they see.
type echoRun struct {
	payload string
	ended   *atomic.Int32
}

type echoReply struct {
	Args  string
	Speed float64
	Now   float64
}

func init() { transport.Register[echoReply]("hosting_test.echoReply") }

func (r *echoRun) Actor(args []byte, speed float64) (actors.Actor, error) {
	if string(args) == "refuse" {
		return nil, errors.New("refused")
	}
	return actors.ActorFunc(func(ctx actors.Context, msg any) {
		if s, ok := msg.(string); ok && s == "stop" {
			ctx.Stop(ctx.Self())
		} else if ok {
			ctx.Reply(ctx.ReplyTo(), echoReply{Args: r.payload + "/" + string(args), Speed: speed, Now: ctx.Now()})
		}
	}), nil
}

func (r *echoRun) End() { r.ended.Add(1) }

type testCluster struct {
	t       *testing.T
	url     string
	keys    map[string]*transport.Key
	trusted transport.Trusted
}

func newTestCluster(t *testing.T, names ...string) *testCluster {
	srv, err := transport.StartServer(transport.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	c := &testCluster{t: t, url: srv.ClientURL(), keys: map[string]*transport.Key{}, trusted: transport.Trusted{}}
	for _, name := range names {
		k, err := transport.GenerateKey(name)
		if err != nil {
			t.Fatal(err)
		}
		c.keys[name] = k
		c.trusted.Add(k)
	}
	return c
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func (c *testCluster) node(name string, setup func(*transport.Node)) *transport.Node {
	n, err := transport.Start(transport.Config{
		Name: name, URL: c.url, Key: c.keys[name], Trusted: c.trusted, Scale: 5 * time.Millisecond,
		Heartbeat: 50 * time.Millisecond, MissedHeartbeats: 6, Logger: quiet(), Setup: setup,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(n.Close)
	return n
}

func (c *testCluster) host(name string, speeds []float64, ended *atomic.Int32, fail error, reserved ...float64) *Host {
	var h *Host
	c.node(name, func(n *transport.Node) {
		h = Serve(n, HostConfig{Kind: "echo", Speeds: speeds, Reserved: reserved, Logger: quiet(), NewRun: func(p []byte) (Run, error) {
			if fail != nil {
				return nil, fail
			}
			return &echoRun{payload: string(p), ended: ended}, nil
		}})
	})
	return h
}

// collector is an actor of the master's node that places actors and keeps
// what it hears.
type collector struct {
	mu   sync.Mutex
	got  []string
	seen chan struct{}
}

func (c *collector) add(s string) {
	c.mu.Lock()
	c.got = append(c.got, s)
	c.mu.Unlock()
	select {
	case c.seen <- struct{}{}:
	default:
	}
}

func (c *collector) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		got := append([]string(nil), c.got...)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-c.seen:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("want %d events, have %q", n, got)
		}
	}
}

type lateSlots struct{ Speeds []float64 }

// The placer finds the hosting nodes of its kind, begins the run on them,
// places actors in free slots of the speed asked for, on the run's clock,
// hands the slots of a node that comes later to the run, and the hosts stop
// their actors and end the run when the placer closes.
func TestPlacerPlacesActorsInTheNodesSlots(t *testing.T) {
	c := newTestCluster(t, "master", "a", "b", "other")
	master := c.node("master", nil)
	var ended atomic.Int32
	ha := c.host("a", []float64{1, 2}, &ended, nil)
	// A node that hosts another kind is not the run's.
	c.node("other", func(n *transport.Node) {
		Serve(n, HostConfig{Kind: "else", Speeds: []float64{9}, NewRun: func([]byte) (Run, error) { return nil, errors.New("no") }})
	})

	pl := NewPlacer(master, PlacerConfig{Kind: "echo", Logger: quiet()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pl.WaitNodes(ctx, 1, nil); err != nil {
		t.Fatal(err)
	}
	nodes, err := pl.Nodes(ctx)
	if err != nil || len(nodes) != 1 || nodes[0].Name != "a" || fmt.Sprint(nodes[0].Speeds) != "[1 2]" {
		t.Fatalf("nodes %+v, %v", nodes, err)
	}
	if err := pl.Begin(ctx, []byte("run1")); err != nil {
		t.Fatal(err)
	}

	col := &collector{seen: make(chan struct{}, 1)}
	rt := master.Runtime()
	ert := NewEpisodeRuntime(rt)
	place := func(ctx actors.Context, speed float64, args string) {
		ctx.Request(pl.Addr(), Place{Speed: speed, Args: []byte(args), At: 40}, 1e4, func(ctx actors.Context, reply any, err error) {
			a, err := Placement(reply, err)
			if err != nil {
				col.add("not placed: " + err.Error())
				return
			}
			ctx.Request(a, "hi", 1e4, func(ctx actors.Context, reply any, err error) {
				r, _ := reply.(echoReply)
				col.add(fmt.Sprintf("%s on %s speed %g clock ok %v", r.Args, a.Node, r.Speed, r.Now >= 40 && r.Now < 1000))
			})
		})
	}
	director := ert.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		switch m := msg.(type) {
		case actors.Started:
			place(ctx, 2, "x")
		case string:
			place(ctx, 3, "y") // no slot of speed 3
		case lateSlots:
			col.add(fmt.Sprintf("late %v", m.Speeds))
			place(ctx, 5, "z")
		}
	}))
	if got := col.wait(t, 1); got[0] != "run1/x on a speed 2 clock ok true" {
		t.Fatalf("placed: %q", got)
	}
	rt.Send(director, "more")
	if got := col.wait(t, 2); got[1] != "not placed: no node has a free slot of speed 3" {
		t.Fatalf("placed: %q", got)
	}
	if ha.Hosted() != 1 {
		t.Fatalf("a hosts %d", ha.Hosted())
	}

	pl.Started(director, func(s []float64) any { return lateSlots{s} })
	hb := c.host("b", []float64{5}, &ended, nil)
	got := col.wait(t, 4)
	if got[2] != "late [5]" || got[3] != "run1/z on b speed 5 clock ok true" {
		t.Fatalf("late node: %q", got)
	}

	ert.StopAll()
	pl.Close()
	deadline := time.Now().Add(10 * time.Second)
	for ha.Hosted()+hb.Hosted() > 0 || ended.Load() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("after the run: a hosts %d, b %d, %d runs ended", ha.Hosted(), hb.Hosted(), ended.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A node that cannot begin the run fails Begin, naming the node; waiting
// for nodes ends with the context.
func TestPlacerErrors(t *testing.T) {
	c := newTestCluster(t, "master", "a")
	master := c.node("master", nil)
	var ended atomic.Int32
	c.host("a", []float64{1}, &ended, errors.New("cannot"))
	pl := NewPlacer(master, PlacerConfig{Kind: "echo", Logger: quiet()})
	defer pl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var waits []int
	err := pl.WaitNodes(ctx, 2, func(ready, want int) { waits = append(waits, ready) })
	if !errors.Is(err, context.DeadlineExceeded) || len(waits) == 0 || waits[len(waits)-1] != 1 {
		t.Fatalf("waiting for 2 nodes: %v, waits %v", err, waits)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pl.Nodes(ctx); err != nil {
		t.Fatal(err)
	}
	var be *BeginError
	if err := pl.Begin(ctx, nil); !errors.As(err, &be) || be.Node != "a" || be.Err.Error() != "cannot" {
		t.Fatalf("begin: %v", err)
	}
}

// placeCmd asks the test's director to place an actor.
type placeCmd struct {
	node  string
	speed float64
	args  string
}

// A Place that names a node goes to that node only, into any free slot
// with speed 0, a reserved one first; the host, not the placer's count,
// judges whether a slot is free, so a slot freed by an actor that ended is
// used again. Reserved slots are not offered to runs.
func TestPlaceOnANamedNode(t *testing.T) {
	c := newTestCluster(t, "master", "a", "b")
	master := c.node("master", nil)
	var ended atomic.Int32
	c.host("a", []float64{1, 2}, &ended, nil)
	hb := c.host("b", []float64{3, 4}, &ended, nil, 7)
	pl := NewPlacer(master, PlacerConfig{Kind: "echo", Logger: quiet()})
	defer pl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pl.WaitNodes(ctx, 2, nil); err != nil {
		t.Fatal(err)
	}
	if nodes, err := pl.Nodes(ctx); err != nil || fmt.Sprint(nodes) != "[{a [1 2]} {b [3 4]}]" {
		t.Fatalf("nodes %v, %v", nodes, err)
	}
	if err := pl.Begin(ctx, []byte("r")); err != nil {
		t.Fatal(err)
	}
	col := &collector{seen: make(chan struct{}, 1)}
	rt := master.Runtime()
	ert := NewEpisodeRuntime(rt)
	defer ert.StopAll()
	var placed sync.Map // args -> actors.Addr
	director := ert.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		m, ok := msg.(placeCmd)
		if !ok {
			return
		}
		ctx.Request(pl.Addr(), Place{Node: m.node, Speed: m.speed, Args: []byte(m.args)}, 1e4, func(ctx actors.Context, reply any, err error) {
			a, err := Placement(reply, err)
			if err != nil {
				col.add(m.args + ": " + err.Error())
				return
			}
			placed.Store(m.args, a)
			ctx.Request(a, "hi", 1e4, func(ctx actors.Context, reply any, err error) {
				r, _ := reply.(echoReply)
				col.add(fmt.Sprintf("%s on %s speed %g", m.args, a.Node, r.Speed))
			})
		})
	}))
	steps := []struct {
		cmd  placeCmd
		want string
	}{
		{placeCmd{"", 7, "o"}, "o: no node has a free slot of speed 7"},
		{placeCmd{"b", 0, "n"}, "n on b speed 7"},
		{placeCmd{"b", 0, "p"}, "p on b speed 3"},
		{placeCmd{"b", 0, "q"}, "q on b speed 4"},
		{placeCmd{"b", 0, "r"}, "r: placing on b: node b has no free slot"},
		{placeCmd{"nope", 0, "s"}, "s: node nope is not a hosting node of the run (they are: [a b])"},
		{placeCmd{"", 0, "u"}, "u on a speed 1"},
		{placeCmd{"a", 1, "v"}, "v: placing on a: node a has no free slot of speed 1 (free: [2])"},
	}
	for i, s := range steps {
		rt.Send(director, s.cmd)
		if got := col.wait(t, i+1); got[i] != s.want {
			t.Fatalf("step %d: %q, want %q", i, got[i], s.want)
		}
	}
	p, _ := placed.Load("p")
	rt.Send(p.(actors.Addr), "stop")
	for deadline := time.Now().Add(10 * time.Second); hb.Hosted() != 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("b hosts %d", hb.Hosted())
		}
	}
	rt.Send(director, placeCmd{"b", 0, "w"})
	if got := col.wait(t, len(steps)+1); got[len(steps)] != "w on b speed 3" {
		t.Fatalf("after p ended: %q", got[len(steps)])
	}
}
