package loadbalancing

import (
	"math"
	"slices"
	"testing"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
)

// How an adopter answers Adopt.
const (
	adopt     = iota
	refuse    // it answers that it cannot
	blackHole // it never answers, and starts nothing
)

// adopter stands for a host on another node: it starts migrated workers.
type adopter struct {
	mode    int
	started *int
}

func (h adopter) Receive(ctx actors.Context, msg any) {
	m, ok := msg.(Adopt)
	if !ok {
		return
	}
	switch h.mode {
	case refuse:
		ctx.Reply(ctx.ReplyTo(), Adopted{Err: "no free slot"})
		return
	case blackHole:
		return
	}
	w, err := ResumeWorker(m.State, env.Attach(AgentID(m.State.Spec.ID), &fixed{25}), nil)
	if err != nil {
		ctx.Reply(ctx.ReplyTo(), Adopted{Err: err.Error()})
		return
	}
	w.Report = func(r WorkerReport) { ctx.Send(m.State.Spec.Reports, r) }
	*h.started++
	ctx.Reply(ctx.ReplyTo(), Adopted{Worker: ctx.Spawn(w)})
}

// delays is a network on which a message between two nodes takes a time
// unit; once cut is set, what b sends to nodes other than a is lost.
type delays struct{ cut *bool }

func (d delays) Link(from, to string, _ any) (float64, bool) {
	if from == to {
		return 0, false
	}
	return 1, d.cut != nil && *d.cut && from == "b" && to != "a"
}

// move is a migration a test asks for: worker ID to node To at time At.
type move struct {
	at float64
	id int
	to string
}

// migration is a placed episode on nodes "a" and "b" with moves.
type migration struct {
	moves   []move
	mode    int            // of b's adopter (a's always adopts)
	timeout float64        // of the moves
	net     actors.Network // nil: none
	kill    float64        // if > 0: node b dies then
	cut     float64        // if > 0: then net's cut is set
	cutOff  *bool          // net's cut
	leaves  []Leave
}

// run runs the episode; it returns its result and how many workers were
// adopted.
func (mg migration) run(t *testing.T) (Result, int) {
	t.Helper()
	sc := Scenario{Workers: 3, Speeds: []float64{1, 2, 3}, Job: 1500, UnitTime: 1, CommTime: 1, Variability: 0.2, Leaves: mg.leaves}
	e, err := New(sc, 1)
	if err != nil {
		t.Fatal(err)
	}
	sim := actors.NewSim(1)
	if mg.net != nil {
		sim.SetNetwork(mg.net)
	}
	hostA := sim.SpawnOn("a", node{refuse: -1})
	adopted := 0
	hosts := map[string]actors.Addr{"a": sim.SpawnOn("a", adopter{adopt, &adopted}), "b": sim.SpawnOn("b", adopter{mg.mode, &adopted})}
	place := func(ctx actors.Context, spec WorkerSpec, placed func(actors.Context, actors.Addr, error)) {
		ctx.Request(hostA, placeReq{spec}, actors.Forever, func(ctx actors.Context, reply any, _ error) {
			placed(ctx, reply.(actors.Addr), nil)
		})
	}
	ep := e.StartPlaced(sim, 9, place)
	for _, m := range mg.moves {
		sim.SpawnOn("a", at{m.at, func(ctx actors.Context) {
			ctx.Send(ep.Director(), MoveWorker{ID: m.id, Host: hosts[m.to], Timeout: mg.timeout})
		}})
	}
	if mg.cut > 0 {
		sim.SpawnOn("a", at{mg.cut, func(actors.Context) { *mg.cutOff = true }})
	}
	if mg.kill > 0 {
		sim.SpawnOn("a", at{mg.kill, func(actors.Context) { sim.KillNode("b") }})
	}
	if !sim.RunUntil(math.Inf(1), ep.Ended) {
		t.Fatal("the episode did not end")
	}
	return ep.Result(), adopted
}

// conserved asserts what every episode with migrations must show: every
// unit done exactly once by the Master's ledger, and every report agreeing
// with it.
func conserved(t *testing.T, res Result) {
	t.Helper()
	if err := res.CheckLedger(); err != nil {
		t.Fatal(err)
	}
}

// Workers moved mid-episode, with their chunks, finish the job as they
// would have where they were: the same makespan and chunks, every unit
// done once, every worker's report agreeing with the ledger; the result
// says where they went.
func TestMigratedWorkersContinueWithTheirChunks(t *testing.T) {
	base, _ := migration{}.run(t)
	res, adopted := migration{moves: []move{{20.5, 0, "b"}, {41, 2, "b"}, {77.25, 0, "a"}, {120, 1, "b"}}}.run(t)
	if adopted != 4 {
		t.Fatalf("%d workers adopted, want 4", adopted)
	}
	conserved(t, res)
	if res.UnitsReported != 1500 {
		t.Fatalf("reported %d", res.UnitsReported)
	}
	if len(res.Workers) != 3 || math.Abs(res.Makespan-base.Makespan) > 1e-9 || len(res.History) != len(base.History) {
		t.Fatalf("makespan %v with %d chunks and %d reports, %v and %d chunks without migration", res.Makespan, len(res.History), len(res.Workers), base.Makespan, len(base.History))
	}
	want := map[int][]string{0: {"a", "b"}, 1: {"a"}, 2: {"a"}}
	for _, p := range res.Placed {
		if !slices.Equal(p.MovedFrom, want[p.ID]) || p.Node != map[int]string{0: "a", 1: "b", 2: "b"}[p.ID] {
			t.Errorf("worker %d: moved from %v to end on %s", p.ID, p.MovedFrom, p.Node)
		}
	}
}

// A host that refuses leaves the worker where it was, as if nothing had
// happened.
func TestRefusedMigrationCarriesOn(t *testing.T) {
	base, _ := migration{}.run(t)
	res, adopted := migration{moves: []move{{20.5, 0, "b"}, {60, 2, "b"}}, mode: refuse}.run(t)
	conserved(t, res)
	if adopted != 0 || res.Makespan != base.Makespan || len(res.History) != len(base.History) {
		t.Fatalf("%d adopted; makespan %v with %d chunks, %v and %d without", adopted, res.Makespan, len(res.History), base.Makespan, len(base.History))
	}
	for _, p := range res.Placed {
		if p.MovedFrom != nil || p.Node != "a" {
			t.Errorf("worker %d moved from %v to %s", p.ID, p.MovedFrom, p.Node)
		}
	}
}

// A host that never answers: the worker cannot know whether it runs on
// the other node, so it gives up and leaves; its chunk goes back to the
// pool and the others finish the job.
func TestUnansweredMigrationGivesUp(t *testing.T) {
	res, _ := migration{moves: []move{{20.5, 0, "b"}}, mode: blackHole, timeout: 5}.run(t)
	conserved(t, res)
	w := res.Workers[0]
	if !w.Left || w.LeftAt != 25.5 || res.LedgerUnits[0] != w.Units || len(res.Workers) != 3 {
		t.Fatalf("worker 0: %+v (ledger %d); %d reports", w, res.LedgerUnits[0], len(res.Workers))
	}
	if p := res.Placed[0]; p.Reason != "stopped" || p.MovedFrom != nil {
		t.Fatalf("worker 0 placed %+v", p)
	}
}

// The target node dies at any moment around a move, with messages between
// nodes taking a time unit: before the Adopt arrives, while the new worker
// tells the others, after the old one is released, or after the worker
// moved on. Whatever happened, no unit is lost or done twice, and every
// report agrees with the ledger.
func TestMigrationSurvivesTheTargetsFailure(t *testing.T) {
	for kill := 20.0; kill <= 30; kill += 0.25 {
		res, _ := migration{moves: []move{{20.5, 0, "b"}, {20.5, 2, "b"}}, net: delays{}, timeout: 10, kill: kill}.run(t)
		conserved(t, res)
		if t.Failed() {
			t.Fatalf("b killed at %v", kill)
		}
	}
	// b is cut off from the master's node before the new workers can tell
	// the Master they moved, then dies: the old workers, never released,
	// see their new incarnations go and give up.
	for kill := 24.75; kill <= 30; kill += 0.25 {
		var cut bool
		res, adopted := migration{moves: []move{{20.5, 0, "b"}, {20.5, 2, "b"}}, net: delays{&cut}, timeout: 10, cut: 23, cutOff: &cut, kill: kill}.run(t)
		conserved(t, res)
		if adopted != 2 || res.Placed[0].MovedFrom != nil || !res.Workers[0].Left || !res.Workers[2].Left {
			t.Fatalf("b cut off at 23, killed at %v: %d adopted, placed %+v, reports %+v", kill, adopted, res.Placed, res.Workers)
		}
	}
}

// A worker told to leave while it moves leaves all the same: its old
// incarnation passes Dismiss on to the new one.
func TestLeaveDuringMigration(t *testing.T) {
	// With a time unit a message, the move asked for at 20.5 reaches the
	// workers at 22.5 (through the director), the adoption is answered at
	// 24.5, the director hears of it at 24.5 and the old worker is released
	// at 26.5: the director, which does not know yet, sends Dismiss to the
	// old worker 0 at 22 (it arrives before the answer) and to the old
	// worker 2 at 24 (it arrives after).
	res, adopted := migration{moves: []move{{20.5, 0, "b"}, {20.5, 2, "b"}}, net: delays{}, leaves: []Leave{{At: 22, Worker: 0}, {At: 24, Worker: 2}}}.run(t)
	conserved(t, res)
	if adopted != 2 {
		t.Fatalf("%d adopted", adopted)
	}
	for _, id := range []int{0, 2} {
		w, p := res.Workers[id], res.Placed[id]
		if !w.Left || w.LeftAt > 30 || p.Reason != "stopped" || p.Node != "b" {
			t.Errorf("worker %d: report %+v, placed %+v", id, w, p)
		}
	}
}
