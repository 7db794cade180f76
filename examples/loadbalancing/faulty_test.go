package loadbalancing

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/marlon-go/marlon/faults"
	"github.com/marlon-go/marlon/learning"
)

// randomFaults draws a fault spec: any intensity, pattern and kinds, and a
// failure detector from fast to slow.
func randomFaults(r *rand.Rand) faults.Spec {
	s := faults.Spec{
		Intensity: faults.Intensities()[1+r.IntN(4)],
		Pattern:   faults.Patterns()[r.IntN(3)],
		Heartbeat: 0.2 + 3*r.Float64(),
		Missed:    1 + r.IntN(5),
	}
	all := faults.Kinds()
	for _, k := range all {
		if r.IntN(2) == 0 {
			s.Kinds = append(s.Kinds, k)
		}
	}
	return s
}

func TestWorkIsConservedUnderRandomFaultPlans(t *testing.T) {
	seen := map[string]int{}
	for seed := uint64(1); seed <= 300; seed++ {
		r := rand.New(rand.NewPCG(seed, 77))
		sc := Scenario{
			Workers: 1 + r.IntN(8), SpeedMin: 1, SpeedMax: 5, Job: 1 + r.IntN(3000),
			UnitTime: 0.1 + r.Float64(), CommTime: r.Float64() * 2, Variability: r.Float64(),
			Faults: randomFaults(r),
		}
		for k := r.IntN(3); k > 0; k-- {
			sc.Joins = append(sc.Joins, Join{At: r.Float64() * 300, Count: 1 + r.IntN(3)})
		}
		if total := sc.TotalWorkers(); total > 1 && r.IntN(2) == 0 {
			w := r.IntN(total)
			sc.Leaves = append(sc.Leaves, Leave{At: sc.joinTimes()[w] + r.Float64()*300, Worker: w})
		}
		max := 1 + r.IntN(sc.Job)
		agents := func(id learning.AgentID) learning.LearningAlgorithm {
			return &random{r: rand.New(rand.NewPCG(seed, uint64(len(id)))), max: max, t: t}
		}
		e, err := NewVersion("v2", sc, seed)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Run(seed, agents)
		if err != nil {
			js, _ := json.Marshal(sc)
			t.Fatalf("seed %d, scenario %s: %v", seed, js, err)
		}
		granted := 0
		for _, c := range res.History {
			granted += c.Units
		}
		if res.UnitsDone != sc.Job || res.Duplicates != 0 || granted != sc.Job+res.Returned {
			t.Fatalf("seed %d: done %d of %d, duplicates %d, granted %d, returned %d", seed, res.UnitsDone, sc.Job, res.Duplicates, granted, res.Returned)
		}
		for _, w := range res.Workers {
			if w.Units != res.LedgerUnits[w.ID] {
				t.Fatalf("seed %d: worker %d reports %d units, the ledger %d", seed, w.ID, w.Units, res.LedgerUnits[w.ID])
			}
		}
		if res.Ratio < 1-1e-9 {
			t.Fatalf("seed %d: makespan %v below the lower bound %v", seed, res.Makespan, res.LowerBound)
		}
		f := res.Faults
		if f == nil {
			t.Fatalf("seed %d: no fault report", seed)
		}
		for _, ev := range f.Timeline {
			seen[ev.What]++
		}
		if f.Retransmitted > 0 {
			seen["retransmitted"]++
		}
		if f.Held > 0 {
			seen["held"]++
		}
		if f.Lies > 0 {
			seen["lied"]++
		}
		if res.Returned > 0 {
			seen["chunk handed back"]++
		}
	}
	// The plans must have exercised every way a fault reaches the workers.
	for _, what := range []string{"crash", "restart", "partition", "declared down", "rejoin", "delay", "loss", "corrupt", "byzantine", "retransmitted", "held", "lied", "chunk handed back"} {
		if seen[what] < 5 {
			t.Errorf("%q in only %d of 300 episodes: the test exercises too little (%v)", what, seen[what], seen)
		}
	}
}

func TestFaultsNeedVersion2AndV2WithoutFaultsIsV1(t *testing.T) {
	sc := Default()
	sc.Job = 2000
	sc.Faults = faults.Spec{Intensity: faults.Medium}
	var fe *FieldError
	if _, err := NewVersion("v1", sc, 1); !errors.As(err, &fe) || fe.Field != "faults" {
		t.Fatalf("faults on v1: got %v, want an error naming --faults", err)
	}
	sc.Faults = faults.Spec{}
	agents := func(id learning.AgentID) learning.LearningAlgorithm {
		return &random{r: rand.New(rand.NewPCG(3, uint64(len(id)))), max: 200, t: t}
	}
	encode := func(version string) string {
		e, err := NewVersion(version, sc, 1)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Run(4, agents)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(struct {
			R Result
			H []ChunkRecord
		}{res, res.History})
		return string(b)
	}
	if encode("v1") != encode("v2") {
		t.Fatal("v2 without faults ran a different episode from v1")
	}
}

func TestSameSeedSameFaultyEpisode(t *testing.T) {
	sc := Default()
	sc.Job = 3000
	sc.Faults = faults.Spec{Intensity: faults.Chaos, Kinds: faults.Kinds()}
	e, err := NewVersion("v2", sc, 1)
	if err != nil {
		t.Fatal(err)
	}
	agents := func(id learning.AgentID) learning.LearningAlgorithm {
		return &random{r: rand.New(rand.NewPCG(5, uint64(len(id)))), max: 200, t: t}
	}
	encode := func(seed uint64) string {
		res, err := e.Run(seed, agents)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(struct {
			R Result
			H []ChunkRecord
		}{res, res.History})
		return string(b)
	}
	a := encode(3)
	if a != encode(3) {
		t.Fatal("the same seed gave two different episodes")
	}
	if a == encode(4) {
		t.Fatal("seeds 3 and 4 gave the same episode")
	}
	// The episode's plan is the one FaultPlan gives, and applied as planned.
	plan, _ := e.FaultPlan(3)
	res, _ := e.Run(3, agents)
	for _, f := range plan.Faults {
		i := slices.IndexFunc(res.Faults.Timeline, func(ev faults.Event) bool { return ev.Fault == f.ID })
		if i < 0 || res.Faults.Timeline[i].At != f.At {
			t.Fatalf("fault %+v not applied at its time: timeline %+v", f, res.Faults.Timeline)
		}
	}
}
