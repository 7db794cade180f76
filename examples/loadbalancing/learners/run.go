package learners

import (
	"io"

	"github.com/marlon-go/marlon/env"
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
	// Actions names the adapter generic learners see the workers through
	// ("": the default, loadbalancing.ChoicesAdapter).
	Actions string
	// Load starts learners from a checkpoint instead of from scratch.
	Load *learning.Checkpoint
	// Log receives the training run's JSON-lines log (nil: none).
	Log io.Writer
	// OnEpisode is called after every episode, for progress displays.
	OnEpisode func(learning.Record)
	// Stop, if set, ends a learner's training early once it is closed
	// (env.RunOptions.Stop).
	Stop <-chan struct{}
}

// RunOptions are the options of env.Run that o stands for.
func (o Options) RunOptions() env.RunOptions {
	t := o.Training
	return env.RunOptions{
		Seed: o.Seed, Episodes: t.Episodes, EvalEvery: t.EvalEvery, EvalEpisodes: t.EvalEpisodes, Select: t.Select,
		Independent: o.Independent, Actions: o.Actions, Load: o.Load, Log: o.Log, OnEpisode: o.OnEpisode, Stop: o.Stop,
	}
}

// Outcome is one algorithm's run (env.Run's), with the load-balancing
// results of its evaluation episodes.
type Outcome struct {
	env.RunResult
	Results []loadbalancing.Result // one per evaluation episode, in order
}

// Run trains algorithm name on e if it learns, then evaluates it greedily on
// the evaluation episodes of opts.Seed: env.Run, with typed results.
func Run(e *loadbalancing.Environment, name string, opts Options) (Outcome, error) {
	r, err := env.Run(e, name, opts.RunOptions())
	out := Outcome{RunResult: r}
	for _, o := range r.Eval {
		if o.Episode != nil {
			res := o.Episode.(*loadbalancing.Episode).Result()
			res.Algorithm = name
			out.Results = append(out.Results, res)
		}
	}
	return out, err
}
