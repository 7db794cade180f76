package main

// marlon scheduling --live: one evaluation episode in real time, the
// compute nodes' resource agents placed over NATS (examples/scheduling/
// schednet), in this process or on marlon nodes.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/env/hosting"
	"github.com/marlon-go/marlon/examples/scheduling"
	"github.com/marlon-go/marlon/examples/scheduling/learners"
	"github.com/marlon-go/marlon/examples/scheduling/schednet"
	"github.com/marlon-go/marlon/learning"
	"github.com/marlon-go/marlon/transport"
)

const schedulingLiveExamples = `  marlon scheduling --live --algorithm bidding       one episode in real time, through NATS (an embedded
                                                     server, the resource agents in this process)
  marlon scheduling --live --algorithm qlearning --episodes 200 --jobs 100
                                                     train in the simulator, then run live
  marlon scheduling --live --nats nats://10.0.0.1:4222 --key master.key --trusted cluster.keys \
      --nodes 6 --algorithm easy --json              the 6 compute nodes' agents on marlon nodes
                                                     (marlon node --compute-nodes K)
`

const schedulingLiveHelp = `
A live run (--live) runs the same auctioneer and resource agents in real time,
each second of the scenario lasting --time-scale, and reports as the simulator
does, plus where the agents ran and what became of the machines. With --nats,
the run waits until the hosting nodes (marlon node --compute-nodes K) offer a
slot for each of the --nodes compute nodes, and places one agent per compute
node, with the capacity the scenario gives it. A machine that is killed takes
its agents with it: the auctioneer declares their compute nodes failed (missed
heartbeats, or the transport's report that the machine is down), their jobs
run again elsewhere, never twice, and the compute nodes restart in free slots
(other machines' spare ones, or those of a machine that joins or comes back).
A learner is trained in the simulator first (or loaded with --load) and its
checkpoint sent to every machine, whose agents share it. --heartbeat and
--missed-heartbeats are the resource agents' (in seconds of the scenario); the
transport's are --transport-heartbeat and --transport-missed-heartbeats.
`

// schedLiveFlags are marlon scheduling's flags of a live run.
type schedLiveFlags struct {
	live      bool
	timeScale time.Duration
	wait      time.Duration
	net       netFlags
}

// schedLiveOnly are the flags that only go with --live.
var schedLiveOnly = []string{"nats", "time-scale", "wait", "name", "key", "trusted", "token", "nkey", "transport-heartbeat", "transport-missed-heartbeats"}

func (f *schedLiveFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.live, "live", false, "run one evaluation episode in real time over the NATS transport, without --nats on an embedded server with the resource agents in this process")
	fs.DurationVar(&f.timeScale, "time-scale", time.Millisecond, "with --live: the real duration of one second of the scenario (the default episode takes about 20s)")
	fs.DurationVar(&f.wait, "wait", 10*time.Minute, "with --live: give up if a wait (for the nodes' slots, for them to begin, for the episode's end) lasts longer than this")
	f.net.registerAs(fs, "transport-heartbeat", "transport-missed-heartbeats")
}

// minBidWait is the least real time a call for bids may wait for its
// answers (--timeout x --time-scale): a round trip through NATS takes a
// fraction of a millisecond on loopback, more under load, and an answer
// that misses the timeout counts as a decline (the report counts them).
const minBidWait = time.Millisecond

// check refuses the flags that do not go with --live, or only go with it.
func (f *schedLiveFlags) check(set map[string]bool, sc scheduling.Scenario, algorithm string) error {
	if !f.live {
		for _, name := range schedLiveOnly {
			if set[name] {
				return usageError{fmt.Errorf("--%s: only with --live", name)}
			}
		}
		return nil
	}
	for _, name := range []string{"compare", "independent", "plot", "gantt", "write-trace"} {
		if set[name] {
			return usageError{fmt.Errorf("--%s: not with --live (a live run runs one algorithm, one episode, with a policy shared by each machine's agents)", name)}
		}
	}
	switch {
	case sc.Faults.Active():
		return usageError{errors.New("--faults: not with --live: faults are injected in the simulator (a live run meets real ones: stop or kill a marlon node)")}
	case len(sc.Crashes) > 0:
		return usageError{errors.New("--crash: not with --live: crashes are the simulator's (a live run meets real ones: stop or kill a marlon node)")}
	case algorithm == "":
		return usageError{fmt.Errorf("--algorithm: --live runs one algorithm; one of %s", strings.Join(learners.Names(), ", "))}
	}
	if f.net.nats == "" {
		for _, name := range []string{"name", "key", "trusted", "token", "nkey"} {
			if set[name] {
				return usageError{fmt.Errorf("--%s: only with --nats (without it, the run makes its own server, nodes and keys)", name)}
			}
		}
	}
	bidWait := time.Duration(sc.Timeout * float64(f.timeScale))
	switch {
	case f.timeScale < minTimeScale:
		return usageError{fmt.Errorf("--time-scale: at least %v, got %v: a second of the scenario must outlast a message's round trip through NATS", minTimeScale, f.timeScale)}
	case f.timeScale > time.Minute:
		return usageError{fmt.Errorf("--time-scale: at most 1m, got %v", f.timeScale)}
	case bidWait < minBidWait:
		return usageError{fmt.Errorf("--timeout: the auctioneer's wait for bids, %g s, lasts %v at --time-scale %v; at least %v of real time, or answers late through NATS count as declines: give --timeout %g or more, or a longer --time-scale",
			sc.Timeout, bidWait, f.timeScale, minBidWait, float64(minBidWait)/float64(f.timeScale))}
	case f.wait <= 0:
		return usageError{fmt.Errorf("--wait: must be > 0, got %v", f.wait)}
	}
	return f.net.check()
}

// schedLiveInfo is what a live run adds to the report: where the agents
// ran, what became of the machines, and how the agents' reports compare
// with the auctioneer's ledger.
type schedLiveInfo struct {
	TimeScale   string              `json:"time_scale"`
	WallSeconds float64             `json:"wall_seconds"`
	EpisodeSeed uint64              `json:"episode_seed"`
	Nodes       []hosting.NodeInfo  `json:"nodes"` // the hosting machines at the start, with their free slots
	NodeEvents  []hosting.NodeEvent `json:"node_events"`
	NodesLeft   []string            `json:"nodes_left"`
	// Placed is where each compute node's agent ran, in the order they
	// were placed (a compute node placed again after its machine failed
	// has several).
	Placed      []scheduling.PlacedAgent `json:"placed"`
	PlaceErrors []scheduling.PlaceError  `json:"place_errors,omitempty"`
	// Jobs and Failures are the auctioneer's ledger: what became of every
	// job (its runs, by node, incarnation and attempt), and the compute
	// node incarnations it declared failed.
	Jobs     []scheduling.JobRecord `json:"jobs"`
	Failures []scheduling.Failure   `json:"failures"`
	// Reports are the agents that reported at the end; Completions the
	// completions they report, StaleReports those the ledger did not
	// credit, and Problems what the ledger and the reports disagree on
	// (nothing, in a run that works).
	Reports      int                      `json:"reports"`
	AgentReports []scheduling.AgentReport `json:"agent_reports"`
	Completions  int                      `json:"reported_completions"`
	StaleReports int                      `json:"stale_reports"`
	Problems     []string                 `json:"problems"`
	AgentsJoined int                      `json:"agents_joined"`
	AgentsLeft   int                      `json:"agents_left"`
	// Simulated are the metrics of the same episode (the same jobs, the
	// same policy) in the simulator, to compare.
	Simulated map[string]float64 `json:"simulated,omitempty"`
	// Error says what failed, if the run did not complete: the figures
	// are then the ledger's so far.
	Error string `json:"error,omitempty"`
	// Metrics are the transport's counters of every node that answered at
	// the end of the run, by node.
	Metrics map[string]transport.Metrics `json:"metrics"`
}

// schedLiveRun is what marlon scheduling --live runs.
type schedLiveRun struct {
	flags     schedLiveFlags
	e         *scheduling.Environment
	algorithm string
	seed      uint64
	opts      env.RunOptions
	loadPath  string
	logFile   string
	save      string
	jsonOut   bool
}

func runSchedLive(r schedLiveRun, stdout, stderr io.Writer) int {
	con := newConsole(stderr)
	log := con.logger(slog.LevelInfo)
	ctx, stop := signalled()
	defer stop()
	sc := r.e.Scenario()
	central, err := centralOf(r.e, r.algorithm, r.seed)
	if err != nil {
		return fail(stderr, usageError{fmt.Errorf("--algorithm: %w", err)})
	}
	f := r.flags
	var node *transport.Node
	if f.net.nats == "" {
		// One process: the nodes' own comings and goings are not news.
		cfg := transport.Config{Scale: f.timeScale, Heartbeat: f.net.heartbeat, MissedHeartbeats: f.net.missed, Logger: con.logger(slog.LevelWarn)}
		local, err := schednet.StartLocal(cfg, schednet.HostConfig{Slots: sc.Nodes, NewPolicy: newSchedPolicy, Logger: con.logger(slog.LevelWarn)})
		if err != nil {
			return fail(stderr, err)
		}
		defer local.Close()
		node = local.Master
	} else {
		cfg, err := f.net.config(log)
		if err != nil {
			return fail(stderr, err)
		}
		cfg.Scale = f.timeScale
		jctx, cancel := context.WithTimeout(ctx, f.wait)
		node, err = join(jctx, cfg, log)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("%w; --wait %v bounds the wait", err, f.wait)
			}
			if r.jsonOut {
				writeJSON(stdout, map[string]any{"error": err.Error()})
			}
			return fail(stderr, err)
		}
		defer node.Close()
	}

	var trained *ranAlgorithm
	var sent []byte // the checkpoint sent to the nodes
	prepare := func(e *scheduling.Environment) (ckpt []byte, err error) {
		ckpt, trained, err = liveCheckpoint(e, r.algorithm, r.opts, r.logFile, r.save, stderr, r.jsonOut, func(b []byte) error {
			_, err := newSchedPolicy(r.algorithm, e.Scenario(), r.seed, b)
			return err
		})
		sent = ckpt
		return ckpt, err
	}
	episodeSeed := learning.EvalSeed(r.seed, 0)
	out, err := schednet.Run(ctx, node, schednet.Config{
		Scenario: sc, Algorithm: r.algorithm, Central: central, Seed: r.seed, EpisodeSeed: episodeSeed,
		Prepare: prepare, Timeout: f.wait, Logger: log,
		OnWait: func(nodes, slots, want int) {
			con.setStatus(fmt.Sprintf("waiting for hosting nodes (marlon node --compute-nodes K): %d node(s) ready, %d of %d slots", nodes, slots, want))
		},
	})
	con.setStatus("")
	if err != nil && out.Env == nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (--wait %v)", err, f.wait)
		}
		if r.jsonOut {
			writeJSON(stdout, map[string]any{"error": err.Error(), "metrics": node.GatherMetrics(metricsWait)})
		}
		return fail(stderr, err)
	}
	rep := newSchedLiveReport(out, r, episodeSeed)
	rep.Live.Metrics = node.GatherMetrics(metricsWait)
	if sim, serr := simulateEpisode(r.e, r.algorithm, r.seed, sent); serr == nil {
		rep.Live.Simulated = sim
	} else {
		fmt.Fprintf(stderr, "marlon: the same episode in the simulator: %v\n", serr)
	}
	if trained != nil {
		rep.Training = &training{Episodes: len(trained.Curve.Train), SelectedAfter: trained.Curve.Selected, Seconds: trained.TrainTime.Seconds(), Shared: true, CurveLog: trained.LogPath, Checkpoint: r.save}
	} else if r.opts.Load != nil {
		rep.Training = &training{Shared: true, Loaded: r.loadPath, Checkpoint: r.save}
	}
	if err != nil {
		if errors.Is(err, hosting.ErrTimeout) {
			err = fmt.Errorf("%w (--wait)", err)
		}
		rep.Live.Error = err.Error()
	}
	if r.jsonOut {
		writeJSON(stdout, rep)
	} else {
		printSchedLive(stdout, r.e, rep)
	}
	if err != nil {
		return fail(stderr, err)
	}
	if len(out.Problems) > 0 {
		return fail(stderr, fmt.Errorf("live run: the ledger and the agents' reports disagree: %s", strings.Join(out.Problems, "; ")))
	}
	return 0
}

// centralOf is the discipline that places the jobs when algorithm is a
// central one (FCFS, EASY backfilling), nil when the agents bid.
func centralOf(e *scheduling.Environment, algorithm string, seed uint64) (scheduling.Discipline, error) {
	a, err := learning.Lookup(scheduling.Family, algorithm)
	if err != nil || a.Learns {
		return nil, err
	}
	team, _, err := env.NewTeam(e, algorithm, env.RunOptions{Seed: seed})
	if err != nil {
		return nil, err
	}
	if c, ok := team.Agent(scheduling.AgentID(0)).(scheduling.Central); ok {
		return c.Discipline(), nil
	}
	return nil, nil
}

// simulateEpisode runs the live run's episode (evaluation episode 0 of
// seed) in the simulator with the policy the nodes were sent, and returns
// its metrics.
func simulateEpisode(e *scheduling.Environment, algorithm string, seed uint64, ckpt []byte) (map[string]float64, error) {
	opts := env.RunOptions{Seed: seed, EvalEpisodes: 1}
	if ckpt != nil {
		var err error
		if opts.Load, err = learning.ReadCheckpoint(bytes.NewReader(ckpt)); err != nil {
			return nil, err
		}
	}
	r, err := env.Run(e, algorithm, opts)
	if err != nil {
		return nil, err
	}
	return r.Mean, nil
}

func newSchedLiveReport(out schednet.Outcome, r schedLiveRun, episodeSeed uint64) schedReport {
	res := out.Result
	rep := schedReport{Algorithm: r.algorithm, Seed: r.seed, Episodes: 1, Metrics: map[string]float64{}, PerEpisode: []scheduling.Result{res}}
	for k, v := range res.Metrics() {
		rep.Metrics[k] = v
	}
	l := &schedLiveInfo{
		TimeScale: r.flags.timeScale.String(), WallSeconds: out.Wall.Seconds(), EpisodeSeed: episodeSeed,
		Nodes: out.Nodes, NodeEvents: out.Events, NodesLeft: []string{}, Placed: res.Placed, PlaceErrors: res.PlaceErrors,
		Jobs: res.Ledger.Jobs, Failures: res.Ledger.Failures, AgentReports: out.Reports,
		Reports: len(out.Reports), StaleReports: out.Stale, Problems: out.Problems, AgentsJoined: out.AgentsJoined, AgentsLeft: out.AgentsLeft,
	}
	if l.Placed == nil {
		l.Placed = []scheduling.PlacedAgent{}
	}
	if l.Failures == nil {
		l.Failures = []scheduling.Failure{}
	}
	if l.AgentReports == nil {
		l.AgentReports = []scheduling.AgentReport{}
	}
	if l.Problems == nil {
		l.Problems = []string{}
	}
	for _, rp := range out.Reports {
		l.Completions += len(rp.Completed)
	}
	for _, e := range out.Events {
		if e.Event == "left" && !contains(l.NodesLeft, e.Node) {
			l.NodesLeft = append(l.NodesLeft, e.Node)
		}
	}
	rep.Live = l
	return rep
}

func printSchedLive(w io.Writer, e *scheduling.Environment, r schedReport) {
	l := r.Live
	if l.Error != "" {
		fmt.Fprintf(w, "FAILED: %s\nThe auctioneer's ledger when it stopped:\n\n", l.Error)
	}
	sc := e.Scenario()
	hosts := map[string]bool{}
	for _, p := range l.Placed {
		hosts[p.Host] = true
	}
	fmt.Fprintf(w, "Live scheduling over NATS: %d compute nodes' resource agents on %d machine(s), a second of the scenario lasting %s, seed %d (episode %d).\n",
		sc.Nodes, len(hosts), l.TimeScale, r.Seed, l.EpisodeSeed)
	printSchedScenarioOf(w, e)
	fmt.Fprintln(w)
	printSchedReport(w, r)
	fmt.Fprintln(w)
	placed := slices.Clone(l.Placed) // by compute node, then in time
	sort.SliceStable(placed, func(i, j int) bool { return placed[i].Node < placed[j].Node })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, p := range placed {
		switch {
		case p.Lost:
			fmt.Fprintf(tw, "node-%d\ton %s from %.0f s\tlost with its machine at %.0f s (%s)\n", p.Node, p.Host, p.At, p.Gone, p.Reason)
		case p.Reason != "":
			fmt.Fprintf(tw, "node-%d\ton %s from %.0f s\tgone at %.0f s (%s)\n", p.Node, p.Host, p.At, p.Gone, p.Reason)
		case p.Reported:
			fmt.Fprintf(tw, "node-%d\ton %s from %.0f s\treported\n", p.Node, p.Host, p.At)
		default:
			fmt.Fprintf(tw, "node-%d\ton %s from %.0f s\tdid not report\n", p.Node, p.Host, p.At)
		}
	}
	tw.Flush()
	for _, e := range l.PlaceErrors {
		fmt.Fprintf(w, "node-%d: no slot for its agent %d time(s) (last: %s).\n", e.Node, e.Attempts, e.Last)
	}
	for _, e := range l.NodeEvents {
		switch {
		case e.At < 0:
		case e.Reason != "":
			fmt.Fprintf(w, "Machine %s %s at %.0f s (%s).\n", e.Node, e.Event, e.At, e.Reason)
		default:
			fmt.Fprintf(w, "Machine %s %s at %.0f s.\n", e.Node, e.Event, e.At)
		}
	}
	m := r.Metrics
	if sim := l.Simulated; sim != nil {
		fmt.Fprintln(w, "\nThe same episode (its jobs, the same policy) in the simulator:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "\tbsld\twait\tcompletion\tutilisation\tmakespan\trounds\tcalls for bids\t")
		for _, row := range []struct {
			name string
			m    map[string]float64
		}{{"live", m}, {"simulator", sim}} {
			fmt.Fprintf(tw, "%s\t%.2f\t%.0f\t%.1f%%\t%.1f%%\t%.0f\t%.0f\t%.0f\t\n", row.name, row.m["mean_bsld"], row.m["mean_wait"],
				100*row.m["completion_rate"], 100*row.m["utilisation"], row.m["makespan"], row.m["rounds"], row.m["calls"])
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Ledger: %.0f of %.0f jobs completed, each once (%.0f queued again after failures, %.0f stale completions refused); ",
		m["completed"], m["jobs"], m["rescheduled"], m["stale_completions"])
	if len(l.Problems) == 0 {
		fmt.Fprintf(w, "the %d agents that reported agree with it (%d completions, %d stale).\n", l.Reports, l.Completions, l.StaleReports)
	} else {
		fmt.Fprintf(w, "the agents' reports DISAGREE with it:\n  %s\n", strings.Join(l.Problems, "\n  "))
	}
	if u := m["unanswered"]; u > 0 {
		fmt.Fprintf(w, "%.0f of %.0f calls for bids were not answered within --timeout %g s (%v of real time): counted as declines (a longer --timeout or --time-scale leaves the network more time).\n",
			u, m["calls"], sc.Timeout, time.Duration(sc.Timeout*float64(parseScale(l.TimeScale))))
	}
	printMetrics(w, l.Metrics)
	fmt.Fprintf(w, "%.1fs of real time.\n", l.WallSeconds)
}

func parseScale(s string) time.Duration {
	d, _ := time.ParseDuration(s)
	return d
}
