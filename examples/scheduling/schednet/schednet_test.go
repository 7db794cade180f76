package schednet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marlon-go/marlon/examples/scheduling"
	"github.com/marlon-go/marlon/learning"
	"github.com/marlon-go/marlon/transport"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// factory makes the seed's bidding heuristic, counting the policies made.
type factory struct{ made atomic.Int32 }

func (f *factory) make(algorithm string, sc scheduling.Scenario, seed uint64, ckpt []byte) (learning.Policy, error) {
	if algorithm != "bidding" || ckpt != nil {
		return nil, fmt.Errorf("no policy %q with a %d-byte checkpoint", algorithm, len(ckpt))
	}
	f.made.Add(1)
	return scheduling.HeuristicPolicy(), nil
}

// scenario is a small cluster and a burst of jobs at 0: about 5000 s of
// schedule, a few seconds at the tests' scales. Heartbeats every 100 s,
// a node declared failed after 8 missed: a good part of a second, so that
// a busy machine does not fail nodes that are alive.
func scenario(nodes, jobs int) scheduling.Scenario {
	sc := scheduling.Default()
	sc.Nodes, sc.GPUNodes, sc.Jobs, sc.Arrival, sc.Burst = nodes, 1, jobs, scheduling.Burst, jobs
	sc.Heartbeat, sc.MissedHeartbeats, sc.Timeout = 100, 8, 20
	return sc
}

// check asserts what every live run must show: every job completed, once,
// and the ledger and the agents' reports agreeing.
func check(t *testing.T, out Outcome) {
	t.Helper()
	r := out.Result
	if r.Completed != r.Jobs || r.Jobs == 0 || r.Lost+r.Refused != 0 || len(out.Problems) != 0 {
		t.Fatalf("%d of %d jobs completed, %d lost, %d refused; problems %q", r.Completed, r.Jobs, r.Lost, r.Refused, out.Problems)
	}
	for _, j := range r.Ledger.Jobs {
		n := 0
		for _, run := range j.Runs {
			if run.Outcome == "completed" {
				n++
			}
		}
		if j.State != "completed" || n != 1 {
			t.Fatalf("job %d: %s with %d completed runs", j.ID, j.State, n)
		}
	}
	if len(out.Reports) == 0 {
		t.Fatal("no agent reported")
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
	var f factory
	const scale = 300 * time.Microsecond
	sc := scenario(3, 24)
	local, err := StartLocal(transport.Config{Scale: scale, Heartbeat: 50 * time.Millisecond, MissedHeartbeats: 20, Logger: quiet()},
		HostConfig{Slots: sc.Nodes, NewPolicy: f.make})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	out, err := Run(context.Background(), local.Master, Config{Scenario: sc, Algorithm: "bidding", Seed: 1, EpisodeSeed: 7, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	check(t, out)
	r := out.Result
	if r.Seed != 7 || len(r.Placed) != 3 || len(out.Reports) != 3 || f.made.Load() != 1 || r.Counters.Bids == 0 {
		t.Fatalf("seed %d, placed %+v, %d reports, %d policies made, %d bids", r.Seed, r.Placed, len(out.Reports), f.made.Load(), r.Counters.Bids)
	}
	for i, p := range r.Placed {
		if p.Node != i || p.Host != LocalCompute || !p.Reported || p.Lost {
			t.Errorf("placed %+v", p)
		}
	}
	// The same jobs as the simulator's episode 7.
	e, err := scheduling.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := range e.Workload(7) {
		if rec := r.Ledger.Jobs[i]; rec.ID != j.ID || rec.Run != j.Run || rec.Needs != j.Needs {
			t.Fatalf("job %d: %+v, the simulator's %+v", i, rec, j)
		}
	}
	// The episode's clock starts with the episode.
	if r.Makespan > float64(out.Wall)/float64(scale)+1e-6 || r.Makespan < 100 {
		t.Errorf("makespan %v in %v of %v", r.Makespan, out.Wall, scale)
	}
	eventually(t, "the node to free its slots", func() bool { return local.Host.Hosted() == 0 })
}

// cluster is an embedded server, a master node and hosting nodes in one
// process.
type cluster struct {
	t       *testing.T
	url     string
	keys    map[string]*transport.Key
	trusted transport.Trusted
	f       factory
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

const clusterScale = 500 * time.Microsecond

func (c *cluster) node(name string, setup func(*transport.Node)) *transport.Node {
	n, err := transport.Start(transport.Config{
		Name: name, URL: c.url, Key: c.keys[name], Trusted: c.trusted, Scale: clusterScale,
		Heartbeat: 50 * time.Millisecond, MissedHeartbeats: 6, ReconnectWait: 20 * time.Millisecond, Logger: quiet(), Setup: setup,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(n.Close)
	return n
}

func (c *cluster) host(name string, slots int) (*transport.Node, *Host) {
	var h *Host
	n := c.node(name, func(n *transport.Node) { h = Serve(n, HostConfig{Slots: slots, NewPolicy: c.f.make, Logger: quiet()}) })
	return n, h
}

func (c *cluster) run(master *transport.Node, cfg Config) (<-chan Outcome, <-chan error) {
	outc, errc := make(chan Outcome, 1), make(chan error, 1)
	cfg.Timeout = 30 * time.Second
	go func() {
		out, err := Run(context.Background(), master, cfg)
		outc <- out
		errc <- err
	}()
	return outc, errc
}

// A machine that runs two compute nodes falls silent mid-run: the
// transport declares it down, the auctioneer declares its nodes failed
// (from their heartbeats or from NodeDown, whichever comes first), their
// jobs run again elsewhere, and the director restarts the two nodes in the
// spare slots of the third machine. Every job completes once; the agents
// still there report and agree with the ledger.
func TestMachineLostMidRun(t *testing.T) {
	c := newCluster(t, "a", "b", "c")
	master := c.node("master", nil)
	nodes, hosts := map[string]*transport.Node{}, map[string]*Host{}
	for _, name := range []string{"a", "b", "c"} {
		nodes[name], hosts[name] = c.host(name, 2)
	}
	hosted := func() int { return hosts["a"].Hosted() + hosts["b"].Hosted() + hosts["c"].Hosted() }
	outc, errc := c.run(master, Config{Scenario: scenario(4, 40), Algorithm: "bidding", Seed: 1, EpisodeSeed: 3, Logger: quiet(),
		OnWait: func(nodes, slots, want int) {
			if want != 4 {
				t.Errorf("want %d slots", want)
			}
		}})
	eventually(t, "the agents to be placed", func() bool { return hosted() == 4 })
	time.Sleep(400 * time.Millisecond)
	victim := "a" // the first machine by name with two agents
	for _, name := range []string{"c", "b", "a"} {
		if hosts[name].Hosted() == 2 {
			victim = name
		}
	}
	nodes[victim].Conn().Close() // it falls silent, as if killed: no goodbye
	out, err := <-outc, <-errc
	if err != nil {
		t.Fatal(err)
	}
	check(t, out)
	r := out.Result
	if len(r.Placed) != 6 {
		t.Fatalf("placed %+v", r.Placed)
	}
	var lostNodes, restarted []int
	for i, p := range r.Placed {
		if p.Lost != (p.Host == victim) || p.Reported == (p.Host == victim) || p.Lost && !strings.HasPrefix(p.Reason, "node down") {
			t.Errorf("placed %+v (%s killed)", p, victim)
		}
		if p.Lost {
			lostNodes = append(lostNodes, p.Node)
		}
		if i >= 4 {
			restarted = append(restarted, p.Node)
		}
	}
	slices.Sort(lostNodes)
	slices.Sort(restarted)
	if len(lostNodes) != 2 || !slices.Equal(lostNodes, restarted) {
		t.Fatalf("placed %+v: lost %v, restarted %v", r.Placed, lostNodes, restarted)
	}
	if r.Failures < 2 || r.Restarts != 2 || len(out.Reports) != 4 {
		t.Fatalf("%d failures %+v, %d restarts, %d reports", r.Failures, r.Ledger.Failures, r.Restarts, len(out.Reports))
	}
	failed := map[int]bool{}
	for _, f := range r.Ledger.Failures {
		failed[f.Node] = true
	}
	for _, n := range lostNodes {
		if !failed[n] {
			t.Fatalf("node %d lost, failures %+v", n, r.Ledger.Failures)
		}
	}
	left := false
	for _, e := range out.Events {
		left = left || e.Node == victim && e.Event == "left" && e.At > 0
	}
	if !left {
		t.Fatalf("events %+v", out.Events)
	}
}

// With no slot to spare, the compute node of a machine that leaves waits
// for one: the machine comes back (a new incarnation) and the node
// restarts on it.
func TestMachineBackMidRun(t *testing.T) {
	c := newCluster(t, "a", "b")
	master := c.node("master", nil)
	c.host("a", 1)
	b, hb := c.host("b", 1)
	outc, errc := c.run(master, Config{Scenario: scenario(2, 24), Algorithm: "bidding", Seed: 1, EpisodeSeed: 5, Logger: quiet()})
	eventually(t, "b's agent to be placed", func() bool { return hb.Hosted() == 1 })
	time.Sleep(300 * time.Millisecond)
	hb.Stop(5 * time.Second) // b leaves cleanly: its agent stops
	b.Close()
	time.Sleep(100 * time.Millisecond)
	c.host("b", 1)
	out, err := <-outc, <-errc
	if err != nil {
		t.Fatal(err)
	}
	check(t, out)
	r := out.Result
	var onB []PlacedAgentView
	for _, p := range r.Placed {
		if p.Host == "b" {
			onB = append(onB, PlacedAgentView{p.Node, p.Reason, p.Reported})
		}
	}
	if len(r.Placed) != 3 || len(onB) != 2 || onB[0].Node != onB[1].Node || onB[0].Reason != "stopped" || !onB[1].Reported || r.Restarts != 1 {
		t.Fatalf("placed %+v, restarts %d", r.Placed, r.Restarts)
	}
}

// PlacedAgentView is what TestMachineBackMidRun checks of a placement.
type PlacedAgentView struct {
	Node     int
	Reason   string
	Reported bool
}

func TestRunRefusesWhatTheNodesCannotDo(t *testing.T) {
	c := newCluster(t, "a")
	master := c.node("master", nil)
	c.host("a", 2)
	// A policy a node cannot make fails the run, naming the node.
	_, err := Run(context.Background(), master, Config{Scenario: scenario(2, 4), Algorithm: "nope", Logger: quiet(), Timeout: 10 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "node a cannot make the nope policy") {
		t.Fatalf("bad policy: %v", err)
	}
	// Waiting for slots that do not come ends with the timeout.
	var waits [][2]int
	_, err = Run(context.Background(), master, Config{Scenario: scenario(3, 4), Algorithm: "bidding", Logger: quiet(), Timeout: 300 * time.Millisecond,
		OnWait: func(nodes, slots, want int) { waits = append(waits, [2]int{nodes, slots}) }})
	if !errors.Is(err, context.DeadlineExceeded) || len(waits) == 0 || waits[len(waits)-1] != [2]int{1, 2} || !strings.Contains(err.Error(), "3 compute nodes, 2 offered") {
		t.Fatalf("waiting for 3 slots with 2: %v, progress %v", err, waits)
	}
	// An invalid scenario is refused before any wait.
	bad := scenario(2, 4)
	bad.Window = 0
	var fe *scheduling.FieldError
	if _, err := Run(context.Background(), master, Config{Scenario: bad, Algorithm: "bidding", Logger: quiet()}); !errors.As(err, &fe) || fe.Field != "window" {
		t.Fatalf("bad scenario: %v", err)
	}
}
