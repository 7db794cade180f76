package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/examples/loadbalancing/lbplot"
	"github.com/marlon-go/marlon/examples/loadbalancing/learners"
	"github.com/marlon-go/marlon/learning"
)

const loadBalancingExamples = `
Examples:
  marlon loadbalancing                                  train the learners and compare them with every classical technique
  marlon loadbalancing --algorithm pg --plot curve.png  train policy gradient; plot its learning curve
  marlon loadbalancing --algorithm qlearning --save q.ckpt --gantt gantt.png
  marlon loadbalancing --algorithm qlearning --load q.ckpt --episodes 0 --workers 12
                                                        evaluate a saved (shared) learner on 12 workers
  marlon loadbalancing --algorithm fac2                 one classical technique, with a per-worker table
  marlon loadbalancing --workers 16 --speeds 1-3 --comm-time 0.2 --compare
  marlon loadbalancing --join 2@100 --leave 3@200 --algorithm af --json
  marlon loadbalancing --show-scenario > my.json        then edit my.json and
  marlon loadbalancing --scenario my.json --compare     (flags given still override it)
  marlon loadbalancing --live --algorithm tss           one episode in real time, through NATS (an
                                                        embedded server, the workers in this process)
  marlon loadbalancing --live --algorithm qlearning --episodes 100 --time-scale 5ms
                                                        train in the simulator, then run live
  marlon loadbalancing --live --nats nats://10.0.0.1:4222 --key master.key --trusted cluster.keys \
      --nodes 3 --algorithm af --leave 2@100 --json     the workers come from 3 marlon nodes

Times are in virtual time units. Workers are numbered from 0; joiners come after
the starting workers. The seed fixes the drawn speeds, the training episodes and
the evaluation episodes, which are the same for every algorithm. A learner is
validated every 25 training episodes on episodes of its own, and the best
validated models are kept.

A live run (--live) runs the same Master and Worker actors in real time, each
time unit lasting --time-scale, and reports as the simulator does, plus where
the workers ran and what became of the nodes. With --nats, the Master waits
for --nodes hosting nodes and places one worker in each of their free slots
(marlon node --workers K --speed S), so --workers, --speeds and --join do not
apply; --leave does, by worker number (in the order of the nodes' names). A
node that is stopped or killed is declared down, its workers' chunks go back
to the pool and the job completes with the others; a node that joins during
the run adds its workers. A learner is trained in the simulator first (or
loaded with --load) and its checkpoint sent to every node, whose workers
share it.
`

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// usageError is bad input: exit code 2.
type usageError struct{ error }

func runLoadBalancing(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("marlon loadbalancing", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := loadbalancing.Default()
	var (
		workers      = fs.Int("workers", def.Workers, "number of workers at the start")
		speeds       = fs.String("speeds", fmt.Sprintf("%d-%d", def.SpeedMin, def.SpeedMax), "worker speeds: a list with one per worker (1,2,3.5) or a range MIN-MAX of integers to draw from")
		job          = fs.Int("job", def.Job, "work units in the job")
		unitTime     = fs.Float64("unit-time", def.UnitTime, "time one unit of mean cost takes at speed 1")
		commTime     = fs.Float64("comm-time", def.CommTime, "time the Master takes to serve one request (it serves one at a time)")
		variability  = fs.Float64("variability", def.Variability, "coefficient of variation of the units' costs (0: all equal)")
		joins        listFlag
		leaves       listFlag
		algorithm    = fs.String("algorithm", "", "the algorithm to run: "+strings.Join(learners.Names(), ", "))
		seed         = fs.Uint64("seed", 1, "seed for the drawn speeds and every episode")
		episodes     = fs.Int("episodes", learners.DefaultTraining().Episodes, "training episodes of a learner (qlearning, pg); 0 with --load only evaluates")
		evalEpisodes = fs.Int("eval-episodes", learners.DefaultTraining().EvalEpisodes, "evaluation episodes every algorithm is measured on (results are their means)")
		jsonOut      = fs.Bool("json", false, "print JSON (an object, or with --compare an array) instead of tables")
		compare      = fs.Bool("compare", false, "run every algorithm, learners trained within the run, on the same evaluation episodes: a table sorted by makespan (the default without --algorithm)")
		independent  = fs.Bool("independent", false, "give each worker a learner of its own instead of one shared by all")
		save         = fs.String("save", "", "save the trained learner to `file` (a checkpoint)")
		load         = fs.String("load", "", "start the learner from the checkpoint in `file`")
		logFile      = fs.String("log", "", "write a learner's training log (JSON lines, one per episode) to `file` (default marlon-ALGORITHM-seedSEED.jsonl)")
		plotFile     = fs.String("plot", "", "draw a learner's learning curve, with the best classical technique, to `file` (.png, .svg or .pdf)")
		ganttFile    = fs.String("gantt", "", "draw a Gantt chart of the first evaluation episode to `file` (.png, .svg or .pdf)")
		scenarioFile = fs.String("scenario", "", "read the scenario from a JSON `file`; flags given override it")
		show         = fs.Bool("show-scenario", false, "print the scenario as JSON and exit")
		live         = fs.Bool("live", false, "run one evaluation episode in real time over the NATS transport, without --nats on an embedded server with the workers in this process")
		nodes        = fs.Int("nodes", 1, "with --live --nats: how many hosting nodes (marlon node) to wait for before starting")
		timeScale    = fs.Duration("time-scale", 10*time.Millisecond, "with --live: the real duration of one time unit (the default job takes about 5s)")
		timeout      = fs.Duration("timeout", 10*time.Minute, "with --live: give up if the episode is not done after this long")
		nf           netFlags
	)
	nf.register(fs)
	fs.Var(&joins, "join", "`COUNT@TIME[:SPEED]`: COUNT workers join at TIME (speed drawn if not given); repeatable")
	fs.Var(&leaves, "leave", "`WORKER@TIME`: worker WORKER leaves at TIME, handing back its chunk; repeatable")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: marlon loadbalancing [flags]\n\nRuns dynamic loop self-scheduling: a Master hands out chunks of a job to\nworkers of different speeds; each request costs the Master comm-time.\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), loadBalancingExamples)
	}
	if code, done := parse(fs, args, stderr); done {
		return code
	}

	// With --live --nats the workers are the nodes': leaves are checked
	// once they are known.
	sc, err := scenarioFrom(*scenarioFile, fs, scenarioFlags{*workers, *speeds, *job, *unitTime, *commTime, *variability, joins, leaves}, *live && nf.nats != "")
	if err != nil {
		return fail(stderr, err)
	}
	if *show {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(sc)
		return 0
	}
	switch {
	case *episodes < 0:
		return fail(stderr, usageError{fmt.Errorf("--episodes: must be at least 0, got %d", *episodes)})
	case *evalEpisodes < 1:
		return fail(stderr, usageError{fmt.Errorf("--eval-episodes: must be at least 1, got %d", *evalEpisodes)})
	case *algorithm != "" && *compare:
		return fail(stderr, usageError{errors.New("--algorithm and --compare: give one or the other")})
	case *algorithm != "" && !contains(learners.Names(), *algorithm):
		return fail(stderr, usageError{fmt.Errorf("--algorithm: unknown %q; one of %s", *algorithm, strings.Join(learners.Names(), ", "))})
	case *algorithm == "" && (*save != "" || *load != "" || *plotFile != "" || *ganttFile != ""):
		return fail(stderr, usageError{errors.New("--save, --load, --plot and --gantt need --algorithm")})
	case (*save != "" || *load != "" || *plotFile != "") && !learners.IsLearner(*algorithm):
		return fail(stderr, usageError{fmt.Errorf("--save, --load and --plot are for learners (%s), not %s", strings.Join(learners.Learners(), ", "), *algorithm)})
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := checkLive(*live, set, nf, sc, *nodes, *timeScale, *timeout); err != nil {
		return fail(stderr, err)
	}
	names := learners.Names()
	if *algorithm != "" {
		names = []string{*algorithm}
	}
	e, err := loadbalancing.New(sc, *seed)
	if err != nil {
		return fail(stderr, usageError{err})
	}
	tr := learners.DefaultTraining()
	tr.Episodes, tr.EvalEpisodes = *episodes, *evalEpisodes
	opts := learners.Options{Seed: *seed, Training: tr, Independent: *independent}
	if *load != "" {
		if opts.Load, err = learning.LoadCheckpoint(*load); err != nil {
			return fail(stderr, fmt.Errorf("--load: %w", err))
		}
	}
	if *live {
		return runLive(liveRun{
			sc: sc, algorithm: *algorithm, seed: *seed, opts: opts, loadPath: *load, logFile: *logFile, save: *save, jsonOut: *jsonOut,
			net: nf, nodes: *nodes, timeScale: *timeScale, timeout: *timeout,
		}, stdout, stderr)
	}

	total := 0
	for _, name := range names {
		total += tr.EvalEpisodes
		if learners.IsLearner(name) {
			total += tr.Episodes + tr.EvalEpisodes*(tr.Episodes/max(tr.EvalEvery, 1)+1)
		}
	}
	prog := newProgress(stderr, "running", total, !*jsonOut)
	var reports []report
	var outcomes []learners.Outcome
	for _, name := range names {
		o := opts
		o.OnEpisode = func(learning.Record) { prog.step(name) }
		out, logPath, err := runLogged(e, name, o, *logFile, len(names) > 1)
		if err != nil {
			prog.finish()
			return fail(stderr, err)
		}
		outcomes = append(outcomes, out)
		r := newReport(out, e, *seed, tr.EvalEpisodes)
		if r.Training != nil {
			r.Training.CurveLog, r.Training.Loaded = logPath, *load
		}
		reports = append(reports, r)
	}
	prog.finish()

	if *save != "" {
		c, err := outcomes[0].Checkpoint(e)
		if err == nil {
			err = c.Save(*save)
		}
		if err != nil {
			return fail(stderr, fmt.Errorf("--save: %w", err))
		}
		reports[0].Training.Checkpoint = *save
	}
	if *plotFile != "" {
		if err := plotCurve(*plotFile, e, outcomes[0], opts); err != nil {
			return fail(stderr, fmt.Errorf("--plot: %w", err))
		}
	}
	if *ganttFile != "" {
		res := outcomes[0].Results[0]
		title := fmt.Sprintf("%s, seed %d: makespan %.1f, ratio %.3f", res.Algorithm, res.Seed, res.Makespan, res.Ratio)
		if err := lbplot.Gantt(*ganttFile, title, res); err != nil {
			return fail(stderr, fmt.Errorf("--gantt: %w", err))
		}
	}
	sort.SliceStable(reports, func(i, j int) bool { return reports[i].Makespan < reports[j].Makespan })

	single := len(reports) == 1
	switch {
	case *jsonOut && single:
		writeJSON(stdout, reports[0])
	case *jsonOut:
		writeJSON(stdout, reports)
	case single:
		printScenario(stdout, e, *seed, tr.EvalEpisodes)
		printReport(stdout, reports[0])
	default:
		printScenario(stdout, e, *seed, tr.EvalEpisodes)
		printComparison(stdout, reports)
	}
	for _, path := range []string{*plotFile, *ganttFile} {
		if path != "" && !*jsonOut {
			fmt.Fprintf(stdout, "Wrote %s.\n", path)
		}
	}
	return 0
}

// runLogged runs name with opts; a learner's training log goes to path, or
// (with no path, or several algorithms) to marlon-NAME-seedSEED.jsonl.
func runLogged(e *loadbalancing.Environment, name string, opts learners.Options, path string, several bool) (learners.Outcome, string, error) {
	if !learners.IsLearner(name) {
		out, err := learners.Run(e, name, opts)
		return out, "", err
	}
	if path == "" || several {
		path = fmt.Sprintf("marlon-%s-seed%d.jsonl", name, opts.Seed)
	}
	f, err := os.Create(path)
	if err != nil {
		return learners.Outcome{}, "", fmt.Errorf("--log: %w", err)
	}
	opts.Log = f
	out, err := learners.Run(e, name, opts)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("--log: %w", cerr)
	}
	return out, path, err
}

// plotCurve draws the learning curve of a learner's outcome with the best
// classical technique on the same evaluation episodes.
func plotCurve(path string, e *loadbalancing.Environment, o learners.Outcome, opts learners.Options) error {
	best := lbplot.Baseline{Ratio: math.Inf(1)}
	for _, name := range learners.Classical() {
		c := opts
		c.Load, c.Log, c.OnEpisode = nil, nil, nil
		out, err := learners.Run(e, name, c)
		if err != nil {
			return err
		}
		if r := out.Mean["ratio"]; r < best.Ratio {
			best = lbplot.Baseline{Name: "best classical: " + name, Ratio: r}
		}
	}
	title := fmt.Sprintf("%s learning load balancing with %d workers, seed %d (kept: after %d episodes)", o.Algorithm, e.Scenario().Workers, opts.Seed, o.Curve.Selected)
	return lbplot.Curve(path, title, *o.Curve, best)
}

// checkLive refuses the flags that do not go with --live, or only go with
// it.
func checkLive(live bool, set map[string]bool, nf netFlags, sc loadbalancing.Scenario, nodes int, scale, timeout time.Duration) error {
	only := []string{"nats", "nodes", "time-scale", "timeout", "name", "key", "trusted", "token", "nkey", "heartbeat", "missed-heartbeats"}
	if !live {
		for _, f := range only {
			if set[f] {
				return usageError{fmt.Errorf("--%s: only with --live", f)}
			}
		}
		return nil
	}
	for _, f := range []string{"compare", "independent", "plot", "gantt"} {
		if set[f] {
			return usageError{fmt.Errorf("--%s: not with --live (a live run runs one algorithm, one episode, with a policy shared by each node's workers)", f)}
		}
	}
	if !set["algorithm"] {
		return usageError{fmt.Errorf("--algorithm: --live runs one algorithm; one of %s", strings.Join(learners.Names(), ", "))}
	}
	if nf.nats == "" {
		for _, f := range []string{"nodes", "name", "key", "trusted", "token", "nkey"} {
			if set[f] {
				return usageError{fmt.Errorf("--%s: only with --nats (without it, the run makes its own server, nodes and keys)", f)}
			}
		}
	} else {
		for _, f := range []string{"workers", "speeds", "join"} {
			if set[f] {
				return usageError{fmt.Errorf("--%s: not with --nats: the workers are the nodes' (marlon node --workers K --speed S)", f)}
			}
		}
		if len(sc.Joins) > 0 {
			return usageError{errors.New("--join: not with --nats: the scenario file's joins do not apply, nodes join instead")}
		}
	}
	switch {
	case nodes < 1:
		return usageError{fmt.Errorf("--nodes: must be at least 1, got %d", nodes)}
	case scale < time.Microsecond:
		return usageError{fmt.Errorf("--time-scale: must be at least 1µs, got %v", scale)}
	case timeout <= 0:
		return usageError{fmt.Errorf("--timeout: must be > 0, got %v", timeout)}
	}
	return nf.check()
}

type scenarioFlags struct {
	workers                         int
	speeds                          string
	job                             int
	unitTime, commTime, variability float64
	joins, leaves                   []string
}

// scenarioFrom builds the scenario from the defaults or a file, then the
// flags that were given.
func scenarioFrom(file string, fs *flag.FlagSet, f scenarioFlags, laterLeaves bool) (loadbalancing.Scenario, error) {
	sc := loadbalancing.Default()
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return sc, usageError{fmt.Errorf("--scenario: %v", err)}
		}
		sc = loadbalancing.Scenario{}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sc); err != nil {
			return sc, usageError{fmt.Errorf("--scenario %s: %v", file, err)}
		}
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["workers"] || file == "" {
		sc.Workers = f.workers
	}
	if set["speeds"] || file == "" {
		list, lo, hi, err := loadbalancing.ParseSpeeds(f.speeds)
		if err != nil {
			return sc, usageError{err}
		}
		sc.Speeds, sc.SpeedMin, sc.SpeedMax = list, lo, hi
		if list != nil && sc.SpeedMin == 0 {
			sc.SpeedMin, sc.SpeedMax = 1, 5 // for joiners without a speed
		}
	}
	if set["job"] || file == "" {
		sc.Job = f.job
	}
	if set["unit-time"] || file == "" {
		sc.UnitTime = f.unitTime
	}
	if set["comm-time"] || file == "" {
		sc.CommTime = f.commTime
	}
	if set["variability"] || file == "" {
		sc.Variability = f.variability
	}
	if len(f.joins) > 0 {
		sc.Joins = nil
		for _, v := range f.joins {
			j, err := loadbalancing.ParseJoin(v)
			if err != nil {
				return sc, usageError{err}
			}
			sc.Joins = append(sc.Joins, j)
		}
	}
	if len(f.leaves) > 0 {
		sc.Leaves = nil
		for _, v := range f.leaves {
			l, err := loadbalancing.ParseLeave(v)
			if err != nil {
				return sc, usageError{err}
			}
			sc.Leaves = append(sc.Leaves, l)
		}
	}
	check := sc
	if laterLeaves {
		check.Leaves = nil
	}
	if err := check.Validate(); err != nil {
		return sc, usageError{err}
	}
	return sc, nil
}

// report is one algorithm's result on the evaluation episodes: the means of
// their figures, and the first one's per-worker table.
type report struct {
	Algorithm  string                       `json:"algorithm"`
	Seed       uint64                       `json:"seed"`
	Episodes   int                          `json:"eval_episodes"`
	Job        int                          `json:"job"`
	UnitsDone  int                          `json:"units_done"`
	Makespan   float64                      `json:"makespan"`
	LowerBound float64                      `json:"lower_bound"`
	Ratio      float64                      `json:"ratio"`
	IdleTime   float64                      `json:"idle_time"`
	Requests   float64                      `json:"requests"`
	Chunks     float64                      `json:"chunks"`
	Imbalance  float64                      `json:"load_imbalance"`
	Speeds     []float64                    `json:"speeds"`
	Workers    []loadbalancing.WorkerReport `json:"workers"`
	PerEpisode []loadbalancing.Result       `json:"per_episode,omitempty"`
	Training   *training                    `json:"training,omitempty"`
	Live       *liveInfo                    `json:"live,omitempty"`
}

// training says how a learner was trained.
type training struct {
	Episodes      int     `json:"episodes"`
	SelectedAfter int     `json:"selected_after"`
	Seconds       float64 `json:"seconds"`
	Shared        bool    `json:"shared"`
	CurveLog      string  `json:"curve_log"`
	Loaded        string  `json:"loaded,omitempty"`
	Checkpoint    string  `json:"checkpoint,omitempty"`
}

func newReport(o learners.Outcome, e *loadbalancing.Environment, seed uint64, episodes int) report {
	m := o.Mean
	r := report{
		Algorithm: o.Algorithm, Seed: seed, Episodes: episodes, Job: e.Scenario().Job, UnitsDone: e.Scenario().Job,
		Makespan: m["makespan"], LowerBound: m["lower_bound"], Ratio: m["ratio"], IdleTime: m["idle_time"],
		Requests: m["requests"], Chunks: m["chunks"], Imbalance: m["load_imbalance"], Speeds: e.Speeds(),
	}
	for _, res := range o.Results {
		r.UnitsDone = min(r.UnitsDone, res.UnitsDone)
	}
	if len(o.Results) > 0 {
		r.Workers = o.Results[0].Workers
	}
	if len(o.Results) > 1 {
		r.PerEpisode = o.Results
	}
	if o.Curve != nil {
		r.Training = &training{Episodes: len(o.Curve.Train), SelectedAfter: o.Curve.Selected, Seconds: o.TrainTime.Seconds(), Shared: o.Team.Shared()}
	}
	return r
}

func printScenario(w io.Writer, e *loadbalancing.Environment, seed uint64, episodes int) {
	sc := e.Scenario()
	fmt.Fprintf(w, "Load balancing: %d workers (speeds %s), job %d units, unit time %g, comm time %g, variability %g\n",
		sc.Workers, joinFloats(e.Speeds()[:sc.Workers]), sc.Job, sc.UnitTime, sc.CommTime, sc.Variability)
	for _, j := range sc.Joins {
		fmt.Fprintf(w, "  %d worker(s) join at %g\n", j.Count, j.At)
	}
	for _, l := range sc.Leaves {
		fmt.Fprintf(w, "  worker %d leaves at %g\n", l.Worker, l.At)
	}
	fmt.Fprintf(w, "Seed %d; every algorithm measured on the same %d evaluation episode(s).\n\n", seed, episodes)
}

func printReport(w io.Writer, r report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "algorithm\t%s\n", r.Algorithm)
	if t := r.Training; t != nil {
		share := "one learner shared by all workers"
		if !t.Shared {
			share = "a learner per worker"
		}
		switch {
		case t.Episodes == 0 && t.Loaded != "":
			fmt.Fprintf(tw, "training\tnone: %s as loaded from %s\n", share, t.Loaded)
		case t.Episodes == 0:
			fmt.Fprintf(tw, "training\tnone: an untrained %s\n", share)
		default:
			fmt.Fprintf(tw, "training\t%d episodes in %.1fs, %s; kept the models after %d (best validated)\n", t.Episodes, t.Seconds, share, t.SelectedAfter)
		}
		fmt.Fprintf(tw, "training log\t%s\n", t.CurveLog)
		if t.Checkpoint != "" {
			fmt.Fprintf(tw, "checkpoint\t%s\n", t.Checkpoint)
		}
	}
	fmt.Fprintf(tw, "makespan\t%.1f\n", r.Makespan)
	fmt.Fprintf(tw, "lower bound\t%.1f\n", r.LowerBound)
	fmt.Fprintf(tw, "ratio\t%.3f\t(makespan / lower bound)\n", r.Ratio)
	fmt.Fprintf(tw, "idle time\t%.1f\t(all workers: waiting for the Master, and after their last chunk)\n", r.IdleTime)
	fmt.Fprintf(tw, "requests\t%.0f\n", r.Requests)
	fmt.Fprintf(tw, "chunks\t%.0f\n", r.Chunks)
	fmt.Fprintf(tw, "load imbalance\t%.3f\t(0: all finish together)\n", r.Imbalance)
	fmt.Fprintf(tw, "units done\t%d of %d\n", r.UnitsDone, r.Job)
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "worker\tspeed\tunits\tchunks\tbusy\tidle\tlast done\t")
	for _, wr := range r.Workers {
		left := ""
		if wr.Left {
			left = fmt.Sprintf("  left at %.1f", wr.LeftAt)
		}
		fmt.Fprintf(tw, "%d\t%g\t%d\t%d\t%.1f\t%.1f\t%.1f\t%s\n", wr.ID, wr.Speed, wr.Units, wr.Chunks, wr.Busy, wr.Idle, wr.LastDone, left)
	}
	tw.Flush()
}

func printComparison(w io.Writer, rs []report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rank\talgorithm\tmakespan\tratio\tidle time\trequests\timbalance\t")
	for i, r := range rs {
		note := ""
		if t := r.Training; t != nil {
			note = fmt.Sprintf("learnt in %d episodes, %.1fs", t.Episodes, t.Seconds)
		}
		fmt.Fprintf(tw, "%d\t%s\t%.1f\t%.3f\t%.1f\t%.0f\t%.3f\t  %s\n", i+1, r.Algorithm, r.Makespan, r.Ratio, r.IdleTime, r.Requests, r.Imbalance, note)
	}
	tw.Flush()
	if len(rs) > 0 {
		fmt.Fprintf(w, "\nLower bound %.1f (ratio = makespan / lower bound). Best: %s.\n", rs[0].LowerBound, rs[0].Algorithm)
	}
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func joinFloats(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, " ")
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// fail prints err and returns its exit code.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "marlon: %v\n", err)
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}
