package scheduling

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/faults"
)

// No job is lost or completed twice under fault plans of every intensity,
// pattern and kind (Scenario.Faults), byzantine bids included, by auction
// or by a central discipline.
func TestNoJobLostOrRunTwiceUnderFaultPlans(t *testing.T) {
	seeds := *faultSeeds
	if testing.Short() {
		seeds = min(seeds, 8)
	}
	seen := map[string]int{}
	for _, alg := range []struct {
		name   string
		agents env.Agents
	}{{"bidding", nil}, {"random", func() env.Agents {
		p := randomPolicy{seed: 3}
		return policyAgents(p)
	}()}, {"easy", policyAgents(CentralPolicy(EASY{}))}} {
		for s := 1; s <= seeds; s++ {
			seed := uint64(s)
			r := rand.New(rand.NewPCG(seed, 41))
			sc := faultyScenario()
			sc.StrandTimeout = 1e6 // outages may outlast any timeout: no job may be lost
			sc.Faults = faults.Spec{
				Intensity: faults.Intensities()[1+r.IntN(4)], Pattern: faults.Patterns()[r.IntN(3)],
				Kinds: faults.Kinds(),
			}
			e, err := New(sc)
			if err != nil {
				t.Fatal(err)
			}
			given := newAssigns()
			ep := runFaulty(t, e, seed, alg.agents, given)
			res := ep.Result()
			plan, _ := e.FaultPlan(seed, ep.Jobs())
			what := fmt.Sprintf("%s seed %d, plan %+v", alg.name, seed, plan.Faults)
			checkLedger(t, what, ep.Ledger(), sc.Jobs, given)
			if res.Faults == nil {
				t.Fatalf("%s: no fault report", what)
			}
			for _, ev := range res.Faults.Timeline {
				seen[ev.What]++
			}
			if res.Faults.Lies > 0 {
				seen["lied"]++
			}
			if res.Failures > 0 {
				seen["failure detected"]++
			}
		}
	}
	for _, what := range []string{"crash", "restart", "partition", "declared down", "rejoin", "delay", "loss", "corrupt", "byzantine", "lied", "failure detected"} {
		if seen[what] == 0 {
			t.Errorf("no %q in %d episodes: the test exercises too little (%v)", what, 3*seeds, seen)
		}
	}
}

// Each episode's plan is applied at its times, reported in the result, and
// the same seed gives the same faults.
func TestFaultPlanAppliedAndReported(t *testing.T) {
	sc := faultyScenario()
	sc.Faults = faults.Spec{Intensity: faults.Heavy, Kinds: []faults.Kind{faults.Crash}}
	e, err := New(sc)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(3, nil)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := e.FaultPlan(3, e.Workload(3))
	if err != nil {
		t.Fatal(err)
	}
	if plan.Detect != sc.Heartbeat*float64(sc.MissedHeartbeats) {
		t.Fatalf("the plan's detector (%v) is not the scenario's heartbeats", plan.Detect)
	}
	crashes := 0
	for _, f := range plan.Faults {
		i := slices.IndexFunc(res.Faults.Timeline, func(ev faults.Event) bool { return ev.Fault == f.ID })
		if i < 0 || res.Faults.Timeline[i].At != f.At {
			t.Fatalf("fault %+v not applied at its time: %+v", f, res.Faults.Timeline)
		}
		if res.Faults.Timeline[i].What == "crash" {
			crashes++
		}
	}
	// Every crash the injector made is a kill the episode recorded.
	if crashes == 0 || len(res.Kills) != crashes {
		t.Fatalf("%d crashes applied, %d kills recorded", crashes, len(res.Kills))
	}
	again, _ := e.Run(3, nil)
	if fmt.Sprint(again.Faults.Timeline) != fmt.Sprint(res.Faults.Timeline) || again.MeanBSLD != res.MeanBSLD {
		t.Fatal("the same seed gave other faults or another outcome")
	}
	other, _ := e.Run(4, nil)
	if fmt.Sprint(other.Faults.Timeline) == fmt.Sprint(res.Faults.Timeline) {
		t.Fatal("seeds 3 and 4 gave the same faults")
	}
}
