package main

// The plumbing every environment's command shares: which algorithms to run
// (from the learning registry), how to train them, the training logs,
// checkpoints, learning curves and the comparison table. An environment's
// command adds its scenario flags and its own tables and figures.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/learning"
	"github.com/marlon-go/marlon/learning/learnplot"
)

// runFlags are the flags every environment command shares.
type runFlags struct {
	family   string
	versions []string

	env, algorithm, actions       string
	seed                          uint64
	episodes, evalEpisodes        int
	jsonOut, compare, independent bool
	save, load, logFile, plotFile string
	loaded                        *learning.Checkpoint
	defaultEvery                  int
	selectMetric                  string
}

// trainingDefaults are an environment's defaults for training.
type trainingDefaults struct {
	Episodes, EvalEvery, EvalEpisodes int
	Select                            string // the metric the kept models minimise
}

// register adds the shared flags to fs, for the environments of family
// whose versions (oldest first) are given.
func (f *runFlags) register(fs *flag.FlagSet, family string, versions []string, def trainingDefaults) {
	f.family, f.versions = family, versions
	f.defaultEvery, f.selectMetric = def.EvalEvery, def.Select
	fs.StringVar(&f.env, "env", family+"/"+versions[len(versions)-1], "the environment `version` to run: "+strings.Join(f.versionNames(), ", ")+" (older versions stay runnable; a checkpoint loads only into the version it was trained on)")
	fs.StringVar(&f.algorithm, "algorithm", "", "the algorithm to run: "+strings.Join(learning.AlgorithmNames(family), ", "))
	fs.StringVar(&f.actions, "actions", "", "the adapter generic learners see the agents through (default: the environment's first)")
	fs.Uint64Var(&f.seed, "seed", 1, "seed for the scenario's draws and every episode")
	fs.IntVar(&f.episodes, "episodes", def.Episodes, "training episodes of a learner; 0 with --load only evaluates")
	fs.IntVar(&f.evalEpisodes, "eval-episodes", def.EvalEpisodes, "evaluation episodes every algorithm is measured on (results are their means)")
	fs.BoolVar(&f.jsonOut, "json", false, "print JSON (an object, or with --compare an array) instead of tables")
	fs.BoolVar(&f.compare, "compare", false, "run every algorithm, learners trained within the run, on the same evaluation episodes (the default without --algorithm)")
	fs.BoolVar(&f.independent, "independent", false, "give each agent a learner of its own instead of one shared by all")
	fs.StringVar(&f.save, "save", "", "save the trained learner to `file` (a checkpoint)")
	fs.StringVar(&f.load, "load", "", "start the learner from the checkpoint in `file`")
	fs.StringVar(&f.logFile, "log", "", "write a learner's training log (JSON lines, one per episode) to `file` (default marlon-ALGORITHM-seedSEED.jsonl)")
	fs.StringVar(&f.plotFile, "plot", "", "draw a learner's learning curve, with the best heuristic, to `file` (.png, .svg or .pdf)")
}

func (f *runFlags) versionNames() []string {
	names := make([]string, len(f.versions))
	for i, v := range f.versions {
		names[i] = f.family + "/" + v
	}
	return names
}

// version is the version --env names ("v1").
func (f *runFlags) version() string {
	_, v, _ := strings.Cut(f.env, "/")
	return v
}

// check refuses values out of range and flags that do not go together, and
// reads the checkpoint --load names.
func (f *runFlags) check() error {
	learns := func(name string) bool {
		a, err := learning.Lookup(f.family, name)
		return err == nil && a.Learns
	}
	switch {
	case !slices.Contains(f.versionNames(), f.env):
		return usageError{fmt.Errorf("--env: unknown %q; one of %s", f.env, strings.Join(f.versionNames(), ", "))}
	case f.episodes < 0:
		return usageError{fmt.Errorf("--episodes: must be at least 0, got %d", f.episodes)}
	case f.evalEpisodes < 1:
		return usageError{fmt.Errorf("--eval-episodes: must be at least 1, got %d", f.evalEpisodes)}
	case f.algorithm != "" && f.compare:
		return usageError{errors.New("--algorithm and --compare: give one or the other")}
	}
	if f.algorithm != "" {
		a, err := learning.Lookup(f.family, f.algorithm)
		if err != nil {
			return usageError{fmt.Errorf("--algorithm: %w", err)}
		}
		if a.Native && f.actions != "" {
			return usageError{fmt.Errorf("--actions: %s acts in the environment's own action space and takes no adapter", a.Name)}
		}
	}
	switch {
	case f.algorithm == "" && (f.save != "" || f.load != "" || f.plotFile != ""):
		return usageError{errors.New("--save, --load and --plot need --algorithm")}
	case (f.save != "" || f.load != "" || f.plotFile != "") && !learns(f.algorithm):
		return usageError{fmt.Errorf("--save, --load and --plot are for algorithms that learn (%s), not %s", strings.Join(f.learners(), ", "), f.algorithm)}
	}
	if f.load != "" {
		c, err := learning.LoadCheckpoint(f.load)
		if err != nil {
			return fmt.Errorf("--load: %w", err)
		}
		f.loaded = c
	}
	return nil
}

// learners are the family's algorithms that learn.
func (f *runFlags) learners() []string {
	var names []string
	for _, a := range learning.Algorithms(f.family) {
		if a.Learns {
			names = append(names, a.Name)
		}
	}
	return names
}

// names are the algorithms to run in e: --algorithm, or all of the
// family's, with the baselines of the learners' action space (random, and
// fixed:LABEL for each action of the --actions adapter).
func (f *runFlags) names(e env.Environment) ([]string, error) {
	if f.algorithm != "" {
		return []string{f.algorithm}, nil
	}
	names, err := env.Expand(e, f.actions, learning.AlgorithmNames(f.family))
	if err != nil {
		return nil, usageError{fmt.Errorf("--actions: %w", err)}
	}
	return names, nil
}

// checkEnv refuses an --actions that e does not offer.
func (f *runFlags) checkEnv(e env.Environment) error {
	if f.actions == "" {
		return nil
	}
	ad, ok := e.(env.Adaptable)
	if !ok {
		return usageError{fmt.Errorf("--actions: %s offers no adapters", e.Name())}
	}
	if _, err := ad.Adapter(f.actions); err != nil {
		return usageError{fmt.Errorf("--actions: %w", err)}
	}
	return nil
}

// options are the run options the flags give (without a log or progress).
func (f *runFlags) options() env.RunOptions {
	return env.RunOptions{
		Seed: f.seed, Episodes: f.episodes, EvalEvery: f.defaultEvery, EvalEpisodes: f.evalEpisodes, Select: f.selectMetric,
		Independent: f.independent, Actions: f.actions, Load: f.loaded,
	}
}

// ranAlgorithm is one algorithm's run, and where its training log went.
type ranAlgorithm struct {
	env.RunResult
	LogPath string
}

// runAll runs every algorithm of names in e with opts, showing progress on
// stderr (unless quiet) and writing each learner's training log.
func runAll(e env.Environment, names []string, opts env.RunOptions, logFile string, quiet bool, stderr io.Writer) ([]ranAlgorithm, error) {
	total := 0
	for _, name := range names {
		a, err := env.Lookup(e, name)
		if err != nil {
			return nil, err
		}
		total += env.Episodes(a.Learns, opts)
	}
	prog := newProgress(stderr, "running", total, !quiet)
	defer prog.finish()
	var out []ranAlgorithm
	for _, name := range names {
		o := opts
		o.OnEpisode = func(learning.Record) { prog.step(name) }
		r, err := runLogged(e, name, o, logFile, len(names) > 1)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// runLogged runs name with opts; a learner's training log goes to path, or
// (with no path, or several algorithms) to marlon-NAME-seedSEED.jsonl.
func runLogged(e env.Environment, name string, opts env.RunOptions, path string, several bool) (ranAlgorithm, error) {
	a, err := env.Lookup(e, name)
	if err != nil {
		return ranAlgorithm{}, err
	}
	if !a.Learns {
		r, err := env.Run(e, name, opts)
		return ranAlgorithm{RunResult: r}, err
	}
	if path == "" || several {
		path = fmt.Sprintf("marlon-%s-seed%d.jsonl", name, opts.Seed)
	}
	f, err := os.Create(path)
	if err != nil {
		return ranAlgorithm{}, fmt.Errorf("--log: %w", err)
	}
	opts.Log = f
	r, err := env.Run(e, name, opts)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("--log: %w", cerr)
	}
	return ranAlgorithm{RunResult: r, LogPath: path}, err
}

// saveCheckpoint writes r's trained team to path.
func saveCheckpoint(path string, e env.Environment, r env.RunResult) error {
	c, err := r.Checkpoint(e)
	if err == nil {
		err = c.Save(path)
	}
	if err != nil {
		return fmt.Errorf("--save: %w", err)
	}
	return nil
}

// bestBaseline runs every heuristic of e's family (every algorithm that
// neither learns nor is a trivial baseline) on the evaluation episodes of
// opts and returns the best by metric (lowest), unless results already hold
// them.
func bestBaseline(e env.Environment, opts env.RunOptions, metric string, results []ranAlgorithm) (string, float64, error) {
	have := map[string]float64{}
	for _, r := range results {
		if !r.Learns {
			have[r.Algorithm] = r.Mean[metric]
		}
	}
	opts.Load, opts.Log, opts.OnEpisode = nil, nil, nil
	best, bestV := "", math.Inf(1)
	for _, a := range learning.Algorithms(learning.Family(e.Name())) {
		if a.Learns || a.Baseline {
			continue
		}
		v, ok := have[a.Name]
		if !ok {
			r, err := env.Run(e, a.Name, opts)
			if err != nil {
				return "", 0, err
			}
			v = r.Mean[metric]
		}
		if v < bestV {
			best, bestV = a.Name, v
		}
	}
	return best, bestV, nil
}

// plotLearningCurve draws r's learning curve of metric, with the best
// heuristic on the same evaluation episodes and, if bound is set, a bound.
func plotLearningCurve(path, title string, e env.Environment, r ranAlgorithm, opts env.RunOptions, m learnplot.Metric, bound *learnplot.Line, results []ranAlgorithm) error {
	name, v, err := bestBaseline(e, opts, m.Name, results)
	if err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	var lines []learnplot.Line
	if name != "" {
		lines = append(lines, learnplot.Line{Name: "best heuristic: " + name, Value: v})
	}
	if err := learnplot.Curve(path, title, *r.Curve, m, bound, lines...); err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	return nil
}

// column is one column of a comparison table: a metric, and how to print
// it.
type column struct {
	title, metric, format string
}

// printComparison prints one row per result, in the order given (sorted by
// the caller), with a rank, the columns, and for a learner its training.
func printComparison(w io.Writer, rs []ranAlgorithm, cols []column) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	header := "rank\talgorithm\t"
	for _, c := range cols {
		header += c.title + "\t"
	}
	fmt.Fprintln(tw, header)
	for i, r := range rs {
		line := fmt.Sprintf("%d\t%s\t", i+1, r.Algorithm)
		for _, c := range cols {
			line += fmt.Sprintf(c.format, r.Mean[c.metric]) + "\t"
		}
		note := ""
		switch {
		case r.Curve != nil:
			note = fmt.Sprintf("learnt in %d episodes, %.1fs", len(r.Curve.Train), r.TrainTime.Seconds())
		case r.Baseline:
			note = "baseline of the learners' actions"
		}
		fmt.Fprintf(tw, "%s  %s\n", line, note)
	}
	tw.Flush()
}
