// Package schedcampaign runs evaluation campaigns (package campaign) on the
// scheduling environment: the resilient-scheduling seed's 26
// configurations (campaign.Seed003) become scheduling scenarios with fault
// injection, and every method (the bidding heuristics, FCFS and EASY
// backfilling, the learned bids and the baselines of the learners' actions)
// runs on the same episodes.
//
// A learned bid is trained once per campaign, on a configuration of its own
// (TrainingConfig: Poisson arrivals with random node crashes, at medium
// severity), then evaluated greedily on every configuration: the adapter's
// features carry over between cluster sizes and workloads, and training on
// each of 26 configurations would not fit the campaign's time budget.
//
// It depends on campaign, env, learning, the scheduling example and its
// learners; nothing depends on it but commands.
package schedcampaign

import (
	"fmt"
	"slices"
	"sync"

	"github.com/marlon-go/marlon/campaign"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/examples/scheduling"
	"github.com/marlon-go/marlon/examples/scheduling/learners"
	"github.com/marlon-go/marlon/faults"
	"github.com/marlon-go/marlon/learning"
)

// DefaultMethods are the methods a campaign compares by default: the
// seed's bidding heuristic and its reserving variant, the central FCFS and
// EASY backfilling, the learned bids, and the baselines of the learners'
// actions (uniform random, and each fixed level): every algorithm of the
// scheduling family, the bidding heuristic first.
func DefaultMethods() []string {
	names := []string{learners.Bidding}
	for _, n := range learners.Names() {
		if n != learners.Bidding {
			names = append(names, n)
		}
	}
	return names
}

// Scenario is the scheduling scenario of configuration c: c's nodes (a
// quarter of them, at least one, with GPUs), jobs, arrivals and faults, on
// the default scenario's nodes, workload shape and heartbeats.
func Scenario(c campaign.Config) scheduling.Scenario {
	sc := scheduling.Default()
	sc.Nodes, sc.Jobs = c.Agents, c.Jobs
	sc.GPUNodes = max(1, c.Agents/4)
	sc.Arrival = string(c.Load)
	if c.Burst > 0 {
		sc.Burst = c.Burst
	}
	sc.Faults = c.Faults
	return sc
}

// TrainingConfig is the configuration the learned bids are trained on: 200
// jobs arriving as a Poisson process on 15 nodes, 15% of which crash at
// random (medium severity). It is none of the campaign's.
func TrainingConfig() campaign.Config {
	return campaign.Config{Name: "training", Dimension: "training", Jobs: 200, Agents: 15, Load: campaign.Poisson,
		Faults: faults.Spec{Intensity: faults.Medium, Faults: 1, Targets: 0.15, Kinds: []faults.Kind{faults.Crash}}}
}

// Options configure a Runner.
type Options struct {
	// Methods are the methods compared (nil: DefaultMethods).
	Methods []string
	// Seed seeds the learners' training.
	Seed uint64
	// Training is how the learned bids are trained (zero:
	// learners.DefaultTraining).
	Training learners.Training
}

// Runner is a campaign.Runner on the scheduling environment. It is safe
// for concurrent use: every run has its own environment and team.
type Runner struct {
	opts    Options
	mu      sync.Mutex
	trained map[string]*training
}

type training struct {
	once sync.Once
	ckpt *learning.Checkpoint
	res  env.RunResult
	err  error
}

var _ campaign.Runner = (*Runner)(nil)

// New returns a runner of the methods; a method no algorithm of the
// scheduling family answers to is an error naming it.
func New(opts Options) (*Runner, error) {
	if opts.Methods == nil {
		opts.Methods = DefaultMethods()
	}
	if opts.Training == (learners.Training{}) {
		opts.Training = learners.DefaultTraining()
	}
	for _, m := range opts.Methods {
		if _, err := learning.Lookup(scheduling.Family, m); err != nil {
			return nil, err
		}
	}
	return &Runner{opts: opts, trained: map[string]*training{}}, nil
}

// Methods implements campaign.Runner.
func (r *Runner) Methods() []string { return slices.Clone(r.opts.Methods) }

// Trained trains method (once) on TrainingConfig and returns the kept
// models, or nil for a method that does not learn.
func (r *Runner) Trained(method string) (*learning.Checkpoint, env.RunResult, error) {
	alg, err := learning.Lookup(scheduling.Family, method)
	if err != nil || !alg.Learns {
		return nil, env.RunResult{}, err
	}
	r.mu.Lock()
	t := r.trained[method]
	if t == nil {
		t = &training{}
		r.trained[method] = t
	}
	r.mu.Unlock()
	t.once.Do(func() {
		e, err := scheduling.New(Scenario(TrainingConfig()))
		if err != nil {
			t.err = err
			return
		}
		tr := r.opts.Training
		t.res, t.err = env.Run(e, method, env.RunOptions{Seed: r.opts.Seed, Episodes: tr.Episodes, EvalEvery: tr.EvalEvery, EvalEpisodes: tr.EvalEpisodes, Select: tr.Select})
		if t.err == nil {
			t.ckpt, t.err = t.res.Checkpoint(e)
		}
		if t.err != nil {
			t.err = fmt.Errorf("training %s: %w", method, t.err)
		}
	})
	return t.ckpt, t.res, t.err
}

// Run implements campaign.Runner: one episode of configuration c, seeded
// with seed, its nodes driven by method (a learner greedily, with the
// models Trained kept).
func (r *Runner) Run(c campaign.Config, method string, seed uint64) (campaign.Outcome, error) {
	e, err := scheduling.New(Scenario(c))
	if err != nil {
		return campaign.Outcome{}, err
	}
	ckpt, _, err := r.Trained(method)
	if err != nil {
		return campaign.Outcome{}, err
	}
	team, _, err := env.NewTeam(e, method, env.RunOptions{Seed: r.opts.Seed, Load: ckpt})
	if err != nil {
		return campaign.Outcome{}, err
	}
	team.SetLearning(false)
	team.BeginEpisode()
	out, err := env.RunSim(e, seed, env.Agents(team.Agent), 0)
	team.EndEpisode()
	if err != nil {
		return campaign.Outcome{}, err
	}
	ep := out.Episode.(*scheduling.Episode)
	res := ep.Result()
	if !out.Done {
		return campaign.Outcome{}, fmt.Errorf("the episode stopped at t=%v before every job was settled", out.Time)
	}
	return campaign.Outcome{Metrics: res.Metrics(), Faults: res.Faults}, nil
}
