package loadbalancing

import (
	"slices"

	"github.com/marlon-go/marlon/actors"
)

// Master holds the job and hands it out in chunks, serving one request at a
// time; serving takes CommTime. It watches every worker it has heard from: a
// worker that goes away (leaves, crashes, or its node fails) hands its chunk
// back to the pool. Units are conserved: granted = done + handed back +
// being processed, at every moment.
type Master struct {
	Job      int
	CommTime float64
	// UnitTime is the nominal time per unit at speed 1, for estimating how
	// far a worker without measurements has got through its chunk.
	UnitTime float64
	// OfferTimeout bounds how long the Master waits for a worker to answer
	// an Offer before it puts the request back in the queue (0: Forever).
	OfferTimeout float64
	// Expect and StartBy hold the first service until Expect workers have
	// asked for work, or until time StartBy, whichever comes first (0: no
	// wait). In the simulator the starting workers all ask at time 0 and
	// are served once they all have; in a live run their first requests
	// arrive over a network within moments of each other, and the
	// techniques that size chunks by the number of workers must see them
	// all, as in the simulator.
	Expect  int
	StartBy float64
	// Report receives the Master's account when the job is done. It is
	// called inside the Master's turn and must not block.
	Report func(MasterReport)
	// Latency, if set, is the factor of CommTime a service takes, by the
	// time it starts (loadbalancing/v3: Latency, Perturbation). What the
	// Master tells of the communication time (MasterState.CommTime, the
	// waits it notifies) is the time a service takes now.
	Latency *Profile
	// Partial, if set, receives the Master's account so far (Finished
	// false) when it is stopped before the job is done: what a run that
	// failed or timed out reports. It is called inside the Master's turn
	// and must not block.
	Partial func(MasterReport)

	pool     *Pool
	ledger   *Ledger
	workers  map[actors.Addr]*workerState
	byID     []*workerState // the same by the ID they give, where it is dense: a lookup without hashing
	live     liveStats      // sums over the live workers
	out      inFlight       // the chunks out
	queue    []*chunkReq
	parked   []*chunkReq
	queued   int // requests in queue not written off
	serving  *chunkReq
	waking   bool // a serveNow is on its way
	holding  bool // waiting for the Expect workers
	timer    actors.Timer
	busyTill float64
	nextID   uint64
	done     bool
	acc      MasterReport
	// onState, if set, sees every state the Master tells (for tests).
	onState func(m *Master, s MasterState, now float64)
}

// MasterReport is the Master's account of an episode.
type MasterReport struct {
	Finished    bool
	Makespan    float64 // when the last unit was done
	UnitsDone   int     // distinct units reported done
	Duplicates  int     // units reported done more than once (must be 0)
	Granted     int     // units handed out, counting re-grants of returned units
	Returned    int     // units handed back by workers that went away
	Stale       int     // reports for chunks the worker no longer held
	Requests    int
	Chunks      int
	WorkersGone int
	// Units are the units the ledger counts done by each worker, by worker
	// ID: what each worker's own report must say.
	Units   map[int]int
	History []ChunkRecord
}

// ChunkRecord is one chunk's life: granted to Worker at Granted, done at Done
// (or handed back at Done when Returned).
type ChunkRecord struct {
	Worker   int     `json:"worker"`
	Chunk    uint64  `json:"chunk"`
	Units    int     `json:"units"`
	Granted  float64 `json:"granted"`
	Done     float64 `json:"done"`
	Returned bool    `json:"returned,omitempty"`
}

type workerState struct {
	addr  actors.Addr
	id    int
	speed float64
	stats UnitStats
	live  bool
	out   *heldChunk
	reqs  []*chunkReq // its requests in queue or parked, in the order they entered
	done  int         // units the ledger counts done by it
}

type heldChunk struct {
	id      uint64
	ranges  []Range
	units   int
	granted float64
	record  int // index in History
	// For the estimate of the unfinished work (inFlight):
	rate   float64 // the worker's rate when granted
	finish float64 // when it is expected done
	pos    int     // in inFlight's heap; -1: not there
}

type chunkReq struct {
	w       *workerState
	reply   actors.ReplyTo
	want    int
	took    bool // the worker has answered the Offer
	served  bool // the communication time has passed
	parked  bool // in parked rather than queue
	written bool // written off: its worker is gone (skipped where it waits)
}

// Receive implements actors.Actor.
func (m *Master) Receive(ctx actors.Context, msg any) {
	switch x := msg.(type) {
	case actors.Started:
		m.pool = NewPool(m.Job)
		m.ledger = NewLedger(m.Job)
		m.workers = map[actors.Addr]*workerState{}
		if m.Expect > 0 {
			m.holding = true
			ctx.After(m.StartBy, startNow{})
		}
	case startNow:
		m.holding = false
		m.wake(ctx)
	case ChunkRequest:
		m.onRequest(ctx, x)
	case serveNow:
		m.waking = false
		m.serveNext(ctx)
	case serviceDone:
		if r := m.serving; r != nil {
			r.served = true
			if r.took {
				m.grant(ctx, r)
			}
		}
	case Moved:
		m.moved(ctx, x)
	case actors.Down:
		m.onDown(ctx, x)
	case actors.Stopping:
		if !m.done && m.Partial != nil && m.ledger != nil {
			acc := m.acc
			acc.UnitsDone = m.ledger.Count()
			acc.Units = m.unitsByWorker()
			acc.History = slices.Clone(m.acc.History)
			m.Partial(acc)
		}
	}
}

func (m *Master) onRequest(ctx actors.Context, x ChunkRequest) {
	w := m.worker(ctx.Sender(), x.Worker)
	if w == nil {
		w = &workerState{addr: ctx.Sender(), id: x.Worker, speed: x.Speed, live: true}
		m.workers[w.addr] = w
		if x.Worker >= 0 && x.Worker < len(m.workers)+1024 { // IDs are dense: 0, 1, ... in joining order
			for len(m.byID) <= x.Worker {
				m.byID = append(m.byID, nil)
			}
			if m.byID[x.Worker] == nil {
				m.byID[x.Worker] = w
			}
		}
		m.live.count(w, 1)
		ctx.Watch(w.addr)
	}
	if !w.live {
		// Written off, yet it asks: it is alive after all, or this request
		// crossed its Down. The chunk it reports was handed back.
		ctx.Reply(ctx.ReplyTo(), WrittenOff{Uncredited: x.Done.Units})
		return
	}
	m.acc.Requests++
	switch {
	case x.Done.Chunk != 0 && w.out != nil && w.out.id == x.Done.Chunk:
		m.complete(ctx, w, x.Done)
	case x.Done.Chunk != 0:
		m.acc.Stale++
		fallthrough
	default:
		// The worker asks again without reporting the chunk it holds: the
		// grant never reached it. Put the units back.
		m.handBack(ctx, w)
	}
	r := &chunkReq{w: w, reply: ctx.ReplyTo()}
	if m.done {
		ctx.Reply(r.reply, Finished{})
		return
	}
	m.enqueue(r)
	if m.pool.Len() > 0 {
		wait := float64(m.queued) * m.commTime(ctx.Now())
		if m.serving != nil {
			wait += m.busyTill - ctx.Now()
		}
		ctx.Send(w.addr, WaitNotice{Wait: wait})
	}
	if len(m.workers) >= m.Expect {
		m.holding = false
	}
	m.wake(ctx)
}

// worker is the worker at from, which says it is worker id, or nil.
func (m *Master) worker(from actors.Addr, id int) *workerState {
	if id >= 0 && id < len(m.byID) {
		if w := m.byID[id]; w != nil && w.addr == from {
			return w
		}
	}
	return m.workers[from]
}

// wake starts serving once every request of this instant has arrived, so
// that the state the first one is served on counts the workers that asked
// at the same moment (at the start, all of them).
func (m *Master) wake(ctx actors.Context) {
	if m.serving == nil && !m.waking && !m.holding {
		m.waking = true
		ctx.After(0, serveNow{})
	}
}

func (m *Master) complete(ctx actors.Context, w *workerState, d ChunkDone) {
	c := w.out
	w.out = nil
	m.out.remove(c)
	m.live.count(w, -1)
	w.stats = d.Stats
	m.live.count(w, 1)
	dups := m.ledger.Done(c.ranges)
	m.acc.Duplicates += dups
	w.done += c.units - dups
	m.acc.History[c.record].Done = ctx.Now()
	m.acc.Makespan = ctx.Now()
	if m.ledger.Count() == m.Job {
		m.finish(ctx)
	}
}

// handBack returns the chunk w holds, if any, to the pool.
func (m *Master) handBack(ctx actors.Context, w *workerState) {
	c := w.out
	if c == nil {
		return
	}
	w.out = nil
	m.out.remove(c)
	if err := m.pool.Put(c.ranges); err != nil {
		panic("loadbalancing: " + err.Error()) // a broken ledger must stop the run loudly
	}
	m.acc.Returned += c.units
	rec := &m.acc.History[c.record]
	rec.Done, rec.Returned = ctx.Now(), true
	for _, r := range m.parked {
		if !r.written {
			r.parked = false
			m.queue = append(m.queue, r)
			m.queued++
		}
	}
	clear(m.parked)
	m.parked = m.parked[:0]
}

// enqueue puts r at the end of the queue.
func (m *Master) enqueue(r *chunkReq) {
	m.queue = append(m.queue, r)
	m.queued++
	r.w.reqs = append(r.w.reqs, r)
}

// dequeue takes the first request not written off from the queue, or nil.
func (m *Master) dequeue() *chunkReq {
	for len(m.queue) > 0 {
		r := m.queue[0]
		m.queue[0] = nil
		m.queue = m.queue[1:]
		if !r.written {
			m.queued--
			return r
		}
	}
	return nil
}

// forget takes r off its worker's list of waiting requests.
func (r *chunkReq) forget() {
	rs := r.w.reqs
	for i, x := range rs {
		if x == r {
			copy(rs[i:], rs[i+1:])
			rs[len(rs)-1] = nil
			r.w.reqs = rs[:len(rs)-1]
			return
		}
	}
}

func (m *Master) serveNext(ctx actors.Context) {
	for m.serving == nil && !m.done && !m.holding && m.queued > 0 {
		r := m.dequeue()
		if m.pool.Len() == 0 {
			r.parked = true
			m.parked = append(m.parked, r)
			continue
		}
		r.forget()
		m.serving = r
		h := m.commTime(ctx.Now())
		m.busyTill = ctx.Now() + h
		m.timer = ctx.After(h, serviceDone{})
		timeout := m.OfferTimeout
		if timeout <= 0 {
			timeout = actors.Forever
		}
		ctx.Request(r.w.addr, Offer{State: m.state(ctx.Now())}, timeout, func(ctx actors.Context, reply any, err error) {
			m.onTake(ctx, r, reply, err)
		})
	}
}

func (m *Master) onTake(ctx actors.Context, r *chunkReq, reply any, err error) {
	if m.serving != r {
		return // service abandoned: the worker went away
	}
	if err != nil {
		if err == actors.ErrTimeout {
			// An unresponsive worker: serve the others and try it again later.
			ctx.Cancel(m.timer)
			m.serving = nil
			m.enqueue(r)
			m.serveNext(ctx)
		}
		return // ErrNoActor: its Down is on the way
	}
	t, _ := reply.(Take)
	r.want, r.took = t.Units, true
	if r.served {
		m.grant(ctx, r)
	}
}

func (m *Master) grant(ctx actors.Context, r *chunkReq) {
	m.serving = nil
	n := r.want
	if n < 1 {
		n = 1
	}
	rs := m.pool.Take(n)
	units := unitsOf(rs)
	m.nextID++
	m.acc.History = append(m.acc.History, ChunkRecord{Worker: r.w.id, Chunk: m.nextID, Units: units, Granted: ctx.Now(), Done: -1})
	if c := r.w.out; c != nil {
		m.out.remove(c) // a worker asks again only once its chunk is accounted for; if not, the estimate stays right
	}
	r.w.out = &heldChunk{id: m.nextID, ranges: rs, units: units, granted: ctx.Now(), record: len(m.acc.History) - 1}
	m.out.add(r.w.out, m.rate(r.w))
	m.acc.Chunks++
	m.acc.Granted += units
	ctx.Reply(r.reply, Grant{Chunk: m.nextID, Ranges: rs})
	m.serveNext(ctx)
}

func (m *Master) onDown(ctx actors.Context, d actors.Down) {
	w := m.workers[d.Actor]
	if w == nil || !w.live {
		return
	}
	w.live = false
	m.live.count(w, -1)
	m.acc.WorkersGone++
	m.handBack(ctx, w)
	// Its waiting request is answered, in case it is alive after all.
	if m.serving != nil && m.serving.w == w {
		ctx.Cancel(m.timer)
		ctx.Reply(m.serving.reply, WrittenOff{})
		m.serving = nil
	}
	// Its requests waiting in the queue, then those parked, are answered
	// and left where they are, to be skipped.
	for _, parked := range []bool{false, true} {
		for _, r := range w.reqs {
			if r.parked == parked {
				ctx.Reply(r.reply, WrittenOff{})
				r.written = true
				if !parked {
					m.queued--
				}
			}
		}
	}
	clear(w.reqs)
	w.reqs = nil
	m.serveNext(ctx)
}

// unitsByWorker is the ledger's units by worker ID.
func (m *Master) unitsByWorker() map[int]int {
	units := make(map[int]int, len(m.workers))
	for _, w := range m.workers {
		if w.done != 0 {
			units[w.id] += w.done
		}
	}
	return units
}

func (m *Master) finish(ctx actors.Context) {
	m.done = true
	m.acc.Finished = true
	m.acc.UnitsDone = m.ledger.Count()
	m.acc.Units = m.unitsByWorker()
	if m.serving != nil {
		ctx.Cancel(m.timer)
		ctx.Reply(m.serving.reply, Finished{})
		m.serving = nil
	}
	for _, r := range append(m.queue, m.parked...) {
		if !r.written {
			ctx.Reply(r.reply, Finished{})
		}
	}
	m.queue, m.parked = nil, nil
	if m.Report != nil {
		m.Report(m.acc)
	}
}

// commTime is the time a service that starts at now takes.
func (m *Master) commTime(now float64) float64 {
	if m.Latency == nil {
		return m.CommTime
	}
	return m.CommTime * m.Latency.At(now)
}

// rate is the Master's estimate of w's units per time unit: measured if it
// can, nominal otherwise.
func (m *Master) rate(w *workerState) float64 {
	if w.stats.N > 0 && w.stats.Mean > 0 {
		return 1 / w.stats.Mean
	}
	if m.UnitTime > 0 {
		return w.speed / m.UnitTime
	}
	return 0
}

// state is what the Master tells the worker it is serving.
func (m *Master) state(now float64) MasterState {
	s := MasterState{Job: m.Job, Remaining: m.pool.Len(), Granted: m.acc.Chunks, Queue: m.queued, CommTime: m.commTime(now)}
	s.Unfinished = float64(s.Remaining) + m.out.estimate(now)
	m.live.fill(&s)
	if m.onState != nil {
		m.onState(m, s, now)
	}
	return s
}
