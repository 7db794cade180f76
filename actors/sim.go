package actors

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime/debug"
)

// Sim is the discrete-event runtime: virtual time, one goroutine, events in a
// heap ordered by (time, sequence number), every random draw from a source
// seeded by the Sim's seed. The same actors, seed and injected messages give
// the same run, event for event, to the bit.
//
// Messages are delivered with no delay; the time an actor takes is modelled by
// the actor itself with After. Actors may be spawned on named nodes (SpawnOn)
// so that a node failure can be simulated with KillNode.
//
// A Sim is not safe for concurrent use.
type Sim struct {
	node  string
	seed  uint64
	now   float64
	seq   uint64
	corr  RequestID
	timer Timer

	heap  eventHeap // events later than now
	fifo  eventRing // events at now, in sequence order
	cells []*simCell
	nodes map[string][]uint64 // IDs of the cells spawned on each node (the dead too) since its last KillNode
	ctx   simContext

	stats   Stats
	crashes []Crash
	tracer  func(TraceEvent)

	net   Network
	links map[link]float64 // latest delivery time per ordered pair of nodes
}

// Network models the links between a Sim's nodes. For every message an
// actor sends to an actor on another node (plain messages, requests, replies,
// and Down messages to watchers on another node, KillNode's included), the
// Sim asks Link what becomes of it: it arrives delay virtual time units
// later, or it is lost. Messages within a node, timers, request timeouts and
// messages injected from outside the actors never cross a link.
//
// Delivery between two nodes stays in order, as over the transport: a
// message never overtakes an earlier one of the same ordered pair of nodes,
// whatever delays Link returns. A lost request is not answered: its
// requester's timeout fires (or, with Forever, it waits for ever, as a real
// one would). A lost Down is lost: failure detection across a partition is
// the model's business: a delay on Down messages models a detector's
// latency, and DeclareDown tells the watchers on one side of a partition
// that the other side's actors are gone without stopping them.
//
// Link is called in the Sim's deterministic order, so a model that draws its
// randomness from its own seeded source keeps the run reproducible.
type Network interface {
	Link(from, to string, msg any) (delay float64, lost bool)
}

// Refusing is a Network that can also refuse a message, as the transport
// does when the target's node has been declared down (or is declared down
// before the message is acknowledged): the message is not delivered and
// its sender is told after the returned delay, as the live runtime tells
// it, by its own node, without crossing the network: a request fails with
// ErrUndeliverable, a plain message comes back as Undeliverable; a refused
// reply is dropped (nobody is waiting to be told). The Sim asks Refuse
// before Link, for the same messages, and counts refusals in
// Stats.Refused.
type Refusing interface {
	Network
	Refuse(from, to string, msg any) (after float64, refused bool)
}

type link struct{ from, to string }

// SetNetwork makes n decide the fate of messages between nodes (nil: they
// arrive at once, the default).
func (s *Sim) SetNetwork(n Network) { s.net = n }

// Crash records a handler that panicked.
type Crash struct {
	Actor Addr
	At    float64
	Value string
	Stack string
}

// TraceEvent is one delivered message, as a tracer sees it.
type TraceEvent struct {
	At       float64
	Seq      uint64
	From, To Addr
	Msg      any
}

type evKind uint8

const (
	evDeliver evKind = iota // env.Msg to env.To
	evTimer                 // timer id fired at env.To
	evTimeout               // request id timed out at env.To
	evStop                  // stop env.To
)

type event struct {
	at   float64
	seq  uint64
	kind evKind
	id   uint64 // Timer or RequestID
	env  Envelope
}

type pendingReq struct{ then Then }

type simCell struct {
	addr    Addr
	actor   Actor
	pending pendingSet
	timers  timerSet
	watch   watcherSet
	rng     *rand.Rand
}

// timerSet is a cell's timers not yet fired or cancelled: a few inline (an
// actor rarely has more than one or two), the rest in a map. A map per cell
// cost an allocation and a hashed lookup per timer, for each of 100,000
// workers.
type timerSet struct {
	few  [2]Timer // 0: a free slot (timers are numbered from 1)
	many map[Timer]struct{}
}

func (t *timerSet) add(id Timer) {
	for i := range t.few {
		if t.few[i] == 0 {
			t.few[i] = id
			return
		}
	}
	if t.many == nil {
		t.many = map[Timer]struct{}{}
	}
	t.many[id] = struct{}{}
}

// remove removes id and reports whether it was there.
func (t *timerSet) remove(id Timer) bool {
	if id == 0 {
		return false
	}
	for i := range t.few {
		if t.few[i] == id {
			t.few[i] = 0
			return true
		}
	}
	if _, ok := t.many[id]; ok {
		delete(t.many, id)
		return true
	}
	return false
}

// pendingSet is a cell's requests awaiting their reply, as timerSet keeps
// timers.
type pendingSet struct {
	few  [2]pendingEntry // id 0: a free slot (requests are numbered from 1)
	many map[RequestID]pendingReq
}

type pendingEntry struct {
	id  RequestID
	req pendingReq
}

func (p *pendingSet) add(id RequestID, r pendingReq) {
	for i := range p.few {
		if p.few[i].id == 0 {
			p.few[i] = pendingEntry{id, r}
			return
		}
	}
	if p.many == nil {
		p.many = map[RequestID]pendingReq{}
	}
	p.many[id] = r
}

// take removes request id and returns it, if it was there.
func (p *pendingSet) take(id RequestID) (pendingReq, bool) {
	if id == 0 {
		return pendingReq{}, false
	}
	for i := range p.few {
		if p.few[i].id == id {
			r := p.few[i].req
			p.few[i] = pendingEntry{}
			return r, true
		}
	}
	r, ok := p.many[id]
	if ok {
		delete(p.many, id)
	}
	return r, ok
}

// watcherSet is a cell's watchers in the order they started watching, so
// that Down messages go out in a reproducible order. Adding and removing one
// is O(1) (amortised), however many watch: a Master watched by every one of
// P workers must not cost O(P) per Watch.
type watcherSet struct {
	list  []Addr       // in order; the zero Addr marks one that unwatched
	index map[Addr]int // position in list, once the list is long
	holes int
}

const watcherScan = 8 // below this many, a scan beats a map

func (w *watcherSet) find(a Addr) int {
	if w.index != nil {
		if i, ok := w.index[a]; ok {
			return i
		}
		return -1
	}
	for i, x := range w.list {
		if x == a {
			return i
		}
	}
	return -1
}

// add adds a unless it is there.
func (w *watcherSet) add(a Addr) {
	if w.find(a) >= 0 {
		return
	}
	w.list = append(w.list, a)
	if w.index == nil && len(w.list) > watcherScan {
		w.reindex()
		return
	}
	if w.index != nil {
		w.index[a] = len(w.list) - 1
	}
}

// remove removes a if it is there.
func (w *watcherSet) remove(a Addr) {
	i := w.find(a)
	if i < 0 {
		return
	}
	w.list[i] = Addr{}
	w.holes++
	if w.index != nil {
		delete(w.index, a)
	}
	if w.holes > len(w.list)/2 {
		kept := w.list[:0]
		for _, x := range w.list {
			if x != (Addr{}) {
				kept = append(kept, x)
			}
		}
		clear(w.list[len(kept):])
		w.list, w.holes = kept, 0
		if w.index != nil {
			w.reindex()
		}
	}
}

func (w *watcherSet) reindex() {
	w.index = make(map[Addr]int, len(w.list))
	for i, x := range w.list {
		if x != (Addr{}) {
			w.index[x] = i
		}
	}
}

// each calls f for every watcher, in order.
func (w *watcherSet) each(f func(Addr)) {
	for _, x := range w.list {
		if x != (Addr{}) {
			f(x)
		}
	}
}

// NewSim returns a simulator whose actors live on node "sim" and whose random
// sources derive from seed.
func NewSim(seed uint64) *Sim {
	s := &Sim{node: "sim", seed: seed, cells: []*simCell{nil}}
	s.ctx.s = s
	return s
}

// Node is the name of the Sim's default node.
func (s *Sim) Node() string { return s.node }

// Seed is the seed the Sim was made with.
func (s *Sim) Seed() uint64 { return s.seed }

// Now is the current virtual time.
func (s *Sim) Now() float64 { return s.now }

// Stats counts what the Sim has done so far.
func (s *Sim) Stats() Stats { return s.stats }

// Crashes lists the first handlers that panicked (at most 16 are kept).
func (s *Sim) Crashes() []Crash { return s.crashes }

// SetTracer calls f for every message delivered to an actor, in order.
func (s *Sim) SetTracer(f func(TraceEvent)) { s.tracer = f }

// Pending is the number of events not yet processed.
func (s *Sim) Pending() int { return len(s.heap) + s.fifo.len() }

// Spawn starts a on the default node.
func (s *Sim) Spawn(a Actor) Addr { return s.SpawnOn(s.node, a) }

// SpawnOn starts a on the named simulated node.
func (s *Sim) SpawnOn(node string, a Actor) Addr {
	id := uint64(len(s.cells))
	c := &simCell{addr: Addr{Node: node, ID: id}, actor: a}
	s.cells = append(s.cells, c)
	if s.nodes == nil {
		s.nodes = map[string][]uint64{}
	}
	s.nodes[node] = append(s.nodes[node], id)
	s.stats.Spawned++
	s.push(0, event{kind: evDeliver, env: Envelope{To: c.addr, Msg: Started{}}})
	return c.addr
}

// Send injects msg for to from outside the actor system.
func (s *Sim) Send(to Addr, msg any) {
	s.push(0, event{kind: evDeliver, env: Envelope{To: to, Msg: msg}})
}

// SendAfter injects msg for to from outside, d virtual time units from now.
func (s *Sim) SendAfter(d float64, to Addr, msg any) {
	s.push(d, event{kind: evDeliver, env: Envelope{To: to, Msg: msg}})
}

// Stop stops a as Context.Stop does.
func (s *Sim) Stop(a Addr) { s.push(0, event{kind: evStop, env: Envelope{To: a}}) }

// KillNode makes every actor on node go away at once, as if the machine had
// died: they receive nothing more and their watchers receive Down with reason
// NodeDown (across the network for watchers on other nodes).
func (s *Sim) KillNode(node string) {
	ids := s.nodes[node]
	delete(s.nodes, node)
	for _, id := range ids {
		if c := s.cells[id]; c != nil {
			s.kill(c, NodeDown, "node "+node+" killed")
		}
	}
}

// DeclareDown tells the watchers of the actors on the nodes gone accepts,
// if those watchers are on other nodes accepted by observers, that the
// actors went away (Down, reason NodeDown, with detail), as the failure
// detector of the observers' side of a partition does: the actors are not
// stopped, they keep running, and their other watchers are not told. The
// Down messages are produced now at the observers' own nodes, so they do
// not cross the network. Each watch it reports ends, as a watch does once
// its Down is sent. It returns the number of Down messages sent.
func (s *Sim) DeclareDown(gone, observers func(node string) bool, detail string) int {
	n := 0
	var told []Addr
	for _, c := range s.cells {
		if c == nil || !gone(c.addr.Node) {
			continue
		}
		told = told[:0]
		c.watch.each(func(w Addr) {
			if w.Node != c.addr.Node && observers(w.Node) {
				told = append(told, w)
			}
		})
		for _, w := range told {
			s.push(0, event{kind: evDeliver, env: Envelope{From: c.addr, To: w, Msg: Down{Actor: c.addr, Reason: NodeDown, Detail: detail}}})
			c.watch.remove(w)
			n++
		}
	}
	return n
}

// Step processes the next event and reports whether there was one.
func (s *Sim) Step() bool {
	ev, ok := s.next(math.Inf(1))
	if ok {
		s.process(&ev)
	}
	return ok
}

// Run processes events until none is left.
func (s *Sim) Run() {
	for s.Step() {
	}
}

// RunUntil processes events up to virtual time limit, stopping early when
// stop (if non-nil) returns true after an event. It reports whether it stopped
// because stop said so. When it stops at the limit with events left, the clock
// is left at limit.
func (s *Sim) RunUntil(limit float64, stop func() bool) bool {
	for {
		ev, ok := s.next(limit)
		if !ok {
			if s.Pending() > 0 && limit > s.now {
				s.now = limit
			}
			return false
		}
		s.process(&ev)
		if stop != nil && stop() {
			return true
		}
	}
}

// next pops the next event not later than limit.
func (s *Sim) next(limit float64) (event, bool) {
	// Heap events at the current time were scheduled before any event now in
	// the FIFO, so they go first: that keeps (time, sequence) order.
	if len(s.heap) > 0 && s.heap[0].at <= s.now {
		return s.heap.pop(), true
	}
	if s.fifo.len() > 0 {
		return s.fifo.pop(), true
	}
	if len(s.heap) > 0 && s.heap[0].at <= limit {
		ev := s.heap.pop()
		s.now = ev.at
		return ev, true
	}
	return event{}, false
}

// deliver pushes a message from one actor to another, across the network
// model when they are on different nodes.
func (s *Sim) deliver(e Envelope) {
	d := 0.0
	if s.net != nil && e.From.Node != "" && e.From.Node != e.To.Node {
		if r, ok := s.net.(Refusing); ok {
			if after, refused := r.Refuse(e.From.Node, e.To.Node, e.Msg); refused {
				s.refuse(e, after)
				return
			}
		}
		var lost bool
		d, lost = s.net.Link(e.From.Node, e.To.Node, e.Msg)
		if lost {
			s.stats.Lost++
			return
		}
		if !(d >= 0) || math.IsInf(d, 1) {
			panic(fmt.Sprintf("actors: network delay must be a finite number >= 0, got %v", d))
		}
		k := link{e.From.Node, e.To.Node}
		if s.links == nil {
			s.links = map[link]float64{}
		}
		if last, ok := s.links[k]; ok && s.now+d < last {
			d = last - s.now // in order: never before an earlier message of the pair
		}
		s.links[k] = s.now + d
	}
	s.push(d, event{kind: evDeliver, env: e})
}

// refuse tells e's sender, after the given delay, that the network refused
// e (see Refusing).
func (s *Sim) refuse(e Envelope, after float64) {
	if !(after >= 0) || math.IsInf(after, 1) {
		panic(fmt.Sprintf("actors: refusal delay must be a finite number >= 0, got %v", after))
	}
	s.stats.Refused++
	switch {
	case e.Reply:
		// Nobody to tell, as for the transport's lost replies.
	case e.Corr != 0:
		s.push(after, event{kind: evDeliver, env: Envelope{From: e.To, To: e.From, Corr: e.Corr, Reply: true, Err: ErrUndeliverable}})
	default:
		s.push(after, event{kind: evDeliver, env: Envelope{To: e.From, Msg: Undeliverable{To: e.To, Msg: e.Msg, Err: ErrUndeliverable}}})
	}
}

func (s *Sim) push(d float64, ev event) {
	if d != d {
		panic("actors: delay is NaN")
	}
	s.seq++
	ev.seq = s.seq
	at := s.now + d
	if d <= 0 || at == s.now {
		ev.at = s.now
		s.fifo.push(ev)
		return
	}
	ev.at = at
	s.heap.push(ev)
}

func (s *Sim) cell(a Addr) *simCell {
	if a.ID >= uint64(len(s.cells)) {
		return nil
	}
	c := s.cells[a.ID]
	if c == nil || c.addr.Node != a.Node {
		return nil
	}
	return c
}

func (s *Sim) process(ev *event) {
	c := s.cell(ev.env.To)
	if c == nil {
		if ev.kind == evDeliver {
			e := &ev.env
			if e.Corr != 0 && !e.Reply {
				s.deliver(Envelope{From: e.To, To: e.From, Corr: e.Corr, Reply: true, Err: ErrNoActor})
			} else {
				s.stats.DeadLetters++
			}
		}
		return
	}
	switch ev.kind {
	case evDeliver:
		e := &ev.env
		if e.Reply {
			p, ok := c.pending.take(e.Corr)
			if !ok {
				s.stats.LateReplies++
				return
			}
			s.invoke(c, ev, p.then, e.Corr)
			return
		}
		s.invoke(c, ev, nil, 0)
	case evTimer:
		if !c.timers.remove(Timer(ev.id)) {
			return
		}
		s.invoke(c, ev, nil, 0)
	case evTimeout:
		p, ok := c.pending.take(RequestID(ev.id))
		if !ok {
			return
		}
		ev.env.Err = ErrTimeout
		ev.env.Reply = true
		s.invoke(c, ev, p.then, RequestID(ev.id))
	case evStop:
		ev.env.Msg = Stopping{}
		s.invoke(c, ev, nil, 0)
		if s.cells[c.addr.ID] == c { // not crashed in the meantime
			s.kill(c, Stopped, "")
		}
	}
}

// invoke runs one turn of c. For a reply (ev.env.Reply) it runs then, or
// delivers a Response when then is nil.
func (s *Sim) invoke(c *simCell, ev *event, then Then, corr RequestID) {
	defer func() {
		if r := recover(); r != nil {
			s.stats.Crashes++
			if len(s.crashes) < 16 {
				s.crashes = append(s.crashes, Crash{Actor: c.addr, At: s.now, Value: crashDetail(r), Stack: string(debug.Stack())})
			}
			s.kill(c, Crashed, crashDetail(r))
		}
	}()
	s.stats.Delivered++
	x := &s.ctx
	x.c = c
	x.sender = ev.env.From
	x.replyTo = ReplyTo{}
	e := &ev.env
	if s.tracer != nil {
		s.tracer(TraceEvent{At: s.now, Seq: ev.seq, From: e.From, To: e.To, Msg: traceMsg(e)})
	}
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
}

func traceMsg(e *Envelope) any {
	if e.Err != nil {
		return e.Err
	}
	return e.Msg
}

func (s *Sim) kill(c *simCell, reason DownReason, detail string) {
	s.cells[c.addr.ID] = nil
	s.stats.Stopped++
	c.watch.each(func(w Addr) {
		s.deliver(Envelope{From: c.addr, To: w, Msg: Down{Actor: c.addr, Reason: reason, Detail: detail}})
	})
}

// simContext is the Context of the actor the Sim is running. There is one per
// Sim, reset for every turn.
type simContext struct {
	s       *Sim
	c       *simCell
	sender  Addr
	replyTo ReplyTo
}

func (x *simContext) Self() Addr       { return x.c.addr }
func (x *simContext) Sender() Addr     { return x.sender }
func (x *simContext) Now() float64     { return x.s.now }
func (x *simContext) ReplyTo() ReplyTo { return x.replyTo }

func (x *simContext) Rand() *rand.Rand {
	if x.c.rng == nil {
		x.c.rng = rand.New(rand.NewPCG(x.s.seed, x.c.addr.ID))
	}
	return x.c.rng
}

func (x *simContext) Send(to Addr, msg any) {
	x.s.deliver(Envelope{From: x.c.addr, To: to, Msg: msg})
}

func (x *simContext) Request(to Addr, msg any, timeout float64, then Then) RequestID {
	if !(timeout > 0) {
		panic(fmt.Sprintf("actors: request timeout must be > 0 (or Forever), got %v", timeout))
	}
	s := x.s
	s.corr++
	id := s.corr
	x.c.pending.add(id, pendingReq{then: then})
	s.deliver(Envelope{From: x.c.addr, To: to, Msg: msg, Corr: id})
	if !math.IsInf(timeout, 1) {
		s.push(timeout, event{kind: evTimeout, id: uint64(id), env: Envelope{From: x.c.addr, To: x.c.addr}})
	}
	return id
}

func (x *simContext) Reply(r ReplyTo, msg any) {
	if r.Corr == 0 {
		return
	}
	x.s.deliver(Envelope{From: x.c.addr, To: r.To, Msg: msg, Corr: r.Corr, Reply: true})
}

func (x *simContext) After(d float64, msg any) Timer {
	s := x.s
	s.timer++
	t := s.timer
	x.c.timers.add(t)
	s.push(d, event{kind: evTimer, id: uint64(t), env: Envelope{To: x.c.addr, Msg: msg}})
	return t
}

func (x *simContext) Cancel(t Timer) bool {
	return x.c.timers.remove(t)
}

func (x *simContext) Spawn(a Actor) Addr { return x.s.SpawnOn(x.c.addr.Node, a) }

func (x *simContext) Stop(a Addr) { x.s.Stop(a) }

func (x *simContext) Watch(a Addr) {
	t := x.s.cell(a)
	if t == nil {
		x.s.deliver(Envelope{From: a, To: x.c.addr, Msg: Down{Actor: a, Reason: NoActor}})
		return
	}
	t.watch.add(x.c.addr)
}

func (x *simContext) Unwatch(a Addr) {
	t := x.s.cell(a)
	if t == nil {
		return
	}
	t.watch.remove(x.c.addr)
}

// eventHeap is a binary min-heap on (at, seq).
type eventHeap []event

func (h eventHeap) less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}

func (h *eventHeap) push(ev event) {
	*h = append(*h, ev)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !a.less(i, p) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *eventHeap) pop() event {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a[n] = event{}
	a = a[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && a.less(r, l) {
			m = r
		}
		if !a.less(m, i) {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}

// eventRing is a FIFO of events that grows as needed.
type eventRing struct {
	buf        []event
	head, size int
}

func (r *eventRing) len() int { return r.size }

func (r *eventRing) push(ev event) {
	if r.size == len(r.buf) {
		n := 2 * len(r.buf)
		if n == 0 {
			n = 64
		}
		buf := make([]event, n)
		k := copy(buf, r.buf[r.head:])
		copy(buf[k:], r.buf[:r.head])
		r.buf, r.head = buf, 0
	}
	r.buf[(r.head+r.size)%len(r.buf)] = ev
	r.size++
}

func (r *eventRing) pop() event {
	ev := r.buf[r.head]
	r.buf[r.head] = event{}
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	return ev
}
