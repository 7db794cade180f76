package hosting

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
	"github.com/marlon-go/marlon/transport"
)

// PlacerConfig configures NewPlacer.
type PlacerConfig struct {
	// Kind names the environment whose hosts the placer uses
	// (HostConfig.Kind).
	Kind string
	// HostTimeout bounds, in real time, each request to a host; default
	// 10s. It only matters when a node fails in the middle of one.
	HostTimeout time.Duration
	// Logger receives what the placer does; default: discarded.
	Logger *slog.Logger
}

// NodeInfo is a hosting node and the speeds of its free slots.
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

// Placer is a run's placer on the master's node, for code outside the
// actors; its actor (Addr) answers Place requests from the run's actors.
type Placer struct {
	node  *transport.Node
	addr  actors.Addr
	board *board
	log   *slog.Logger
}

// NewPlacer starts a placer on node: it watches the cluster's membership
// and gets a host on every member that serves cfg.Kind. Close it when the
// run is over: the hosts end with it.
func NewPlacer(node *transport.Node, cfg PlacerConfig) *Placer {
	if cfg.HostTimeout <= 0 {
		cfg.HostTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	rt := node.Runtime()
	b := &board{changed: make(chan struct{}), ready: map[string]bool{}}
	pl := &placer{self: node.Name(), kind: HostKind(cfg.Kind), scale: rt.Scale(), timeout: float64(cfg.HostTimeout) / float64(rt.Scale()),
		log: cfg.Logger, board: b, hosts: map[string]*hostRef{}}
	p := &Placer{node: node, addr: rt.Spawn(pl), board: b, log: cfg.Logger}
	node.WatchMembers(p.addr)
	return p
}

// Addr is the placer actor: send it Place requests.
func (p *Placer) Addr() actors.Addr { return p.addr }

// Close stops the placer; the hosts end with it, stopping their actors.
func (p *Placer) Close() {
	p.node.UnwatchMembers(p.addr)
	p.node.Runtime().Stop(p.addr)
}

// WaitNodes waits until count hosting nodes have said what slots they have,
// calling onWait (if not nil) with how many are ready whenever that
// changes, until ctx is done.
func (p *Placer) WaitNodes(ctx context.Context, count int, onWait func(ready, want int)) error {
	if ready, _ := p.board.readyNow(); ready < count {
		p.log.Info("waiting for hosting nodes", "want", count)
	}
	for last := -1; ; {
		ready, changed := p.board.readyNow()
		if ready != last && onWait != nil {
			onWait(ready, count)
		}
		last = ready
		if ready >= count {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("hosting: waiting for %d hosting node(s), %d ready: %w", count, ready, ctx.Err())
		}
	}
}

// Ready is the number of hosting nodes that have said what slots they
// have and not left since.
func (p *Placer) Ready() int {
	n, _ := p.board.readyNow()
	return n
}

// Nodes lists the hosting nodes ready now, by name, with their free slots:
// those slots are the run's. A node ready later is late: once it has begun
// the run, its slots go to Started's late callback.
func (p *Placer) Nodes(ctx context.Context) ([]NodeInfo, error) {
	return ask(ctx, p.node.Runtime(), p.addr, func(c chan []NodeInfo) any { return snapshot{c} })
}

// BeginError is Begin's error when a node cannot begin the run.
type BeginError struct {
	Node string
	Err  error
}

func (e *BeginError) Error() string {
	return fmt.Sprintf("hosting: node %s cannot begin the run: %v", e.Node, e.Err)
}

func (e *BeginError) Unwrap() error { return e.Err }

// Begin has every host of the nodes listed by Nodes begin the run, with
// payload for their RunFactory, and waits for all of them (or ctx). A node
// that fails to begin fails Begin with a *BeginError; a node that leaves
// meanwhile does not.
func (p *Placer) Begin(ctx context.Context, payload []byte) error {
	err, werr := ask(ctx, p.node.Runtime(), p.addr, func(c chan error) any { return beginAll{begin{Payload: payload}, c} })
	return errors.Join(werr, err)
}

// Started tells the placer the run's actors are placing: from now on the
// slots of nodes that begin late are sent to notify as the message late
// makes of their speeds.
func (p *Placer) Started(notify actors.Addr, late func(speeds []float64) any) {
	p.node.Runtime().Send(p.addr, started{notify, late})
}

// Events are the membership changes seen since the placer started, with
// their times on an episode's clock that started at start and runs at
// scale.
func (p *Placer) Events(start time.Time, scale time.Duration) []NodeEvent {
	return p.board.timed(start, scale)
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
		return zero, fmt.Errorf("hosting: %w", ctx.Err())
	}
}

// board is what the placer shows the Placer: the hosting nodes ready and the
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

// Messages to the placer from the Placer (on the same node).
type (
	snapshot struct{ reply chan []NodeInfo }
	beginAll struct {
		b     begin
		reply chan error
	}
	started struct {
		notify actors.Addr
		late   func([]float64) any
	}
)

// placer is a run's actor on the master's node: it watches the cluster's
// membership, gets a host on every node that hosts the run's kind, has them
// begin the run, and places the run's actors in their free slots. A node
// that begins once the run's slots are set adds its slots late.
type placer struct {
	self    string
	kind    string
	scale   time.Duration
	timeout float64 // of requests to hosts, in runtime units
	log     *slog.Logger
	board   *board
	args    []byte
	hosts   map[string]*hostRef

	begin      *begin // the run's, once Begin has sent it
	beginReply chan error
	notify     actors.Addr
	lateMsg    func([]float64) any
	late       []float64 // slots of nodes begun after the snapshot, not yet told
}

type hostRef struct {
	member  transport.Member
	addr    actors.Addr
	free    []float64 // less the slots being placed in
	ready   bool      // free is known
	counted bool      // in the snapshot: its slots are the run's
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
		p.notify, p.lateMsg = m.notify, m.late
		p.flushLate(ctx)
	case Place:
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
	ctx.Request(m.Spawner, transport.SpawnRequest{Kind: p.kind, Args: p.args}, p.timeout, func(ctx actors.Context, reply any, err error) {
		addr, err := transport.SpawnResult(reply, err)
		if !p.current(r) {
			return
		}
		if err != nil {
			p.log.Info("node hosts nothing for this run", "node", m.Name, "err", err)
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
			p.log.Info("node hosts", "node", m.Name, "free slots", c.Speeds)
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
		if _, err = replied(reply, err); err != nil {
			err = &BeginError{Node: r.member.Name, Err: err}
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

// checkBegun answers Begin once every host in the snapshot has begun (or is
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
	if p.notify.IsZero() || len(p.late) == 0 {
		return
	}
	p.log.Info("more slots join", "speeds", p.late)
	ctx.Send(p.notify, p.lateMsg(p.late))
	p.late = nil
}

// place puts the requested actor on its node, if it names one, else in
// the first node, by name, with a free slot of its speed.
func (p *placer) place(ctx actors.Context, m Place) {
	to := ctx.ReplyTo()
	fits := func(h *hostRef) int {
		if m.Speed == 0 && len(h.free) > 0 {
			return 0
		}
		return slices.Index(h.free, m.Speed)
	}
	var r *hostRef
	reserved := false // a slot taken off r.free for the placement
	if m.Node != "" {
		// The host is the judge of its free slots: an actor placed on it
		// may have ended since, and freed its slot.
		if r = p.hosts[m.Node]; r == nil || !r.begun {
			var names []string
			for _, h := range p.sorted() {
				if h.begun {
					names = append(names, h.member.Name)
				}
			}
			ctx.Reply(to, answer{Err: fmt.Sprintf("node %s is not a hosting node of the run (they are: %v)", m.Node, names)})
			return
		}
	} else {
		for _, h := range p.sorted() {
			if i := fits(h); h.begun && i >= 0 {
				r, reserved = h, true
				m.Speed = h.free[i]
				r.free = slices.Delete(r.free, i, i+1)
				break
			}
		}
	}
	switch {
	case r == nil && m.Speed == 0:
		ctx.Reply(to, answer{Err: "no node has a free slot"})
		return
	case r == nil:
		ctx.Reply(to, answer{Err: fmt.Sprintf("no node has a free slot of speed %g", m.Speed)})
		return
	}
	ctx.Request(r.addr, m, p.timeout, func(ctx actors.Context, reply any, err error) {
		a, err := replied(reply, err)
		switch {
		case err != nil:
			if reserved && p.current(r) {
				r.free = append(r.free, m.Speed)
			}
			ctx.Reply(to, answer{Err: fmt.Sprintf("placing on %s: %v", r.member.Name, err)})
			return
		case !reserved && p.current(r):
			if i := slices.Index(r.free, a.Speed); i >= 0 {
				r.free = slices.Delete(r.free, i, i+1)
			}
		}
		ctx.Reply(to, a)
	})
}
