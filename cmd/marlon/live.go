package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/examples/loadbalancing/lbnet"
	"github.com/marlon-go/marlon/learning"
	"github.com/marlon-go/marlon/transport"
)

// liveRun is what marlon loadbalancing --live runs.
type liveRun struct {
	sc        loadbalancing.Scenario
	version   string // of the dynamics (--env)
	algorithm string
	seed      uint64
	opts      env.RunOptions
	loadPath  string
	logFile   string
	save      string
	jsonOut   bool
	net       netFlags
	nodes     int
	timeScale time.Duration
	timeout   time.Duration
	// migrations move workers during the episode (--migrate).
	migrations []lbnet.Migration
}

// liveInfo is what a live run adds to the report: where the workers ran,
// what happened to the nodes, and the Master's ledger to check the workers'
// reports against.
type liveInfo struct {
	TimeScale     string                       `json:"time_scale"`
	WallSeconds   float64                      `json:"wall_seconds"`
	EpisodeSeed   uint64                       `json:"episode_seed"`
	Nodes         []lbnet.NodeInfo             `json:"nodes"`
	NodeEvents    []lbnet.NodeEvent            `json:"node_events"`
	NodesLeft     []string                     `json:"nodes_left"`
	Placed        []loadbalancing.PlacedWorker `json:"placed"`
	LostWorkers   []int                        `json:"lost_workers"`
	LedgerUnits   map[int]int                  `json:"ledger_units"`
	UnitsReported int                          `json:"units_reported"`
	Duplicates    int                          `json:"duplicate_units"`
	Returned      int                          `json:"units_returned"`
	AgentsJoined  int                          `json:"agents_joined"`
	AgentsLeft    int                          `json:"agents_left"`
	// Migrations are what became of the --migrate moves due before the
	// end.
	Migrations []lbnet.MigrationRecord `json:"migrations,omitempty"`
	// Error says what failed, if the run did not complete: the ledger
	// above is then the Master's so far.
	Error string `json:"error,omitempty"`
	// Metrics are the transport's counters of every node that answered
	// at the end of the run (the master's included), by node: frames
	// accepted and rejected by reason, duplicates, nodes declared down,
	// reconnects, new incarnations.
	Metrics map[string]transport.Metrics `json:"metrics"`
}

// The nodes of a live run without --nats.
const (
	localWorkers = lbnet.LocalWorkers
	localSpare   = lbnet.LocalSpare
)

// migrations reads --migrate: without --nats, the workers are the
// scenario's and the nodes this process starts.
func migrations(flags []string, nf netFlags, sc loadbalancing.Scenario) ([]lbnet.Migration, error) {
	var out []lbnet.Migration
	for _, v := range flags {
		m, err := lbnet.ParseMigration(v)
		if err != nil {
			return nil, usageError{err}
		}
		if nf.nats == "" {
			if err := m.Check(sc.TotalWorkers()); err != nil {
				return nil, usageError{fmt.Errorf("--migrate %s: %w", v, err)}
			}
			if m.Node != lbnet.LocalWorkers && m.Node != lbnet.LocalSpare {
				return nil, usageError{fmt.Errorf("--migrate %s: without --nats the hosting nodes are %s and %s, not %q", v, lbnet.LocalWorkers, lbnet.LocalSpare, m.Node)}
			}
		}
		out = append(out, m)
	}
	return out, nil
}

func runLive(r liveRun, stdout, stderr io.Writer) int {
	con := newConsole(stderr)
	log := con.logger(slog.LevelInfo)
	ctx, stop := signalled()
	defer stop()
	var node *transport.Node
	if r.net.nats == "" {
		e, err := loadbalancing.New(r.sc, r.seed)
		if err != nil {
			return fail(stderr, usageError{err})
		}
		// One process: the nodes' own comings and goings are not news.
		cfg := transport.Config{Scale: r.timeScale, Heartbeat: r.net.heartbeat, MissedHeartbeats: r.net.missed, Logger: con.logger(slog.LevelWarn)}
		host := lbnet.HostConfig{Speeds: e.Speeds(), NewPolicy: newPolicy, Logger: con.logger(slog.LevelWarn)}
		var spare []lbnet.HostConfig
		if len(r.migrations) > 0 {
			// A node with a spare slot per move, for the workers that
			// move, and none of its own.
			s := host
			s.Speeds, s.Spare = nil, len(r.migrations)
			spare, r.nodes = []lbnet.HostConfig{s}, 2
		}
		local, err := lbnet.StartLocal(cfg, host, spare...)
		if err != nil {
			return fail(stderr, err)
		}
		defer local.Close()
		node = local.Master
	} else {
		cfg, err := r.net.config(log)
		if err != nil {
			return fail(stderr, err)
		}
		cfg.Scale = r.timeScale
		jctx, cancel := context.WithTimeout(ctx, r.timeout)
		node, err = join(jctx, cfg, log)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("%w; --timeout %v bounds the wait", err, r.timeout)
			}
			if r.jsonOut {
				writeJSON(stdout, map[string]any{"error": err.Error()})
			}
			return fail(stderr, err)
		}
		defer node.Close()
	}

	var trained *ranAlgorithm
	prepare := func(e *loadbalancing.Environment) (ckpt []byte, err error) {
		ckpt, trained, err = liveCheckpoint(e, r.algorithm, r.opts, r.logFile, r.save, stderr, r.jsonOut, func(b []byte) error {
			_, err := newPolicy(lbnet.PolicySpec{Algorithm: r.algorithm, Actions: r.opts.Actions, Version: r.version, Scenario: e.Scenario(), Seed: r.seed, Checkpoint: b})
			return err
		})
		return ckpt, err
	}
	out, err := lbnet.Run(ctx, node, lbnet.Config{
		Scenario: r.sc, FromNodes: r.net.nats != "", Nodes: r.nodes, Algorithm: r.algorithm, Actions: r.opts.Actions, Version: r.version,
		Seed: r.seed, EpisodeSeed: learning.EvalSeed(r.seed, 0), Prepare: prepare, Timeout: r.timeout, Logger: log, Migrations: r.migrations,
		OnWait: func(ready, want int) {
			con.setStatus(fmt.Sprintf("waiting for hosting nodes (marlon node): %d of %d ready", ready, want))
		},
	})
	con.setStatus("")
	if err != nil {
		var fe *loadbalancing.FieldError
		if errors.As(err, &fe) {
			slots := 0
			for _, n := range out.Nodes {
				slots += len(n.Speeds)
			}
			return fail(stderr, usageError{fmt.Errorf("%w (the nodes provide %d workers)", err, slots)})
		}
		if out.Env == nil {
			if r.jsonOut {
				writeJSON(stdout, map[string]any{"error": err.Error(), "metrics": node.GatherMetrics(metricsWait)})
			}
			return fail(stderr, err)
		}
	}
	rep := newLiveReport(out, r, learning.EvalSeed(r.seed, 0))
	rep.Live.Metrics = node.GatherMetrics(metricsWait)
	if err != nil {
		// What was done before it failed: the Master's ledger so far.
		rep.Live.Error = err.Error()
		if r.jsonOut {
			writeJSON(stdout, rep)
		} else {
			printLive(stdout, rep)
		}
		return fail(stderr, err)
	}
	if trained != nil {
		rep.Training = &training{Episodes: len(trained.Curve.Train), SelectedAfter: trained.Curve.Selected, Seconds: trained.TrainTime.Seconds(), Shared: true, CurveLog: trained.LogPath, Checkpoint: r.save}
	} else if r.opts.Load != nil {
		rep.Training = &training{Shared: true, Loaded: r.loadPath, Checkpoint: r.save}
	}
	if r.jsonOut {
		writeJSON(stdout, rep)
	} else {
		printLive(stdout, rep)
	}
	if err := out.Result.CheckLedger(); err != nil {
		return fail(stderr, fmt.Errorf("live run: %w", err))
	}
	return 0
}

func newLiveReport(out lbnet.Outcome, r liveRun, episodeSeed uint64) report {
	res := out.Result
	rep := report{
		Algorithm: r.algorithm, Seed: r.seed, Episodes: 1, Job: res.Job, UnitsDone: res.UnitsDone,
		Makespan: res.Makespan, LowerBound: res.LowerBound, Ratio: res.Ratio, IdleTime: res.IdleTime,
		Requests: float64(res.Requests), Chunks: float64(res.Chunks), Imbalance: res.Imbalance, Workers: res.Workers,
	}
	l := &liveInfo{
		TimeScale: r.timeScale.String(), WallSeconds: out.Wall.Seconds(), EpisodeSeed: episodeSeed,
		Nodes: out.Nodes, NodeEvents: out.Events, NodesLeft: []string{}, Placed: res.Placed, LostWorkers: []int{},
		LedgerUnits: res.LedgerUnits, UnitsReported: res.UnitsReported, Duplicates: res.Duplicates, Returned: res.Returned,
		AgentsJoined: out.AgentsJoined, AgentsLeft: out.AgentsLeft, Migrations: out.Migrations,
	}
	for _, e := range out.Events {
		if e.Event == "left" && !contains(l.NodesLeft, e.Node) {
			l.NodesLeft = append(l.NodesLeft, e.Node)
		}
	}
	for _, p := range res.Placed {
		if p.Node != "" {
			rep.Speeds = append(rep.Speeds, p.Speed)
		}
		if p.Lost {
			l.LostWorkers = append(l.LostWorkers, p.ID)
		}
	}
	rep.Live = l
	return rep
}

// metricsWait is how long a run waits for the nodes' metrics at its end.
const metricsWait = 500 * time.Millisecond

func printLive(w io.Writer, r report) {
	l := r.Live
	if l.Error != "" {
		fmt.Fprintf(w, "FAILED: %s\nThe Master's ledger when it stopped: %d of %d units done.\n", l.Error, r.UnitsDone, r.Job)
		ids := make([]int, 0, len(l.LedgerUnits))
		for id := range l.LedgerUnits {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		for _, id := range ids {
			fmt.Fprintf(w, "  worker %d: %d units\n", id, l.LedgerUnits[id])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Live load balancing over NATS: %d worker(s) on %d node(s), job %d units, time unit %s, seed %d (episode %d).\n",
		len(r.Speeds), len(l.Nodes), r.Job, l.TimeScale, r.Seed, l.EpisodeSeed)
	for _, n := range l.Nodes {
		if len(n.Speeds) == 0 {
			fmt.Fprintf(w, "  node %s: no workers of its own\n", n.Name)
		} else {
			fmt.Fprintf(w, "  node %s: speeds %s\n", n.Name, joinFloats(n.Speeds))
		}
	}
	fmt.Fprintln(w)
	printReport(w, r)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, p := range l.Placed {
		switch {
		case p.Error != "":
			fmt.Fprintf(tw, "worker %d\tnot placed\t%s\n", p.ID, p.Error)
		case p.Lost:
			fmt.Fprintf(tw, "worker %d\ton %s\tlost at %.1f (%s): its chunk went back to the pool\n", p.ID, p.Node, p.Gone, p.Reason)
		case p.Reason != "":
			fmt.Fprintf(tw, "worker %d\ton %s\tgone at %.1f (%s)\n", p.ID, p.Node, p.Gone, p.Reason)
		case p.Joined > 0:
			fmt.Fprintf(tw, "worker %d\ton %s\tjoined at %.1f\n", p.ID, p.Node, p.Joined)
		}
	}
	tw.Flush()
	for _, m := range l.Migrations {
		switch {
		case m.Adopted:
			fmt.Fprintf(w, "Worker %d moved from %s to %s at %.1f, with its agent and its chunk.\n", m.Worker, m.From, m.Node, m.At)
		default:
			fmt.Fprintf(w, "Worker %d did not move to %s at %.1f: %s.\n", m.Worker, m.Node, m.At, m.Err)
		}
	}
	for _, e := range l.NodeEvents {
		switch {
		case e.At < 0:
		case e.Reason != "":
			fmt.Fprintf(w, "Node %s %s at %.1f (%s).\n", e.Node, e.Event, e.At, e.Reason)
		default:
			fmt.Fprintf(w, "Node %s %s at %.1f.\n", e.Node, e.Event, e.At)
		}
	}
	fmt.Fprintf(w, "Ledger: %d of %d units done once each (%d handed back and done again); the %d workers' reports add up to %d.\n",
		r.UnitsDone, r.Job, l.Returned, len(r.Workers), l.UnitsReported)
	printMetrics(w, l.Metrics)
	fmt.Fprintf(w, "%.1fs of real time.\n", l.WallSeconds)
}

// printMetrics prints one line of transport counters per node.
func printMetrics(w io.Writer, ms map[string]transport.Metrics) {
	if len(ms) == 0 {
		return
	}
	names := make([]string, 0, len(ms))
	for n := range ms {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "node\tframes accepted\trejected\tduplicates\tnodes down\treconnects\tnew incarnations")
	for _, n := range names {
		m := ms[n]
		fmt.Fprintf(tw, "%s\t%d\t%d%s\t%d\t%d\t%d\t%d\n", n, m.Accepted, m.Rejected.Total(), rejectedBy(m.Rejected), m.Duplicates, m.NodesDown, m.Reconnects, m.Reincarnations)
	}
	tw.Flush()
}

// rejectedBy lists the reasons of rejections, e.g. " (3 replayed, 1 bad signature)".
func rejectedBy(r transport.Rejections) string {
	var parts []string
	for _, x := range []struct {
		n    uint64
		what string
	}{{r.Malformed, "malformed"}, {r.Unsigned, "unsigned"}, {r.UnknownSigner, "unknown signer"}, {r.BadSignature, "bad signature"},
		{r.WrongSender, "wrong sender"}, {r.Replayed, "replayed"}, {r.Stale, "stale"}, {r.Down, "down incarnation"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.what))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
