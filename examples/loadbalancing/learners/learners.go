// Package learners registers every algorithm that drives the load-balancing
// workers in the learning registry, for the "loadbalancing" family, with the
// settings that suit this environment: the classical self-scheduling
// techniques (native: they read the workers' own observations and choose
// unit counts), and Q-learning and policy gradient with their tuned
// configurations (generic: they see the workers through the environment's
// adapter). Importing it is what makes them available by name; the CLI, the
// quality report and notebooks then run them through env.Run and
// env.Compare, so that they all run the same thing.
//
// It also holds the technique-selection adapter (technique.go: the
// classical techniques as a learner's actions, which the example cannot
// hold since it must not depend on any algorithm) and the learning-quality
// report: its public suite of scenarios, the learners it holds to its
// targets, and the trivial baselines of their action spaces (suite.go).
//
// It depends on the load-balancing example, env, learning and the
// algorithms; the example itself must not depend on it.
package learners

import (
	_ "github.com/marlon-go/marlon/algorithms/baseline" // random and fixed:CHOICE, beside the learners
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
	PolicyBeta     = "pg-beta"
)

func init() {
	for _, t := range dls.Techniques() {
		learning.RegisterFor(loadbalancing.Family, learning.Algorithm{
			Name: string(t), About: "classical self-scheduling technique " + string(t), Native: true,
			New: func(spec learning.Spec) (learning.Policy, error) {
				return dls.New(t, spec, dls.WithCV(spec.Params[loadbalancing.ParamCV]))
			},
		})
	}
	learning.RegisterFor(loadbalancing.Family, learning.Algorithm{
		Name: QLearning, About: "tabular Q-learning, Monte Carlo returns, coordinated exploration (tuned for load balancing)", Learns: true,
		New: func(spec learning.Spec) (learning.Policy, error) { return qlearning.New(spec, QConfig()) },
	})
	learning.RegisterFor(loadbalancing.Family, learning.Algorithm{
		Name: PolicyGradient, About: "REINFORCE with a value baseline on gorgonia, coordinated draws (tuned for load balancing)", Learns: true,
		New: func(spec learning.Spec) (learning.Policy, error) { return policygradient.New(spec, PGConfig()) },
	})
	learning.RegisterFor(loadbalancing.Family, learning.Algorithm{
		Name: PolicyBeta, About: "REINFORCE with a continuous Beta head, for the fraction adapter's ordered scale (tuned for load balancing)", Learns: true,
		New: func(spec learning.Spec) (learning.Policy, error) { return policygradient.New(spec, PGBetaConfig()) },
	})
}

// Learners are the algorithms that learn, in the order they were
// registered (the family's own first).
func Learners() []string {
	var names []string
	for _, a := range learning.Algorithms(loadbalancing.Family) {
		if a.Learns {
			names = append(names, a.Name)
		}
	}
	return names
}

// Classical are the classical self-scheduling techniques.
func Classical() []string {
	var names []string
	for _, t := range dls.Techniques() {
		names = append(names, string(t))
	}
	return names
}

// Names are all the algorithms that can drive the workers, with the
// baselines of the learners' default action space (random, and fixed:CHOICE
// for each choice) in place of the parametric "fixed".
func Names() []string {
	a, _ := loadbalancing.NewAdapter(nil)
	return learning.Runnable(loadbalancing.Family, a.Spec())
}

// Baselines are the trivial baselines of the learners' default action
// space: random, and fixed:CHOICE for each choice.
func Baselines() []string {
	var names []string
	for _, n := range Names() {
		if a, err := learning.Lookup(loadbalancing.Family, n); err == nil && a.Baseline {
			names = append(names, n)
		}
	}
	return names
}

// IsLearner reports whether name learns.
func IsLearner(name string) bool {
	a, err := learning.Lookup(loadbalancing.Family, name)
	return err == nil && a.Learns
}

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
	// The Discretizer is left to the features' own bins (loadbalancing.QBins,
	// in Features and FeaturesV3): 36 states on v1 and v2, 72 from v3 on.
	return cfg
}

// PGBetaConfig is PGConfig with the Beta head, for the fraction adapter
// (loadbalancing.FractionAdapter). Its entropy bonus is smaller: a Beta's
// differential entropy is largest at the uniform density, and the bonus
// that keeps a softmax over five choices exploring would hold the Beta
// flat.
func PGBetaConfig() policygradient.Config {
	cfg := PGConfig()
	cfg.Head, cfg.Entropy = policygradient.HeadBeta, 0.01
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
