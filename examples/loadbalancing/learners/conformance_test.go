package learners_test

import (
	"testing"

	"github.com/marlon-go/marlon/env/envtest"
	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/examples/loadbalancing/learners"
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
