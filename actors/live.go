package actors

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Remote carries envelopes to actors on other nodes. The transport package
// implements it over NATS; the live runtime calls it for every address whose
// Node is not its own. Deliver and Watch must not block for long: they are
// called from inside handlers.
type Remote interface {
	// Deliver hands e to the transport for e.To's node. An error means the
	// envelope will not arrive; the sender is told (a failed request's
	// continuation receives the error, a sender of a plain message receives
	// Undeliverable).
	Deliver(e Envelope) error
	// Watch asks target's node to send Down to watcher when target stops.
	Watch(target, watcher Addr) error
	// Unwatch cancels Watch.
	Unwatch(target, watcher Addr)
}

// Live runs actors for real: one goroutine and one unbounded mailbox per
// actor, real timers. A virtual time unit lasts Scale of real time, so the
// same actor code that runs in the Sim runs here unchanged, and a scenario in
// virtual time units can be replayed at any speed.
//
// Messages between two actors arrive in the order they were sent. Handlers of
// different actors run in parallel; a handler of one actor never runs
// concurrently with another of the same actor.
type Live struct {
	node  string
	scale time.Duration
	start time.Time
	seed  uint64
	first uint64 // LiveOptions.FirstID

	cells  sync.Map // uint64 -> *liveCell
	nextID atomic.Uint64
	corr   atomic.Uint64
	timer  atomic.Uint64
	wg     sync.WaitGroup
	closed atomic.Bool

	remote  Remote
	rmu     sync.Mutex
	rwatch  map[Addr]map[Addr]struct{} // remote target -> local watchers
	cmu     sync.Mutex
	crashes []Crash
	crashed chan struct{} // closed at the first crash

	delivered, deadLetters, lateReplies, crashCount, spawned, stopped atomic.Uint64
}

// LiveOptions configure a Live runtime.
type LiveOptions struct {
	// Node names this runtime's node; default "local".
	Node string
	// Scale is the real duration of one virtual time unit; default 1ms.
	Scale time.Duration
	// Seed seeds the actors' random sources.
	Seed uint64
	// Remote carries envelopes to other nodes; nil means there are none.
	Remote Remote
	// FirstID is the ID before the first actor's: actors are numbered
	// FirstID+1, FirstID+2... A node that can restart under the same name
	// sets it to something its next incarnation will not reuse (the
	// transport uses the boot time), so that an address of an actor of the
	// previous incarnation does not name an actor of this one: a message
	// to it finds no actor, instead of a stranger.
	FirstID uint64
}

// NewLive returns a running live runtime.
func NewLive(o LiveOptions) *Live {
	if o.Node == "" {
		o.Node = "local"
	}
	if o.Scale <= 0 {
		o.Scale = time.Millisecond
	}
	rt := &Live{node: o.Node, scale: o.Scale, seed: o.Seed, first: o.FirstID, start: time.Now(), remote: o.Remote, rwatch: map[Addr]map[Addr]struct{}{}, crashed: make(chan struct{})}
	rt.nextID.Store(o.FirstID)
	return rt
}

// Node is the name of this runtime's node.
func (rt *Live) Node() string { return rt.node }

// Scale is the real duration of one virtual time unit.
func (rt *Live) Scale() time.Duration { return rt.scale }

// Now is the time since the runtime started, in virtual time units.
func (rt *Live) Now() float64 { return float64(time.Since(rt.start)) / float64(rt.scale) }

// Stats counts what the runtime has done so far.
func (rt *Live) Stats() Stats {
	return Stats{
		Delivered: rt.delivered.Load(), DeadLetters: rt.deadLetters.Load(), LateReplies: rt.lateReplies.Load(),
		Crashes: rt.crashCount.Load(), Spawned: rt.spawned.Load(), Stopped: rt.stopped.Load(),
	}
}

// Crashed is closed when a handler first panics, so that code waiting for
// an episode can stop waiting on a crash without polling Crashes.
func (rt *Live) Crashed() <-chan struct{} { return rt.crashed }

// Crashes lists the first handlers that panicked (at most 16 are kept).
func (rt *Live) Crashes() []Crash {
	rt.cmu.Lock()
	defer rt.cmu.Unlock()
	return append([]Crash(nil), rt.crashes...)
}

func (rt *Live) dur(d float64) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(d * float64(rt.scale))
}

// Spawn starts a in its own goroutine.
func (rt *Live) Spawn(a Actor) Addr {
	if rt.closed.Load() {
		panic("actors: Spawn on a closed Live runtime")
	}
	c := &liveCell{rt: rt, addr: Addr{Node: rt.node, ID: rt.nextID.Add(1)}, actor: a, wake: make(chan struct{}, 1)}
	c.ctx.c = c
	c.queue = append(c.queue, item{kind: evDeliver, env: Envelope{To: c.addr, Msg: Started{}}})
	rt.cells.Store(c.addr.ID, c)
	rt.spawned.Add(1)
	rt.wg.Add(1)
	go c.run()
	return c.addr
}

// Send injects msg for to from outside the actor system.
func (rt *Live) Send(to Addr, msg any) { rt.route(Envelope{To: to, Msg: msg}) }

// Stop stops a as Context.Stop does.
func (rt *Live) Stop(a Addr) {
	if c := rt.lookup(a); c != nil {
		c.post(item{kind: evStop, env: Envelope{To: a}})
	}
}

// Inject delivers an envelope that a transport received for a local actor.
func (rt *Live) Inject(e Envelope) {
	if d, ok := e.Msg.(Down); ok && !e.Reply {
		rt.forgetRemoteWatch(d.Actor, e.To)
	}
	rt.route(e)
}

// WatchFor registers a watcher on another node for the local actor target, on
// that node's behalf (a transport calls it). If target is gone, the watcher is
// sent Down at once.
func (rt *Live) WatchFor(target, watcher Addr) {
	c := rt.lookup(target)
	if c == nil || !c.post(item{kind: evWatch, env: Envelope{From: watcher, To: target}}) {
		rt.route(Envelope{From: target, To: watcher, Msg: Down{Actor: target, Reason: NoActor}})
	}
}

// UnwatchFor cancels WatchFor.
func (rt *Live) UnwatchFor(target, watcher Addr) {
	if c := rt.lookup(target); c != nil {
		c.post(item{kind: evUnwatch, env: Envelope{From: watcher, To: target}})
	}
}

// NodeDown tells every local watcher of an actor on node that it went away
// (a transport calls it when a node stops sending heartbeats).
func (rt *Live) NodeDown(node, detail string) {
	rt.rmu.Lock()
	var downs []Envelope
	for target, ws := range rt.rwatch {
		if target.Node != node {
			continue
		}
		for w := range ws {
			downs = append(downs, Envelope{From: target, To: w, Msg: Down{Actor: target, Reason: NodeDown, Detail: detail}})
		}
		delete(rt.rwatch, target)
	}
	rt.rmu.Unlock()
	for _, e := range downs {
		rt.route(e)
	}
}

// Close stops every actor (without Stopping: this is a shutdown) and waits
// for their goroutines to end.
func (rt *Live) Close() {
	rt.closed.Store(true)
	rt.cells.Range(func(_, v any) bool {
		c := v.(*liveCell)
		c.post(item{kind: evKill})
		return true
	})
	rt.wg.Wait()
}

func (rt *Live) lookup(a Addr) *liveCell {
	if a.Node != rt.node {
		return nil
	}
	v, ok := rt.cells.Load(a.ID)
	if !ok {
		return nil
	}
	return v.(*liveCell)
}

// route delivers e to a local mailbox or hands it to the transport.
func (rt *Live) route(e Envelope) {
	if e.To.Node != rt.node {
		if rt.remote == nil {
			rt.undeliverable(e, fmt.Errorf("%w: no transport to node %q", ErrUndeliverable, e.To.Node))
			return
		}
		if err := rt.remote.Deliver(e); err != nil {
			rt.undeliverable(e, err)
		}
		return
	}
	c := rt.lookup(e.To)
	if c == nil || !c.post(item{kind: evDeliver, env: e}) {
		rt.deadLetter(e)
	}
}

// deadLetter handles an envelope for a local actor that has gone: a request
// fails at once with ErrNoActor, anything else is counted.
func (rt *Live) deadLetter(e Envelope) {
	if e.Corr != 0 && !e.Reply && !e.From.IsZero() {
		rt.route(Envelope{From: e.To, To: e.From, Corr: e.Corr, Reply: true, Err: ErrNoActor})
		return
	}
	rt.deadLetters.Add(1)
}

// undeliverable tells the sender that the transport could not take e.
func (rt *Live) undeliverable(e Envelope, err error) {
	switch {
	case e.From.IsZero() || e.From.Node != rt.node || e.Reply:
		rt.deadLetters.Add(1)
	case e.Corr != 0:
		rt.route(Envelope{From: e.To, To: e.From, Corr: e.Corr, Reply: true, Err: err})
	default:
		rt.route(Envelope{To: e.From, Msg: Undeliverable{To: e.To, Msg: e.Msg, Err: err}})
	}
}

func (rt *Live) addRemoteWatch(target, watcher Addr) {
	rt.rmu.Lock()
	ws := rt.rwatch[target]
	if ws == nil {
		ws = map[Addr]struct{}{}
		rt.rwatch[target] = ws
	}
	ws[watcher] = struct{}{}
	rt.rmu.Unlock()
}

func (rt *Live) forgetRemoteWatch(target, watcher Addr) {
	rt.rmu.Lock()
	if ws := rt.rwatch[target]; ws != nil {
		delete(ws, watcher)
		if len(ws) == 0 {
			delete(rt.rwatch, target)
		}
	}
	rt.rmu.Unlock()
}

type item struct {
	kind evKind
	id   uint64
	env  Envelope
}

// Kinds of mailbox items beyond the Sim's event kinds.
const (
	evWatch evKind = iota + 16 // env.From watches env.To
	evUnwatch
	evKill // shut down without Stopping
)

type livePending struct {
	then  Then
	timer *time.Timer
}

type liveCell struct {
	rt    *Live
	addr  Addr
	actor Actor

	mu     sync.Mutex
	queue  []item
	closed bool
	wake   chan struct{}

	// Owned by the cell's goroutine.
	spare    []item
	pending  map[RequestID]livePending
	timers   map[Timer]*time.Timer
	watchers map[Addr]struct{}
	rng      *rand.Rand
	ctx      liveContext
}

// post appends it to the mailbox; false if the actor has stopped.
func (c *liveCell) post(it item) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.queue = append(c.queue, it)
	first := len(c.queue) == 1
	c.mu.Unlock()
	if first {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return true
}

func (c *liveCell) run() {
	defer c.rt.wg.Done()
	for {
		c.mu.Lock()
		for len(c.queue) == 0 {
			c.mu.Unlock()
			<-c.wake
			c.mu.Lock()
		}
		batch := c.queue
		c.queue = c.spare[:0]
		c.mu.Unlock()
		for i := range batch {
			if reason, detail, done := c.handle(&batch[i]); done {
				c.die(reason, detail, batch[i+1:])
				return
			}
			batch[i] = item{}
		}
		c.spare = batch[:0]
	}
}

// handle processes one mailbox item and reports whether the actor is done.
func (c *liveCell) handle(it *item) (DownReason, string, bool) {
	switch it.kind {
	case evDeliver:
		e := &it.env
		if e.Reply {
			p, ok := c.pending[e.Corr]
			if !ok {
				c.rt.lateReplies.Add(1)
				return 0, "", false
			}
			delete(c.pending, e.Corr)
			if p.timer != nil {
				p.timer.Stop()
			}
			return c.invoke(e, p.then, e.Corr)
		}
		return c.invoke(e, nil, 0)
	case evTimer:
		if _, ok := c.timers[Timer(it.id)]; !ok {
			return 0, "", false
		}
		delete(c.timers, Timer(it.id))
		return c.invoke(&it.env, nil, 0)
	case evTimeout:
		p, ok := c.pending[RequestID(it.id)]
		if !ok {
			return 0, "", false
		}
		delete(c.pending, RequestID(it.id))
		it.env.Reply, it.env.Err = true, ErrTimeout
		return c.invoke(&it.env, p.then, RequestID(it.id))
	case evStop:
		it.env.Msg = Stopping{}
		if r, d, done := c.invoke(&it.env, nil, 0); done {
			return r, d, true
		}
		return Stopped, "", true
	case evKill:
		return Stopped, "runtime closed", true
	case evWatch:
		if c.watchers == nil {
			c.watchers = map[Addr]struct{}{}
		}
		c.watchers[it.env.From] = struct{}{}
	case evUnwatch:
		delete(c.watchers, it.env.From)
	}
	return 0, "", false
}

// invoke runs one turn; a panic ends the actor with reason Crashed.
func (c *liveCell) invoke(e *Envelope, then Then, corr RequestID) (reason DownReason, detail string, done bool) {
	defer func() {
		if r := recover(); r != nil {
			rt := c.rt
			rt.crashCount.Add(1)
			rt.cmu.Lock()
			if len(rt.crashes) == 0 {
				close(rt.crashed)
			}
			if len(rt.crashes) < 16 {
				rt.crashes = append(rt.crashes, Crash{Actor: c.addr, At: rt.Now(), Value: crashDetail(r), Stack: string(debug.Stack())})
			}
			rt.cmu.Unlock()
			reason, detail, done = Crashed, crashDetail(r), true
		}
	}()
	c.rt.delivered.Add(1)
	x := &c.ctx
	x.sender = e.From
	x.replyTo = ReplyTo{}
	switch {
	case e.Reply && then != nil:
		then(x, e.Msg, e.Err)
	case e.Reply:
		c.actor.Receive(x, Response{ID: corr, Reply: e.Msg, Err: e.Err})
	default:
		if e.Corr != 0 {
			x.replyTo = ReplyTo{To: e.From, Corr: e.Corr}
		}
		c.actor.Receive(x, e.Msg)
	}
	return 0, "", false
}

// die closes the mailbox, fails what was left in it, cancels timers and tells
// the watchers.
func (c *liveCell) die(reason DownReason, detail string, rest []item) {
	rt := c.rt
	c.mu.Lock()
	c.closed = true
	rest = append(rest, c.queue...)
	c.queue = nil
	c.mu.Unlock()
	rt.cells.Delete(c.addr.ID)
	rt.stopped.Add(1)
	for _, t := range c.timers {
		t.Stop()
	}
	for _, p := range c.pending {
		if p.timer != nil {
			p.timer.Stop()
		}
	}
	for i := range rest {
		switch rest[i].kind {
		case evDeliver:
			rt.deadLetter(rest[i].env)
		case evWatch:
			if c.watchers == nil {
				c.watchers = map[Addr]struct{}{}
			}
			c.watchers[rest[i].env.From] = struct{}{}
		}
	}
	for w := range c.watchers {
		rt.route(Envelope{From: c.addr, To: w, Msg: Down{Actor: c.addr, Reason: reason, Detail: detail}})
	}
}

type liveContext struct {
	c       *liveCell
	sender  Addr
	replyTo ReplyTo
}

func (x *liveContext) Self() Addr       { return x.c.addr }
func (x *liveContext) Sender() Addr     { return x.sender }
func (x *liveContext) Now() float64     { return x.c.rt.Now() }
func (x *liveContext) ReplyTo() ReplyTo { return x.replyTo }

func (x *liveContext) Rand() *rand.Rand {
	if x.c.rng == nil {
		x.c.rng = rand.New(rand.NewPCG(x.c.rt.seed, x.c.addr.ID-x.c.rt.first)) // the same sources whatever FirstID
	}
	return x.c.rng
}

func (x *liveContext) Send(to Addr, msg any) {
	x.c.rt.route(Envelope{From: x.c.addr, To: to, Msg: msg})
}

func (x *liveContext) Request(to Addr, msg any, timeout float64, then Then) RequestID {
	if !(timeout > 0) {
		panic(fmt.Sprintf("actors: request timeout must be > 0 (or Forever), got %v", timeout))
	}
	c := x.c
	rt := c.rt
	id := RequestID(rt.corr.Add(1))
	p := livePending{then: then}
	if !math.IsInf(timeout, 1) {
		p.timer = time.AfterFunc(rt.dur(timeout), func() {
			c.post(item{kind: evTimeout, id: uint64(id), env: Envelope{From: c.addr, To: c.addr}})
		})
	}
	if c.pending == nil {
		c.pending = make(map[RequestID]livePending)
	}
	c.pending[id] = p
	rt.route(Envelope{From: c.addr, To: to, Msg: msg, Corr: id})
	return id
}

func (x *liveContext) Reply(r ReplyTo, msg any) {
	if r.Corr == 0 {
		return
	}
	x.c.rt.route(Envelope{From: x.c.addr, To: r.To, Msg: msg, Corr: r.Corr, Reply: true})
}

func (x *liveContext) After(d float64, msg any) Timer {
	c := x.c
	id := Timer(c.rt.timer.Add(1))
	if c.timers == nil {
		c.timers = make(map[Timer]*time.Timer)
	}
	c.timers[id] = time.AfterFunc(c.rt.dur(d), func() {
		c.post(item{kind: evTimer, id: uint64(id), env: Envelope{To: c.addr, Msg: msg}})
	})
	return id
}

func (x *liveContext) Cancel(t Timer) bool {
	tm, ok := x.c.timers[t]
	if !ok {
		return false
	}
	tm.Stop()
	delete(x.c.timers, t)
	return true
}

func (x *liveContext) Spawn(a Actor) Addr { return x.c.rt.Spawn(a) }

func (x *liveContext) Stop(a Addr) {
	if a.Node != x.c.rt.node {
		return // remote actors are stopped by their own node
	}
	x.c.rt.Stop(a)
}

func (x *liveContext) Watch(a Addr) {
	c := x.c
	rt := c.rt
	if a.Node != rt.node {
		rt.addRemoteWatch(a, c.addr)
		var err error
		if rt.remote == nil {
			err = fmt.Errorf("no transport to node %q", a.Node)
		} else {
			err = rt.remote.Watch(a, c.addr)
		}
		if err != nil {
			rt.forgetRemoteWatch(a, c.addr)
			c.post(item{kind: evDeliver, env: Envelope{From: a, To: c.addr, Msg: Down{Actor: a, Reason: NodeDown, Detail: err.Error()}}})
		}
		return
	}
	t := rt.lookup(a)
	if t == nil || !t.post(item{kind: evWatch, env: Envelope{From: c.addr, To: a}}) {
		c.post(item{kind: evDeliver, env: Envelope{From: a, To: c.addr, Msg: Down{Actor: a, Reason: NoActor}}})
	}
}

func (x *liveContext) Unwatch(a Addr) {
	c := x.c
	rt := c.rt
	if a.Node != rt.node {
		rt.forgetRemoteWatch(a, c.addr)
		if rt.remote != nil {
			rt.remote.Unwatch(a, c.addr)
		}
		return
	}
	if t := rt.lookup(a); t != nil {
		t.post(item{kind: evUnwatch, env: Envelope{From: c.addr, To: a}})
	}
}
