package loadbalancing

import (
	"reflect"
	"testing"
)

func TestDistributionsDrawValidVariedScenarios(t *testing.T) {
	d, err := DistributionNamed("mixed")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DistributionNamed("nope"); err == nil {
		t.Fatal("an unknown distribution was found")
	}
	kinds := map[string]int{}
	workers := map[int]bool{}
	for seed := uint64(1); seed <= 400; seed++ {
		sc := d.Sample(seed)
		if err := sc.Validate(); err != nil {
			t.Fatalf("seed %d drew an invalid scenario %+v: %v", seed, sc, err)
		}
		if !reflect.DeepEqual(sc, d.Sample(seed)) {
			t.Fatalf("seed %d drew two scenarios", seed)
		}
		speed := 0.0
		for _, v := range sc.Speeds {
			speed += v
		}
		overhead := float64(sc.Workers) * sc.CommTime / (float64(sc.Job) / speed)
		if sc.Workers < d.Workers[0] || sc.Workers > d.Workers[1] || sc.Job < d.Job[0] || sc.Job > max(d.Job[1], 100*sc.Workers) || sc.Job < 100*sc.Workers ||
			overhead < d.Overhead[0]*(1-1e-9) || overhead > d.Overhead[1]*(1+1e-9) || sc.TotalWorkers() > d.Workers[1]+d.maxJoiners() {
			t.Fatalf("seed %d: %+v outside the distribution (overhead %v)", seed, sc, overhead)
		}
		workers[sc.Workers] = true
		for _, f := range sc.dynamicFlags() {
			kinds[f]++
		}
	}
	if len(workers) < 30 {
		t.Fatalf("only %d worker counts in 400 draws", len(workers))
	}
	for _, f := range []string{"slow", "perturb", "random-join", "random-leave"} {
		if n := kinds[f]; n < 100 || n > 250 {
			t.Errorf("%s in %d of 400 draws, want about 35%%", f, n)
		}
	}
	// The static distribution draws no dynamics, and runs on v1; mixed
	// does not.
	st, _ := DistributionNamed("static")
	if f := st.Sample(3).dynamicFlags(); len(f) != 0 {
		t.Fatalf("static drew %v", f)
	}
	if _, err := NewDistribution("v2", st); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDistribution("v2", d); err == nil {
		t.Fatal("mixed on v2")
	}
}

func TestDistributionEnvironmentDrawsEachEpisode(t *testing.T) {
	d, _ := DistributionNamed("mixed")
	d.Job = [2]int{500, 2000} // small episodes
	e, err := NewDistribution("v3", d)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(e.PossibleAgents()); n != 64+32 {
		t.Fatalf("%d possible agents, want the largest scenario's 96", n)
	}
	if e.Spec(AgentID(0)).Actions.N != 6400 || e.Name() != "loadbalancing/v3" || e.Distribution() == nil {
		t.Fatalf("spec %+v, name %s", e.Spec(AgentID(0)), e.Name())
	}
	counts := map[int]bool{}
	for seed := uint64(1); seed <= 6; seed++ {
		res, err := e.Run(seed, fixedAgents(50))
		if err != nil {
			t.Fatal(err)
		}
		sc := d.Sample(seed)
		if res.Job != sc.Job || res.UnitsDone != sc.Job || len(res.Workers) != sc.TotalWorkers() || res.Ratio < 1 {
			t.Fatalf("seed %d: job %d, %d units done by %d workers (ratio %v); the draw has %d units and %d workers",
				seed, res.Job, res.UnitsDone, len(res.Workers), res.Ratio, sc.Job, sc.TotalWorkers())
		}
		counts[len(res.Workers)] = true
	}
	if len(counts) < 3 {
		t.Fatalf("6 episodes had %d worker counts", len(counts))
	}
}
