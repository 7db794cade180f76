package learners

import (
	"fmt"
	"io"
	"time"

	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/learning"
)

// Options say how Run trains and evaluates.
type Options struct {
	Seed     uint64
	Training Training
	// Independent gives each worker its own learner instead of one shared
	// by all (parameter sharing, the default).
	Independent bool
	// Load starts learners from a checkpoint instead of from scratch.
	Load *learning.Checkpoint
	// Log receives the training run's JSON-lines log (nil: none).
	Log io.Writer
	// OnEpisode is called after every episode, for progress displays.
	OnEpisode func(learning.Record)
}

// Outcome is one algorithm's run: its results on the evaluation episodes
// (the same for every algorithm run with the same seed), and for a learner
// its training.
type Outcome struct {
	Algorithm string
	Results   []loadbalancing.Result // one per evaluation episode, in order
	Mean      map[string]float64     // the mean of each metric over them
	Team      *learning.Team
	Curve     *learning.Curve // learners only
	TrainTime time.Duration   // learners only: training and validation
}

// Run trains algorithm name on e if it learns, then evaluates it greedily on
// the evaluation episodes of opts.Seed.
func Run(e *loadbalancing.Environment, name string, opts Options) (Outcome, error) {
	out := Outcome{Algorithm: name}
	team, err := newTeam(name, e, opts)
	if err != nil {
		return out, err
	}
	out.Team = team
	if opts.Load != nil {
		if err := team.Restore(opts.Load, name, Spec(name, e)); err != nil {
			return out, err
		}
	}
	// The evaluation episodes' results are kept as they run.
	tr := opts.Training
	evals := map[uint64]loadbalancing.Result{}
	for k := 0; k < tr.EvalEpisodes; k++ {
		evals[learning.EvalSeed(opts.Seed, k)] = loadbalancing.Result{}
	}
	run := func(seed uint64, agents learning.Agents) (map[string]float64, error) {
		res, err := e.Run(seed, agents)
		if err != nil {
			return nil, err
		}
		res.Algorithm = name
		if _, ok := evals[seed]; ok {
			evals[seed] = res
		}
		return res.Metrics(), nil
	}
	if IsLearner(name) {
		start := time.Now()
		curve, err := learning.Train(run, team, learning.TrainConfig{
			Episodes: tr.Episodes, EvalEpisodes: tr.EvalEpisodes, EvalEvery: tr.EvalEvery,
			Select: tr.Select, Seed: opts.Seed, Log: opts.Log, OnEpisode: opts.OnEpisode,
		})
		out.TrainTime = time.Since(start)
		if err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		out.Curve = &curve
		out.Mean = curve.Final().Metrics
	} else {
		recs, err := learning.Evaluate(run, team, opts.Seed, tr.EvalEpisodes)
		if err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		if opts.OnEpisode != nil {
			for _, r := range recs {
				opts.OnEpisode(r)
			}
		}
		out.Mean = learning.Mean(recs)
	}
	for k := 0; k < tr.EvalEpisodes; k++ {
		out.Results = append(out.Results, evals[learning.EvalSeed(opts.Seed, k)])
	}
	return out, nil
}

func newTeam(name string, e *loadbalancing.Environment, opts Options) (*learning.Team, error) {
	if opts.Independent && IsLearner(name) {
		return learning.NewIndependentTeam(e.PossibleAgents(), func(id learning.AgentID) (learning.Policy, error) {
			return New(name, e, opts.Seed)
		})
	}
	p, err := New(name, e, opts.Seed)
	if err != nil {
		return nil, err
	}
	return learning.NewSharedTeam(p), nil
}

// Checkpoint captures a learner's trained team.
func (o Outcome) Checkpoint(e *loadbalancing.Environment) (*learning.Checkpoint, error) {
	episodes := 0
	if o.Curve != nil {
		episodes = o.Curve.Selected
	}
	return o.Team.Checkpoint(o.Algorithm, Spec(o.Algorithm, e), episodes)
}
