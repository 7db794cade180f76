package hosting

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/learning"
	"github.com/marlon-go/marlon/transport"
)

// A Local is a master and a hosting node over an embedded server: the
// master's placer finds the hosting node and places an actor there.
func TestLocalPlacesOnItsHostingNode(t *testing.T) {
	var ended atomic.Int32
	var h *Host
	l, err := StartLocal(transport.Config{Scale: 5 * time.Millisecond, Heartbeat: 50 * time.Millisecond, MissedHeartbeats: 6, Logger: quiet()},
		LocalHost{"slots", func(n *transport.Node) {
			h = Serve(n, HostConfig{Kind: "echo", Speeds: []float64{1}, Logger: quiet(), NewRun: func(p []byte) (Run, error) {
				return &echoRun{payload: string(p), ended: &ended}, nil
			}})
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Master.Name() != LocalMaster || len(l.Hosting) != 1 || l.Hosting[0].Name() != "slots" {
		t.Fatalf("nodes %s and %v", l.Master.Name(), l.Hosting)
	}
	pl := NewPlacer(l.Master, PlacerConfig{Kind: "echo", Logger: quiet()})
	defer pl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pl.WaitNodes(ctx, 1, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := pl.Nodes(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pl.Begin(ctx, []byte("p")); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	l.Master.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if _, ok := msg.(actors.Started); ok {
			ctx.Request(pl.Addr(), Place{Speed: 1, Args: []byte("a")}, 1e4, func(ctx actors.Context, reply any, err error) {
				a, err := Placement(reply, err)
				if err != nil {
					got <- err.Error()
					return
				}
				got <- a.Node
			})
		}
	}))
	select {
	case node := <-got:
		if node != "slots" || h.Hosted() != 1 {
			t.Fatalf("placed on %q; hosted %d", node, h.Hosted())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not placed")
	}
}

// Await ends with the episode, or with its timeout, the context, or when
// no hosting node has been there for too long.
func TestAwait(t *testing.T) {
	c := newTestCluster(t, "master", "a")
	master := c.node("master", nil)
	pl := NewPlacer(master, PlacerConfig{Kind: "echo", Logger: quiet()})
	defer pl.Close()

	done := make(chan struct{})
	close(done)
	if err := pl.Await(context.Background(), done, time.Minute, time.Minute); err != nil {
		t.Fatalf("done: %v", err)
	}
	never := make(chan struct{})
	if err := pl.Await(context.Background(), never, 50*time.Millisecond, time.Minute); !errors.Is(err, ErrTimeout) {
		t.Fatalf("timeout: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := pl.Await(ctx, never, time.Minute, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	// No hosting node: after noNodes.
	start := time.Now()
	if err := pl.Await(context.Background(), never, time.Minute, 200*time.Millisecond); !errors.Is(err, ErrNoNodes) || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("no nodes: %v after %v", err, time.Since(start))
	}
	// With one, Await waits on: until the timeout here.
	var ended atomic.Int32
	c.host("a", []float64{1}, &ended, nil)
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := pl.WaitNodes(wctx, 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := pl.Await(context.Background(), never, 500*time.Millisecond, 200*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatalf("with a node: %v", err)
	}
}

// counting is a policy whose agents check that their calls never overlap.
type counting struct {
	learning    bool
	begun, over int
	inside      atomic.Int32
	overlaps    atomic.Int32
	calls       atomic.Int32
}

func (p *counting) Name() string        { return "counting" }
func (p *counting) SetLearning(on bool) { p.learning = on }
func (p *counting) BeginEpisode()       { p.begun++ }
func (p *counting) EndEpisode()         { p.over++ }
func (p *counting) enter() func()       { return p.visit() }
func (p *counting) NewAgent(learning.AgentID) learning.LearningAlgorithm {
	defer p.enter()()
	return countingAgent{p}
}

func (p *counting) visit() func() {
	if p.inside.Add(1) > 1 {
		p.overlaps.Add(1)
	}
	p.calls.Add(1)
	time.Sleep(10 * time.Microsecond)
	return func() { p.inside.Add(-1) }
}

type countingAgent struct{ p *counting }

func (a countingAgent) InitAgent(learning.Observation)       { defer a.p.enter()() }
func (a countingAgent) IsLearning() bool                     { defer a.p.enter()(); return a.p.learning }
func (a countingAgent) SampleAction() learning.Action        { defer a.p.enter()(); return 0 }
func (a countingAgent) Update(learning.Observation, float64) { defer a.p.enter()() }
func (a countingAgent) ActionProbabilities() []float64       { defer a.p.enter()(); return nil }
func (a countingAgent) AgentJoined(learning.AgentID)         { defer a.p.enter()() }
func (a countingAgent) AgentLeft(learning.AgentID)           { defer a.p.enter()() }

// wrapped is a policy that wraps another, as learning.Adapt's do.
type wrapped struct{ inner learning.Policy }

func (w wrapped) Name() string { return "wrapped" }
func (w wrapped) NewAgent(id learning.AgentID) learning.LearningAlgorithm {
	return w.inner.NewAgent(id)
}
func (w wrapped) Unwrap() learning.Policy { return w.inner }

// A NodePolicy stops learning and begins an episode, through wrappers; its
// agents, on goroutines of their own, take turns; EndEpisode ends the
// episode.
func TestNodePolicy(t *testing.T) {
	p := &counting{learning: true}
	np := NewNodePolicy(wrapped{p})
	if p.learning || p.begun != 1 {
		t.Fatalf("learning %v, episodes begun %d", p.learning, p.begun)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := np.NewAgent(learning.AgentID(rune('a' + i)))
			a.InitAgent(learning.Observation{})
			for range 20 {
				a.SampleAction()
				a.Update(learning.Observation{}, 0)
				a.AgentJoined("x")
				a.AgentLeft("x")
				_ = a.IsLearning()
				a.ActionProbabilities()
			}
		}()
	}
	wg.Wait()
	np.EndEpisode()
	if p.overlaps.Load() != 0 || p.calls.Load() != 8*(2+20*6) || p.over != 1 {
		t.Fatalf("%d overlapping calls of %d; episodes ended %d", p.overlaps.Load(), p.calls.Load(), p.over)
	}
}
