package scheduling

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/learning"
)

// simHosts are machines of the simulator that host resource agents: each
// a node with a host actor that starts agents in its free slots, as
// env/hosting does over a transport.
type simHosts struct {
	sim   *actors.Sim
	names []string
	host  map[string]actors.Addr
	free  map[string]int
	// refuser answers placements when no host has a free slot.
	refuser actors.Addr
}

type spawnAgent struct{ spec AgentSpec }

func newSimHosts(sim *actors.Sim) *simHosts {
	return &simHosts{sim: sim, host: map[string]actors.Addr{}, free: map[string]int{}}
}

// add starts host name with slots free slots.
func (h *simHosts) add(name string, slots int) {
	h.names = append(h.names, name)
	h.free[name] = slots
	h.host[name] = h.sim.SpawnOn(name, actors.ActorFunc(func(ctx actors.Context, msg any) {
		switch m := msg.(type) {
		case spawnAgent:
			ctx.Reply(ctx.ReplyTo(), ctx.Spawn(m.spec.Agent(nil)))
		case actors.Down:
			h.free[name]++
		}
	}))
}

// kill kills host name's machine.
func (h *simHosts) kill(name string) {
	h.sim.KillNode(name)
	h.free[name] = 0
}

// place places an agent in the first host, by name, with a free slot.
func (h *simHosts) place(ctx actors.Context, spec AgentSpec, placed func(actors.Context, actors.Addr, error)) {
	for _, name := range h.names {
		if h.free[name] > 0 {
			h.free[name]--
			ctx.Request(h.host[name], spawnAgent{spec}, 10, func(ctx actors.Context, reply any, err error) {
				a, _ := reply.(actors.Addr)
				placed(ctx, a, err)
			})
			return
		}
	}
	// No free slot: refused, in a later turn of the director, as Place asks.
	if h.refuser.IsZero() {
		h.refuser = h.sim.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
			if _, ok := msg.(string); ok {
				ctx.Reply(ctx.ReplyTo(), "no")
			}
		}))
	}
	ctx.Request(h.refuser, "slot?", 10, func(ctx actors.Context, _ any, _ error) {
		placed(ctx, actors.Addr{}, errors.New("no free slot"))
	})
}

func twoJobs(uint64) []Job {
	return []Job{
		{ID: 0, Run: 200, Requested: 300, Needs: Resources{Cores: 16, Memory: 1024}},
		{ID: 1, Run: 100, Requested: 300, Needs: Resources{Cores: 16, Memory: 1024}},
	}
}

// Two compute nodes of 16 cores, both placed on machine a; machine b has a
// spare slot. Job 0 (run 200) goes to node 0, job 1 (run 100) to node 1.
// Machine a dies at 55: the director sees both agents go (NodeDown) and
// the auctioneer declares both nodes failed then, not 30 s later by their
// heartbeats; node 0 restarts on b at once and runs job 0 again (55..255);
// node 1 has no slot until machine c joins at 100, and runs job 1 then
// (100..200). The agents on b and c report, and agree with the ledger.
func TestPlacedEpisodeRestartsNodesLostWithTheirMachine(t *testing.T) {
	sc := Default()
	sc.Nodes, sc.GPUNodes, sc.Heartbeat = 2, 0, 10
	e, err := New(sc)
	if err != nil {
		t.Fatal(err)
	}
	e.Jobs = twoJobs
	sim := actors.NewSim(1)
	hosts := newSimHosts(sim)
	hosts.add("a", 2)
	hosts.add("b", 1)
	ep, err := e.StartPlaced(sim, 1, nil, hosts.place)
	if err != nil {
		t.Fatal(err)
	}
	sim.SendAfter(55, sim.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if _, ok := msg.(string); ok {
			hosts.kill("a")
		}
	})), "kill")
	sim.SendAfter(100, sim.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if _, ok := msg.(string); ok {
			hosts.add("c", 1)
			ctx.Send(ep.Director(), AddSlots{Count: 1})
		}
	})), "join")
	sim.RunUntil(1e6, func() bool { return env.IsDone(ep) })
	if !env.IsDone(ep) {
		t.Fatalf("not done at %v", sim.Now())
	}
	r := ep.Result()
	if r.Completed != 2 || r.Jobs != 2 || r.Lost != 0 {
		t.Fatalf("completed %d of %d, lost %d", r.Completed, r.Jobs, r.Lost)
	}
	got := map[int][3]float64{}
	for _, j := range r.Ledger.Jobs {
		got[j.ID] = [3]float64{float64(j.Node), j.Start, j.End}
	}
	if got[0] != [3]float64{0, 55, 255} || got[1] != [3]float64{1, 100, 200} {
		t.Fatalf("jobs (node, start, end): %v", got)
	}
	if len(r.Ledger.Failures) != 2 || r.Failures != 2 || r.Restarts != 2 || r.Counters.Rescheduled != 2 {
		t.Fatalf("failures %+v, restarts %d, rescheduled %d", r.Ledger.Failures, r.Restarts, r.Counters.Rescheduled)
	}
	for _, f := range r.Ledger.Failures {
		if f.Detected != 55 || !strings.HasPrefix(f.Why, "node down") || !strings.Contains(f.Why, "node a killed") {
			t.Errorf("failure %+v: want detected at 55 by the director, node down", f)
		}
	}
	want := []PlacedAgent{
		{Node: 0, Host: "a", At: 0, Gone: 55, Reason: "node down: node a killed", Lost: true},
		{Node: 1, Host: "a", At: 0, Gone: 55, Reason: "node down: node a killed", Lost: true},
		{Node: 0, Host: "b", At: 55, Reported: true},
		{Node: 1, Host: "c", At: 100, Reported: true},
	}
	if fmt.Sprint(r.Placed) != fmt.Sprint(want) {
		t.Fatalf("placed:\n%+v\nwant\n%+v", r.Placed, want)
	}
	if len(r.PlaceErrors) == 0 {
		t.Errorf("node 1 waited for a slot from 55 to 100 without a failed placement")
	}
	reports := ep.Reports()
	stale, problems := CheckReports(r.Ledger, reports)
	if len(reports) != 2 || stale != 0 || len(problems) != 0 {
		t.Fatalf("%d reports, %d stale, problems %q", len(reports), stale, problems)
	}
}

// A central discipline places the jobs of a placed episode as it does in
// the simulator's: the same schedule.
func TestPlacedEpisodeWithADisciplineSchedulesAsTheSimulator(t *testing.T) {
	sc := Default()
	sc.Nodes, sc.GPUNodes, sc.Jobs = 3, 1, 30
	e, err := New(sc)
	if err != nil {
		t.Fatal(err)
	}
	central := CentralPolicy(EASY{})
	want, err := e.Run(4, func(id learning.AgentID) learning.LearningAlgorithm { return central.NewAgent(id) })
	if err != nil {
		t.Fatal(err)
	}
	sim := actors.NewSim(1)
	hosts := newSimHosts(sim)
	hosts.add("a", 3)
	ep, err := e.StartPlaced(sim, 4, EASY{}, hosts.place)
	if err != nil {
		t.Fatal(err)
	}
	sim.RunUntil(1e9, func() bool { return env.IsDone(ep) })
	r := ep.Result()
	if r.Completed != 30 || r.MeanBSLD != want.MeanBSLD || r.Makespan != want.Makespan || r.Counters.Calls != 0 {
		t.Fatalf("placed: %d completed, bsld %v, makespan %v, %d calls; simulator: bsld %v, makespan %v",
			r.Completed, r.MeanBSLD, r.Makespan, r.Counters.Calls, want.MeanBSLD, want.Makespan)
	}
	if _, problems := CheckReports(r.Ledger, ep.Reports()); len(ep.Reports()) != 3 || len(problems) > 0 {
		t.Fatalf("%d reports: %q", len(ep.Reports()), problems)
	}
}

// An agent that goes after its node was declared failed and restarted
// changes nothing; one of an unknown node neither; a Register from an
// agent seen gone is refused.
func TestAgentDownOfAnOldIncarnation(t *testing.T) {
	sc := Default()
	sc.Nodes, sc.GPUNodes = 1, 0
	e, err := New(sc)
	if err != nil {
		t.Fatal(err)
	}
	e.Jobs = twoJobs
	sim := actors.NewSim(1)
	ep, err := e.StartEpisode(sim, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	var zombie actors.Addr
	sim.SendAfter(5, sim.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if _, ok := msg.(string); ok {
			ctx.Send(ep.Auctioneer(), AgentDown{Node: "node-7", Agent: ctx.Self(), Why: "x"})
			ctx.Send(ep.Auctioneer(), AgentDown{Node: "node-0", Agent: ctx.Self(), Why: "x"}) // not its agent
			zombie = ctx.Self()
			ctx.Send(ep.Auctioneer(), Register{Node: "node-0", Index: 0, Capacity: Resources{Cores: 16, Memory: 64 << 10}})
		}
	})), "go")
	sim.RunUntil(1e6, func() bool { return env.IsDone(ep) })
	r := ep.Result()
	if r.Completed != 2 || r.Failures != 0 || len(r.Ledger.Registrations) != 1 || r.Counters.StaleMessages != 1 || zombie.IsZero() {
		t.Fatalf("completed %d, failures %d, registrations %+v, stale messages %d", r.Completed, r.Failures, r.Ledger.Registrations, r.Counters.StaleMessages)
	}
}

// CheckReports finds what a ledger and the agents' reports disagree on.
func TestCheckReports(t *testing.T) {
	l := Ledger{Jobs: []JobRecord{
		{ID: 0, State: "completed", Node: 0, Runs: []Run{{Node: 1, Epoch: 2, Attempt: 1, Outcome: "lost"}, {Node: 0, Epoch: 1, Attempt: 3, Outcome: "completed"}}},
		{ID: 1, State: "completed", Node: 0, Runs: []Run{{Node: 0, Epoch: 1, Attempt: 2, Outcome: "completed"}}},
		{ID: 2, State: "completed", Node: 1, Runs: []Run{{Node: 1, Epoch: 3, Attempt: 4, Outcome: "completed"}}},
	}}
	node0 := AgentReport{Node: 0, Epochs: []uint64{1}, Completed: []Completion{{Job: 1, Attempt: 2, Epoch: 1}, {Job: 0, Attempt: 3, Epoch: 1}}}
	// Node 1's first incarnation (2) was declared failed running attempt
	// 1; its second (3) ran attempt 4.
	node1 := AgentReport{Node: 1, Epochs: []uint64{3}, Completed: []Completion{{Job: 2, Attempt: 4, Epoch: 3}}}
	stale, problems := CheckReports(l, []AgentReport{node0, node1})
	if stale != 0 || len(problems) != 0 {
		t.Fatalf("agreeing accounts: %d stale, %q", stale, problems)
	}
	// The first incarnation was only cut off: it finished attempt 1, which
	// the ledger had given up on (a stale completion).
	zombie := AgentReport{Node: 1, Epochs: []uint64{2}, Completed: []Completion{{Job: 0, Attempt: 1, Epoch: 2}}}
	if stale, problems := CheckReports(l, []AgentReport{node0, node1, zombie}); stale != 1 || len(problems) != 0 {
		t.Fatalf("a stale completion: %d stale, %q", stale, problems)
	}
	for name, c := range map[string]struct {
		l       Ledger
		reports []AgentReport
		want    string
	}{
		"a completion not reported": {l, []AgentReport{{Node: 0, Epochs: []uint64{1}, Completed: node0.Completed[:1]}, node1}, "did not report: job 0 (attempt 3"},
		"credited to another node":  {l, []AgentReport{node0, {Node: 2, Epochs: []uint64{9}, Completed: node1.Completed}}, "the ledger credits it to job 2 on node 1"},
		"reported twice":            {l, []AgentReport{node0, node1, {Node: 2, Completed: node1.Completed}}, "reported completed by node 1 and node 2"},
		"completed twice": {Ledger{Jobs: []JobRecord{{ID: 5, State: "completed", Runs: []Run{{Attempt: 1, Outcome: "completed"}, {Attempt: 2, Outcome: "completed"}}}}},
			nil, "job 5: completed with 2 completed runs"},
		"a lost job with a completed run": {Ledger{Jobs: []JobRecord{{ID: 6, State: "lost", Runs: []Run{{Attempt: 1, Outcome: "completed"}}}}},
			nil, "job 6 is lost with 1 completed runs"},
	} {
		_, problems := CheckReports(c.l, c.reports)
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
			t.Errorf("%s: problems %q, want one with %q", name, problems, c.want)
		}
	}
}

// A placed episode refuses what only the simulator does.
func TestStartPlacedRefusesTheSimulatorsFaults(t *testing.T) {
	sc := Default()
	sc.Crashes = []Crash{{Node: 1, At: 5}}
	e, err := New(sc)
	if err != nil {
		t.Fatal(err)
	}
	sim := actors.NewSim(1)
	if _, err := e.StartPlaced(sim, 1, nil, newSimHosts(sim).place); err == nil || !strings.Contains(err.Error(), "crashes need the simulator") {
		t.Fatalf("crashes: %v", err)
	}
	if e, err = New(Default()); err != nil {
		t.Fatal(err)
	}
	e.Lie = func(string, JobInfo, Offer) Offer { return Offer{} }
	if _, err := e.StartPlaced(sim, 1, nil, newSimHosts(sim).place); err == nil {
		t.Fatal("byzantine bids placed")
	}
	if _, err := e.StartPlaced(sim, 1, nil, nil); err == nil {
		t.Fatal("no Place")
	}
}
