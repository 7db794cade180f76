package main

// The plumbing every environment's command shares: which algorithms to run
// (from the learning registry), how to train them, the training logs,
// checkpoints, learning curves and the comparison table. An environment's
// command adds its scenario flags and its own tables and figures.

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

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
	figures                       map[string]*string // figure flags by name (--plot, --gantt, ...)
}

// maxEpisodes bounds --episodes: the learning curve keeps every training
// episode's metrics in memory, and the log a line each.
const maxEpisodes = 100_000

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
	fs.IntVar(&f.episodes, "episodes", def.Episodes, fmt.Sprintf("training episodes of a learner, at most %d; 0 with --load only evaluates", maxEpisodes))
	fs.IntVar(&f.evalEpisodes, "eval-episodes", def.EvalEpisodes, "evaluation episodes every algorithm is measured on (results are their means)")
	fs.BoolVar(&f.jsonOut, "json", false, "print JSON (an object, or with --compare an array) instead of tables")
	fs.BoolVar(&f.compare, "compare", false, "run every algorithm, learners trained within the run, on the same evaluation episodes (the default without --algorithm)")
	fs.BoolVar(&f.independent, "independent", false, "give each agent a learner of its own instead of one shared by all")
	fs.StringVar(&f.save, "save", "", "save the trained learner to `file` (a checkpoint)")
	fs.StringVar(&f.load, "load", "", "start the learner from the checkpoint in `file`")
	fs.StringVar(&f.logFile, "log", "", "write the learner's training log (JSON lines, one per episode) to `file`, which must not exist (default: "+runsDir+"/ENV-ALGORITHM-seedSEED-TIME/train.jsonl, a directory of the run's own)")
	f.figure(fs, "plot", "draw a learner's learning curve, with the best heuristic, to `file` (.png, .svg or .pdf)")
}

// figure registers a flag that names a figure to draw, checked before any
// work like every output (--plot, an environment's --gantt): its value is
// read with f.figureFile(name).
func (f *runFlags) figure(fs *flag.FlagSet, name, usage string) {
	if f.figures == nil {
		f.figures = map[string]*string{}
	}
	f.figures[name] = fs.String(name, "", usage)
}

// figureFile is the file figure flag name gives ("" if none).
func (f *runFlags) figureFile(name string) string {
	if p := f.figures[name]; p != nil {
		return *p
	}
	return ""
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
	f.plotFile = f.figureFile("plot")
	switch {
	case !slices.Contains(f.versionNames(), f.env):
		return usageError{fmt.Errorf("--env: unknown %q; one of %s", f.env, strings.Join(f.versionNames(), ", "))}
	case f.episodes < 0:
		return usageError{fmt.Errorf("--episodes: must be at least 0, got %d", f.episodes)}
	case f.episodes > maxEpisodes:
		return usageError{fmt.Errorf("--episodes: at most %d, got %d: the learning curve keeps every training episode's metrics in memory (about half a kilobyte each) and the log a line each; to train longer, train in steps with --save and --load", maxEpisodes, f.episodes)}
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
	case f.logFile != "" && !learns(f.algorithm):
		return usageError{fmt.Errorf("--log: the training log of one learner (--algorithm %s); without it each learner's log goes to a directory of its run's own under %s/", strings.Join(f.learners(), "|"), runsDir)}
	}
	if err := f.checkOutputs(); err != nil {
		return err
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

// checkEnv refuses an --actions that e does not offer, and an --algorithm
// whose Accepts refuses the agents it would drive in e.
func (f *runFlags) checkEnv(e env.Environment) error {
	if f.actions != "" {
		ad, ok := e.(env.Adaptable)
		if !ok {
			return usageError{fmt.Errorf("--actions: %s offers no adapters", e.Name())}
		}
		if _, err := ad.Adapter(f.actions); err != nil {
			return usageError{fmt.Errorf("--actions: %w", err)}
		}
	}
	if f.algorithm == "" {
		return nil
	}
	// An algorithm that makes no sense on the agents' actions is refused here.
	a, err := env.Lookup(e, f.algorithm)
	if err != nil || a.Accepts == nil {
		return nil
	}
	spec, _, err := env.AlgorithmSpec(e, a, f.actions)
	if err == nil {
		err = a.Accepts(spec)
	}
	if err != nil {
		return usageError{fmt.Errorf("--algorithm: %w", err)}
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

// ranAlgorithm is one algorithm's run, where its training log went, and
// where runAll saved its checkpoint when the run was interrupted.
type ranAlgorithm struct {
	env.RunResult
	LogPath string
	SavedTo string
}

// runAll runs every algorithm of names in e with opts, showing progress on
// stderr (unless quiet) and writing each learner's training log.
//
// The user's first interrupt (Ctrl-C) stops it gracefully: a learner in
// training stops after its current episode and is evaluated on what it
// learnt, its checkpoint saved to its run directory; an algorithm being
// evaluated finishes; the others are not run. runAll then returns what ran,
// as if that were all, and says on stderr what was stopped: the command
// prints its results as usual and exits 130 (run). A second interrupt ends
// the process at once.
func runAll(e env.Environment, names []string, opts env.RunOptions, logFile string, quiet bool, stderr io.Writer) ([]ranAlgorithm, error) {
	total := 0
	for _, name := range names {
		a, err := env.Lookup(e, name)
		if err != nil {
			return nil, err
		}
		total += env.Episodes(a.Learns, opts)
	}
	stop, release := onInterrupt()
	defer release()
	opts.Stop = stop
	prog := newProgress(stderr, "running", total, !quiet)
	defer prog.finish()
	told := false
	var out []ranAlgorithm
	for i, name := range names {
		o := opts
		o.OnTick = func(at float64) { prog.tick(fmt.Sprintf("%s, an episode at t = %.0f", name, at)) }
		o.OnEpisode = func(learning.Record) {
			prog.step(name)
			if !told && interrupted(stop) {
				told = true
				prog.finish()
				fmt.Fprintln(stderr, "marlon: interrupted: a learner in training stops now and is evaluated on what it learnt, its checkpoint saved; nothing else starts (Ctrl-C again to quit at once)")
			}
		}
		r, err := runLogged(e, name, o, logFile, len(names) > 1)
		if err != nil {
			return out, err
		}
		out = append(out, r)
		if interrupted(stop) {
			prog.finish()
			return out, stopped(e, &out[len(out)-1], opts.Seed, names[i+1:], stderr)
		}
	}
	return out, nil
}

func interrupted(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// stopped records an interrupted run: it saves r's checkpoint if r is a
// learner whose training was cut short, and says on stderr what became of
// the run.
func stopped(e env.Environment, r *ranAlgorithm, seed uint64, notRun []string, stderr io.Writer) error {
	current.interrupted.Store(true)
	if r.Curve != nil && r.Curve.Stopped {
		dir := filepath.Dir(r.LogPath)
		if r.LogPath == "" || !strings.HasPrefix(r.LogPath, runsDir+string(filepath.Separator)) {
			var err error
			if dir, err = newRunDir(e, r.Algorithm, seed); err != nil {
				return err
			}
		}
		path := filepath.Join(dir, "checkpoint.ckpt")
		c, err := r.Checkpoint(e)
		if err == nil {
			err = c.Save(path)
		}
		if err != nil {
			return fmt.Errorf("interrupted, and could not save the checkpoint: %w", err)
		}
		r.SavedTo = path
		fmt.Fprintf(stderr, "marlon: interrupted after %d training episodes of %s; the models kept (after %d) saved to %s (--load it to go on)\n", len(r.Curve.Train), r.Algorithm, r.Curve.Selected, path)
	}
	if len(notRun) > 0 {
		fmt.Fprintf(stderr, "marlon: interrupted: not run: %s\n", strings.Join(notRun, ", "))
	}
	return nil
}

// runsDir is where runs keep what they write unasked (training logs, the
// checkpoint of an interrupted run), a directory per run, so that no run
// overwrites another's.
const runsDir = "runs"

// newRunDir makes a new directory for a run of algorithm in e under
// runsDir: ENV-ALGORITHM-seedSEED-TIME, with -2, -3, ... if that exists.
func newRunDir(e env.Environment, algorithm string, seed uint64) (string, error) {
	base := fmt.Sprintf("%s-%s-seed%d-%s", learning.Family(e.Name()), algorithm, seed, time.Now().Format("20060102-150405"))
	base = filepath.Join(runsDir, unsafeName.ReplaceAllString(base, "_"))
	if err := os.MkdirAll(runsDir, 0o755); err != nil {
		return "", err
	}
	for k := 1; ; k++ {
		dir := base
		if k > 1 {
			dir = fmt.Sprintf("%s-%d", base, k)
		}
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, os.ErrExist) || k == 1000 {
			return "", err
		}
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// runLogged runs name with opts; a learner's training log goes to path,
// which must not exist, or (with no path, or several algorithms) to
// train.jsonl in a new directory of the run's own (newRunDir).
func runLogged(e env.Environment, name string, opts env.RunOptions, path string, several bool) (ranAlgorithm, error) {
	a, err := env.Lookup(e, name)
	if err != nil {
		return ranAlgorithm{}, err
	}
	if !a.Learns {
		r, err := env.Run(e, name, opts)
		return ranAlgorithm{RunResult: r}, err
	}
	flag := os.O_WRONLY | os.O_CREATE | os.O_EXCL // never over another run's log
	if path == "" || several {
		dir, err := newRunDir(e, name, opts.Seed)
		if err != nil {
			return ranAlgorithm{}, fmt.Errorf("the run's directory: %w", err)
		}
		path = filepath.Join(dir, "train.jsonl")
	}
	f, err := os.OpenFile(path, flag, 0o644)
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

// checkOutputs refuses, before any work, an output the run could not
// write: --save, --log and every figure.
func (f *runFlags) checkOutputs() error {
	if err := checkOutput("save", f.save); err != nil {
		return err
	}
	if f.logFile != "" {
		if err := checkOutput("log", f.logFile); err != nil {
			return err
		}
		if _, err := os.Lstat(f.logFile); err == nil {
			return usageError{fmt.Errorf("--log: %s exists, and a training log is never overwritten: name another file, or leave --log out for a directory of the run's own under %s/", f.logFile, runsDir)}
		}
	}
	names := make([]string, 0, len(f.figures))
	for name := range f.figures {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		path := *f.figures[name]
		if path == "" {
			continue
		}
		if err := learnplot.CheckFormat(path); err != nil {
			return usageError{fmt.Errorf("--%s: %w", name, err)}
		}
		if err := checkOutput(name, path); err != nil {
			return err
		}
	}
	return nil
}

// checkOutput refuses a file the run could not write at path (for flag
// name): its directory missing or not writable, or a directory in its
// place. "" is no output.
func checkOutput(name, path string) error {
	if path == "" {
		return nil
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return usageError{fmt.Errorf("--%s: %s is a directory; name a file", name, path)}
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case err != nil:
		return usageError{fmt.Errorf("--%s: cannot write %s: its directory %s: %w", name, path, dir, errors.Unwrap(err))}
	case !st.IsDir():
		return usageError{fmt.Errorf("--%s: cannot write %s: %s is not a directory", name, path, dir)}
	}
	probe, err := os.CreateTemp(dir, ".marlon-probe-*")
	if err != nil {
		return usageError{fmt.Errorf("--%s: cannot write %s: the directory %s is not writable", name, path, dir)}
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
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
		case r.Curve != nil && r.Curve.Stopped:
			note = fmt.Sprintf("interrupted after %d episodes, %.1fs; checkpoint %s", len(r.Curve.Train), r.TrainTime.Seconds(), r.SavedTo)
		case r.Curve != nil:
			note = fmt.Sprintf("learnt in %d episodes, %.1fs", len(r.Curve.Train), r.TrainTime.Seconds())
		case r.Baseline:
			note = "baseline of the learners' actions"
		}
		fmt.Fprintf(tw, "%s  %s\n", line, note)
	}
	tw.Flush()
	var logs []string
	for _, r := range rs {
		if r.LogPath != "" {
			logs = append(logs, fmt.Sprintf("%s %s", r.Algorithm, r.LogPath))
		}
	}
	if len(logs) > 0 {
		fmt.Fprintf(w, "\nTraining logs: %s.\n", strings.Join(logs, ", "))
	}
}

// readScenarioFile decodes the JSON object in file into sc, a pointer to a
// scenario that holds the defaults: fields the file leaves out keep them.
// It refuses an unknown field, a value of the wrong type and anything after
// the object, naming the JSON field and, through flagOf (nil: the field's
// name with - for _), the flag that sets it.
func readScenarioFile(file string, sc any, flagOf func(field string) string) error {
	if flagOf == nil {
		flagOf = func(field string) string { return strings.ReplaceAll(field, "_", "-") }
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return usageError{fmt.Errorf("--scenario: %v", err)}
	}
	bad := func(offset int64, format string, args ...any) error {
		return usageError{fmt.Errorf("--scenario %s: line %d: %s", file, 1+strings.Count(string(b[:min(max(offset, 0), int64(len(b)))]), "\n"), fmt.Sprintf(format, args...))}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err = dec.Decode(sc)
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == io.EOF:
		return usageError{fmt.Errorf("--scenario %s: empty; want a JSON object (--show-scenario prints one)", file)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bad(int64(len(b)), "the JSON object is cut short")
	case errors.As(err, &syntax):
		return bad(syntax.Offset, "%v", syntax)
	case errors.As(err, &typ):
		field := typ.Field
		top, _, _ := strings.Cut(field, ".")
		if field == "" {
			return bad(typ.Offset, "want a JSON object of the scenario's fields, got %s", typ.Value)
		}
		return bad(typ.Offset, "%q (the --%s flag) wants %s, got %s", field, flagOf(top), jsonKind(typ.Type), typ.Value)
	case err != nil && strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return bad(dec.InputOffset(), "unknown field %s; the fields are %s", field, strings.Join(jsonFields(sc), ", "))
	case err != nil:
		return usageError{fmt.Errorf("--scenario %s: %v", file, err)}
	}
	if off := dec.InputOffset(); dec.More() {
		return bad(off, "more after the scenario's JSON object: a file holds one scenario")
	}
	// More reports only what could start a value; any other byte is an error.
	var rest json.RawMessage
	if err := dec.Decode(&rest); err != io.EOF {
		return bad(dec.InputOffset(), "more after the scenario's JSON object: a file holds one scenario")
	}
	return nil
}

// fromScenarioFile names a scenario's value out of range, err ("--FLAG:
// what is wrong"), as the scenario file has it, when it came from the file
// (flag FLAG was not given, set says): `--scenario FILE: "field" (the
// --FLAG flag): what is wrong`, field by fieldOf (nil: FLAG with _ for -).
func fromScenarioFile(err error, file string, set map[string]bool, fieldOf func(flag string) string) error {
	if fieldOf == nil {
		fieldOf = func(flag string) string { return strings.ReplaceAll(flag, "-", "_") }
	}
	name, rest, ok := strings.Cut(err.Error(), ": ")
	flag, isFlag := strings.CutPrefix(name, "--")
	if file == "" || !ok || !isFlag || set[flag] {
		return usageError{err}
	}
	return usageError{fmt.Errorf("--scenario %s: %q (the --%s flag): %s", file, fieldOf(flag), flag, rest)}
}

// jsonKind says what a JSON value of Go type t looks like.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(jsonKind(t.Elem()), "a "), "an ") + "s"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}

// jsonFields are the JSON names of the fields of the struct v points to.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var names []string
	if t.Kind() != reflect.Struct {
		return names
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case name == "":
			names = append(names, f.Name)
		default:
			names = append(names, name)
		}
	}
	return names
}

// liveCheckpoint is what a live run sends its nodes for algorithm: the
// learner trained here first (opts.Episodes > 0, with a progress bar unless
// quiet) or loaded (opts.Load), as a checkpoint's bytes, and the training
// run (nil if none). It returns nil bytes for an algorithm that does not
// learn, or a learner neither trained nor loaded (untrained, as in the
// simulator). verify makes the nodes' policy from the bytes, so that a
// checkpoint they cannot take fails here, not on every node; the
// checkpoint is saved to save if that is set.
func liveCheckpoint(e env.Environment, algorithm string, opts env.RunOptions, logFile, save string, stderr io.Writer, quiet bool, verify func([]byte) error) ([]byte, *ranAlgorithm, error) {
	if a, err := env.Lookup(e, algorithm); err != nil || !a.Learns {
		return nil, nil, err
	}
	c := opts.Load
	var trained *ranAlgorithm
	if opts.Episodes > 0 {
		prog := newProgress(stderr, "training "+algorithm, env.Episodes(true, opts), !quiet)
		o := opts
		o.OnEpisode = func(learning.Record) { prog.step("") }
		out, err := runLogged(e, algorithm, o, logFile, false)
		prog.finish()
		if err != nil {
			return nil, nil, err
		}
		trained = &out
		if c, err = out.Checkpoint(e); err != nil {
			return nil, nil, err
		}
	}
	if c == nil {
		return nil, trained, nil
	}
	var b bytes.Buffer
	if err := c.Write(&b); err != nil {
		return nil, nil, err
	}
	if err := verify(b.Bytes()); err != nil {
		return nil, nil, fmt.Errorf("--load: %w", err)
	}
	if save != "" {
		if err := c.Save(save); err != nil {
			return nil, nil, fmt.Errorf("--save: %w", err)
		}
	}
	return b.Bytes(), trained, nil
}
