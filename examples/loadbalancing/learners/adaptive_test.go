package learners

import (
	"testing"

	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/examples/loadbalancing"
)

// TestAdaptiveTechniquesAdaptToPerturbations checks the adaptive
// techniques' known advantage over weighted factoring and FAC2, which size
// chunks by nominal speeds (or none), where the workers' actual speeds
// drift from them, on loadbalancing/v3's perturbations. On 8 workers of
// the same nominal speed (WF's weights are then FAC2's):
//
//   - half of them slowed from t = 50 (to 0.4 and 0.6 of their speed,
//     background load the schedule does not know about): AWF-B and AF
//     measure the slower workers and give them less, and beat both. AWF-C
//     does not: re-sizing at every chunk it cuts more, smaller chunks, and
//     pays for the requests;
//   - every worker's speed drifting (a walk of factor exp(0.5 N(0,1))
//     every 50 time units, between 0.1 and 1): AWF-C, whose weights follow
//     every chunk's measurement, beats both; AWF-B's weights, fixed for a
//     batch, and AF's chunks, as large as GSS's once measured, lag behind
//     a drift this fast, and do not.
//
// Each is the mean of 10 evaluation episodes (the walk drawn for each).
func TestAdaptiveTechniquesAdaptToPerturbations(t *testing.T) {
	base := loadbalancing.Default()
	base.Speeds = []float64{3, 3, 3, 3, 3, 3, 3, 3}
	slowed := base
	slowed.Slows = []loadbalancing.Slow{{Worker: 0, At: 50, Factor: 0.4}, {Worker: 1, At: 50, Factor: 0.4}, {Worker: 2, At: 50, Factor: 0.6}, {Worker: 3, At: 50, Factor: 0.6}}
	drift := base
	drift.Perturb = []loadbalancing.Perturbation{{Target: loadbalancing.TargetSpeed, Model: loadbalancing.ModelWalk, Period: 50, Sigma: 0.5, Factor: 0.1}}
	ratio := func(sc loadbalancing.Scenario, name string) float64 {
		e, err := loadbalancing.NewVersion("v3", sc, 1)
		if err != nil {
			t.Fatal(err)
		}
		r, err := env.Run(e, name, env.RunOptions{Seed: 1, EvalEpisodes: 10})
		if err != nil {
			t.Fatal(err)
		}
		return r.Mean["ratio"]
	}
	for _, c := range []struct {
		scenario string
		sc       loadbalancing.Scenario
		adaptive []string
	}{{"slowed from t = 50", slowed, []string{"awf-b", "af"}}, {"drifting speeds", drift, []string{"awf-c"}}} {
		fac2, wf := ratio(c.sc, "fac2"), ratio(c.sc, "wf")
		for _, a := range c.adaptive {
			if got := ratio(c.sc, a); !(got < fac2 && got < wf) {
				t.Errorf("%s: %s's ratio %.4f, not below FAC2's %.4f and WF's %.4f", c.scenario, a, got, fac2, wf)
			} else {
				t.Logf("%s: %s %.4f, FAC2 %.4f, WF %.4f", c.scenario, a, got, fac2, wf)
			}
		}
	}
}
