package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/examples/loadbalancing/lbplot"
	"github.com/marlon-go/marlon/examples/loadbalancing/learners"
	"github.com/marlon-go/marlon/faults"
	"github.com/marlon-go/marlon/learning/learnplot"
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
  marlon loadbalancing --faults medium                  compare them all with worker nodes crashing and
                                                        restarting, partitions, slow and lossy links
  marlon loadbalancing --faults heavy --fault-pattern cascading --algorithm af --json
                                                        one technique; the JSON carries the fault timeline
  marlon loadbalancing --show-scenario > my.json        then edit my.json and
  marlon loadbalancing --scenario my.json --compare     (flags given still override it)
  marlon loadbalancing --live --algorithm tss           one episode in real time, through NATS (an
                                                        embedded server, the workers in this process)
  marlon loadbalancing --live --algorithm qlearning --episodes 100 --time-scale 5ms
                                                        train in the simulator, then run live
  marlon loadbalancing --live --nats nats://10.0.0.1:4222 --key master.key --trusted cluster.keys \
      --nodes 3 --algorithm af --leave 2@100 --json     the workers come from 3 marlon nodes
  marlon loadbalancing --live --algorithm af --migrate 0@100:spare --migrate 0@300:workers
                                                        worker 0 moves, with its chunk, to a spare
                                                        node and back (--nats: to a marlon node --spare K)

Times are in virtual time units. Workers are numbered from 0; joiners come after
the starting workers.

With --faults (environment loadbalancing/v2, the default) every worker runs on a
simulated node of its own and each episode draws a fault plan from its seed: at
light, medium, heavy or chaos intensity, incidents hit a share of the nodes
(--fault-targets) in a random, cascading or partition pattern. Faults are
modelled as the NATS transport experiences them: a crashed or long-partitioned
node is declared down after --fault-heartbeat x --fault-missed-heartbeats, its
worker's chunk goes back to the pool, and the node comes back as a new worker;
lost and corrupted messages are retransmitted (extra delay, counted). The
output ends with the timeline of what was injected into the first evaluation
episode. See the faults package for the model. The seed fixes the drawn speeds, the training episodes and
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
	tr := learners.DefaultTraining()
	var rf runFlags
	rf.register(fs, loadbalancing.Family, loadbalancing.Versions(), trainingDefaults(tr))
	var (
		workers      = fs.Int("workers", def.Workers, "number of workers at the start")
		speeds       = fs.String("speeds", fmt.Sprintf("%d-%d", def.SpeedMin, def.SpeedMax), "worker speeds: a list with one per worker (1,2,3.5) or a range MIN-MAX of integers to draw from")
		job          = fs.Int("job", def.Job, "work units in the job")
		unitTime     = fs.Float64("unit-time", def.UnitTime, "time one unit of mean cost takes at speed 1")
		commTime     = fs.Float64("comm-time", def.CommTime, "time the Master takes to serve one request (it serves one at a time)")
		variability  = fs.Float64("variability", def.Variability, "coefficient of variation of the units' costs (0: all equal)")
		joins        listFlag
		leaves       listFlag
		migrate      listFlag
		dyn          dynamicFlags
		scenarioFile = fs.String("scenario", "", "read the scenario from a JSON `file`; flags given override it")
		distribution = fs.String("distribution", "", "draw every episode's scenario from the named distribution ("+distributionNames()+"), to train a policy that generalises; then evaluate it on a scenario with --load FILE --episodes 0")
		show         = fs.Bool("show-scenario", false, "print the scenario as JSON and exit")
		live         = fs.Bool("live", false, "run one evaluation episode in real time over the NATS transport, without --nats on an embedded server with the workers in this process")
		nodes        = fs.Int("nodes", 1, "with --live --nats: how many hosting nodes (marlon node) to wait for before starting")
		timeScale    = fs.Duration("time-scale", 10*time.Millisecond, "with --live: the real duration of one time unit (the default job takes about 5s)")
		timeout      = fs.Duration("timeout", 10*time.Minute, "with --live: give up if the episode is not done after this long")
		nf           netFlags
		ff           faultFlags
	)
	nf.register(fs)
	ff.register(fs, true)
	rf.figure(fs, "gantt", fmt.Sprintf("draw a Gantt chart of the first evaluation episode to `file` (.png, .svg or .pdf), a row per worker (at most %d)", maxGanttWorkers))
	fs.Var(&joins, "join", "`COUNT@TIME[:SPEED]`: COUNT workers join at TIME (speed drawn if not given); repeatable")
	fs.Var(&leaves, "leave", "`WORKER@TIME`: worker WORKER leaves at TIME, handing back its chunk; repeatable")
	fs.Var(&migrate, "migrate", "`WORKER@TIME:NODE`: with --live, move worker WORKER, its agent and the chunk it holds, to hosting node NODE at TIME (without --nats, NODE is "+localWorkers+" or "+localSpare+", a node this process starts with a slot per move); repeatable")
	dyn.register(fs)
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
	sc, err := scenarioFrom(*scenarioFile, fs, scenarioFlags{*workers, *speeds, *job, *unitTime, *commTime, *variability, joins, leaves, ff, dyn}, *live && nf.nats != "")
	if err != nil {
		return fail(stderr, err)
	}
	if *show {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(sc)
		return 0
	}
	ganttFile := rf.figureFile("gantt")
	if rf.algorithm == "" && ganttFile != "" {
		return fail(stderr, usageError{errors.New("--gantt needs --algorithm")})
	}
	if n := sc.TotalWorkers(); ganttFile != "" && n > maxGanttWorkers {
		return fail(stderr, usageError{fmt.Errorf("--gantt: a row per worker, at most %d workers; this scenario has %d", maxGanttWorkers, n)})
	}
	if err := rf.check(); err != nil {
		return fail(stderr, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := checkLive(*live, set, nf, sc, *nodes, *timeScale, *timeout); err != nil {
		return fail(stderr, err)
	}
	moves, err := migrations(migrate, nf, sc)
	if err != nil {
		return fail(stderr, err)
	}
	var e *loadbalancing.Environment
	if *distribution != "" {
		e, err = distributionEnv(*distribution, rf.version(), set)
	} else {
		e, err = loadbalancing.NewVersion(rf.version(), sc, rf.seed)
	}
	if err != nil {
		return fail(stderr, usageError{err})
	}
	if err := rf.checkEnv(e); err != nil {
		return fail(stderr, err)
	}
	opts := rf.options()
	if *live {
		return runLive(liveRun{
			sc: sc, version: rf.version(), algorithm: rf.algorithm, seed: rf.seed, opts: opts, loadPath: rf.load, logFile: rf.logFile, save: rf.save, jsonOut: rf.jsonOut,
			net: nf, nodes: *nodes, timeScale: *timeScale, timeout: *timeout, migrations: moves,
		}, stdout, stderr)
	}

	names, err := rf.names(e)
	if err != nil {
		return fail(stderr, err)
	}
	// Of the evaluation episodes, the report keeps each one's figures and
	// the first one's workers (if printed) and chunks (for --gantt).
	episodes := evalEpisodes{workers: rf.jsonOut || rf.algorithm != "", chunks: ganttFile != "", byAlgorithm: map[string][]loadbalancing.Result{}}
	opts.OnEval = episodes.add
	results, err := runAll(e, names, opts, rf.logFile, rf.jsonOut, stderr)
	if err != nil {
		return fail(stderr, err)
	}
	reports := make([]report, len(results))
	for i, r := range results {
		reports[i] = newReport(r, episodes.byAlgorithm[r.Algorithm], e, rf.seed, rf.evalEpisodes)
		if t := reports[i].Training; t != nil {
			t.CurveLog, t.Loaded, t.Checkpoint = r.LogPath, rf.load, r.SavedTo
		}
	}
	if rf.save != "" {
		if err := saveCheckpoint(rf.save, e, results[0].RunResult); err != nil {
			return fail(stderr, err)
		}
		reports[0].Training.Checkpoint = rf.save
	}
	if rf.plotFile != "" {
		title := fmt.Sprintf("%s learning load balancing with %d workers, seed %d (kept: after %d episodes)", rf.algorithm, sc.Workers, rf.seed, results[0].Curve.Selected)
		bound := &learnplot.Line{Name: "lower bound", Value: 1}
		if err := plotLearningCurve(rf.plotFile, title, e, results[0], opts, learnplot.Metric{Name: "ratio", Label: "makespan / lower bound"}, bound, results); err != nil {
			return fail(stderr, err)
		}
	}
	if ganttFile != "" {
		res := episodes.byAlgorithm[rf.algorithm][0]
		title := fmt.Sprintf("%s, seed %d, evaluation episode 1 of %d: makespan %.1f, ratio %.3f", res.Algorithm, rf.seed, rf.evalEpisodes, res.Makespan, res.Ratio)
		if err := lbplot.Gantt(ganttFile, title, res); err != nil {
			return fail(stderr, fmt.Errorf("--gantt: %w", err))
		}
	}
	order := make([]int, len(reports))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return reports[order[i]].Makespan < reports[order[j]].Makespan })
	sortedReports := make([]report, len(order))
	sortedResults := make([]ranAlgorithm, len(order))
	for i, k := range order {
		sortedReports[i], sortedResults[i] = reports[k], results[k]
	}

	single := len(reports) == 1
	switch {
	case rf.jsonOut && single:
		writeJSON(stdout, sortedReports[0])
	case rf.jsonOut:
		writeJSON(stdout, sortedReports)
	case single:
		printScenario(stdout, e, rf.seed, rf.evalEpisodes)
		printReport(stdout, sortedReports[0])
	default:
		printScenario(stdout, e, rf.seed, rf.evalEpisodes)
		printComparison(stdout, sortedResults, lbColumns)
		fmt.Fprintf(stdout, "\nLower bound %.1f (ratio = makespan / lower bound). Best: %s.\n", sortedReports[0].LowerBound, sortedReports[0].Algorithm)
		printGain(stdout, sortedResults)
		if f := sortedReports[0].Faults; f != nil {
			fmt.Fprintf(stdout, "\nThe same fault plans for every algorithm; %s's first evaluation episode:\n", sortedReports[0].Algorithm)
			f.WriteText(stdout)
		}
		printMoot(stdout, sortedReports)
	}
	for _, path := range []string{rf.plotFile, ganttFile} {
		if path != "" && !rf.jsonOut {
			fmt.Fprintf(stdout, "Wrote %s.\n", path)
		}
	}
	return 0
}

func distributionNames() string {
	var names []string
	for _, d := range loadbalancing.Distributions() {
		names = append(names, d.Name)
	}
	return strings.Join(names, ", ")
}

// distributionEnv is the environment of --distribution, refusing the flags
// that set a scenario.
func distributionEnv(name, version string, set map[string]bool) (*loadbalancing.Environment, error) {
	for _, f := range []string{"scenario", "workers", "speeds", "job", "unit-time", "comm-time", "variability", "join", "leave", "slow", "latency", "perturb", "random-join", "random-leave", "live", "gantt", "show-scenario"} {
		if set[f] {
			return nil, fmt.Errorf("--%s: not with --distribution (it draws every episode's scenario)", f)
		}
	}
	d, err := loadbalancing.DistributionNamed(name)
	if err != nil {
		return nil, err
	}
	return loadbalancing.NewDistribution(version, d)
}

// printGain says what each learner adds over the best fixed choice of its
// action space: the learning gain, that choice's ratio minus the learner's.
func printGain(w io.Writer, rs []ranAlgorithm) {
	best, bestV := "", math.Inf(1)
	for _, r := range rs {
		if r.Baseline && strings.HasPrefix(r.Algorithm, "fixed:") && r.Mean["ratio"] < bestV {
			best, bestV = r.Algorithm, r.Mean["ratio"]
		}
	}
	var gains []string
	for _, r := range rs {
		if r.Learns {
			gains = append(gains, fmt.Sprintf("%s %+.3f", r.Algorithm, bestV-r.Mean["ratio"]))
		}
	}
	if best != "" && len(gains) > 0 {
		fmt.Fprintf(w, "Learning gain over the best fixed choice (%s): %s.\n", best, strings.Join(gains, ", "))
	}
}

// lbColumns are the comparison table's columns.
var lbColumns = []column{
	{"makespan", "makespan", "%.1f"}, {"ratio", "ratio", "%.3f"}, {"idle time", "idle_time", "%.1f"},
	{"requests", "requests", "%.0f"}, {"imbalance", "load_imbalance", "%.3f"},
}

// maxGanttWorkers bounds --gantt's rows.
const maxGanttWorkers = 500

// evalEpisodes keeps, of every algorithm's evaluation episodes as they end
// (env.RunOptions.OnEval), what the report prints: each episode's figures,
// and the first episode's workers and chunks if asked for; not whole
// episodes, each of which holds a record per worker.
type evalEpisodes struct {
	workers, chunks bool
	byAlgorithm     map[string][]loadbalancing.Result
}

func (ev *evalEpisodes) add(algorithm string, k int, o env.Outcome) {
	res := o.Episode.(*loadbalancing.Episode).Result()
	res.Algorithm = algorithm
	if k > 0 || !ev.workers {
		res.Workers, res.LedgerUnits = nil, nil
	}
	if k > 0 || !ev.chunks {
		res.History = nil
	}
	ev.byAlgorithm[algorithm] = append(ev.byAlgorithm[algorithm], res)
}

// checkLive refuses the flags that do not go with --live, or only go with
// it.
func checkLive(live bool, set map[string]bool, nf netFlags, sc loadbalancing.Scenario, nodes int, scale, timeout time.Duration) error {
	only := []string{"nats", "nodes", "time-scale", "timeout", "name", "key", "trusted", "token", "nkey", "heartbeat", "missed-heartbeats", "migrate"}
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
	if sc.Faults.Active() {
		return usageError{errors.New("--faults: not with --live: faults are injected in the simulator (a live run meets real ones: stop or kill a marlon node)")}
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
		for _, f := range []string{"workers", "speeds", "join", "random-join"} {
			if set[f] {
				return usageError{fmt.Errorf("--%s: not with --nats: the workers are the nodes' (marlon node --workers K --speed S)", f)}
			}
		}
		if len(sc.Joins) > 0 || len(sc.RandomJoins) > 0 {
			return usageError{errors.New("--join: not with --nats: the scenario file's joins do not apply, nodes join instead")}
		}
	}
	switch {
	case nodes < 1:
		return usageError{fmt.Errorf("--nodes: must be at least 1, got %d", nodes)}
	case scale < minTimeScale:
		return usageError{fmt.Errorf("--time-scale: at least %v, got %v: a time unit must outlast a message's round trip through NATS (about a tenth of a millisecond on loopback), or the live run measures the transport's latency rather than the schedule", minTimeScale, scale)}
	case timeout <= 0:
		return usageError{fmt.Errorf("--timeout: must be > 0, got %v", timeout)}
	}
	return nf.check()
}

// minTimeScale bounds --time-scale: with a time unit of 1µs a run's
// makespan came out 50 times the simulator's, all of it the transport's
// latency.
const minTimeScale = time.Millisecond

type scenarioFlags struct {
	workers                         int
	speeds                          string
	job                             int
	unitTime, commTime, variability float64
	joins, leaves                   []string
	faults                          faultFlags
	dyn                             dynamicFlags
}

// dynamicFlags are the flags of loadbalancing/v3's dynamics.
type dynamicFlags struct {
	slows, latencies, perturb, randomJoins, randomLeaves listFlag
}

func (d *dynamicFlags) register(fs *flag.FlagSet) {
	fs.Var(&d.slows, "slow", "`WORKER@TIME:FACTOR`: from TIME on, worker WORKER runs at FACTOR times its speed (v3 and later); repeatable")
	fs.Var(&d.latencies, "latency", "`FACTOR@TIME`: from TIME on, the Master's services take FACTOR times the comm time (v3 and later); repeatable")
	fs.Var(&d.perturb, "perturb", "`TARGET:MODEL:PARAMS`: a random perturbation drawn per episode (v3 and later): speed:onoff:UP,DOWN,FACTOR (each worker at FACTOR of its speed for times of mean DOWN, at full speed for times of mean UP), speed:walk:PERIOD,SIGMA,MIN (every PERIOD each worker's speed factor is multiplied by exp(SIGMA*N(0,1)), kept in [MIN,1]), latency:onoff:UP,DOWN,FACTOR, latency:walk:PERIOD,SIGMA,MAX; repeatable")
	fs.Var(&d.randomJoins, "random-join", "`COUNT@FROM-TO[:SPEED]`: COUNT workers join, each at a time drawn per episode from [FROM,TO] (v3 and later); repeatable")
	fs.Var(&d.randomLeaves, "random-leave", "`COUNT@FROM-TO`: COUNT starting workers, drawn per episode, leave at times drawn from [FROM,TO] (v3 and later); repeatable")
}

// apply sets the dynamics the flags give on sc (each flag given replaces
// the scenario file's list).
func (d dynamicFlags) apply(sc *loadbalancing.Scenario) error {
	if len(d.slows) > 0 {
		sc.Slows = nil
		for _, v := range d.slows {
			x, err := loadbalancing.ParseSlow(v)
			if err != nil {
				return err
			}
			sc.Slows = append(sc.Slows, x)
		}
	}
	if len(d.latencies) > 0 {
		sc.Latencies = nil
		for _, v := range d.latencies {
			x, err := loadbalancing.ParseLatency(v)
			if err != nil {
				return err
			}
			sc.Latencies = append(sc.Latencies, x)
		}
	}
	if len(d.perturb) > 0 {
		sc.Perturb = nil
		for _, v := range d.perturb {
			x, err := loadbalancing.ParsePerturbation(v)
			if err != nil {
				return err
			}
			sc.Perturb = append(sc.Perturb, x)
		}
	}
	if len(d.randomJoins) > 0 {
		sc.RandomJoins = nil
		for _, v := range d.randomJoins {
			x, err := loadbalancing.ParseRandomJoin(v)
			if err != nil {
				return err
			}
			sc.RandomJoins = append(sc.RandomJoins, x)
		}
	}
	if len(d.randomLeaves) > 0 {
		sc.RandomLeaves = nil
		for _, v := range d.randomLeaves {
			x, err := loadbalancing.ParseRandomLeave(v)
			if err != nil {
				return err
			}
			sc.RandomLeaves = append(sc.RandomLeaves, x)
		}
	}
	return nil
}

// scenarioFrom builds the scenario from the defaults or a file, then the
// flags that were given.
func scenarioFrom(file string, fs *flag.FlagSet, f scenarioFlags, laterLeaves bool) (loadbalancing.Scenario, error) {
	sc := loadbalancing.Default() // what a file leaves out
	if file != "" {
		if err := readScenarioFile(file, &sc, lbFlagOf); err != nil {
			return sc, err
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
	if err := f.faults.apply(set, &sc.Faults); err != nil {
		return sc, err
	}
	if err := f.dyn.apply(&sc); err != nil {
		return sc, usageError{err}
	}
	check := sc
	if laterLeaves {
		check.Leaves = nil
	}
	if err := check.Validate(); err != nil {
		return sc, fromScenarioFile(err, file, set, lbFieldOf) // a value from the file named as the file has it
	}
	return sc, nil
}

// lbFlagOf is the flag that sets a scenario file's field, lbFieldOf the
// field a flag sets.
func lbFlagOf(field string) string {
	switch field {
	case "joins", "leaves":
		return strings.TrimSuffix(field, "s")
	case "speed_min", "speed_max":
		return "speeds"
	}
	return strings.ReplaceAll(field, "_", "-")
}

func lbFieldOf(flag string) string {
	switch flag {
	case "join", "leave":
		return flag + "s"
	case "speeds":
		return "speeds" // or speed_min and speed_max, for a range
	}
	return strings.ReplaceAll(flag, "-", "_")
}

// report is one algorithm's result on the evaluation episodes: the means of
// their figures, each one's figures, and the first one's per-worker table.
type report struct {
	Algorithm  string    `json:"algorithm"`
	Seed       uint64    `json:"seed"`
	Episodes   int       `json:"eval_episodes"`
	Job        int       `json:"job"`
	UnitsDone  int       `json:"units_done"`
	Makespan   float64   `json:"makespan"`
	LowerBound float64   `json:"lower_bound"`
	Ratio      float64   `json:"ratio"`
	IdleTime   float64   `json:"idle_time"`
	Requests   float64   `json:"requests"`
	Chunks     float64   `json:"chunks"`
	Imbalance  float64   `json:"load_imbalance"`
	Speeds     []float64 `json:"speeds"`
	// Distribution names the distribution each episode's scenario was
	// drawn from (--distribution); Job, UnitsDone and Speeds are then the
	// episodes' own (per_episode).
	Distribution string `json:"distribution,omitempty"`
	// Workers are the first evaluation episode's (WorkersEpisode, from 1),
	// not means: PerEpisode[0] has its figures.
	Workers        []loadbalancing.WorkerReport `json:"workers,omitempty"`
	WorkersEpisode int                          `json:"workers_episode,omitempty"`
	PerEpisode     []loadbalancing.Result       `json:"per_episode,omitempty"`
	// NeverJoined and NeverLeft are the scenario's joins and leaves due at
	// or after the end of every evaluation episode: they never happened.
	NeverJoined []loadbalancing.Join  `json:"never_joined,omitempty"`
	NeverLeft   []loadbalancing.Leave `json:"never_left,omitempty"`
	Training    *training             `json:"training,omitempty"`
	Live        *liveInfo             `json:"live,omitempty"`
	// Faults is what was injected into the first evaluation episode.
	Faults *faults.Report `json:"faults,omitempty"`
}

// training says how a learner was trained.
type training struct {
	Episodes      int     `json:"episodes"`
	Interrupted   bool    `json:"interrupted,omitempty"` // by the user, before --episodes
	SelectedAfter int     `json:"selected_after"`
	Seconds       float64 `json:"seconds"`
	Shared        bool    `json:"shared"`
	CurveLog      string  `json:"curve_log"`
	Loaded        string  `json:"loaded,omitempty"`
	Checkpoint    string  `json:"checkpoint,omitempty"`
}

func newReport(o ranAlgorithm, results []loadbalancing.Result, e *loadbalancing.Environment, seed uint64, episodes int) report {
	m := o.Mean
	sc := e.Scenario()
	r := report{
		Algorithm: o.Algorithm, Seed: seed, Episodes: episodes, Job: sc.Job, UnitsDone: sc.Job,
		Makespan: m["makespan"], LowerBound: m["lower_bound"], Ratio: m["ratio"], IdleTime: m["idle_time"],
		Requests: m["requests"], Chunks: m["chunks"], Imbalance: m["load_imbalance"], Speeds: e.Speeds(),
	}
	if d := e.Distribution(); d != nil { // each episode has its own scenario
		r.Speeds, r.Job, r.UnitsDone, r.Distribution = nil, 0, 0, d.Name
	}
	end := 0.0 // the end of the longest episode
	for _, res := range results {
		if r.Distribution == "" {
			r.UnitsDone = min(r.UnitsDone, res.UnitsDone)
		}
		end = max(end, res.Makespan)
	}
	if len(results) > 0 {
		r.Faults = results[0].Faults
	}
	if len(results) > 0 && results[0].Workers != nil {
		r.Workers, r.WorkersEpisode = results[0].Workers, 1
	}
	if len(results) > 1 {
		r.PerEpisode = make([]loadbalancing.Result, len(results))
		for k, res := range results {
			res.Workers, res.LedgerUnits = nil, nil // the first's are Workers
			r.PerEpisode[k] = res
		}
	}
	for _, j := range sc.Joins {
		if len(results) > 0 && j.At >= end {
			r.NeverJoined = append(r.NeverJoined, j)
		}
	}
	for _, l := range sc.Leaves {
		if len(results) > 0 && l.At >= end {
			r.NeverLeft = append(r.NeverLeft, l)
		}
	}
	if o.Curve != nil {
		r.Training = &training{Episodes: len(o.Curve.Train), Interrupted: o.Curve.Stopped, SelectedAfter: o.Curve.Selected, Seconds: o.TrainTime.Seconds(), Shared: o.Team.Shared()}
	}
	return r
}

// printMoot says which of the scenario's joins and leaves never happened,
// in any evaluation episode of any of the reports.
func printMoot(w io.Writer, rs []report) {
	if len(rs) == 0 {
		return
	}
	joins, leaves := rs[0].NeverJoined, rs[0].NeverLeft
	for _, r := range rs[1:] {
		joins = slices.DeleteFunc(joins, func(j loadbalancing.Join) bool { return !slices.Contains(r.NeverJoined, j) })
		leaves = slices.DeleteFunc(leaves, func(l loadbalancing.Leave) bool { return !slices.Contains(r.NeverLeft, l) })
	}
	end := 0.0
	for _, r := range rs {
		for _, res := range r.PerEpisode {
			end = max(end, res.Makespan)
		}
		end = max(end, r.Makespan)
	}
	every := "every evaluation episode"
	if len(rs) > 1 {
		every += " of every algorithm"
	}
	for _, j := range joins {
		fmt.Fprintf(w, "The %d worker(s) due to join at %g never joined: %s ended first (by %.1f).\n", j.Count, j.At, every, end)
	}
	for _, l := range leaves {
		fmt.Fprintf(w, "Worker %d, due to leave at %g, never left: %s ended first (by %.1f).\n", l.Worker, l.At, every, end)
	}
}

func printScenario(w io.Writer, e *loadbalancing.Environment, seed uint64, episodes int) {
	if d := e.Distribution(); d != nil {
		fmt.Fprintf(w, "Load balancing (%s), every episode's scenario drawn from the distribution %s:\n  %s\n", e.Name(), d.Name, d.About)
		fmt.Fprintf(w, "Seed %d; every algorithm measured on the same %d evaluation episode(s).\n\n", seed, episodes)
		return
	}
	sc := e.Scenario()
	fmt.Fprintf(w, "Load balancing: %d workers (speeds %s), job %d units, unit time %g, comm time %g, variability %g\n",
		sc.Workers, joinFloats(e.Speeds()[:sc.Workers]), sc.Job, sc.UnitTime, sc.CommTime, sc.Variability)
	for _, j := range sc.Joins {
		fmt.Fprintf(w, "  %d worker(s) join at %g\n", j.Count, j.At)
	}
	for _, l := range sc.Leaves {
		fmt.Fprintf(w, "  worker %d leaves at %g\n", l.Worker, l.At)
	}
	for _, s := range sc.Slows {
		fmt.Fprintf(w, "  worker %d runs at %g of its speed from %g\n", s.Worker, s.Factor, s.At)
	}
	for _, l := range sc.Latencies {
		fmt.Fprintf(w, "  services take %g times the comm time from %g\n", l.Factor, l.At)
	}
	for _, p := range sc.Perturb {
		fmt.Fprintf(w, "  perturbation %s, drawn for each episode\n", p)
	}
	for _, j := range sc.RandomJoins {
		fmt.Fprintf(w, "  %d worker(s) join at random times in [%g, %g], drawn for each episode\n", j.Count, j.From, j.To)
	}
	for _, l := range sc.RandomLeaves {
		fmt.Fprintf(w, "  %d starting worker(s) leave at random times in [%g, %g], drawn for each episode\n", l.Count, l.From, l.To)
	}
	if f, err := sc.Faults.Resolved(); err == nil && f.Active() {
		fmt.Fprintf(w, "Faults %s, pattern %s: %d incident(s), each on %.0f%% of the worker nodes, severity %d; every worker on a node of its own; each episode draws its own plan from its seed.\n",
			f.Intensity, f.Pattern, f.Faults, 100*f.Targets, f.Severity)
	}
	fmt.Fprintf(w, "%s, seed %d; every algorithm measured on the same %d evaluation episode(s).\n\n", e.Name(), seed, episodes)
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
		case t.Interrupted:
			fmt.Fprintf(tw, "training\tinterrupted after %d episodes (%.1fs), %s; kept the models after %d (best validated; 0: the loaded ones)\n", t.Episodes, t.Seconds, share, t.SelectedAfter)
		default:
			fmt.Fprintf(tw, "training\t%d episodes in %.1fs, %s; kept the models after %d (best validated; 0: the loaded ones)\n", t.Episodes, t.Seconds, share, t.SelectedAfter)
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
	if r.Distribution == "" {
		fmt.Fprintf(tw, "units done\t%d of %d\n", r.UnitsDone, r.Job)
	}
	tw.Flush()
	fmt.Fprintln(w)
	printMoot(w, []report{r})
	if len(r.PerEpisode) > 1 {
		first := r.PerEpisode[0]
		fmt.Fprintf(w, "By worker, in evaluation episode 1 of %d (makespan %.1f, ratio %.3f; the figures above are means over all %d):\n", len(r.PerEpisode), first.Makespan, first.Ratio, len(r.PerEpisode))
	}
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
	printFaults(w, r.Faults)
}

// printFaults prints what was injected into the first evaluation episode.
func printFaults(w io.Writer, f *faults.Report) {
	if f == nil {
		return
	}
	fmt.Fprintln(w, "\nIn the first evaluation episode:")
	f.WriteText(w)
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
