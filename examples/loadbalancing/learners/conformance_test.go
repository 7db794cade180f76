package learners_test

import (
	"testing"

	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/env/envtest"
	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/examples/loadbalancing/learners"
	"github.com/marlon-go/marlon/learning"
	"github.com/marlon-go/marlon/learning/algotest"
)

// conformanceScenario is the default scenario with a worker that joins and
// one that leaves, so that the membership contract is exercised.
func conformanceScenario(t *testing.T) *loadbalancing.Environment {
	t.Helper()
	sc := loadbalancing.Default()
	sc.Job = 2000
	sc.Joins = []loadbalancing.Join{{At: 20, Count: 1, Speed: 2}}
	sc.Leaves = []loadbalancing.Leave{{Worker: 1, At: 40}}
	e, err := loadbalancing.New(sc, 1)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The load-balancing environment honours the environment contracts.
func TestEnvironmentConformance(t *testing.T) {
	envtest.Check(t, conformanceScenario(t))
}

// Every algorithm registered for load balancing (the classical techniques,
// and qlearning and pg as tuned here, through the adapter) honours the
// algorithm contracts as the environment runs it.
func TestAlgorithmConformance(t *testing.T) {
	e := conformanceScenario(t)
	for _, name := range learners.Names() {
		t.Run(name, func(t *testing.T) { envtest.CheckAlgorithm(t, e, name) })
	}
}

// The environment with loadbalancing/v3's dynamics honours the
// environment contracts too: slowdowns, a perturbed latency, workers that
// join and leave at random.
func TestPerturbedEnvironmentConformance(t *testing.T) {
	sc := loadbalancing.Default()
	sc.Job = 2000
	sc.Slows = []loadbalancing.Slow{{Worker: 2, At: 10, Factor: 0.3}}
	sc.Perturb = []loadbalancing.Perturbation{{Target: "latency", Model: "onoff", Up: 20, Down: 5, Factor: 5}, {Target: "speed", Model: "walk", Period: 10, Sigma: 0.3, Factor: 0.2}}
	sc.RandomJoins = []loadbalancing.RandomJoin{{Count: 1, From: 5, To: 40, Speed: 2}}
	sc.RandomLeaves = []loadbalancing.RandomLeave{{Count: 1, From: 10, To: 50}}
	e, err := loadbalancing.NewVersion("v3", sc, 1)
	if err != nil {
		t.Fatal(err)
	}
	envtest.Check(t, e)
}

// The learners honour the algorithm contracts through the other adapters
// as well: technique selection (whose adapter keeps per-agent state) and
// the fraction scale (pg-beta's).
func TestAdaptersConformance(t *testing.T) {
	e := conformanceScenario(t)
	for _, c := range []struct{ name, actions string }{
		{learners.QLearning, learners.TechniqueAdapter}, {learners.PolicyGradient, learners.TechniqueAdapter},
		{learners.PolicyBeta, loadbalancing.FractionName}, {"random", learners.TechniqueAdapter},
	} {
		t.Run(c.name+"/"+c.actions, func(t *testing.T) {
			alg, ao, err := envtest.Algorithm(e, c.name, envtest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			adapter, err := e.Adapter(c.actions)
			if err != nil {
				t.Fatal(err)
			}
			inner, _ := env.Lookup(e, c.name)
			alg.New = func(s learning.Spec) (learning.Policy, error) {
				as := adapter.Spec()
				as.Seed = s.Seed
				p, err := inner.New(as)
				if err != nil {
					return nil, err
				}
				return learning.Adapt(p, adapter, s.Actions), nil
			}
			algotest.CheckWith(t, alg, ao)
		})
	}
}
