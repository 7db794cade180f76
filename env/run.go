package env

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/marlon-go/marlon/learning"
)

// RunOptions say how Run makes, trains and evaluates an algorithm.
type RunOptions struct {
	// Seed seeds the algorithm and derives every episode's seed: training,
	// validation and evaluation episodes draw from separate streams
	// (learning.TrainSeed, ValidSeed, EvalSeed), so the evaluation episodes
	// are the same for every algorithm run with the same Seed.
	Seed uint64
	// Episodes is the number of training episodes of an algorithm that
	// learns (0 with Load: evaluate the loaded models as they are).
	Episodes int
	// EvalEvery validates a learner every EvalEvery training episodes (0:
	// only at the end), on validation episodes of its own.
	EvalEvery int
	// EvalEpisodes is the number of evaluation episodes (and of validation
	// episodes at each validation point); at least 1.
	EvalEpisodes int
	// Select, if set, names the metric whose best validated models a learner
	// keeps (learning.TrainConfig.Select).
	Select string
	// Independent gives each agent a policy of its own instead of one
	// shared by all (parameter sharing, the default), for algorithms that
	// learn.
	Independent bool
	// Actions names the environment's adapter a generic algorithm sees the
	// agents through (Adaptable; "": the default). Native algorithms ignore
	// it.
	Actions string
	// Load starts the policies from a checkpoint instead of from scratch.
	Load *learning.Checkpoint
	// Log receives a learner's JSON-lines training log (nil: none).
	Log io.Writer
	// OnEpisode is called after every episode, for progress displays.
	OnEpisode func(learning.Record)
	// OnEval, if set, receives each evaluation episode of algorithm as it
	// ends, whole and in order (k from 0), and Run keeps none of them
	// (RunResult.Eval is nil): the caller keeps what it reports of each, so
	// that a run's memory does not grow with the evaluation episodes, each
	// of which holds its environment's account of every agent.
	OnEval func(algorithm string, k int, o Outcome)
	// Stop, if set, ends a learner's training early once it is closed:
	// after the current training episode, the kept models are selected and
	// evaluated as at the end (learning.TrainConfig.Stop), and the Curve
	// says training was stopped. An algorithm that does not learn runs its
	// evaluation episodes regardless.
	Stop <-chan struct{}
	// OnTick, if set, is called now and then while an episode runs (every
	// 65,536 simulated events, about a hundredth of a second), with its
	// virtual time: for progress displays of long episodes.
	OnTick func(at float64)
	// Limit bounds each episode's virtual time (0: no limit); an episode
	// that reaches it is an error.
	Limit float64
}

// RunResult is one algorithm's run.
type RunResult struct {
	Algorithm string
	Learns    bool
	// Baseline is set for a trivial baseline of the learners' action space
	// (learning.Algorithm.Baseline).
	Baseline bool
	// Eval are the evaluation episodes, in order: the same seeds for every
	// algorithm run with the same RunOptions.Seed. All but the first are
	// trimmed (Trimmer). With RunOptions.OnEval, Eval is nil.
	Eval []Outcome
	// Mean is the mean of each metric over the evaluation episodes.
	Mean Metrics
	// Team is the team of an algorithm that learns, as trained (for its
	// checkpoint); nil for one that does not, whose team holds an agent per
	// worker and nothing to save.
	Team *learning.Team
	// Spec is what the team's policies were made for: the agents' own for a
	// native algorithm, the adapter's for a generic one.
	Spec learning.Spec
	// Curve and TrainTime describe a learner's training.
	Curve     *learning.Curve
	TrainTime time.Duration
}

// Checkpoint captures the run's trained team, for environment e.
func (r RunResult) Checkpoint(e Environment) (*learning.Checkpoint, error) {
	episodes := 0
	if r.Curve != nil {
		episodes = r.Curve.Selected
	}
	return r.Team.Checkpoint(e.Name(), r.Algorithm, r.Spec, episodes)
}

// Lookup finds the algorithm name for e in the learning registry.
func Lookup(e Environment, name string) (learning.Algorithm, error) {
	return learning.Lookup(learning.Family(e.Name()), name)
}

// AlgorithmSpec is the Spec algorithm alg is made for in e: the agents' own
// for a native algorithm (which takes no adapter: actions is ignored), the
// adapter's that actions names for a generic one.
func AlgorithmSpec(e Environment, alg learning.Algorithm, actions string) (learning.Spec, learning.Adapter, error) {
	agents := e.PossibleAgents()
	if len(agents) == 0 {
		return learning.Spec{}, nil, fmt.Errorf("%s has no agents", e.Name())
	}
	native := e.Spec(agents[0])
	if alg.Native {
		return native, nil, nil
	}
	ad, ok := e.(Adaptable)
	if !ok {
		return learning.Spec{}, nil, fmt.Errorf("%s is a generic algorithm and %s offers no adapter for generic algorithms", alg.Name, e.Name())
	}
	a, err := ad.Adapter(actions)
	if err != nil {
		return learning.Spec{}, nil, err
	}
	return a.Spec(), a, nil
}

// NewTeam makes the team that runs algorithm name in e: one policy shared by
// every agent, or with opts.Independent (for an algorithm that learns) one
// per agent; a generic algorithm's policies are adapted through the adapter
// opts.Actions names. Every policy is made for its Spec with opts.Seed, and
// restored from opts.Load if set.
func NewTeam(e Environment, name string, opts RunOptions) (*learning.Team, learning.Spec, error) {
	alg, err := Lookup(e, name)
	if err != nil {
		return nil, learning.Spec{}, err
	}
	if alg.New == nil {
		return nil, learning.Spec{}, fmt.Errorf("%s is a family of algorithms: name one of them, %s:PARAM (%s)", name, name, alg.About)
	}
	spec, adapter, err := AlgorithmSpec(e, alg, opts.Actions)
	if err != nil {
		return nil, spec, err
	}
	if alg.Accepts != nil {
		if err := alg.Accepts(spec); err != nil {
			return nil, spec, err
		}
	}
	agents := e.PossibleAgents()
	if alg.Native {
		for _, id := range agents {
			if !e.Spec(id).Same(spec) && !(opts.Independent && alg.Learns) {
				return nil, spec, fmt.Errorf("%s: agents %s and %s have different observations or actions, so they cannot share a policy", e.Name(), agents[0], id)
			}
		}
	}
	newPolicy := func(id learning.AgentID) (learning.Policy, error) {
		s := spec
		if alg.Native {
			s = e.Spec(id)
		}
		s.Seed = opts.Seed
		p, err := alg.New(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if adapter != nil {
			p = learning.Adapt(p, adapter, e.Spec(id).Actions)
		}
		return p, nil
	}
	var team *learning.Team
	if opts.Independent && alg.Learns {
		team, err = learning.NewIndependentTeam(agents, newPolicy)
	} else {
		var p learning.Policy
		if p, err = newPolicy(agents[0]); err == nil {
			team = learning.NewSharedTeam(p)
		}
	}
	if err != nil {
		return nil, spec, err
	}
	if opts.Load != nil {
		if err := team.Restore(opts.Load, e.Name(), name, spec); err != nil {
			return nil, spec, err
		}
	}
	return team, spec, nil
}

// Expand replaces every parametric algorithm among names ("fixed", whose
// instances are "fixed:LABEL") by its instances in e, with the adapter
// actions names for a generic one, and leaves out the algorithms whose
// Accepts refuses their spec there; other names are kept. The order is
// kept.
func Expand(e Environment, actions string, names []string) ([]string, error) {
	var out []string
	for _, name := range names {
		alg, err := Lookup(e, name)
		if err != nil {
			out = append(out, name)
			continue
		}
		spec, _, err := AlgorithmSpec(e, alg, actions)
		if err != nil {
			return nil, err
		}
		if alg.Accepts != nil && alg.Accepts(spec) != nil {
			continue // it makes no sense here
		}
		out = append(out, alg.Instances(spec)...)
	}
	return out, nil
}

// ErrTimeLimit is returned (wrapped) by Run when an episode reached
// RunOptions.Limit before its end.
var ErrTimeLimit = errors.New("the episode reached its time limit before its end")

// Run makes algorithm name for e, trains it if it learns, then evaluates it
// greedily on the evaluation episodes of opts.Seed.
func Run(e Environment, name string, opts RunOptions) (RunResult, error) {
	out := RunResult{Algorithm: name}
	if opts.EvalEpisodes < 1 {
		return out, fmt.Errorf("EvalEpisodes = %d, want at least 1", opts.EvalEpisodes)
	}
	alg, err := Lookup(e, name)
	if err != nil {
		return out, err
	}
	out.Learns, out.Baseline = alg.Learns, alg.Baseline
	team, spec, err := NewTeam(e, name, opts)
	if err != nil {
		return out, err
	}
	out.Team, out.Spec = team, spec
	// The evaluation episodes are kept as they run, or handed to OnEval.
	evals := map[uint64]int{}
	for k := range opts.EvalEpisodes {
		evals[learning.EvalSeed(opts.Seed, k)] = k
	}
	if opts.OnEval == nil {
		out.Eval = make([]Outcome, opts.EvalEpisodes)
	}
	run := func(seed uint64, agents learning.Agents) (map[string]float64, error) {
		o, err := runSim(e, seed, Agents(agents), opts.Limit, opts.OnTick)
		if err != nil {
			return nil, err
		}
		if !o.Done {
			return nil, fmt.Errorf("%s, episode seed %d: %w (t = %v)", e.Name(), seed, ErrTimeLimit, o.Time)
		}
		if k, ok := evals[seed]; ok {
			if opts.OnEval != nil {
				opts.OnEval(name, k, o)
				return o.Metrics, nil
			}
			if t, ok := o.Episode.(Trimmer); ok && k > 0 {
				t.Trim()
			}
			out.Eval[k] = o
		}
		return o.Metrics, nil
	}
	if alg.Learns {
		start := time.Now()
		curve, err := learning.Train(run, team, learning.TrainConfig{
			Episodes: opts.Episodes, EvalEpisodes: opts.EvalEpisodes, EvalEvery: opts.EvalEvery,
			Select: opts.Select, Seed: opts.Seed, Log: opts.Log, OnEpisode: opts.OnEpisode, Stop: opts.Stop,
			ValidateStart: opts.Load != nil, // the loaded models compete for selection
		})
		out.TrainTime = time.Since(start)
		if err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		out.Curve = &curve
		out.Mean = curve.Final().Metrics
		return out, nil
	}
	out.Team = nil // a team that does not learn has nothing to keep
	recs, err := learning.Evaluate(run, team, opts.Seed, opts.EvalEpisodes)
	if err != nil {
		return out, fmt.Errorf("%s: %w", name, err)
	}
	if opts.OnEpisode != nil {
		for _, r := range recs {
			opts.OnEpisode(r)
		}
	}
	out.Mean = learning.Mean(recs)
	return out, nil
}

// Compare runs every algorithm of names in e with the same options, so on
// the same evaluation episodes, and returns their results in the order of
// names.
func Compare(e Environment, names []string, opts RunOptions) ([]RunResult, error) {
	var out []RunResult
	for _, name := range names {
		r, err := Run(e, name, opts)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Episodes is how many episodes Run runs for an algorithm that learns or
// not, with opts: for progress displays.
func Episodes(learns bool, opts RunOptions) int {
	if !learns {
		return opts.EvalEpisodes
	}
	validations := 1 // the last one, or the final selection
	if opts.EvalEvery > 0 {
		validations = opts.Episodes / opts.EvalEvery
		if opts.Select != "" && opts.Episodes%opts.EvalEvery != 0 {
			validations++
		}
	} else if opts.Select == "" {
		validations = 0
	}
	if opts.Load != nil && opts.Select != "" && opts.Episodes > 0 {
		validations++ // of the loaded models, before training (learning.TrainConfig.ValidateStart)
	}
	return opts.Episodes + opts.EvalEpisodes*(validations+1)
}
