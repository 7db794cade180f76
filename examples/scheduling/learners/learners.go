// Package learners registers every algorithm that schedules in the
// scheduling environment, for the "scheduling" family: the central
// baselines of production batch schedulers (FCFS, EASY backfilling) and
// the seed's competitive bidding heuristic (native: they read the
// environment's own observations, or take placement out of the agents'
// hands), and Q-learning and policy gradient with the settings that suit
// this environment (generic: they see the resource agents through the
// environment's adapter and learn their bids). The trivial baselines of
// the learners' action space, random and fixed:LEVEL, come from
// algorithms/baseline. Importing it is what makes them available by name
// to the CLI, the campaign and notebooks, which run them through env.Run
// and env.Compare.
//
// It depends on the scheduling example, env, learning and the
// algorithms; the example itself must not depend on it.
package learners

import (
	_ "github.com/marlon-go/marlon/algorithms/baseline" // random and fixed:LEVEL, beside the learners
	"github.com/marlon-go/marlon/algorithms/policygradient"
	"github.com/marlon-go/marlon/algorithms/qlearning"
	"github.com/marlon-go/marlon/examples/scheduling"
	"github.com/marlon-go/marlon/learning"
)

// The algorithms' names.
const (
	FCFS           = "fcfs"
	EASY           = "easy"
	Bidding        = "bidding"
	Reserve        = "bidding-reserve"
	QLearning      = "qlearning"
	PolicyGradient = "pg"
)

func init() {
	learning.RegisterFor(scheduling.Family, learning.Algorithm{
		Name: FCFS, About: "first come, first served from a central queue (nothing overtakes a waiting job)", Native: true,
		New: func(learning.Spec) (learning.Policy, error) { return scheduling.CentralPolicy(scheduling.FCFS{}), nil },
	})
	learning.RegisterFor(scheduling.Family, learning.Algorithm{
		Name: EASY, About: "EASY backfilling from a central queue: the head job's reservation, later jobs only if they do not delay it", Native: true,
		New: func(learning.Spec) (learning.Policy, error) { return scheduling.CentralPolicy(scheduling.EASY{}), nil },
	})
	learning.RegisterFor(scheduling.Family, learning.Algorithm{
		Name: Bidding, About: "the seed's competitive bidding: every node that fits the job bids its multi-factor score", Native: true,
		New: func(learning.Spec) (learning.Policy, error) { return scheduling.HeuristicPolicy(), nil },
	})
	learning.RegisterFor(scheduling.Family, learning.Algorithm{
		Name: Reserve, About: "competitive bidding where a node declines a job that would delay the oldest waiting job's start on it (EASY's test, node by node)", Native: true,
		New: func(learning.Spec) (learning.Policy, error) { return scheduling.ReservePolicy(), nil },
	})
	learning.RegisterFor(scheduling.Family, learning.Algorithm{
		Name: QLearning, About: "tabular Q-learning of the bid level, Monte Carlo returns, coordinated exploration (tuned for scheduling)", Learns: true,
		New: func(spec learning.Spec) (learning.Policy, error) { return qlearning.New(spec, QConfig()) },
	})
	learning.RegisterFor(scheduling.Family, learning.Algorithm{
		Name: PolicyGradient, About: "REINFORCE with a value baseline of the bid level, on gorgonia (tuned for scheduling)", Learns: true,
		New: func(spec learning.Spec) (learning.Policy, error) { return policygradient.New(spec, PGConfig()) },
	})
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
	return Training{Episodes: 300, EvalEvery: 25, EvalEpisodes: 10, Select: "mean_bsld"}
}

// QConfig is the Q-learning configuration for the resource agents: the
// agents share one outcome (the episode's cost, whose sum over an episode
// is about the sum of the jobs' bounded slowdowns), hence Monte Carlo
// targets, sample averages and coordinated exploration, as for load
// balancing; the table is QBins' 32 states.
func QConfig() qlearning.Config {
	cfg := qlearning.DefaultConfig()
	cfg.Alpha, cfg.SampleAverage, cfg.Gamma, cfg.Lambda = 0.05, true, 1, 1
	cfg.EpsilonStart, cfg.EpsilonEnd, cfg.DecayEpisodes = 0.2, 0.05, 200
	cfg.Coordinated = true
	bins := scheduling.QBins()
	for _, f := range scheduling.Features.Fields() {
		if edges, ok := bins[f]; ok {
			cfg.Discretizer = append(cfg.Discretizer, qlearning.Bins{Field: f, Edges: edges})
		}
	}
	return cfg
}

// PGConfig is the policy-gradient configuration for the resource agents:
// undiscounted returns and coordinated draws, for the same reason as
// QConfig's exploration, and a small entropy bonus. The policy stays close
// to even between declining and bidding in many states, and it is
// evaluated greedily: where its argmax tips to decline, busy nodes take no
// more jobs and the bounded slowdown is fixed:decline's. With the default
// bonus (0.05), or a discount of 0.98, that happened at most validation
// points on bursty loads; the kept models (best validated) guard against
// it, not always (see docs/scheduling.md).
func PGConfig() policygradient.Config {
	cfg := policygradient.DefaultConfig()
	cfg.PolicyLR, cfg.ValueLR, cfg.Entropy, cfg.Gamma = 0.01, 0.01, 0.01, 1
	cfg.Coordinated = true
	return cfg
}

// Names are every algorithm that can run in the environment, with the
// baselines of the learners' action space (random, and fixed:LEVEL for
// each level) in place of the parametric "fixed".
func Names() []string {
	return learning.Runnable(scheduling.Family, scheduling.Adapter{}.Spec())
}
