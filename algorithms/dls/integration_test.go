package dls_test

import (
	"math"
	"math/rand/v2"
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
	if res.UnitsDone != sc.Job || !(res.Ratio >= 1-1e-9) { // 1e-9: rounding, where a schedule reaches the bound
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

// randomScenario is a small scenario with random speeds (1 to 100),
// communication and unit times, variability, and joins and leaves, some of
// them at the start or moments after it.
func randomScenario(r *rand.Rand) loadbalancing.Scenario {
	sc := loadbalancing.Scenario{
		Workers: 1 + r.IntN(6), Job: 1 + r.IntN(300), UnitTime: 0.1 + r.Float64()*2,
		CommTime: []float64{0, 0.5, 2, 10}[r.IntN(4)] * r.Float64(), SpeedMin: 1, SpeedMax: 5,
	}
	if r.IntN(3) > 0 {
		sc.Variability = r.Float64()
	}
	if r.IntN(2) == 0 {
		for range sc.Workers {
			sc.Speeds = append(sc.Speeds, math.Round(math.Exp(r.Float64()*math.Log(100))))
		}
	}
	// soon is a time at the start, a moment after it, or later.
	soon := func() float64 {
		switch r.IntN(5) {
		case 0:
			return 0
		case 1, 2:
			return 2 * sc.CommTime * r.Float64()
		case 3:
			return 10 * sc.CommTime * r.Float64()
		}
		return 100 * r.Float64()
	}
	for k := r.IntN(3); k > 0; k-- {
		sc.Joins = append(sc.Joins, loadbalancing.Join{At: soon(), Count: 1 + r.IntN(3), Speed: float64(r.IntN(2) * (1 + r.IntN(100)))})
	}
	total := sc.TotalWorkers()
	joined := make([]float64, sc.Workers, total)
	for _, j := range sc.Joins {
		for range j.Count {
			joined = append(joined, j.At)
		}
	}
	for _, w := range r.Perm(total)[:r.IntN(total)] { // some leave, at least one stays
		sc.Leaves = append(sc.Leaves, loadbalancing.Leave{At: joined[w] + soon(), Worker: w})
	}
	return sc
}

// TestNoTechniqueBeatsTheLowerBound runs every technique on random
// scenarios of joins and leaves: the lower bound must never be above a
// makespan, whatever the schedule. (With the bound that kept a departed
// worker's place in the Master's order, 8 of these random scenarios failed,
// besides the two given: fast workers leaving at 0, or during their first
// service.)
func TestNoTechniqueBeatsTheLowerBound(t *testing.T) {
	scenarios := []loadbalancing.Scenario{
		// Fast workers that leave at once: a bound that kept their places
		// in the Master's order was above static's makespan (ratio 0.80).
		{Workers: 5, Speeds: []float64{1, 100, 100, 100, 100}, Job: 100, UnitTime: 1, CommTime: 10,
			Leaves: []loadbalancing.Leave{{At: 0, Worker: 1}, {At: 0, Worker: 2}, {At: 0, Worker: 3}, {At: 0, Worker: 4}}},
		// The fastest leaves before its first service ends (0.990).
		{Workers: 3, Speeds: []float64{1, 1, 10}, Job: 100, UnitTime: 1, CommTime: 1, Variability: 0.3,
			Leaves: []loadbalancing.Leave{{At: 0.5, Worker: 2}}},
	}
	r := rand.New(rand.NewPCG(8, 8))
	for len(scenarios) < 400 {
		scenarios = append(scenarios, randomScenario(r))
	}
	for i, sc := range scenarios {
		for _, tech := range dls.Techniques() {
			res := run(t, sc, tech, uint64(i+1))
			if t.Failed() {
				t.Fatalf("scenario %d: %+v", i, sc)
			}
			if res.UnitsReported != sc.Job || res.Duplicates != 0 {
				t.Fatalf("scenario %d %+v, %s: %d units reported, %d duplicates", i, sc, tech, res.UnitsReported, res.Duplicates)
			}
		}
	}
}

// TestChunksInAnEpisodeFollowTheFormulas checks, in the order the Master
// granted them, the chunks of two techniques whose sizes depend on the
// grants before: GSS's ceil(R/P) and TSS's linear decrease.
func TestChunksInAnEpisodeFollowTheFormulas(t *testing.T) {
	sc := loadbalancing.Default()
	sc.Job = 3000
	const n, p = 3000, 8
	f := (n + 2*p - 1) / (2 * p) // TSS: F = ceil(N/(2P)) = 188, C = ceil(2N/(F+1)) = 32
	c := (2*n + f) / (f + 1)
	formulas := map[dls.Technique]func(g, r int) int{
		dls.GSS: func(_, r int) int { return (r + p - 1) / p },
		dls.TSS: func(g, _ int) int {
			return max(1, int(math.Ceil(float64(f)-float64(g)*float64(f-1)/float64(c-1)-1e-9)))
		},
	}
	for tech, formula := range formulas {
		res := run(t, sc, tech, 1)
		r := n
		for g, ch := range res.History {
			if want := min(r, formula(g, r)); ch.Units != want {
				t.Fatalf("%s: chunk %d (worker %d) of %d units with %d left, want %d", tech, g, ch.Worker, ch.Units, r, want)
			}
			r -= ch.Units
		}
		for _, w := range res.Workers {
			sum := 0
			for _, k := range w.ChunkSizes {
				sum += k
			}
			if sum != w.Units {
				t.Errorf("%s: worker %d's chunks %v add up to %d, it reports %d units", tech, w.ID, w.ChunkSizes, sum, w.Units)
			}
		}
	}
}
