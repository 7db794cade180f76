package lbnet

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
	lb "github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/transport"
)

// Config configures Run.
type Config struct {
	// Scenario is the job (its size, unit and communication times,
	// variability) and its leaves; unless FromNodes, its workers and joins
	// too.
	Scenario lb.Scenario
	// FromNodes makes the workers from the hosting nodes' free slots, one
	// per slot and of its speed, in the order of the nodes' names, instead
	// of the scenario's workers (whose speeds and joins are then ignored).
	FromNodes bool
	// Nodes is how many hosting nodes to wait for before the episode
	// starts; default 1.
	Nodes int
	// Algorithm names the policy the nodes' PolicyFactory makes, and
	// Actions the action space a generic learner sees the workers through
	// ("": the default).
	Algorithm, Actions string
	// Version is the version of the dynamics (loadbalancing.Versions; "":
	// the latest).
	Version string
	// Seed draws the scenario's speeds (unless FromNodes) and seeds the
	// policies; EpisodeSeed is the episode's (its unit costs).
	Seed, EpisodeSeed uint64
	// Prepare, if set, is called once the environment is known and before
	// the episode; it returns the checkpoint the nodes restore their policy
	// from (nil: none), after training a learner on the environment, say.
	Prepare func(e *lb.Environment) ([]byte, error)
	// Timeout bounds, in real time, the wait for the hosting nodes, and
	// then the episode; default 10 minutes.
	Timeout time.Duration
	// OfferTimeout is how long, in real time, the Master waits for a
	// worker's answer to an Offer before it serves the others; default
	// 250ms.
	OfferTimeout time.Duration
	// NoNodes is how long the episode goes on, in real time, while no
	// hosting node is there (they all died, or this node was cut off and
	// they have not come back) before Run fails with ErrNoNodes; default 1
	// minute. Nodes that come back within it (the master's own incarnation
	// restarts after it was cut off, see the transport's Membership) get
	// the work the lost workers handed back.
	NoNodes time.Duration
	// Migrations move workers to other hosting nodes during the episode
	// (Migration).
	Migrations []Migration
	// OnWait, if set, is called while Run waits for hosting nodes, with how
	// many are ready, whenever that changes.
	OnWait func(ready, want int)
	// Logger receives what the run does; default: discarded.
	Logger *slog.Logger
}

// Outcome is what Run reports.
type Outcome struct {
	Env    *lb.Environment
	Result lb.Result
	// Nodes are the hosting nodes when the episode started, with their
	// free slots.
	Nodes []NodeInfo
	// Events are the membership changes seen from when Run started.
	Events []NodeEvent
	// AgentsJoined and AgentsLeft count the joins and leaves of the
	// episode's roster.
	AgentsJoined, AgentsLeft int
	// Migrations are what became of Config.Migrations that were due
	// before the episode ended.
	Migrations []MigrationRecord
	// Wall is how long the episode took in real time.
	Wall time.Duration
}

// NodeInfo is a hosting node and the speeds of its free worker slots.
type NodeInfo = hosting.NodeInfo

// NodeEvent is a node joining or leaving the cluster, at a time of the
// episode's clock (negative: before the episode started).
type NodeEvent = hosting.NodeEvent

// Timeouts of the requests between the placer and the hosts, in real time:
// generous, as they only matter when a node fails in the middle of one.
const (
	hostTimeout  = 10 * time.Second
	placeTimeout = 30 * time.Second // the director's, which covers the placer's
)

// startWithin is how long the Master waits, in real time, for the starting
// workers' first requests before it serves: they arrive within moments of
// each other, and the techniques that size chunks by the number of workers
// must see them all, as in the simulator.
const startWithin = time.Second

// Run runs one live episode with node as the master's node: it waits for
// cfg.Nodes hosting nodes (nodes that called Serve) among the members,
// builds the environment, calls cfg.Prepare, has every hosting node make
// its policy, and runs the episode until it is done, cfg.Timeout passes
// (it bounds the wait for the nodes, and the episode), no hosting node is
// left for cfg.NoNodes, or ctx is cancelled; when it fails once the episode
// started, Outcome.Result holds the Master's ledger so far (units done, by
// worker). Node's runtime scale is the run's time unit. The Master
// serves once every starting worker has asked for work (or a second has
// passed). An invalid scenario (a leave of a worker that the nodes do not
// provide, say) is reported as the *loadbalancing.FieldError of its
// validation. Outcome.Env is nil if Run failed before it was made. When
// Run returns, the actors it started on node have been told to stop, and
// the hosts end with them: a node can run one episode after another.
func Run(ctx context.Context, node *transport.Node, cfg Config) (Outcome, error) {
	if cfg.Nodes < 1 {
		cfg.Nodes = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	if cfg.NoNodes <= 0 {
		cfg.NoNodes = time.Minute
	}
	if cfg.OfferTimeout <= 0 {
		cfg.OfferTimeout = 250 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var out Outcome
	rt := node.Runtime()
	units := func(d time.Duration) float64 { return float64(d) / float64(rt.Scale()) }
	pl := hosting.NewPlacer(node, hosting.PlacerConfig{Kind: Kind, HostTimeout: hostTimeout, Logger: cfg.Logger})
	defer pl.Close() // the hosts end with it

	// Timeout bounds the wait for the nodes too.
	wctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if err := pl.WaitNodes(wctx, cfg.Nodes, cfg.OnWait); err != nil {
		return out, fmt.Errorf("lbnet: %w", err)
	}
	nodes, err := pl.Nodes(wctx)
	if err != nil {
		return out, err
	}
	out.Nodes = nodes
	sc := cfg.Scenario
	if cfg.FromNodes {
		sc.Speeds, sc.Joins = nil, nil
		for _, n := range nodes {
			sc.Speeds = append(sc.Speeds, n.Speeds...)
		}
		if len(sc.Speeds) == 0 {
			return out, fmt.Errorf("lbnet: the hosting nodes have no free worker slot")
		}
		sc.Workers = len(sc.Speeds)
	}
	if cfg.Version == "" {
		v := lb.Versions()
		cfg.Version = v[len(v)-1]
	}
	e, err := lb.NewVersion(cfg.Version, sc, cfg.Seed)
	if err != nil {
		return out, err
	}
	e.OfferTimeout, e.StartBy = units(cfg.OfferTimeout), units(startWithin)
	out.Env = e
	for _, m := range cfg.Migrations {
		if err := m.Check(len(e.Speeds())); err != nil {
			return out, fmt.Errorf("lbnet: %w", err)
		}
	}
	var ckpt []byte
	if cfg.Prepare != nil {
		if ckpt, err = cfg.Prepare(e); err != nil {
			return out, err
		}
	}
	payload, err := json.Marshal(PolicySpec{Algorithm: cfg.Algorithm, Actions: cfg.Actions, Version: cfg.Version, Checkpoint: ckpt, Scenario: e.Scenario(), Seed: cfg.Seed})
	if err != nil {
		return out, err
	}
	bctx, bcancel := context.WithTimeout(ctx, cfg.Timeout)
	defer bcancel()
	if err := pl.Begin(bctx, payload); err != nil {
		if be, ok := errors.AsType[*hosting.BeginError](err); ok {
			err = fmt.Errorf("lbnet: node %s cannot make the %s policy: %w", be.Node, cfg.Algorithm, be.Err)
		}
		return out, err
	}

	start := time.Now()
	place := func(ctx actors.Context, spec lb.WorkerSpec, placed func(actors.Context, actors.Addr, error)) {
		args, err := json.Marshal(placeArgs{Spec: spec})
		if err != nil {
			placed(ctx, actors.Addr{}, err)
			return
		}
		ctx.Request(pl.Addr(), hosting.Place{Speed: spec.Speed, Args: args, At: ctx.Now()}, units(placeTimeout), func(ctx actors.Context, reply any, err error) {
			a, err := hosting.Placement(reply, err)
			if err != nil {
				err = fmt.Errorf("worker %d: %w", spec.ID, err)
			}
			placed(ctx, a, err)
		})
	}
	ert := hosting.NewEpisodeRuntime(rt)
	ep := e.StartPlaced(ert, cfg.EpisodeSeed, place)
	defer ert.StopAll() // the Master, roster and director, done or not
	pl.Started(ep.Director(), func(speeds []float64) any { return lb.AddWorkers{Speeds: speeds} })
	var moved migrations
	if len(cfg.Migrations) > 0 {
		adopters := map[string]actors.Addr{}
		for _, m := range cfg.Migrations {
			if _, ok := adopters[m.Node]; !ok {
				adopters[m.Node] = ert.Spawn(&adopter{node: m.Node, placer: pl.Addr(), timeout: units(hostTimeout), record: &moved})
			}
		}
		ert.Spawn(&mover{moves: cfg.Migrations, director: ep.Director(), adopters: adopters, timeout: units(placeTimeout), record: &moved})
	}
	cfg.Logger.Info("episode started", "workers", sc.Workers, "nodes", len(nodes), "algorithm", cfg.Algorithm)
	if err = pl.Await(ctx, ep.Done(), cfg.Timeout, cfg.NoNodes); errors.Is(err, hosting.ErrTimeout) {
		err = fmt.Errorf("lbnet: %w (--timeout)", err)
	} else if err != nil {
		err = fmt.Errorf("lbnet: %w", err)
	}
	out.Wall = time.Since(start)
	if err != nil {
		// The Master reports its ledger so far when it is stopped.
		ert.StopAll()
		for deadline := time.Now().Add(2 * time.Second); ep.Result().LedgerUnits == nil && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
	}
	out.Result = ep.Result()
	out.Result.Algorithm = cfg.Algorithm
	out.AgentsJoined, out.AgentsLeft = ep.AgentCounts()
	out.Events = pl.Events(start, rt.Scale())
	out.Migrations = moved.list()
	if err != nil {
		return out, fmt.Errorf("%w (%d of %d units done)", err, out.Result.UnitsDone, sc.Job)
	}
	cfg.Logger.Info("episode done", "makespan", out.Result.Makespan, "wall", out.Wall.Round(time.Millisecond))
	return out, nil
}

// ErrNoNodes is wrapped by Run's error when every hosting node was gone
// for Config.NoNodes.
var ErrNoNodes = hosting.ErrNoNodes
