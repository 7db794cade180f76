package dls_test

import (
	"testing"

	"github.com/marlon-go/marlon/algorithms/dls"
	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/learning"
)

// run runs one episode of sc with every worker's agent from policy tech.
func run(t *testing.T, sc loadbalancing.Scenario, tech dls.Technique, seed uint64) loadbalancing.Result {
	t.Helper()
	e, err := loadbalancing.New(sc, seed)
	if err != nil {
		t.Fatal(err)
	}
	spec := e.Spec(loadbalancing.AgentID(0))
	spec.Seed = seed
	policy, err := dls.New(tech, spec, dls.WithCV(sc.Variability))
	if err != nil {
		t.Fatal(err)
	}
	policy.BeginEpisode()
	res, err := e.Run(seed, func(id learning.AgentID) learning.LearningAlgorithm { return policy.NewAgent(id) })
	policy.EndEpisode()
	if err != nil {
		t.Fatalf("%s: %v", tech, err)
	}
	if res.UnitsDone != sc.Job || !(res.Ratio >= 1) {
		t.Errorf("%s: %d of %d units done, makespan ratio %v (want all done, ratio >= 1)", tech, res.UnitsDone, sc.Job, res.Ratio)
	}
	return res
}

func TestDefaultScenario(t *testing.T) {
	ratios := map[dls.Technique]float64{}
	for _, tech := range dls.Techniques() {
		ratios[tech] = run(t, loadbalancing.Default(), tech, 1).Ratio
	}
	for tech, r := range ratios {
		if tech != dls.SS && r >= ratios[dls.SS] {
			t.Errorf("%s: ratio %v, not better than self-scheduling's (ratios %v)", tech, r, ratios)
		}
	}
}

// TestJoinsAndLeaves runs every technique while workers come and go, so that
// the number of live workers changes in the middle of batches.
func TestJoinsAndLeaves(t *testing.T) {
	sc := loadbalancing.Default()
	sc.Job = 2000
	sc.Joins = []loadbalancing.Join{{At: 50, Count: 2}}
	sc.Leaves = []loadbalancing.Leave{{At: 30, Worker: 1}, {At: 80, Worker: 8}}
	for _, tech := range dls.Techniques() {
		run(t, sc, tech, 2)
	}
}
