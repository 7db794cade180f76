package learning

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// Agents gives the LearningAlgorithm that drives each agent of an episode.
type Agents = func(id AgentID) LearningAlgorithm

// EpisodeFunc runs one episode, seeded, with its agents driven by agents, and
// returns the episode's metrics by name. An environment provides it (for
// example by wrapping env.RunSim), so that this package needs none.
type EpisodeFunc func(seed uint64, agents Agents) (map[string]float64, error)

// TrainConfig says how to train.
type TrainConfig struct {
	// Episodes is the number of training episodes.
	Episodes int
	// EvalEpisodes is the number of greedy evaluation episodes run after
	// training (and at every evaluation point).
	EvalEpisodes int
	// EvalEvery evaluates after every EvalEvery training episodes as well as
	// at the end (0: only at the end). Evaluations during training run on
	// validation episodes, a seed stream of their own; the last one runs on
	// the evaluation episodes, which training never sees.
	EvalEvery int
	// Select, if set, names a metric to minimise (for example "ratio"): the
	// team's models at the best validation so far are kept, and restored
	// before the final evaluation, so that a run that learnt a good policy
	// and then drifted away from it keeps the good one. Every policy must
	// then be a Model.
	Select string
	// ValidateStart, with Select, validates the models the team starts
	// with (restored from a checkpoint to train on, say) before the first
	// training episode: they compete for selection, so that training on
	// from them never ends with models that validate worse (Curve.Selected
	// is then 0 if they were kept).
	ValidateStart bool
	// Seed derives every episode's seed: training, validation and
	// evaluation episodes draw from separate streams that never share a
	// seed (TrainSeed, ValidSeed, EvalSeed), and the validation episodes
	// are the same at every validation point.
	Seed uint64
	// Log receives one JSON object per line for every episode (nil: none).
	Log io.Writer
	// OnEpisode is called after every episode, for progress displays.
	OnEpisode func(Record)
	// Stop, if set, ends training early once it is closed (a user's
	// interrupt, say): no training episode starts after it, and the team is
	// then selected and evaluated as after the last of cfg.Episodes, so that
	// what training learnt so far is kept and measured. The Curve says so
	// (Stopped) and its Train holds the episodes run.
	Stop <-chan struct{}
}

// Record is one episode in the log.
type Record struct {
	// Phase is "train", "valid" (a greedy evaluation during training) or
	// "eval" (the final greedy evaluation).
	Phase string `json:"phase"`
	// Episode is the training episode's number (from 1), or for an
	// evaluation episode the number of training episodes before it.
	Episode int                `json:"episode"`
	Seed    uint64             `json:"seed"`
	Metrics map[string]float64 `json:"metrics"`
}

// EvalPoint is the mean of the evaluation episodes' metrics after a number
// of training episodes.
type EvalPoint struct {
	After   int                `json:"after_episodes"`
	Metrics map[string]float64 `json:"metrics"`
}

// Curve is a training run's learning curve. Eval holds the validation
// points during training and, last, the final evaluation. Selected is the
// number of training episodes after which the kept models were taken (with
// TrainConfig.Select; otherwise the last).
type Curve struct {
	Train    []Record    `json:"train"`
	Eval     []EvalPoint `json:"eval"`
	Selected int         `json:"selected_after"`
	// Stopped is set when TrainConfig.Stop ended training before its
	// Episodes.
	Stopped bool `json:"stopped,omitempty"`
}

// Final is the last evaluation point: how the trained team does greedily.
func (c Curve) Final() EvalPoint {
	if len(c.Eval) == 0 {
		return EvalPoint{}
	}
	return c.Eval[len(c.Eval)-1]
}

// TrainSeed is the seed of training episode k (from 0).
func TrainSeed(seed uint64, k int) uint64 { return trainStream.seed(seed, k) }

// EvalSeed is the seed of evaluation episode k (from 0).
func EvalSeed(seed uint64, k int) uint64 { return evalStream.seed(seed, k) }

// ValidSeed is the seed of validation episode k (from 0).
func ValidSeed(seed uint64, k int) uint64 { return validStream.seed(seed, k) }

// stream is a stream of episode seeds, by the tag it puts in the top two
// bits of an episode's number.
type stream uint64

const (
	trainStream stream = 1 << 62
	validStream stream = 2 << 62
	evalStream  stream = 3 << 62
)

// seed is the seed of episode k of the stream for the run seeded with run:
// the word (stream tag, k) xored with a key drawn from run, through mix, a
// bijection. For one run the words of two different episodes differ, of
// the same stream or not, and so do their seeds: training never sees a
// validation or an evaluation episode. Across runs, seeds coincide only by
// chance, as two draws of 64 random bits do.
func (s stream) seed(run uint64, k int) uint64 {
	if k < 0 || uint64(k) >= 1<<62 {
		panic(fmt.Sprintf("learning: episode number %d out of range", k))
	}
	return mix((uint64(s) | uint64(k)) ^ mix(run+0x9e3779b97f4a7c15))
}

// mix is splitmix64's finalizer, a bijection of uint64 that spreads small
// differences over every bit.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Train runs cfg.Episodes training episodes with the team learning, then
// evaluates it greedily. Agents keep their LearningAlgorithm (and so what
// they learnt) from one episode to the next.
func Train(run EpisodeFunc, team *Team, cfg TrainConfig) (Curve, error) {
	if cfg.Episodes < 0 || cfg.EvalEpisodes < 0 || cfg.EvalEvery < 0 {
		return Curve{}, errors.New("learning: episode counts must be >= 0")
	}
	var curve Curve
	emit := func(r Record) error {
		if cfg.Log != nil {
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if _, err := cfg.Log.Write(append(b, '\n')); err != nil {
				return fmt.Errorf("learning: writing the episode log: %w", err)
			}
		}
		if cfg.OnEpisode != nil {
			cfg.OnEpisode(r)
		}
		return nil
	}
	best, bestAt := math.Inf(1), -1
	var kept map[string][]byte
	evaluate := func(after int, seeds func(uint64, int) uint64, phase string) (map[string]float64, error) {
		recs, err := evaluateTeam(run, team, cfg.Seed, cfg.EvalEpisodes, after, seeds, phase, emit)
		if err != nil || len(recs) == 0 {
			return nil, err
		}
		m := Mean(recs)
		curve.Eval = append(curve.Eval, EvalPoint{After: after, Metrics: m})
		return m, nil
	}
	validate := func(after int) error {
		m, err := evaluate(after, ValidSeed, "valid")
		if err != nil || cfg.Select == "" || m == nil {
			return err
		}
		v, ok := m[cfg.Select]
		if !ok {
			return fmt.Errorf("learning: Select: the episodes have no metric %q", cfg.Select)
		}
		if v < best {
			best, bestAt = v, after
			if kept, err = team.models(); err != nil {
				return err
			}
		}
		return nil
	}
	if cfg.ValidateStart && cfg.Select != "" && cfg.Episodes > 0 {
		if err := validate(0); err != nil {
			return curve, err
		}
	}
	episodes := cfg.Episodes
	for k := 0; k < cfg.Episodes; k++ {
		if stopped(cfg.Stop) {
			episodes, curve.Stopped = k, true
			break
		}
		team.SetLearning(true)
		m, err := episode(run, team, TrainSeed(cfg.Seed, k))
		if err != nil {
			return curve, fmt.Errorf("training episode %d: %w", k+1, err)
		}
		r := Record{Phase: "train", Episode: k + 1, Seed: TrainSeed(cfg.Seed, k), Metrics: m}
		curve.Train = append(curve.Train, r)
		if err := emit(r); err != nil {
			return curve, err
		}
		if cfg.EvalEvery > 0 && (k+1)%cfg.EvalEvery == 0 {
			if err := validate(k + 1); err != nil {
				return curve, err
			}
		}
	}
	curve.Selected = episodes
	// The last models compete too, unless a validation has just seen them.
	if cfg.Select != "" && (cfg.EvalEvery == 0 || episodes%cfg.EvalEvery != 0) {
		if err := validate(episodes); err != nil {
			return curve, err
		}
	}
	if kept != nil && bestAt != episodes {
		if err := team.restore(kept); err != nil {
			return curve, err
		}
		curve.Selected = bestAt
	}
	if _, err := evaluate(episodes, EvalSeed, "eval"); err != nil {
		return curve, err
	}
	return curve, nil
}

// Evaluate runs n greedy episodes of the team on the evaluation seeds and
// returns their records.
func Evaluate(run EpisodeFunc, team *Team, seed uint64, n int) ([]Record, error) {
	return evaluateTeam(run, team, seed, n, 0, EvalSeed, "eval", func(Record) error { return nil })
}

func evaluateTeam(run EpisodeFunc, team *Team, seed uint64, n, after int, seeds func(uint64, int) uint64, phase string, emit func(Record) error) ([]Record, error) {
	team.SetLearning(false)
	defer team.SetLearning(true)
	var recs []Record
	for k := 0; k < n; k++ {
		m, err := episode(run, team, seeds(seed, k))
		if err != nil {
			return recs, fmt.Errorf("%s episode %d: %w", phase, k+1, err)
		}
		r := Record{Phase: phase, Episode: after, Seed: seeds(seed, k), Metrics: m}
		recs = append(recs, r)
		if err := emit(r); err != nil {
			return recs, err
		}
	}
	return recs, nil
}

// stopped reports whether stop is closed (never, if it is nil).
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

func episode(run EpisodeFunc, team *Team, seed uint64) (map[string]float64, error) {
	team.BeginEpisode()
	m, err := run(seed, team.Agent)
	team.EndEpisode()
	return m, err
}

// Mean averages the records' metrics name by name.
func Mean(recs []Record) map[string]float64 {
	out := map[string]float64{}
	if len(recs) == 0 {
		return out
	}
	for _, r := range recs { // records in order: the same sums every run
		for k, v := range r.Metrics {
			out[k] += v
		}
	}
	for k := range out {
		out[k] /= float64(len(recs))
	}
	return out
}
