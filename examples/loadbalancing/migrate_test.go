package loadbalancing

import (
	"math"
	"testing"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
)

// adopter stands for a host on another node: it starts migrated workers.
type adopter struct {
	started *int
	addrs   map[int]actors.Addr // the workers' addresses by ID, kept current
}

func (h adopter) Receive(ctx actors.Context, msg any) {
	if m, ok := msg.(Adopt); ok {
		w, err := ResumeWorker(m.State, env.Attach(AgentID(m.State.Spec.ID), &fixed{25}), nil)
		if err != nil {
			ctx.Reply(ctx.ReplyTo(), err)
			return
		}
		w.Report = func(r WorkerReport) { ctx.Send(m.State.Spec.Reports, r) }
		*h.started++
		a := ctx.Spawn(w)
		h.addrs[m.State.Spec.ID] = a
		ctx.Reply(ctx.ReplyTo(), a)
	}
}

// migrated runs a placed episode on nodes "a" and "b" and, with moves,
// sends Migrate to the workers at the given times (each to the other node).
func migrated(t *testing.T, moves map[float64]int) (Result, int) {
	t.Helper()
	sc := Scenario{Workers: 3, Speeds: []float64{1, 2, 3}, Job: 1500, UnitTime: 1, CommTime: 1, Variability: 0.2}
	e, err := New(sc, 1)
	if err != nil {
		t.Fatal(err)
	}
	sim := actors.NewSim(1)
	addrs := map[int]actors.Addr{}
	hostA := sim.SpawnOn("a", node{refuse: -1, addrs: addrs})
	adopted := 0
	hosts := map[string]actors.Addr{"a": sim.SpawnOn("a", adopter{&adopted, addrs}), "b": sim.SpawnOn("b", adopter{&adopted, addrs})}
	place := func(ctx actors.Context, spec WorkerSpec, placed func(actors.Context, actors.Addr, error)) {
		ctx.Request(hostA, placeReq{spec}, actors.Forever, func(ctx actors.Context, reply any, _ error) {
			placed(ctx, reply.(actors.Addr), nil)
		})
	}
	ep := e.StartPlaced(sim, 9, place)
	for when, id := range moves {
		sim.SpawnOn("a", at{when, func(ctx actors.Context) {
			a := addrs[id] // where it is now: it may have moved already
			to := "b"
			if a.Node == "b" {
				to = "a"
			}
			ctx.Send(a, Migrate{Host: hosts[to]})
		}})
	}
	if !sim.RunUntil(math.Inf(1), ep.Ended) {
		t.Fatal("the episode did not end")
	}
	return ep.Result(), adopted
}

// Workers moved mid-episode, with their chunks, finish the job as they
// would have where they were: the same makespan and chunks, every unit
// done once, every worker's report agreeing with the ledger.
func TestMigratedWorkersContinueWithTheirChunks(t *testing.T) {
	base, _ := migrated(t, nil)
	res, adopted := migrated(t, map[float64]int{20.5: 0, 41: 2, 77.25: 0, 120: 1})
	if adopted != 4 {
		t.Fatalf("%d workers adopted, want 4", adopted)
	}
	if res.UnitsDone != 1500 || res.UnitsReported != 1500 || res.Duplicates != 0 {
		t.Fatalf("done %d, reported %d, duplicates %d", res.UnitsDone, res.UnitsReported, res.Duplicates)
	}
	for _, w := range res.Workers {
		if w.Units != res.LedgerUnits[w.ID] {
			t.Errorf("worker %d reports %d units, the ledger %d", w.ID, w.Units, res.LedgerUnits[w.ID])
		}
	}
	if len(res.Workers) != 3 || math.Abs(res.Makespan-base.Makespan) > 1e-9 || len(res.History) != len(base.History) {
		t.Fatalf("makespan %v with %d chunks and %d reports, %v and %d chunks without migration", res.Makespan, len(res.History), len(res.Workers), base.Makespan, len(base.History))
	}
}
