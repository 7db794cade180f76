package lbnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/marlon-go/marlon/actors"
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
	// Algorithm names the policy the nodes' PolicyFactory makes.
	Algorithm string
	// Seed draws the scenario's speeds (unless FromNodes) and seeds the
	// policies; EpisodeSeed is the episode's (its unit costs).
	Seed, EpisodeSeed uint64
	// Prepare, if set, is called once the environment is known and before
	// the episode; it returns the checkpoint the nodes restore their policy
	// from (nil: none), after training a learner on the environment, say.
	Prepare func(e *lb.Environment) ([]byte, error)
	// Timeout bounds the episode in real time; default 10 minutes.
	Timeout time.Duration
	// OfferTimeout is how long, in real time, the Master waits for a
	// worker's answer to an Offer before it serves the others; default
	// 250ms.
	OfferTimeout time.Duration
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
	// Wall is how long the episode took in real time.
	Wall time.Duration
}

// NodeInfo is a hosting node and the speeds of its free worker slots.
type NodeInfo struct {
	Name   string    `json:"name"`
	Speeds []float64 `json:"speeds"`
}

// NodeEvent is a node joining or leaving the cluster, at a time of the
// episode's clock (negative: before the episode started).
type NodeEvent struct {
	Node   string  `json:"node"`
	Event  string  `json:"event"` // "joined" or "left"
	At     float64 `json:"at"`
	Reason string  `json:"reason,omitempty"`
}

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
// its policy, and runs the episode until it is done, cfg.Timeout passes or
// ctx is cancelled. Node's runtime scale is the run's time unit. The Master
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
	if cfg.OfferTimeout <= 0 {
		cfg.OfferTimeout = 250 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var out Outcome
	rt := node.Runtime()
	units := func(d time.Duration) float64 { return float64(d) / float64(rt.Scale()) }
	b := &board{changed: make(chan struct{}), ready: map[string]bool{}}
	pl := rt.Spawn(&placer{self: node.Name(), scale: rt.Scale(), timeout: units(hostTimeout), log: cfg.Logger, board: b, hosts: map[string]*hostRef{}})
	node.WatchMembers(pl)
	defer func() {
		node.UnwatchMembers(pl)
		rt.Stop(pl) // the hosts end with it
	}()

	if err := b.waitReady(ctx, cfg); err != nil {
		return out, err
	}
	nodes, err := ask(ctx, rt, pl, func(c chan []NodeInfo) any { return snapshot{c} })
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
	e, err := lb.New(sc, cfg.Seed)
	if err != nil {
		return out, err
	}
	e.OfferTimeout, e.StartBy = units(cfg.OfferTimeout), units(startWithin)
	out.Env = e
	var ckpt []byte
	if cfg.Prepare != nil {
		if ckpt, err = cfg.Prepare(e); err != nil {
			return out, err
		}
	}
	bg := begin{Algorithm: cfg.Algorithm, Checkpoint: ckpt, Scenario: e.Scenario(), Seed: cfg.Seed}
	if err, werr := ask(ctx, rt, pl, func(c chan error) any { return beginAll{bg, c} }); werr != nil || err != nil {
		return out, errors.Join(werr, err)
	}

	start := time.Now()
	place := func(ctx actors.Context, spec lb.WorkerSpec, placed func(actors.Context, actors.Addr, error)) {
		ctx.Request(pl, placeRequest{Spec: spec, At: ctx.Now()}, units(placeTimeout), func(ctx actors.Context, reply any, err error) {
			a, err := replied(reply, err)
			placed(ctx, a.Worker, err)
		})
	}
	crt := &clockedRuntime{Live: rt, c: clock{from: rt.Now(), ratio: 1}}
	ep := e.StartPlaced(crt, cfg.EpisodeSeed, place)
	defer crt.stopAll() // the Master, roster and director, done or not
	rt.Send(pl, started{ep.Director()})
	cfg.Logger.Info("episode started", "workers", sc.Workers, "nodes", len(nodes), "algorithm", cfg.Algorithm)
	err = wait(ctx, rt, ep, cfg.Timeout)
	out.Wall = time.Since(start)
	out.Result = ep.Result()
	out.Result.Algorithm = cfg.Algorithm
	out.AgentsJoined, out.AgentsLeft = ep.AgentCounts()
	out.Events = b.timed(start, rt.Scale())
	if err != nil {
		return out, fmt.Errorf("%w (%d of %d units done)", err, out.Result.UnitsDone, sc.Job)
	}
	cfg.Logger.Info("episode done", "makespan", out.Result.Makespan, "wall", out.Wall.Round(time.Millisecond))
	return out, nil
}

// wait waits until ep is done, timeout passes, ctx is cancelled or an actor
// of rt crashes.
func wait(ctx context.Context, rt *actors.Live, ep *lb.Episode, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	select {
	case <-ep.Done():
		return nil
	case <-deadline.C:
		return fmt.Errorf("lbnet: the episode was not done after %v", timeout)
	case <-ctx.Done():
		return fmt.Errorf("lbnet: episode interrupted: %w", ctx.Err())
	case <-rt.Crashed():
		c := rt.Crashes()[0]
		return fmt.Errorf("lbnet: actor %v crashed at t=%v: %s\n%s", c.Actor, c.At, c.Value, c.Stack)
	}
}

// replied is the answer in reply to a request for a begin or a placement,
// or what went wrong: the request's error, or the answer's.
func replied(reply any, err error) (answer, error) {
	a, ok := reply.(answer)
	switch {
	case err != nil:
	case !ok:
		err = fmt.Errorf("unexpected reply %T", reply)
	case a.Err != "":
		err = errors.New(a.Err)
	}
	return a, err
}

// ask sends the placer a message carrying a reply channel and waits for the
// reply.
func ask[T any](ctx context.Context, rt *actors.Live, to actors.Addr, msg func(chan T) any) (T, error) {
	c := make(chan T, 1)
	rt.Send(to, msg(c))
	select {
	case v := <-c:
		return v, nil
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("lbnet: %w", ctx.Err())
	}
}

// board is what the placer shows Run: the hosting nodes ready and the
// membership events.
type board struct {
	mu      sync.Mutex
	ready   map[string]bool
	events  []timedEvent
	changed chan struct{}
}

type timedEvent struct {
	ev NodeEvent
	at time.Time
}

func (b *board) readyNow() (int, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.ready), b.changed
}

// waitReady waits until cfg.Nodes hosting nodes are ready, telling
// cfg.OnWait as their number changes.
func (b *board) waitReady(ctx context.Context, cfg Config) error {
	if ready, _ := b.readyNow(); ready < cfg.Nodes {
		cfg.Logger.Info("waiting for hosting nodes", "want", cfg.Nodes)
	}
	for last := -1; ; {
		ready, changed := b.readyNow()
		if ready != last && cfg.OnWait != nil {
			cfg.OnWait(ready, cfg.Nodes)
		}
		last = ready
		if ready >= cfg.Nodes {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("lbnet: waiting for %d hosting node(s), %d ready: %w", cfg.Nodes, ready, ctx.Err())
		}
	}
}

func (b *board) setReady(node string, ready bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ready {
		b.ready[node] = true
	} else {
		delete(b.ready, node)
	}
	close(b.changed)
	b.changed = make(chan struct{})
}

func (b *board) event(node, what, reason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, timedEvent{NodeEvent{Node: node, Event: what, Reason: reason}, time.Now()})
}

// timed returns the events with their times on the episode's clock.
func (b *board) timed(start time.Time, scale time.Duration) []NodeEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]NodeEvent, len(b.events))
	for i, e := range b.events {
		out[i] = e.ev
		out[i].At = float64(e.at.Sub(start)) / float64(scale)
	}
	return out
}

// Messages to the placer from Run and the director (on the same node).
type (
	snapshot struct{ reply chan []NodeInfo }
	beginAll struct {
		b     begin
		reply chan error
	}
	started      struct{ director actors.Addr }
	placeRequest struct {
		Spec lb.WorkerSpec
		At   float64
	}
)

// placer is a run's actor on the master's node: it watches the cluster's
// membership, gets a host on every node that hosts workers, has them make
// the run's policy, and places the director's workers in their free slots.
// A node that joins once the episode's workers are set adds its slots as
// new workers.
type placer struct {
	self    string
	scale   time.Duration
	timeout float64 // of requests to hosts, in runtime units
	log     *slog.Logger
	board   *board
	args    []byte
	hosts   map[string]*hostRef

	begin      *begin // the run's, once Run has sent it
	beginReply chan error
	director   actors.Addr
	late       []float64 // slots of nodes begun after the snapshot, for the director
}

type hostRef struct {
	member  transport.Member
	addr    actors.Addr
	free    []float64 // less the slots being placed in
	ready   bool      // free is known
	counted bool      // in the snapshot: its slots are the scenario's workers
	begun   bool
}

func (p *placer) Receive(ctx actors.Context, msg any) {
	switch m := msg.(type) {
	case actors.Started:
		p.args, _ = json.Marshal(hostArgs{Owner: ctx.Self(), Scale: p.scale})
	case transport.NodeJoined:
		p.joined(ctx, m.Member)
	case transport.NodeLeft:
		p.left(m)
	case snapshot:
		var nodes []NodeInfo
		for _, r := range p.sorted() {
			if r.ready {
				r.counted = true
				nodes = append(nodes, NodeInfo{Name: r.member.Name, Speeds: slices.Clone(r.free)})
			}
		}
		m.reply <- nodes
	case beginAll:
		p.begin, p.beginReply = &m.b, m.reply
		for _, r := range p.sorted() {
			if r.ready {
				p.beginHost(ctx, r)
			}
		}
		p.checkBegun()
	case started:
		p.director = m.director
		p.flushLate(ctx)
	case placeRequest:
		p.place(ctx, m)
	}
}

// sorted lists the hosts by node name.
func (p *placer) sorted() []*hostRef {
	rs := make([]*hostRef, 0, len(p.hosts))
	for _, r := range p.hosts {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].member.Name < rs[j].member.Name })
	return rs
}

// current reports whether r is still the host of its node.
func (p *placer) current(r *hostRef) bool { return p.hosts[r.member.Name] == r }

func (p *placer) joined(ctx actors.Context, m transport.Member) {
	if m.Name == p.self {
		return
	}
	if r := p.hosts[m.Name]; r != nil && r.member.Epoch == m.Epoch {
		return
	}
	p.board.event(m.Name, "joined", "")
	r := &hostRef{member: m}
	p.hosts[m.Name] = r
	ctx.Request(m.Spawner, transport.SpawnRequest{Kind: HostKind, Args: p.args}, p.timeout, func(ctx actors.Context, reply any, err error) {
		addr, err := transport.SpawnResult(reply, err)
		if !p.current(r) {
			return
		}
		if err != nil {
			p.log.Info("node hosts no workers", "node", m.Name, "err", err)
			delete(p.hosts, m.Name)
			return
		}
		r.addr = addr
		ctx.Request(addr, capacityQuery{}, p.timeout, func(ctx actors.Context, reply any, err error) {
			if !p.current(r) {
				return
			}
			c, ok := reply.(capacity)
			if err != nil || !ok {
				p.log.Warn("node did not say what it hosts", "node", m.Name, "err", err)
				delete(p.hosts, m.Name)
				return
			}
			r.free, r.ready = c.Speeds, true
			p.log.Info("node hosts workers", "node", m.Name, "free slots", c.Speeds)
			p.board.setReady(m.Name, true)
			if p.begin != nil {
				p.beginHost(ctx, r)
			}
		})
	})
}

func (p *placer) left(m transport.NodeLeft) {
	if m.Member.Name == p.self {
		return
	}
	p.board.event(m.Member.Name, "left", m.Reason)
	if r := p.hosts[m.Member.Name]; r != nil && r.member.Epoch == m.Member.Epoch {
		delete(p.hosts, m.Member.Name)
		p.board.setReady(m.Member.Name, false)
		p.checkBegun()
	}
}

func (p *placer) beginHost(ctx actors.Context, r *hostRef) {
	ctx.Request(r.addr, *p.begin, p.timeout, func(ctx actors.Context, reply any, err error) {
		if !p.current(r) {
			p.checkBegun()
			return
		}
		_, err = replied(reply, err)
		if err != nil {
			err = fmt.Errorf("lbnet: node %s cannot make the %s policy: %w", r.member.Name, p.begin.Algorithm, err)
			delete(p.hosts, r.member.Name)
			if r.counted && p.beginReply != nil {
				p.beginReply <- err
				p.beginReply = nil
			}
			p.log.Warn("node left out", "err", err)
			return
		}
		r.begun = true
		if !r.counted {
			p.late = append(p.late, r.free...)
			p.flushLate(ctx)
		}
		p.checkBegun()
	})
}

// checkBegun answers Run once every host in the snapshot has begun (or is
// gone).
func (p *placer) checkBegun() {
	if p.beginReply == nil {
		return
	}
	for _, r := range p.hosts {
		if r.counted && !r.begun {
			return
		}
	}
	p.beginReply <- nil
	p.beginReply = nil
}

func (p *placer) flushLate(ctx actors.Context) {
	if p.director.IsZero() || len(p.late) == 0 {
		return
	}
	p.log.Info("more workers join", "speeds", p.late)
	ctx.Send(p.director, lb.AddWorkers{Speeds: p.late})
	p.late = nil
}

// place puts the director's worker in the first node, by name, with a free
// slot of its speed.
func (p *placer) place(ctx actors.Context, m placeRequest) {
	to := ctx.ReplyTo()
	var r *hostRef
	for _, h := range p.sorted() {
		if i := slices.Index(h.free, m.Spec.Speed); h.begun && i >= 0 {
			r = h
			r.free = slices.Delete(r.free, i, i+1)
			break
		}
	}
	if r == nil {
		ctx.Reply(to, answer{Err: fmt.Sprintf("no node has a free slot of speed %g for worker %d", m.Spec.Speed, m.Spec.ID)})
		return
	}
	ctx.Request(r.addr, placeWorker(m), p.timeout, func(ctx actors.Context, reply any, err error) {
		a, err := replied(reply, err)
		if err != nil {
			if p.current(r) {
				r.free = append(r.free, m.Spec.Speed)
			}
			ctx.Reply(to, answer{Err: fmt.Sprintf("placing worker %d on %s: %v", m.Spec.ID, r.member.Name, err)})
			return
		}
		ctx.Reply(to, a)
	})
}
