package schednet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env/hosting"
	"github.com/marlon-go/marlon/examples/scheduling"
	"github.com/marlon-go/marlon/transport"
)

// Config configures Run.
type Config struct {
	// Scenario is the cluster (its compute nodes, placed in the hosting
	// nodes' slots), the workload and the protocol's timing.
	Scenario scheduling.Scenario
	// Algorithm names the policy the nodes' PolicyFactory makes.
	Algorithm string
	// Central, if set, places the jobs from the auctioneer's queue (the
	// algorithm is a central discipline: FCFS, EASY backfilling); the
	// agents then make no bids and the nodes no policy.
	Central scheduling.Discipline
	// Seed seeds the policies; EpisodeSeed is the episode's (its jobs).
	Seed, EpisodeSeed uint64
	// Prepare, if set, is called once the environment is made and before
	// the episode; it returns the checkpoint the nodes restore their
	// policy from (nil: none), after training a learner, say.
	Prepare func(e *scheduling.Environment) ([]byte, error)
	// Timeout bounds, in real time, the wait for the hosting nodes' slots,
	// the nodes' beginning of the run, and then the episode; default 10
	// minutes.
	Timeout time.Duration
	// NoNodes is how long the episode goes on, in real time, while no
	// hosting node is there before Run fails (hosting.ErrNoNodes);
	// default 1 minute.
	NoNodes time.Duration
	// OnWait, if set, is called while Run waits for slots, with how many
	// hosting nodes are ready and how many slots they offer, whenever that
	// changes, and the slots it wants (one per compute node).
	OnWait func(nodes, slots, want int)
	// Logger receives what the run does; default: discarded.
	Logger *slog.Logger
}

// Outcome is what Run reports.
type Outcome struct {
	Env    *scheduling.Environment
	Result scheduling.Result
	// Nodes are the hosting nodes when the episode started, with their
	// free slots.
	Nodes []hosting.NodeInfo
	// Events are the membership changes seen from when Run started.
	Events []hosting.NodeEvent
	// AgentsJoined and AgentsLeft count the joins and leaves of the
	// episode's roster (agents with a learning agent join it).
	AgentsJoined, AgentsLeft int
	// Reports are the agents' reports; Stale counts the completions they
	// report that the ledger did not credit (of attempts given up on), and
	// Problems what the ledger and the reports disagree on
	// (scheduling.CheckReports): nothing, in a run that works.
	Reports  []scheduling.AgentReport
	Stale    int
	Problems []string
	// Wall is how long the episode took in real time.
	Wall time.Duration
}

// Timeouts of the requests between the placer and the hosts, in real time:
// generous, as they only matter when a node fails in the middle of one.
const (
	hostTimeout  = 10 * time.Second
	placeTimeout = 30 * time.Second // the director's, which covers the placer's
)

// Run runs one live episode with node as the master's node: it builds the
// environment, waits until the hosting nodes (nodes that called Serve)
// offer a slot for each of the scenario's compute nodes, calls
// cfg.Prepare, has every hosting node make its policy, and runs the
// episode until every job is settled and every agent has reported or
// gone, cfg.Timeout passes (it bounds the wait for the slots, the nodes'
// beginning, and the episode), no hosting node is left for cfg.NoNodes,
// or ctx is cancelled; when it fails once the episode started,
// Outcome.Result holds the auctioneer's ledger so far. Node's runtime
// scale is the run's time unit (a second of the scenario). Outcome.Env is
// nil if Run failed before it was made. When Run returns, the actors it
// started on node have been told to stop, and the hosts end with them: a
// node can run one episode after another.
func Run(ctx context.Context, node *transport.Node, cfg Config) (Outcome, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	if cfg.NoNodes <= 0 {
		cfg.NoNodes = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var out Outcome
	e, err := scheduling.New(cfg.Scenario)
	if err != nil {
		return out, err
	}
	sc := e.Scenario()
	rt := node.Runtime()
	units := func(d time.Duration) float64 { return float64(d) / float64(rt.Scale()) }
	pl := hosting.NewPlacer(node, hosting.PlacerConfig{Kind: Kind, HostTimeout: hostTimeout, Logger: cfg.Logger})
	defer pl.Close() // the hosts end with it

	wctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if out.Nodes, err = waitSlots(wctx, pl, sc.Nodes, cfg.OnWait); err != nil {
		return out, fmt.Errorf("schednet: %w", err)
	}
	out.Env = e
	var ckpt []byte
	if cfg.Prepare != nil {
		if ckpt, err = cfg.Prepare(e); err != nil {
			return out, err
		}
	}
	payload, err := json.Marshal(beginArgs{Algorithm: cfg.Algorithm, Central: cfg.Central != nil, Checkpoint: ckpt, Scenario: sc, Seed: cfg.Seed})
	if err != nil {
		return out, err
	}
	bctx, bcancel := context.WithTimeout(ctx, cfg.Timeout)
	defer bcancel()
	if err := pl.Begin(bctx, payload); err != nil {
		if be, ok := errors.AsType[*hosting.BeginError](err); ok {
			err = fmt.Errorf("schednet: node %s cannot make the %s policy: %w", be.Node, cfg.Algorithm, be.Err)
		}
		return out, err
	}

	start := time.Now()
	place := func(ctx actors.Context, spec scheduling.AgentSpec, placed func(actors.Context, actors.Addr, error)) {
		args, err := json.Marshal(placeArgs{Spec: spec})
		if err != nil {
			placed(ctx, actors.Addr{}, err)
			return
		}
		ctx.Request(pl.Addr(), hosting.Place{Speed: SlotSpeed, Args: args, At: ctx.Now()}, units(placeTimeout), func(ctx actors.Context, reply any, err error) {
			a, err := hosting.Placement(reply, err)
			placed(ctx, a, err)
		})
	}
	ert := hosting.NewEpisodeRuntime(rt)
	ep, err := e.StartPlaced(ert, cfg.EpisodeSeed, cfg.Central, place)
	if err != nil {
		return out, err
	}
	defer ert.StopAll() // the auctioneer, roster, director and workload, done or not
	pl.Started(ep.Director(), func(speeds []float64) any { return scheduling.AddSlots{Count: len(speeds)} })
	cfg.Logger.Info("episode started", "compute nodes", sc.Nodes, "jobs", len(ep.Jobs()), "hosting nodes", len(out.Nodes), "algorithm", cfg.Algorithm)
	err = pl.Await(ctx, ep.Done(), cfg.Timeout, cfg.NoNodes)
	out.Wall = time.Since(start)
	out.Result = ep.Result()
	out.Result.Algorithm = cfg.Algorithm
	out.AgentsJoined, out.AgentsLeft = ep.AgentCounts()
	out.Events = pl.Events(start, rt.Scale())
	out.Reports = ep.Reports()
	out.Stale, out.Problems = scheduling.CheckReports(out.Result.Ledger, out.Reports)
	if err != nil {
		settled := out.Result.Completed + out.Result.Lost + out.Result.Refused
		return out, fmt.Errorf("schednet: %w (%d of %d jobs settled)", err, settled, out.Result.Jobs)
	}
	cfg.Logger.Info("episode done", "makespan", out.Result.Makespan, "wall", out.Wall.Round(time.Millisecond))
	return out, nil
}

// waitSlots waits until the ready hosting nodes offer want slots, and
// returns them (they are the run's: hosting.Placer.Nodes).
func waitSlots(ctx context.Context, pl *hosting.Placer, want int, onWait func(nodes, slots, want int)) ([]hosting.NodeInfo, error) {
	lastNodes, lastSlots := -1, -1
	if onWait != nil && pl.Ready() == 0 {
		onWait(0, 0, want)
		lastNodes, lastSlots = 0, 0
	}
	for n := 1; ; {
		if err := pl.WaitNodes(ctx, n, nil); err != nil {
			return nil, fmt.Errorf("%w; want a slot for each of %d compute nodes, %d offered", err, want, max(lastSlots, 0))
		}
		nodes, err := pl.Nodes(ctx)
		if err != nil {
			return nil, err
		}
		slots := 0
		for _, info := range nodes {
			slots += len(info.Speeds)
		}
		if onWait != nil && (len(nodes) != lastNodes || slots != lastSlots) {
			onWait(len(nodes), slots, want)
		}
		lastNodes, lastSlots = len(nodes), slots
		if slots >= want {
			return nodes, nil
		}
		n = len(nodes) + 1 // one more node
	}
}
