package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/marlon-go/marlon/examples/scheduling"
	"github.com/marlon-go/marlon/examples/scheduling/learners"
	"github.com/marlon-go/marlon/examples/scheduling/schedplot"
	"github.com/marlon-go/marlon/examples/scheduling/swf"
	"github.com/marlon-go/marlon/learning/learnplot"
)

const schedulingExamples = `
Examples:
  marlon scheduling                                  train the learners; compare them with FCFS, EASY backfilling,
                                                     the bidding heuristics and the baselines of their actions
  marlon scheduling --algorithm easy                 one algorithm, with its lost jobs and failures
  marlon scheduling --arrival burst --burst 50 --jobs 300
  marlon scheduling --arrival swf                    replay the trace shipped with marlon (500 jobs)
  marlon scheduling --arrival swf --trace my.swf --jobs 2000 --nodes 32 --node-cores 64
                                                     replay your own Standard Workload Format trace
  marlon scheduling --algorithm bidding --crash 2@3000+600 --crash 5@4000 --gantt gantt.png
                                                     node 2 fails at 3000 s and is back 600 s later,
                                                     node 5 fails for good; draw the jobs on the nodes
  marlon scheduling --faults medium --fault-pattern partition
                                                     every episode with its own fault plan: nodes cut off,
                                                     declared failed, back as new incarnations
  marlon scheduling --algorithm qlearning --save q.ckpt --plot curve.png
  marlon scheduling --algorithm qlearning --load q.ckpt --episodes 0 --nodes 16
                                                     evaluate a saved (shared) learner on 16 nodes
  marlon scheduling --write-trace jobs.swf           write the workload drawn from --seed as SWF
  marlon scheduling --show-scenario > my.json        then edit my.json and
  marlon scheduling --scenario my.json --compare     (flags given still override it)
` + schedulingLiveExamples + `
Times are in seconds. Nodes are numbered from 0; the first --gpu-nodes have GPUs.
Each episode draws its jobs from its seed (with --arrival swf: a window of
--jobs consecutive jobs of the trace); the evaluation episodes are the same for
every algorithm. A learner is trained on episodes of its own, validated every
25, and the best validated models are kept. bsld is the mean bounded slowdown,
max(1, (wait + run) / max(run, 10 s)), over completed jobs; lower is better.
`

func runScheduling(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("marlon scheduling", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rf runFlags
	rf.register(fs, scheduling.Family, scheduling.Versions(), trainingDefaults(learners.DefaultTraining()))
	scenario := schedulingScenarioFlags(fs)
	var (
		writeTrace = fs.String("write-trace", "", "write the workload drawn from --seed to `file` in the Standard Workload Format, and exit")
		show       = fs.Bool("show-scenario", false, "print the scenario as JSON and exit")
	)
	var lf schedLiveFlags
	lf.register(fs)
	rf.figure(fs, "gantt", "draw the first evaluation episode, jobs on nodes over time, to `file` (.png, .svg or .pdf)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: marlon scheduling [flags]\n\nRuns HPC job scheduling: jobs needing cores, memory and GPUs arrive; resource\nagents, one per compute node, bid for them and an auctioneer gives each to the\nbest bid, or a central scheduler (FCFS, EASY backfilling) places them. Heartbeats\ndetect failed nodes; their jobs are queued again.\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), schedulingExamples+schedulingLiveHelp)
	}
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	sc, err := scenario()
	if err != nil {
		return fail(stderr, err)
	}
	if *show {
		writeJSON(stdout, sc)
		return 0
	}
	ganttFile := rf.figureFile("gantt")
	if rf.algorithm == "" && ganttFile != "" {
		return fail(stderr, usageError{errors.New("--gantt needs --algorithm")})
	}
	if err := rf.check(); err != nil {
		return fail(stderr, err)
	}
	e, err := scheduling.NewVersion(rf.version(), sc)
	if err != nil {
		return fail(stderr, usageError{err})
	}
	if err := rf.checkEnv(e); err != nil {
		return fail(stderr, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := lf.check(set, sc, rf.algorithm); err != nil {
		return fail(stderr, err)
	}
	if lf.live {
		return runSchedLive(schedLiveRun{flags: lf, e: e, algorithm: rf.algorithm, seed: rf.seed, opts: rf.options(),
			loadPath: rf.load, logFile: rf.logFile, save: rf.save, jsonOut: rf.jsonOut}, stdout, stderr)
	}
	if *writeTrace != "" {
		if err := writeWorkload(*writeTrace, e, rf.seed, args); err != nil {
			return fail(stderr, fmt.Errorf("--write-trace: %w", err))
		}
		return 0
	}
	names, err := rf.names(e)
	if err != nil {
		return fail(stderr, err)
	}
	opts := rf.options()
	results, err := runAll(e, names, opts, rf.logFile, rf.jsonOut, stderr)
	if err != nil {
		return fail(stderr, err)
	}
	reports := make([]schedReport, len(results))
	for i, r := range results {
		reports[i] = newSchedReport(r, rf.seed, rf.evalEpisodes)
		if t := reports[i].Training; t != nil {
			t.CurveLog, t.Loaded = r.LogPath, rf.load
		}
	}
	if rf.save != "" {
		if err := saveCheckpoint(rf.save, e, results[0].RunResult); err != nil {
			return fail(stderr, err)
		}
		reports[0].Training.Checkpoint = rf.save
	}
	if rf.plotFile != "" {
		title := fmt.Sprintf("%s learning to bid, %d nodes, %d %s jobs, seed %d (kept: after %d episodes)", rf.algorithm, sc.Nodes, sc.Jobs, sc.Arrival, rf.seed, results[0].Curve.Selected)
		if err := plotLearningCurve(rf.plotFile, title, e, results[0], opts, learnplot.Metric{Name: "mean_bsld", Label: "mean bounded slowdown"}, nil, results); err != nil {
			return fail(stderr, err)
		}
	}
	if ganttFile != "" {
		res := reports[0].PerEpisode[0]
		title := fmt.Sprintf("%s, first evaluation episode of seed %d: mean bounded slowdown %.2f, %d of %d jobs completed", res.Algorithm, rf.seed, res.MeanBSLD, res.Completed, res.Jobs)
		if err := schedplot.Gantt(ganttFile, title, res, sc.Capacities()); err != nil {
			return fail(stderr, fmt.Errorf("--gantt: %w", err))
		}
	}
	order := make([]int, len(reports))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool {
		return reports[order[i]].Metrics["mean_bsld"] < reports[order[j]].Metrics["mean_bsld"]
	})
	sortedReports := make([]schedReport, len(order))
	sortedResults := make([]ranAlgorithm, len(order))
	for i, k := range order {
		sortedReports[i], sortedResults[i] = reports[k], results[k]
	}
	switch {
	case rf.jsonOut && len(reports) == 1:
		writeJSON(stdout, sortedReports[0])
	case rf.jsonOut:
		writeJSON(stdout, sortedReports)
	case len(reports) == 1:
		printSchedScenario(stdout, e, rf.seed, rf.evalEpisodes)
		printSchedReport(stdout, sortedReports[0])
	default:
		printSchedScenario(stdout, e, rf.seed, rf.evalEpisodes)
		printComparison(stdout, sortedResults, schedColumns)
		fmt.Fprintf(stdout, "\nbsld: mean bounded slowdown; wait in s; completion, availability and utilisation in %%;\nmttr: mean time from a failure until its jobs run again, s; jobs/h over the makespan. Best: %s.\n", sortedReports[0].Algorithm)
		if len(sortedReports[0].PerEpisode) > 0 {
			if f := sortedReports[0].PerEpisode[0].Faults; f != nil {
				fmt.Fprintf(stdout, "\nThe same fault plans for every algorithm; %s's first evaluation episode:\n", sortedReports[0].Algorithm)
				f.WriteText(stdout)
			}
		}
		for _, r := range sortedReports {
			if lost := r.Metrics["lost"] + r.Metrics["refused"]; lost > 0 {
				fmt.Fprintf(stdout, "%s: %.1f jobs lost or refused per episode (see --algorithm %s for which and why).\n", r.Algorithm, lost, r.Algorithm)
			}
		}
	}
	for _, path := range []string{rf.plotFile, ganttFile} {
		if path != "" && !rf.jsonOut {
			fmt.Fprintf(stdout, "Wrote %s.\n", path)
		}
	}
	return 0
}

// schedColumns are the comparison table's columns.
var schedColumns = []column{
	{"bsld", "mean_bsld", "%.2f"}, {"wait", "mean_wait", "%.0f"}, {"completion", "completion_pct", "%.1f"},
	{"availability", "availability_pct", "%.1f"}, {"mttr", "mttr", "%.0f"}, {"utilisation", "utilisation_pct", "%.1f"},
	{"jobs/h", "throughput", "%.1f"}, {"makespan", "makespan", "%.0f"},
}

// schedFlagOf is the flag that sets a scenario file's field, schedFieldOf
// the field a flag sets.
func schedFlagOf(field string) string {
	if field == "crashes" {
		return "crash"
	}
	return strings.ReplaceAll(field, "_", "-")
}

func schedFieldOf(flag string) string {
	if flag == "crash" {
		return "crashes"
	}
	return strings.ReplaceAll(flag, "-", "_")
}

// writeWorkload writes the workload e draws from seed as SWF, with a
// header that says how it was made. (It is drawn from the seed itself, not
// from an episode's seed stream, so that a trace is reproducible whatever
// becomes of those.)
func writeWorkload(path string, e *scheduling.Environment, seed uint64, args []string) error {
	sc := e.Scenario()
	jobs := e.Workload(seed)
	maxProcs := 0
	for _, c := range sc.Capacities() {
		maxProcs = max(maxProcs, c.Cores)
	}
	var made []string // the command, less where it wrote
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--write-trace" || a == "-write-trace":
			i++
		case strings.HasPrefix(a, "--write-trace=") || strings.HasPrefix(a, "-write-trace="):
		default:
			made = append(made, a)
		}
	}
	header := []string{
		"Version: 2.2",
		"Computer: a cluster simulated by Marlon for Go (examples/scheduling)",
		"Note: a synthetic workload, made by: marlon scheduling " + strings.Join(made, " ") + " --write-trace FILE",
		fmt.Sprintf("Note: the workload drawn from seed %d; a job runs on one node, of %d cores and %d GB", seed, sc.NodeCores, sc.NodeMemory),
		fmt.Sprintf("MaxJobs: %d", len(jobs)),
		fmt.Sprintf("MaxNodes: %d", sc.Nodes),
		fmt.Sprintf("MaxProcs: %d", maxProcs),
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := swf.Write(f, scheduling.ToSWF(jobs, header)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// schedReport is one algorithm's result on the evaluation episodes: the
// means of their metrics, and every episode's result.
type schedReport struct {
	Algorithm  string              `json:"algorithm"`
	Seed       uint64              `json:"seed"`
	Episodes   int                 `json:"eval_episodes"`
	Metrics    map[string]float64  `json:"metrics"`
	PerEpisode []scheduling.Result `json:"per_episode"`
	Training   *training           `json:"training,omitempty"`
	// Live is what a live run (--live) adds.
	Live *schedLiveInfo `json:"live,omitempty"`
}

func newSchedReport(o ranAlgorithm, seed uint64, episodes int) schedReport {
	r := schedReport{Algorithm: o.Algorithm, Seed: seed, Episodes: episodes, Metrics: map[string]float64{}}
	for k, v := range o.Mean {
		r.Metrics[k] = v
	}
	for k := range o.Eval {
		res := o.Eval[k].Episode.(*scheduling.Episode).Result()
		res.Algorithm = o.Algorithm
		r.PerEpisode = append(r.PerEpisode, res)
	}
	if o.Curve != nil {
		r.Training = &training{Episodes: len(o.Curve.Train), SelectedAfter: o.Curve.Selected, Seconds: o.TrainTime.Seconds(), Shared: o.Team.Shared()}
	}
	// Percentages for the table.
	for _, m := range []string{"completion_rate", "availability", "utilisation"} {
		o.Mean[strings.TrimSuffix(m, "_rate")+"_pct"] = 100 * o.Mean[m]
	}
	return r
}

func printSchedScenario(w io.Writer, e *scheduling.Environment, seed uint64, episodes int) {
	printSchedScenarioOf(w, e)
	fmt.Fprintf(w, "\nSeed %d; every algorithm measured on the same %d evaluation episode(s).\n\n", seed, episodes)
}

// printSchedScenarioOf describes e's cluster, workload, heartbeats and
// faults, ending without a newline.
func printSchedScenarioOf(w io.Writer, e *scheduling.Environment) {
	sc := e.Scenario()
	gpus := ""
	if sc.GPUNodes > 0 {
		gpus = fmt.Sprintf("; %d with %d GPUs", sc.GPUNodes, sc.NodeGPUs)
	}
	fmt.Fprintf(w, "Scheduling: %d nodes of %d cores and %d GB%s; ", sc.Nodes, sc.NodeCores, sc.NodeMemory, gpus)
	if sc.Arrival == scheduling.SWF {
		name := sc.Trace
		if name == "" {
			name = "the shipped trace " + scheduling.ShippedTraceName
		}
		usable, skipped := e.TraceJobs()
		fmt.Fprintf(w, "%d jobs replayed from %s (%d usable, %d skipped)\n", min(sc.Jobs, usable), name, usable, skipped)
	} else {
		fmt.Fprintf(w, "%d jobs, %s arrivals", sc.Jobs, sc.Arrival)
		if sc.Arrival == scheduling.Burst {
			fmt.Fprintf(w, " of %d", sc.Burst)
		}
		fmt.Fprintf(w, " at load %g, %g%% needing GPUs\n", sc.Load, 100*sc.GPUShare)
	}
	fmt.Fprintf(w, "Heartbeats every %g s, a node declared failed after %d missed.", sc.Heartbeat, sc.MissedHeartbeats)
	for _, c := range sc.Crashes {
		fmt.Fprintf(w, " Node %d fails at %g s", c.Node, c.At)
		if c.Down > 0 {
			fmt.Fprintf(w, " (back %g s later)", c.Down)
		}
		fmt.Fprint(w, ".")
	}
	if f, err := sc.Faults.Resolved(); err == nil && f.Active() {
		fmt.Fprintf(w, "\nFaults %s, pattern %s: %d incident(s), each on %.0f%% of the nodes, severity %d; each episode draws its own plan from its seed.",
			f.Intensity, f.Pattern, f.Faults, 100*f.Targets, f.Severity)
	}
}

func printSchedReport(w io.Writer, r schedReport) {
	m := r.Metrics
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "algorithm\t%s\n", r.Algorithm)
	if t := r.Training; t != nil {
		share := "one learner shared by all nodes"
		if !t.Shared {
			share = "a learner per node"
		}
		switch {
		case t.Episodes == 0 && t.Loaded != "":
			fmt.Fprintf(tw, "training\tnone: %s as loaded from %s\n", share, t.Loaded)
		case t.Episodes == 0:
			fmt.Fprintf(tw, "training\tnone: an untrained %s\n", share)
		default:
			fmt.Fprintf(tw, "training\t%d episodes in %.1fs, %s; kept the models after %d (best validated; 0: the loaded ones)\n", t.Episodes, t.Seconds, share, t.SelectedAfter)
		}
		fmt.Fprintf(tw, "training log\t%s\n", t.CurveLog)
		if t.Checkpoint != "" {
			fmt.Fprintf(tw, "checkpoint\t%s\n", t.Checkpoint)
		}
	}
	fmt.Fprintf(tw, "mean bounded slowdown\t%.2f\t(largest %.1f)\n", m["mean_bsld"], m["max_bsld"])
	fmt.Fprintf(tw, "mean wait\t%.0f s\n", m["mean_wait"])
	fmt.Fprintf(tw, "job completion rate\t%.1f%%\t(%.1f of %.0f jobs; %.1f lost, %.1f refused)\n", 100*m["completion_rate"], m["completed"], m["jobs"], m["lost"], m["refused"])
	fmt.Fprintf(tw, "availability\t%.1f%%\n", 100*m["availability"])
	fmt.Fprintf(tw, "node failures\t%.1f\t(%.1f restarts; %.1f jobs queued again; mean time to recovery %.0f s)\n", m["failures"], m["restarts"], m["rescheduled"], m["mttr"])
	fmt.Fprintf(tw, "utilisation\t%.1f%%\n", 100*m["utilisation"])
	fmt.Fprintf(tw, "throughput\t%.1f jobs/h\n", m["throughput"])
	fmt.Fprintf(tw, "makespan\t%.0f s\n", m["makespan"])
	fmt.Fprintf(tw, "protocol\t%.0f rounds, %.0f calls for bids, %.0f bids; %.1f stale completions refused, %.1f stale messages\n", m["rounds"], m["calls"], m["bids"], m["stale_completions"], m["stale_messages"])
	tw.Flush()
	for _, res := range r.PerEpisode {
		for _, j := range res.LostJobs {
			fmt.Fprintf(w, "episode %d: job %d (%v) %s: %s\n", res.Seed, j.ID, j.Needs, j.State, j.Reason)
		}
	}
	if len(r.PerEpisode) > 0 {
		res := r.PerEpisode[0]
		for _, f := range res.Ledger.Failures {
			rec := "never recovered"
			switch {
			case len(f.Jobs) == 0:
				rec = "no jobs"
			case f.Recovered >= 0:
				rec = fmt.Sprintf("its jobs running again at %.0f s", f.Recovered)
			}
			fmt.Fprintf(w, "first episode: node %d declared failed at %.0f s (last heard %.0f s, %s): %d job(s) queued again, %s\n", f.Node, f.Detected, f.LastSeen, f.Why, len(f.Jobs), rec)
		}
		printFaults(w, res.Faults)
	}
}

// schedulingScenarioFlags registers the scheduling scenario's flags on fs
// (for marlon scheduling and marlon train); the function it returns builds
// and checks the scenario once fs is parsed.
func schedulingScenarioFlags(fs *flag.FlagSet) func() (scheduling.Scenario, error) {
	def := scheduling.Default()
	var (
		nodes        = fs.Int("nodes", def.Nodes, "compute nodes")
		nodeCores    = fs.Int("node-cores", def.NodeCores, "cores per node")
		nodeMemory   = fs.Int("node-memory", def.NodeMemory, "memory per node, GB")
		gpuNodes     = fs.Int("gpu-nodes", def.GPUNodes, "nodes with GPUs (the first ones)")
		nodeGPUs     = fs.Int("node-gpus", def.NodeGPUs, "GPUs per GPU node")
		jobs         = fs.Int("jobs", def.Jobs, "jobs per episode (with --arrival swf: at most, a window of the trace)")
		arrival      = fs.String("arrival", def.Arrival, "how jobs arrive: "+strings.Join(scheduling.Arrivals(), ", "))
		load         = fs.Float64("offered-load", def.Load, "offered load of a synthetic workload: mean core-time brought per second over the cluster's cores")
		burst        = fs.Int("burst", def.Burst, "with --arrival burst: jobs that arrive together")
		gpuShare     = fs.Float64("gpu-share", def.GPUShare, "share of a synthetic workload's jobs that need GPUs")
		trace        = fs.String("trace", "", "with --arrival swf: the SWF `file` to replay (default: the trace shipped with marlon)")
		heartbeat    = fs.Float64("heartbeat", def.Heartbeat, "seconds between a resource agent's heartbeats")
		missed       = fs.Int("missed-heartbeats", def.MissedHeartbeats, "heartbeats missed before a node is declared failed")
		timeout      = fs.Float64("timeout", def.Timeout, "seconds the auctioneer waits for bids and for an assignment's answer")
		window       = fs.Int("window", def.Window, "queued jobs offered per auction round")
		strand       = fs.Float64("strand-timeout", def.StrandTimeout, "seconds a job waits with every node that can hold it down before it is lost")
		crashes      listFlag
		scenarioFile = fs.String("scenario", "", "read the scenario from a JSON `file`; flags given override it")
	)
	var ff faultFlags
	ff.register(fs, false)
	fs.Var(&crashes, "crash", "`NODE@TIME[+DOWN]`: node NODE fails at TIME and restarts DOWN seconds later (never without +DOWN); repeatable")
	return func() (scheduling.Scenario, error) {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		sc := def // what a file leaves out
		if *scenarioFile != "" {
			if err := readScenarioFile(*scenarioFile, &sc, schedFlagOf); err != nil {
				return sc, err
			}
		}
		given := func(name string) bool { return set[name] || *scenarioFile == "" }
		for name, apply := range map[string]func(){
			"nodes": func() { sc.Nodes = *nodes }, "node-cores": func() { sc.NodeCores = *nodeCores }, "node-memory": func() { sc.NodeMemory = *nodeMemory },
			"gpu-nodes": func() { sc.GPUNodes = *gpuNodes }, "node-gpus": func() { sc.NodeGPUs = *nodeGPUs }, "jobs": func() { sc.Jobs = *jobs },
			"arrival": func() { sc.Arrival = *arrival }, "offered-load": func() { sc.Load = *load }, "burst": func() { sc.Burst = *burst },
			"gpu-share": func() { sc.GPUShare = *gpuShare }, "trace": func() { sc.Trace = *trace }, "heartbeat": func() { sc.Heartbeat = *heartbeat },
			"missed-heartbeats": func() { sc.MissedHeartbeats = *missed }, "timeout": func() { sc.Timeout = *timeout }, "window": func() { sc.Window = *window },
			"strand-timeout": func() { sc.StrandTimeout = *strand },
		} {
			if given(name) {
				apply()
			}
		}
		if len(crashes) > 0 {
			sc.Crashes = nil
			for _, c := range crashes {
				cr, err := scheduling.ParseCrash(c)
				if err != nil {
					return sc, usageError{err}
				}
				sc.Crashes = append(sc.Crashes, cr)
			}
		}
		if err := ff.apply(set, &sc.Faults); err != nil {
			return sc, err
		}
		if err := sc.Validate(); err != nil {
			return sc, fromScenarioFile(err, *scenarioFile, set, schedFieldOf) // a value from the file named as the file has it
		}
		return sc, nil
	}
}
