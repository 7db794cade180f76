// Package learners makes every algorithm that can drive the load-balancing
// workers, by name, with the settings that suit this environment: the
// classical self-scheduling techniques, and the generic learners
// (Q-learning, policy gradient) behind the environment's Adapter with their
// tuned configurations. The CLI, the quality report and notebooks make
// their algorithms here so that they all run the same thing.
//
// It depends on the load-balancing example, learning and the algorithms; the
// example itself must not depend on it.
package learners

import (
	"fmt"
	"slices"
	"strings"

	"github.com/marlon-go/marlon/algorithms/dls"
	"github.com/marlon-go/marlon/algorithms/policygradient"
	"github.com/marlon-go/marlon/algorithms/qlearning"
	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/learning"
)

// The learners' names.
const (
	QLearning      = "qlearning"
	PolicyGradient = "pg"
)

// Learners are the algorithms that learn, best first.
func Learners() []string { return []string{QLearning, PolicyGradient} }

// Classical are the classical self-scheduling techniques.
func Classical() []string {
	var names []string
	for _, t := range dls.Techniques() {
		names = append(names, string(t))
	}
	return names
}

// Names are all the algorithms.
func Names() []string { return append(Classical(), Learners()...) }

// IsLearner reports whether name learns.
func IsLearner(name string) bool { return slices.Contains(Learners(), name) }

// Training is how a learner is trained in this environment.
type Training struct {
	Episodes     int    // training episodes
	EvalEvery    int    // validation interval
	EvalEpisodes int    // validation and final evaluation episodes
	Select       string // the metric the kept models minimise
}

// DefaultTraining is the training the CLI runs by default.
func DefaultTraining() Training {
	return Training{Episodes: 300, EvalEvery: 25, EvalEpisodes: 10, Select: "ratio"}
}

// QConfig is the Q-learning configuration for the load-balancing agents.
// The workers share one outcome, the makespan, which the last of them
// decides, and see it through coarse bins; hence Monte Carlo targets
// (Lambda 1: bootstrapping from a max over aliased states favours paths of
// many small chunks), sample averages (a single return says little), and
// coordinated exploration at a constant 10% of the states per episode (a
// change of the shared table moves every worker in that state at once,
// and that is what an episode should try).
func QConfig() qlearning.Config {
	cfg := qlearning.DefaultConfig()
	cfg.Alpha, cfg.SampleAverage, cfg.Gamma, cfg.Lambda = 0.05, true, 1, 1
	cfg.EpsilonStart, cfg.EpsilonEnd, cfg.DecayEpisodes = 0.2, 0.05, 300
	cfg.Coordinated = true
	bins := loadbalancing.QBins()
	for _, f := range loadbalancing.Features.Fields() {
		if edges, ok := bins[f]; ok {
			cfg.Discretizer = append(cfg.Discretizer, qlearning.Bins{Field: f, Edges: edges})
		}
	}
	return cfg
}

// PGConfig is the policy-gradient configuration for the load-balancing
// agents: undiscounted returns (each worker's is minus the makespan) and
// coordinated draws, for the same reason as QConfig's exploration.
func PGConfig() policygradient.Config {
	cfg := policygradient.DefaultConfig()
	cfg.PolicyLR, cfg.ValueLR, cfg.Entropy, cfg.Gamma = 0.01, 0.01, 0.1, 1
	cfg.Coordinated = true
	return cfg
}

// New makes algorithm name's policy for e's workers, seeded. A learner's
// policy is wrapped in e's adapter: it sees loadbalancing.Features and
// chooses among loadbalancing.DefaultChoices.
func New(name string, e *loadbalancing.Environment, seed uint64) (learning.Policy, error) {
	if !IsLearner(name) {
		if !slices.Contains(Classical(), name) {
			return nil, fmt.Errorf("unknown algorithm %q; one of %s", name, strings.Join(Names(), ", "))
		}
		spec := learning.Spec{Observation: e.Observation(), Actions: e.Actions(), Seed: seed}
		return dls.New(dls.Technique(name), spec, dls.WithCV(e.Scenario().Variability))
	}
	a, err := loadbalancing.NewAdapter(nil)
	if err != nil {
		return nil, err
	}
	var inner learning.Policy
	switch name {
	case QLearning:
		inner, err = qlearning.New(a.Spec(seed), QConfig())
	case PolicyGradient:
		inner, err = policygradient.New(a.Spec(seed), PGConfig())
	}
	if err != nil {
		return nil, err
	}
	return a.Policy(inner), nil
}

// Spec is what a checkpoint of algorithm name is checked against.
func Spec(name string, e *loadbalancing.Environment) learning.Spec {
	if IsLearner(name) {
		a, _ := loadbalancing.NewAdapter(nil)
		return a.Spec(0)
	}
	return learning.Spec{Observation: e.Observation(), Actions: e.Actions()}
}
