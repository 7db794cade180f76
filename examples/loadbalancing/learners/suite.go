package learners

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/learning"
)

// SuiteVersion is the version of the dynamics the report's suite runs.
const SuiteVersion = "v4"

// SuiteScenarios are the report's public suite, on loadbalancing/v4: the
// default scenario, 4 to 64 workers and a costly Master (static), and
// scenarios where adapting pays (dynamic): workers that join and leave
// when nobody can foresee it, slowdowns, random perturbations of the
// speeds and of the communication time. They were written down before the
// learners were run on them, and are not tuned to any result.
func SuiteScenarios() []Named {
	with := func(f func(*loadbalancing.Scenario)) loadbalancing.Scenario {
		s := loadbalancing.Default()
		f(&s)
		return s
	}
	onoff := func(target string, up, down, factor float64) loadbalancing.Perturbation {
		return loadbalancing.Perturbation{Target: target, Model: loadbalancing.ModelOnOff, Up: up, Down: down, Factor: factor}
	}
	return []Named{
		{Name: "default", About: "8 workers of speeds 1-5, 10,000 units, h = 1", Scenario: loadbalancing.Default()},
		{Name: "few", About: "4 workers of speeds 1, 2, 3, 5, 5,000 units", Scenario: with(func(s *loadbalancing.Scenario) {
			s.Workers, s.Speeds, s.Job = 4, []float64{1, 2, 3, 5}, 5000
		})},
		{Name: "many", About: "64 workers, 50,000 units, h = 0.25", Scenario: with(func(s *loadbalancing.Scenario) {
			s.Workers, s.Job, s.CommTime = 64, 50000, 0.25
		})},
		{Name: "costly", About: "16 workers, 20,000 units, h = 5", Scenario: with(func(s *loadbalancing.Scenario) {
			s.Workers, s.Job, s.CommTime = 16, 20000, 5
		})},
		{Name: "join", About: "4 workers of speed 5 join at t = 100 (the issue's case)", Dynamic: true, Scenario: with(func(s *loadbalancing.Scenario) {
			s.Joins = []loadbalancing.Join{{At: 100, Count: 4, Speed: 5}}
		})},
		{Name: "joins", About: "4 workers join at random times in [50, 200]", Dynamic: true, Scenario: with(func(s *loadbalancing.Scenario) {
			s.RandomJoins = []loadbalancing.RandomJoin{{Count: 4, From: 50, To: 200}}
		})},
		{Name: "leaves", About: "2 workers leave at random times in [50, 250]", Dynamic: true, Scenario: with(func(s *loadbalancing.Scenario) {
			s.RandomLeaves = []loadbalancing.RandomLeave{{Count: 2, From: 50, To: 250}}
		})},
		{Name: "slowdown", About: "worker 2 at 1/4 of its speed from t = 100, worker 5 at 1/2 from t = 150", Dynamic: true, Scenario: with(func(s *loadbalancing.Scenario) {
			s.Slows = []loadbalancing.Slow{{Worker: 2, At: 100, Factor: 0.25}, {Worker: 5, At: 150, Factor: 0.5}}
		})},
		{Name: "onoff", About: "every worker at 30% of its speed for times of mean 50, at full speed for times of mean 150", Dynamic: true, Scenario: with(func(s *loadbalancing.Scenario) {
			s.Perturb = []loadbalancing.Perturbation{onoff(loadbalancing.TargetSpeed, 150, 50, 0.3)}
		})},
		{Name: "drift", About: "16 workers whose speeds drift (a walk every 50, sigma 0.5, down to 0.1), 20,000 units", Dynamic: true, Scenario: with(func(s *loadbalancing.Scenario) {
			s.Workers, s.Job = 16, 20000
			s.Perturb = []loadbalancing.Perturbation{{Target: loadbalancing.TargetSpeed, Model: loadbalancing.ModelWalk, Period: 50, Sigma: 0.5, Factor: 0.1}}
		})},
		{Name: "latency", About: "latency spikes: services 10 times longer for times of mean 20, every 100 on average", Dynamic: true, Scenario: with(func(s *loadbalancing.Scenario) {
			s.Perturb = []loadbalancing.Perturbation{onoff(loadbalancing.TargetLatency, 100, 20, 10)}
		})},
		{Name: "churn", About: "32 workers, 40,000 units: 8 join and 4 leave at random in [100, 300], speeds on-off (200 / 50, at 50%)", Dynamic: true, Scenario: with(func(s *loadbalancing.Scenario) {
			s.Workers, s.Job = 32, 40000
			s.RandomJoins = []loadbalancing.RandomJoin{{Count: 8, From: 100, To: 300}}
			s.RandomLeaves = []loadbalancing.RandomLeave{{Count: 4, From: 100, To: 300}}
			s.Perturb = []loadbalancing.Perturbation{onoff(loadbalancing.TargetSpeed, 200, 50, 0.5)}
		})},
	}
}

// Learner is a learning algorithm in the action space it acts in (the
// environment's adapter).
type Learner struct {
	Algorithm string `json:"algorithm"`
	Actions   string `json:"actions"`
}

func (l Learner) String() string { return l.Algorithm + "/" + l.Actions }

// ParseLearner reads ALGORITHM/ACTIONS.
func ParseLearner(s string) (Learner, error) {
	a, b, ok := strings.Cut(s, "/")
	if !ok || a == "" || b == "" {
		return Learner{}, fmt.Errorf("learner %q: want ALGORITHM/ACTIONS, e.g. pg/share", s)
	}
	if !IsLearner(a) {
		return Learner{}, fmt.Errorf("learner %q: %s does not learn; one of %s", s, a, strings.Join(Learners(), ", "))
	}
	return Learner{a, b}, nil
}

// SuiteLearners are the learners the report holds to its targets: the
// tabular and the neural learner in the default action space (five
// multiples of a share) and in technique selection, and policy gradient's
// Beta head on the fine scale of fractions.
func SuiteLearners() []Learner {
	return []Learner{
		{QLearning, loadbalancing.ChoicesAdapter}, {PolicyGradient, loadbalancing.ChoicesAdapter},
		{QLearning, TechniqueAdapter}, {PolicyGradient, TechniqueAdapter},
		{PolicyBeta, loadbalancing.FractionName},
	}
}

// SuiteOptions say how to run the suite.
type SuiteOptions struct {
	// Seeds are the training seeds: every learner is trained once per
	// seed and scenario, and every algorithm measured on that seed's
	// evaluation episodes.
	Seeds    []uint64
	Training Training
	// Distribution, if set, names the distribution of scenarios
	// (loadbalancing.Distributions) that a policy of every learner is also
	// trained on, once per seed, for DistributionEpisodes episodes, and
	// then measured on every scenario of the suite as it is (the
	// generalisation column).
	Distribution         string
	DistributionEpisodes int
	// OnEpisode is called after every episode with what is running, for
	// progress displays.
	OnEpisode func(what string)
	// OnRow, if set, is called with every row as it is done.
	OnRow func(SuiteRow)
	// Stop, if set, ends the suite early once it is closed: the row being
	// run is dropped (a learner whose training was cut short is not
	// comparable), and RunSuite returns the rows done, with Stopped set.
	Stop <-chan struct{}
}

// LearnerRow is one learner's figures on one scenario and seed, beside the
// trivial baselines of its own action space on the same episodes.
type LearnerRow struct {
	Learner      string  `json:"learner"`
	Ratio        float64 `json:"ratio"`
	TrainSeconds float64 `json:"train_seconds"`
	// BestFixed is the best of the fixed choices of the learner's action
	// space (fixed:LABEL), Random the uniformly random one.
	BestFixed      string  `json:"best_fixed"`
	BestFixedRatio float64 `json:"best_fixed_ratio"`
	Random         float64 `json:"random_ratio"`
	// General is the ratio of the policy trained on the distribution and
	// loaded unchanged (0: not run).
	General float64 `json:"general_ratio,omitempty"`
}

// Gain is the learning gain: the best fixed choice's ratio minus the
// learner's (positive: learning added something over its own actions).
func (l LearnerRow) Gain() float64 { return l.BestFixedRatio - l.Ratio }

// SuiteRow is one scenario and seed of the suite.
type SuiteRow struct {
	Scenario           string       `json:"scenario"`
	Seed               uint64       `json:"seed"`
	LowerBound         float64      `json:"lower_bound"`
	BestClassical      string       `json:"best_classical"`
	BestClassicalRatio float64      `json:"best_classical_ratio"`
	Learners           []LearnerRow `json:"learners"`
}

// GeneralTraining is a policy's training on the distribution.
type GeneralTraining struct {
	Learner  string  `json:"learner"`
	Seed     uint64  `json:"seed"`
	Episodes int     `json:"episodes"`
	Seconds  float64 `json:"seconds"`
}

// Suite is the report: every row, and the distribution's trainings.
type Suite struct {
	Version      string            `json:"version"`
	Scenarios    []Named           `json:"scenarios"`
	Learners     []string          `json:"learners"`
	Rows         []SuiteRow        `json:"rows"`
	Distribution string            `json:"distribution,omitempty"`
	General      []GeneralTraining `json:"general_training,omitempty"`
	Seconds      float64           `json:"seconds"`
	// Stopped says the suite was stopped (SuiteOptions.Stop) before every
	// row was done: Rows are those done.
	Stopped bool `json:"stopped,omitempty"`
}

// SuiteEpisodes is how many episodes RunSuite runs, for progress displays.
func SuiteEpisodes(scenarios []Named, ls []Learner, opts SuiteOptions) int {
	tr := opts.Training
	ro := env.RunOptions{Episodes: tr.Episodes, EvalEvery: tr.EvalEvery, EvalEpisodes: tr.EvalEpisodes, Select: tr.Select}
	perRow := len(Classical()) * tr.EvalEpisodes
	spaces := map[string]bool{}
	for _, l := range ls {
		perRow += env.Episodes(true, ro)
		if opts.Distribution != "" {
			perRow += tr.EvalEpisodes
		}
		if !spaces[l.Actions] {
			spaces[l.Actions] = true
			e, err := loadbalancing.NewVersion(SuiteVersion, loadbalancing.Default(), 1)
			if err == nil {
				if names, err := env.Expand(e, l.Actions, []string{"random", "fixed"}); err == nil {
					perRow += len(names) * tr.EvalEpisodes
				}
			}
		}
	}
	n := len(scenarios) * len(opts.Seeds) * perRow
	if opts.Distribution != "" {
		dist := ro
		dist.Episodes = opts.DistributionEpisodes
		n += len(ls) * len(opts.Seeds) * env.Episodes(true, dist)
	}
	return n
}

// RunSuite runs the report: for every seed, the learners trained on the
// distribution (if any); then for every scenario and seed, every classical
// technique, every learner trained on the scenario, the trivial baselines
// of each learner's action space and the distribution's policies, all
// measured on the same evaluation episodes.
func RunSuite(scenarios []Named, ls []Learner, opts SuiteOptions) (Suite, error) {
	start := time.Now()
	out := Suite{Version: SuiteVersion, Scenarios: scenarios, Distribution: opts.Distribution}
	for _, l := range ls {
		out.Learners = append(out.Learners, l.String())
	}
	progress := func(what string) func(learning.Record) {
		return func(learning.Record) {
			if opts.OnEpisode != nil {
				opts.OnEpisode(what)
			}
		}
	}
	options := func(seed uint64, actions, what string) Options {
		return Options{Seed: seed, Training: opts.Training, Actions: actions, OnEpisode: progress(what), Stop: opts.Stop}
	}
	stopped := func() bool {
		select {
		case <-opts.Stop:
			out.Stopped = true
			out.Seconds = time.Since(start).Seconds()
			return true
		default:
			return false
		}
	}
	// The policies trained on the distribution, by learner and seed.
	general := map[string]*learning.Checkpoint{}
	if opts.Distribution != "" {
		d, err := loadbalancing.DistributionNamed(opts.Distribution)
		if err != nil {
			return out, err
		}
		de, err := loadbalancing.NewDistribution(SuiteVersion, d)
		if err != nil {
			return out, err
		}
		for _, seed := range opts.Seeds {
			for _, l := range ls {
				o := options(seed, l.Actions, "distribution "+l.String())
				o.Training.Episodes = opts.DistributionEpisodes
				r, err := Run(de, l.Algorithm, o)
				if err != nil {
					return out, fmt.Errorf("%s on the distribution %s: %w", l, d.Name, err)
				}
				c, err := r.Checkpoint(de)
				if err != nil {
					return out, err
				}
				if stopped() {
					return out, nil
				}
				general[fmt.Sprint(l, seed)] = c
				out.General = append(out.General, GeneralTraining{Learner: l.String(), Seed: seed, Episodes: opts.DistributionEpisodes, Seconds: r.TrainTime.Seconds()})
			}
		}
	}
	for _, sc := range scenarios {
		for _, seed := range opts.Seeds {
			if stopped() {
				return out, nil
			}
			e, err := loadbalancing.NewVersion(SuiteVersion, sc.Scenario, seed)
			if err != nil {
				return out, fmt.Errorf("scenario %s: %w", sc.Name, err)
			}
			row := SuiteRow{Scenario: sc.Name, Seed: seed, BestClassicalRatio: math.Inf(1)}
			for _, k := range Classical() {
				r, err := Run(e, k, options(seed, "", sc.Name))
				if err != nil {
					return out, err
				}
				row.LowerBound = r.Mean["lower_bound"]
				if v := r.Mean["ratio"]; v < row.BestClassicalRatio {
					row.BestClassical, row.BestClassicalRatio = k, v
				}
			}
			// The baselines of each action space, once.
			type baselines struct {
				fixed  string
				fixedV float64
				random float64
			}
			spaces := map[string]baselines{}
			for _, l := range ls {
				b, ok := spaces[l.Actions]
				if !ok {
					names, err := env.Expand(e, l.Actions, []string{"random", "fixed"})
					if err != nil {
						return out, err
					}
					b.fixedV = math.Inf(1)
					for _, name := range names {
						r, err := Run(e, name, options(seed, l.Actions, sc.Name))
						if err != nil {
							return out, err
						}
						switch v := r.Mean["ratio"]; {
						case name == "random":
							b.random = v
						case v < b.fixedV:
							b.fixed, b.fixedV = name, v
						}
					}
					spaces[l.Actions] = b
				}
				r, err := Run(e, l.Algorithm, options(seed, l.Actions, sc.Name+" "+l.String()))
				if err != nil {
					return out, fmt.Errorf("%s on %s: %w", l, sc.Name, err)
				}
				lr := LearnerRow{Learner: l.String(), Ratio: r.Mean["ratio"], TrainSeconds: r.TrainTime.Seconds(),
					BestFixed: b.fixed, BestFixedRatio: b.fixedV, Random: b.random}
				if c := general[fmt.Sprint(l, seed)]; c != nil {
					o := options(seed, l.Actions, sc.Name)
					o.Training.Episodes, o.Load = 0, c
					g, err := Run(e, l.Algorithm, o)
					if err != nil {
						return out, fmt.Errorf("%s trained on the distribution, on %s: %w", l, sc.Name, err)
					}
					lr.General = g.Mean["ratio"]
				}
				row.Learners = append(row.Learners, lr)
			}
			if stopped() {
				return out, nil
			}
			out.Rows = append(out.Rows, row)
			if opts.OnRow != nil {
				opts.OnRow(row)
			}
		}
	}
	out.Seconds = time.Since(start).Seconds()
	return out, nil
}

// SummaryRow is a scenario's figures for one learner, means over the
// seeds.
type SummaryRow struct {
	Scenario string `json:"scenario"`
	Dynamic  bool   `json:"dynamic"`
	Learner  string `json:"learner"`
	// Ratio is the mean over the seeds; Min and Max the extremes.
	Ratio, Min, Max float64
	BestFixed       string  // the fixed choice best on the most seeds
	BestFixedRatio  float64 // the mean of the best fixed choice's ratio on each seed
	Random          float64
	BestClassical   string
	Classical       float64
	General         float64 // 0: not run
	TrainSeconds    float64
}

// Gain is the learning gain, BestFixedRatio - Ratio.
func (s SummaryRow) Gain() float64 { return s.BestFixedRatio - s.Ratio }

// GainShare is the learning gain as a share of the best fixed choice's
// makespan (ratios share the lower bound): 0.02 is 2% of makespan.
func (s SummaryRow) GainShare() float64 { return s.Gain() / s.BestFixedRatio }

// Summary is the suite's figures by scenario and learner, means over the
// seeds, in the order of the scenarios and learners.
func (s Suite) Summary() []SummaryRow {
	var out []SummaryRow
	dynamic := map[string]bool{}
	for _, sc := range s.Scenarios {
		dynamic[sc.Name] = sc.Dynamic
	}
	for _, sc := range s.Scenarios {
		for _, l := range s.Learners {
			sr := SummaryRow{Scenario: sc.Name, Dynamic: dynamic[sc.Name], Learner: l, Min: math.Inf(1), Max: math.Inf(-1)}
			fixedVotes, classVotes := map[string]int{}, map[string]int{}
			n := 0.0
			for _, row := range s.Rows {
				if row.Scenario != sc.Name {
					continue
				}
				for _, lr := range row.Learners {
					if lr.Learner != l {
						continue
					}
					n++
					sr.Ratio += lr.Ratio
					sr.Min, sr.Max = math.Min(sr.Min, lr.Ratio), math.Max(sr.Max, lr.Ratio)
					sr.BestFixedRatio += lr.BestFixedRatio
					sr.Random += lr.Random
					sr.General += lr.General
					sr.TrainSeconds += lr.TrainSeconds
					sr.Classical += row.BestClassicalRatio
					fixedVotes[lr.BestFixed]++
					classVotes[row.BestClassical]++
				}
			}
			if n == 0 {
				continue
			}
			sr.Ratio, sr.BestFixedRatio, sr.Random, sr.General = sr.Ratio/n, sr.BestFixedRatio/n, sr.Random/n, sr.General/n
			sr.TrainSeconds, sr.Classical = sr.TrainSeconds/n, sr.Classical/n
			sr.BestFixed, sr.BestClassical = mostVoted(fixedVotes), mostVoted(classVotes)
			out = append(out, sr)
		}
	}
	return out
}

func mostVoted(votes map[string]int) string {
	names := make([]string, 0, len(votes))
	for n := range votes {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if votes[names[i]] != votes[names[j]] {
			return votes[names[i]] > votes[names[j]]
		}
		return names[i] < names[j]
	})
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// Target is one of the report's targets on one scenario, and whether it
// was met.
type Target struct {
	Scenario string `json:"scenario"`
	// What: "classical" (the better learner no worse than the best
	// classical technique), "gain" (on a dynamic scenario, the better
	// learner beats the best fixed choice of its own action space by at
	// least 2% of makespan) or "general" (a learner's policy trained on
	// the distribution within 5% of the one trained on the scenario).
	What    string  `json:"what"`
	Learner string  `json:"learner"`
	Got     float64 `json:"got"`
	Want    float64 `json:"want"`
	Met     bool    `json:"met"`
}

// Targets checks the report's targets on the summary: per scenario, the
// better learner (lowest mean ratio) against the best classical technique
// and, on the dynamic scenarios, against its own best fixed choice; per
// scenario and learner, the policy trained on the distribution against
// the one trained on the scenario.
func (s Suite) Targets() []Target {
	var out []Target
	sum := s.Summary()
	for _, sc := range s.Scenarios {
		var best *SummaryRow
		for i := range sum {
			if r := &sum[i]; r.Scenario == sc.Name && (best == nil || r.Ratio < best.Ratio) {
				best = r
			}
		}
		if best == nil {
			continue
		}
		out = append(out, Target{Scenario: sc.Name, What: "classical", Learner: best.Learner, Got: best.Ratio, Want: best.Classical, Met: best.Ratio <= best.Classical})
		if sc.Dynamic {
			out = append(out, Target{Scenario: sc.Name, What: "gain", Learner: best.Learner, Got: best.GainShare(), Want: 0.02, Met: best.GainShare() >= 0.02})
		}
		for _, r := range sum {
			if r.Scenario == sc.Name && r.General > 0 {
				out = append(out, Target{Scenario: sc.Name, What: "general", Learner: r.Learner, Got: r.General / r.Ratio, Want: 1.05, Met: r.General <= 1.05*r.Ratio})
			}
		}
	}
	return out
}
