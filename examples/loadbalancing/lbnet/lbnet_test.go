package lbnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	lb "github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/learning"
	"github.com/marlon-go/marlon/transport"
)

// factoring is a test policy: each worker asks for half its share of what
// is not handed out yet, and the policy counts the joins and leaves its
// agents are told of.
type factoring struct {
	joined, left *atomic.Int64
}

func (f factoring) Name() string { return "factoring" }
func (f factoring) NewAgent(learning.AgentID) learning.LearningAlgorithm {
	return &factoringAgent{f: f}
}

type factoringAgent struct {
	f   factoring
	obs learning.Observation
}

func (a *factoringAgent) InitAgent(obs learning.Observation)         { a.obs = obs }
func (a *factoringAgent) Update(obs learning.Observation, _ float64) { a.obs = obs }
func (a *factoringAgent) IsLearning() bool                           { return false }
func (a *factoringAgent) ActionProbabilities() []float64             { return nil }
func (a *factoringAgent) AgentJoined(learning.AgentID)               { a.f.joined.Add(1) }
func (a *factoringAgent) AgentLeft(learning.AgentID)                 { a.f.left.Add(1) }
func (a *factoringAgent) SampleAction() learning.Action {
	r, p := a.obs.Get(lb.FieldRemaining), math.Max(a.obs.Get(lb.FieldWorkers), 1)
	return learning.Action(math.Ceil(r / (2 * p)))
}

// counts are what the agents of every node were told.
type counts struct{ joined, left atomic.Int64 }

func (c *counts) factory() PolicyFactory {
	return func(s PolicySpec) (learning.Policy, error) {
		if s.Algorithm != "factoring" || s.Checkpoint != nil {
			return nil, fmt.Errorf("no policy %q with a %d-byte checkpoint", s.Algorithm, len(s.Checkpoint))
		}
		return factoring{&c.joined, &c.left}, nil
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// check asserts what every live run must show: every unit done exactly once
// by the ledger, and every report agrees with the ledger.
func check(t *testing.T, res lb.Result) {
	t.Helper()
	if err := res.CheckLedger(); err != nil {
		t.Fatal(err)
	}
	if !(res.Ratio >= 1) || math.IsInf(res.LowerBound, 0) {
		t.Errorf("makespan %v, lower bound %v", res.Makespan, res.LowerBound)
	}
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestLiveRunInOneProcess(t *testing.T) {
	sc := lb.Scenario{
		Workers: 4, Speeds: []float64{1, 2, 3, 4}, SpeedMin: 1, SpeedMax: 5, Job: 2000, UnitTime: 1, CommTime: 0.5, Variability: 0.3,
		Joins: []lb.Join{{At: 20, Count: 1, Speed: 2}}, Leaves: []lb.Leave{{At: 30, Worker: 0}, {At: 20, Worker: 4}},
	}
	e, err := lb.New(sc, 1)
	if err != nil {
		t.Fatal(err)
	}
	var c counts
	const scale = 2 * time.Millisecond
	local, err := StartLocal(transport.Config{Scale: scale, Heartbeat: 50 * time.Millisecond, MissedHeartbeats: 20, Logger: quiet()},
		HostConfig{Speeds: e.Speeds(), NewPolicy: c.factory()})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	time.Sleep(300 * time.Millisecond) // the runtimes' clocks pass 150
	running := func() uint64 { s := local.Master.Runtime().Stats(); return s.Spawned - s.Stopped }
	before := running()
	out, err := Run(context.Background(), local.Master, Config{Scenario: sc, Algorithm: "factoring", Seed: 1, EpisodeSeed: 7, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	res := out.Result
	check(t, res)
	if len(res.Workers) != 5 || len(res.Placed) != 5 || res.Seed != 7 {
		t.Fatalf("%d reports, %d placed, seed %d; want 5, 5, 7", len(res.Workers), len(res.Placed), res.Seed)
	}
	for _, p := range res.Placed {
		if p.Node != LocalWorkers || p.Error != "" || p.Speed != e.Speeds()[p.ID] {
			t.Errorf("placed %+v", p)
		}
	}
	// Worker 0 leaves at 30 (by the Master's clock: the worker's own lags
	// it by the placement's latency); the joiner (4) is due to leave when
	// it joins, at 20: it leaves as soon as it is placed.
	if w := res.Workers[0]; !w.Left || res.Placed[0].Gone < 30 || res.Placed[0].Reason != "stopped" || res.Placed[0].Lost {
		t.Errorf("worker 0: report %+v, placed %+v", w, res.Placed[0])
	}
	if w := res.Workers[4]; !w.Left || w.Joined < 20 || res.Placed[4].Joined != 20 {
		t.Errorf("joiner: report %+v, placed %+v", w, res.Placed[4])
	}
	if out.AgentsJoined != 5 || out.AgentsLeft != 5 || c.left.Load() == 0 || c.joined.Load() == 0 {
		t.Errorf("roster: %d joins, %d leaves; agents told %d joins, %d leaves", out.AgentsJoined, out.AgentsLeft, c.joined.Load(), c.left.Load())
	}
	// The episode's clock starts with the episode, whatever the runtime's.
	if res.Makespan > float64(out.Wall)/float64(scale)+1e-6 {
		t.Errorf("makespan %v in %v of %v", res.Makespan, out.Wall, scale)
	}
	eventually(t, "the node to free its slots", func() bool { return local.Host.Hosted() == 0 })
	eventually(t, "the run's actors on the master's node to stop", func() bool { return running() == before })
}

// cluster is an embedded server, a master node and hosting nodes in one
// process.
type cluster struct {
	t       *testing.T
	url     string
	keys    map[string]*transport.Key
	trusted transport.Trusted
	counts  counts
}

func newCluster(t *testing.T, names ...string) *cluster {
	srv, err := transport.StartServer(transport.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	c := &cluster{t: t, url: srv.ClientURL(), keys: map[string]*transport.Key{}, trusted: transport.Trusted{}}
	for _, name := range append(names, "master") {
		k, err := transport.GenerateKey(name)
		if err != nil {
			t.Fatal(err)
		}
		c.keys[name] = k
		c.trusted.Add(k)
	}
	return c
}

func (c *cluster) node(name string, setup ...func(*transport.Node)) *transport.Node {
	cfg := transport.Config{
		Name: name, URL: c.url, Key: c.keys[name], Trusted: c.trusted, Scale: 5 * time.Millisecond,
		Heartbeat: 50 * time.Millisecond, MissedHeartbeats: 6, ReconnectWait: 20 * time.Millisecond, Logger: quiet(),
	}
	if len(setup) > 0 {
		cfg.Setup = setup[0]
	}
	n, err := transport.Start(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(n.Close)
	return n
}

func (c *cluster) host(name string, slots int, speed float64) (*transport.Node, *Host) {
	speeds := make([]float64, slots)
	for i := range speeds {
		speeds[i] = speed
	}
	var h *Host
	n := c.node(name, func(n *transport.Node) {
		h = Serve(n, HostConfig{Speeds: speeds, NewPolicy: c.counts.factory(), Logger: quiet()})
	})
	return n, h
}

// run starts Run in the background.
// run starts Run in the background; the function it returns waits for
// the run's end and returns its outcome, its ledger checked (check).
func (c *cluster) run(master *transport.Node, cfg Config) (wait func() Outcome) {
	type ran struct {
		out Outcome
		err error
	}
	done := make(chan ran, 1)
	cfg.Timeout = 30 * time.Second
	go func() {
		out, err := Run(context.Background(), master, cfg)
		done <- ran{out, err}
	}()
	return func() Outcome {
		c.t.Helper()
		r := <-done
		if r.err != nil {
			c.t.Fatal(r.err)
		}
		check(c.t, r.out.Result)
		return r.out
	}
}

func jobOf(workers int, speed float64, units float64) lb.Scenario {
	return lb.Scenario{Workers: 1, SpeedMin: 1, SpeedMax: 1, Job: int(float64(workers) * speed * units), UnitTime: 1, CommTime: 0.5, Variability: 0.2}
}

func TestNodeLostMidJob(t *testing.T) {
	c := newCluster(t, "a", "b", "c")
	master := c.node("master")
	c.host("a", 2, 2)
	b, _ := c.host("b", 2, 2)
	c.host("c", 2, 2)
	// 6 workers of speed 2, about 300 time units of 5ms: 1.5s.
	wait := c.run(master, Config{Scenario: jobOf(6, 2, 300), FromNodes: true, Nodes: 3, Algorithm: "factoring", Seed: 1, EpisodeSeed: 1, Logger: quiet()})
	time.Sleep(500 * time.Millisecond)
	b.Conn().Close() // b falls silent, as if killed: no goodbye
	out := wait()
	res := out.Result
	if len(out.Nodes) != 3 || len(res.Placed) != 6 {
		t.Fatalf("nodes %v, placed %+v", out.Nodes, res.Placed)
	}
	lost := 0
	for _, p := range res.Placed {
		if p.Lost != (p.Node == "b") || p.Lost && !strings.HasPrefix(p.Reason, "node down") {
			t.Errorf("placed %+v", p)
		}
		if p.Lost {
			lost++
		}
	}
	left := false
	for _, e := range out.Events {
		left = left || e.Node == "b" && e.Event == "left" && e.At > 0
	}
	if lost != 2 || !left || len(res.Workers) != 4 {
		t.Fatalf("%d workers lost, b left: %v (events %+v), %d reports", lost, left, out.Events, len(res.Workers))
	}
	// The roster saw b's workers leave, and told the other four agents.
	if out.AgentsLeft < 2 || c.counts.left.Load() < 8 {
		t.Fatalf("roster leaves %d, agents told %d", out.AgentsLeft, c.counts.left.Load())
	}
}

func TestNodeJoinsMidJob(t *testing.T) {
	c := newCluster(t, "a", "d")
	master := c.node("master")
	_, a := c.host("a", 2, 1)
	wait := c.run(master, Config{Scenario: jobOf(2, 1, 400), FromNodes: true, Nodes: 1, Algorithm: "factoring", Seed: 1, EpisodeSeed: 1, Logger: quiet()})
	eventually(t, "the episode to start", func() bool { return a.Hosted() == 2 })
	time.Sleep(200 * time.Millisecond)
	c.host("d", 2, 3)
	out := wait()
	res := out.Result
	if len(res.Placed) != 4 || len(res.Workers) != 4 {
		t.Fatalf("placed %+v, %d reports", res.Placed, len(res.Workers))
	}
	for _, p := range res.Placed[2:] {
		if p.Node != "d" || p.Speed != 3 || !(p.Joined > 0) || res.LedgerUnits[p.ID] == 0 {
			t.Errorf("joiner %+v did %d units", p, res.LedgerUnits[p.ID])
		}
	}
	// Each join tells the newcomer of the k agents there, and them of it:
	// 2k for the second, third and fourth.
	if out.AgentsJoined != 4 || c.counts.joined.Load() != 2+4+6 {
		t.Fatalf("roster joins %d, agents told %d", out.AgentsJoined, c.counts.joined.Load())
	}
}

func TestNodeRestartsMidJob(t *testing.T) {
	c := newCluster(t, "a", "b")
	master := c.node("master")
	c.host("a", 2, 2)
	b, hb := c.host("b", 2, 2)
	wait := c.run(master, Config{Scenario: jobOf(4, 2, 300), FromNodes: true, Nodes: 2, Algorithm: "factoring", Seed: 1, EpisodeSeed: 1, Logger: quiet()})
	time.Sleep(400 * time.Millisecond)
	// b stops cleanly: its workers leave and report, then it says goodbye.
	hb.Stop(5 * time.Second)
	b.Close()
	// b again: a new incarnation, whose runtime numbers its actors from 1
	// again, so that its workers have the gone workers' addresses.
	time.Sleep(100 * time.Millisecond)
	c.host("b", 2, 2)
	out := wait()
	res := out.Result
	if len(res.Placed) != 6 || len(res.Workers) != 6 {
		t.Fatalf("placed %+v, %d reports", res.Placed, len(res.Workers))
	}
	for _, p := range res.Placed[2:4] {
		if p.Node != "b" || p.Reason != "stopped" || p.Lost || !res.Workers[p.ID].Left {
			t.Errorf("b's first worker %+v: report %+v", p, res.Workers[p.ID])
		}
	}
	for _, p := range res.Placed[4:] {
		if p.Node != "b" || !(p.Joined > 0) || res.LedgerUnits[p.ID] == 0 {
			t.Errorf("b's second worker %+v did %d units", p, res.LedgerUnits[p.ID])
		}
	}
}

func TestRunRefusesWhatTheNodesCannotDo(t *testing.T) {
	c := newCluster(t, "a")
	master := c.node("master")
	c.host("a", 2, 1)
	// Worker 5 does not exist: the nodes provide two.
	sc := jobOf(2, 1, 10)
	sc.Leaves = []lb.Leave{{At: 1, Worker: 5}}
	_, err := Run(context.Background(), master, Config{Scenario: sc, FromNodes: true, Algorithm: "factoring", Logger: quiet()})
	var fe *lb.FieldError
	if !errors.As(err, &fe) || fe.Field != "leave" {
		t.Fatalf("leave of a worker the nodes lack: %v", err)
	}
	// A policy a node cannot make fails the run, naming the node.
	_, err = Run(context.Background(), master, Config{Scenario: jobOf(2, 1, 10), FromNodes: true, Algorithm: "nope", Logger: quiet(),
		Prepare: func(*lb.Environment) ([]byte, error) { return []byte("x"), nil }})
	if err == nil || !strings.Contains(err.Error(), "node a cannot make the nope policy") {
		t.Fatalf("bad policy: %v", err)
	}
	// Waiting for nodes that do not come ends with the context.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var waits []int
	_, err = Run(ctx, master, Config{Scenario: jobOf(2, 1, 10), FromNodes: true, Nodes: 2, Algorithm: "factoring", Logger: quiet(),
		OnWait: func(ready, want int) { waits = append(waits, ready) }})
	if !errors.Is(err, context.DeadlineExceeded) || len(waits) == 0 || waits[len(waits)-1] != 1 {
		t.Fatalf("waiting for 2 nodes with 1: %v, progress %v", err, waits)
	}
}
