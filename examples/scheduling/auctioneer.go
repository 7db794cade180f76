package scheduling

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/marlon-go/marlon/actors"
)

// Auctioneer is the actor that keeps the queue of jobs, the membership of
// the resource agents (heartbeats, failure detection, fencing) and the
// ledger of who runs what, and places queued jobs: by auction among the
// resource agents, or with a central Discipline. See messages.go for the
// protocol. It is the one actor that decides a job's fate, which is what
// makes a job complete at most once.
//
// The auctioneer is a single point of failure: its node is not to be
// killed (a replicated auctioneer, on NATS's Raft, is future work).
type Auctioneer struct {
	// Capacities are every node's capacity when it is up, by node number:
	// a job none of them can hold is refused when it arrives.
	Capacities []Resources
	// Names are the nodes' names, by number.
	Names         []string
	Heartbeat     float64
	Missed        int
	Timeout       float64
	Window        int
	StrandTimeout float64
	// Discipline, if set, places jobs from the central queue instead of
	// auctions.
	Discipline Discipline
	// OnEnd is called once every submitted job is settled (completed, lost
	// or refused), inside the auctioneer's turn, with the episode's final
	// cost. It must not call the auctioneer's methods.
	OnEnd func(cost float64)

	mu     sync.Mutex // guards ledger, which code outside the actors reads
	ledger Ledger

	jobs        map[int]*jobState
	queue       []*jobState // waiting jobs, by (submit, ID)
	nodes       []*nodeState
	byName      map[string]int
	attempts    map[uint64]int       // attempt -> job ID, never forgotten
	gone        map[actors.Addr]bool // agents reported gone (AgentDown)
	staleSeen   map[uint64]bool
	nextAttempt uint64
	nextEpoch   uint64
	expected    int // jobs to expect, -1 until SubmissionsOver
	settled     int
	failures    []*failureState

	rate, costAt, cost     float64
	inRound, dirty, kicked bool
	// retry: an answer timed out or an assignment failed since the last
	// round; the next sweep starts a round even if nothing else happened.
	retry bool
	ended bool
}

// Ledger is the auctioneer's account of an episode.
type Ledger struct {
	Jobs          []JobRecord    `json:"jobs"`
	Failures      []Failure      `json:"failures,omitempty"`
	Registrations []Registration `json:"registrations"`
	Counters      Counters       `json:"counters"`
	// LastCompletion is when the last job completed.
	LastCompletion float64 `json:"last_completion"`
	// Ended is when every job was settled (0: not yet).
	Ended float64 `json:"ended"`
	// Cost is the episode's cost: the integral over time of the sum, over
	// the jobs in the system, of 1 / max(run, 10 s), so that every job
	// adds its bounded slowdown (without the floor of 1) once settled.
	Cost float64 `json:"cost"`
}

// Counters count what the auctioneer did and what it rejected.
type Counters struct {
	Rounds int `json:"rounds"` // scheduling rounds (auction rounds, or applications of a Discipline)
	Calls  int `json:"calls"`  // calls for bids sent
	Bids   int `json:"bids"`   // bids received (not declines)
	// Unanswered are calls for bids not answered within Timeout (or
	// undeliverable): counted as declines. Over a transport, a sign that
	// Timeout is short for the network's latency.
	Unanswered int `json:"unanswered"`
	Awards     int `json:"awards"` // assignments sent
	// AssignFailures are assignments refused or not answered in time: the
	// job went back to the queue.
	AssignFailures int `json:"assign_failures"`
	// Rescheduled counts jobs put back in the queue because the node
	// running them was declared failed.
	Rescheduled int `json:"rescheduled"`
	// StaleCompletions are reported completions of attempts that were not
	// the job's current one any more (each attempt counted once): a node
	// declared failed that finished a job assigned again since.
	StaleCompletions int `json:"stale_completions"`
	// StaleMessages are heartbeats and completions from fenced
	// incarnations, answered with Fenced.
	StaleMessages int `json:"stale_messages"`
	// InvalidBids are bids out of range (a level that is not one, a score
	// outside [0, 1]) or from a node whose capacity cannot hold the job.
	InvalidBids int `json:"invalid_bids"`
	// Rejected are messages that name no node, attempt or incarnation the
	// auctioneer knows, or carry values out of range.
	Rejected int `json:"rejected"`
}

// JobRecord is what became of a job.
type JobRecord struct {
	ID        int       `json:"id"`
	Submit    float64   `json:"submit"`
	Run       float64   `json:"run"`
	Requested float64   `json:"requested"`
	Needs     Resources `json:"needs"`
	// State is "completed", "lost" (every node that could hold it was down
	// for StrandTimeout), "refused" (no node of the cluster can hold it),
	// or, in an episode stopped early, "queued" or "running".
	State string `json:"state"`
	// Node, Start and End are the node that completed it and when its
	// completed run started and ended (by the auctioneer's clock).
	Node  int     `json:"node"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	// Requeues counts the times it went back to the queue because its node
	// was declared failed.
	Requeues int `json:"requeues"`
	// Reason says why it was lost or refused.
	Reason string `json:"reason,omitempty"`
	Runs   []Run  `json:"runs,omitempty"`
}

// Run is one attempt at a job that a node accepted.
type Run struct {
	Node int `json:"node"`
	// Epoch is the node's incarnation the attempt was given to.
	Epoch   uint64  `json:"epoch"`
	Attempt uint64  `json:"attempt"`
	Start   float64 `json:"start"`
	End     float64 `json:"end"`
	// Outcome: "completed", "lost" (its node was declared failed), or
	// "running".
	Outcome string `json:"outcome"`
}

// Failure is a node incarnation declared failed.
type Failure struct {
	Node     int     `json:"node"`
	Epoch    uint64  `json:"epoch"`
	LastSeen float64 `json:"last_seen"` // the last heartbeat (or registration) heard from it
	Detected float64 `json:"detected"`
	// Why: "missed heartbeats", "restarted" (a new incarnation
	// registered before the old one was declared failed), or why its agent
	// was seen gone (AgentDown: "node down: ..." when its machine failed).
	Why  string `json:"why"`
	Jobs []int  `json:"jobs,omitempty"` // the jobs it was running, queued again
	// Recovered is when the last of Jobs was running again (-1: not all
	// were: some were lost, or the episode ended first).
	Recovered float64 `json:"recovered"`
}

// Registration is a node incarnation's registration.
type Registration struct {
	Node  int     `json:"node"`
	Epoch uint64  `json:"epoch"`
	At    float64 `json:"at"`
}

type jobPhase int

const (
	queued jobPhase = iota
	assigned
	running
	done
	lost
	refused
)

type jobState struct {
	job      Job
	phase    jobPhase
	rec      int // index in ledger.Jobs
	attempt  uint64
	node     int
	epoch    uint64
	assigned float64
	start    float64
	// stranded: since when no registered node can hold it (-1: one can);
	// strandGen tells a strand timer that is still current.
	stranded  float64
	strandGen int
	failure   int // the failure it awaits recovery from (-1: none)
}

type nodeState struct {
	name     string
	addr     actors.Addr
	epoch    uint64 // the current (or last) incarnation's
	alive    bool
	lastSeen float64
	capacity Resources
	attempts map[uint64]bool // attempts the ledger has on this incarnation
	used     Resources       // what they need
	record   Record
}

type failureState struct {
	index   int
	pending int
}

type sweep struct{}
type roundNow struct{}
type strandCheck struct {
	job, gen int
}

// Ledger returns a copy of the auctioneer's account so far.
func (a *Auctioneer) Ledger() Ledger {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.ledger
	l.Jobs = slices.Clone(l.Jobs)
	for i := range l.Jobs {
		l.Jobs[i].Runs = slices.Clone(l.Jobs[i].Runs)
	}
	l.Failures = slices.Clone(l.Failures)
	l.Registrations = slices.Clone(l.Registrations)
	return l
}

// then guards a continuation as Receive is guarded.
func (a *Auctioneer) then(f actors.Then) actors.Then {
	return func(ctx actors.Context, reply any, err error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		f(ctx, reply, err)
	}
}

// Receive implements actors.Actor.
func (a *Auctioneer) Receive(ctx actors.Context, msg any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch m := msg.(type) {
	case actors.Started:
		a.jobs, a.attempts, a.staleSeen, a.byName = map[int]*jobState{}, map[uint64]int{}, map[uint64]bool{}, map[string]int{}
		a.gone = map[actors.Addr]bool{}
		a.expected = -1
		for i, c := range a.Capacities {
			a.nodes = append(a.nodes, &nodeState{name: a.Names[i], capacity: c})
			a.byName[a.Names[i]] = i
		}
		ctx.After(a.Heartbeat, sweep{})
	case Submit:
		a.submit(ctx, m.Job)
	case SubmissionsOver:
		a.expected = m.Count
		a.checkEnd(ctx)
	case Register:
		a.register(ctx, m)
	case AgentDown:
		a.gone[m.Agent] = true
		if ni, ok := a.byName[m.Node]; ok && a.nodes[ni].alive && a.nodes[ni].addr == m.Agent {
			a.fail(ctx, ni, m.Why)
		}
	case Heartbeat:
		a.heartbeat(ctx, m)
	case Completed:
		ni, ok := a.current(ctx, m.Node, m.Epoch)
		if ok {
			a.complete(ctx, ni, m.Epoch, m.Attempt)
		} else if _, known := a.attempts[m.Attempt]; known {
			a.stale(m.Attempt)
		}
	case sweep:
		if a.ended {
			return
		}
		for ni, ns := range a.nodes {
			if ns.alive && ctx.Now()-ns.lastSeen > float64(a.Missed)*a.Heartbeat {
				a.fail(ctx, ni, "missed heartbeats")
			}
		}
		if a.retry {
			a.retry = false
			a.kick(ctx)
		}
		ctx.After(a.Heartbeat, sweep{})
	case roundNow:
		a.kicked = false
		a.round(ctx)
	case strandCheck:
		js := a.jobs[m.job]
		if js != nil && js.phase == queued && js.strandGen == m.gen && js.stranded >= 0 {
			a.lose(ctx, js)
		}
	}
}

// weight is a job's share of the cost's rate.
func weight(j Job) float64 { return 1 / math.Max(math.Min(j.Run, j.Requested), 10) }

func (a *Auctioneer) advance(now float64) {
	a.cost += a.rate * (now - a.costAt)
	a.costAt = now
}

func (a *Auctioneer) record(js *jobState) *JobRecord { return &a.ledger.Jobs[js.rec] }

func (a *Auctioneer) submit(ctx actors.Context, j Job) {
	now := ctx.Now()
	if _, dup := a.jobs[j.ID]; dup || !j.Needs.Valid() || !(j.Run >= 0) || !(j.Requested > 0) {
		a.ledger.Counters.Rejected++
		a.settle(ctx) // counted, so that the episode still ends
		return
	}
	j.Submit = now
	js := &jobState{job: j, rec: len(a.ledger.Jobs), node: -1, stranded: -1, failure: -1}
	a.jobs[j.ID] = js
	a.ledger.Jobs = append(a.ledger.Jobs, JobRecord{ID: j.ID, Submit: now, Run: math.Min(j.Run, j.Requested), Requested: j.Requested, Needs: j.Needs, State: "queued", Node: -1})
	if len(a.capableNodes(j.Needs)) == 0 {
		js.phase = refused
		r := a.record(js)
		r.State, r.Reason = "refused", fmt.Sprintf("no node of the cluster can hold it (it needs %v)", j.Needs)
		a.settle(ctx)
		return
	}
	a.advance(now)
	a.rate += weight(j)
	a.enqueue(js)
	a.strand(ctx, js)
	a.kick(ctx)
}

// enqueue puts js in the queue by (submit, ID).
func (a *Auctioneer) enqueue(js *jobState) {
	js.phase = queued
	i := sort.Search(len(a.queue), func(i int) bool {
		q := a.queue[i].job
		return q.Submit > js.job.Submit || (q.Submit == js.job.Submit && q.ID > js.job.ID)
	})
	a.queue = slices.Insert(a.queue, i, js)
	a.record(js).State = "queued"
}

func (a *Auctioneer) dequeue(js *jobState) {
	a.queue = slices.DeleteFunc(a.queue, func(q *jobState) bool { return q == js })
}

// capableNodes are the nodes whose capacity, when up, can hold needs.
func (a *Auctioneer) capableNodes(needs Resources) []int {
	var ns []int
	for i, c := range a.Capacities {
		if c.Covers(needs) {
			ns = append(ns, i)
		}
	}
	return ns
}

// live are the registered nodes whose capacity can hold needs.
func (a *Auctioneer) live(needs Resources) []int {
	var ns []int
	for i, n := range a.nodes {
		if n.alive && n.capacity.Covers(needs) {
			ns = append(ns, i)
		}
	}
	return ns
}

// roomFor are the registered nodes that have room for needs now, by the
// ledger: what they can hold less what they were assigned and have not
// completed. Only they are called for bids: the others would decline.
func (a *Auctioneer) roomFor(needs Resources) []int {
	var ns []int
	for i, n := range a.nodes {
		if n.alive && n.capacity.Minus(n.used).Covers(needs) {
			ns = append(ns, i)
		}
	}
	return ns
}

// strand starts or stops the clock of a queued job that no registered
// node can hold.
func (a *Auctioneer) strand(ctx actors.Context, js *jobState) {
	if js.phase != queued {
		return
	}
	none := len(a.live(js.job.Needs)) == 0
	switch {
	case none && js.stranded < 0:
		js.stranded = ctx.Now()
		js.strandGen++
		ctx.After(a.StrandTimeout, strandCheck{js.job.ID, js.strandGen})
	case !none && js.stranded >= 0:
		js.stranded = -1
		js.strandGen++
	}
}

func (a *Auctioneer) strandAll(ctx actors.Context) {
	for _, js := range a.queue {
		a.strand(ctx, js)
	}
}

// lose gives up on a job every node that could hold it has been down for
// StrandTimeout.
func (a *Auctioneer) lose(ctx actors.Context, js *jobState) {
	now := ctx.Now()
	a.dequeue(js)
	js.phase = lost
	var names []string
	for _, i := range a.capableNodes(js.job.Needs) {
		names = append(names, a.Names[i])
	}
	r := a.record(js)
	r.State = "lost"
	r.Reason = fmt.Sprintf("every node that could hold it (%s) was down from %.1f to %.1f", strings.Join(names, ", "), js.stranded, now)
	a.leave(now, js)
	if js.failure >= 0 {
		js.failure = -1 // its failure will not count as recovered
	}
	a.settle(ctx)
}

// leave takes a settled job's weight off the cost's rate.
func (a *Auctioneer) leave(now float64, js *jobState) {
	a.advance(now)
	a.rate -= weight(js.job)
	if a.rate < 1e-12 {
		a.rate = 0
	}
}

func (a *Auctioneer) settle(ctx actors.Context) {
	a.settled++
	a.checkEnd(ctx)
}

func (a *Auctioneer) checkEnd(ctx actors.Context) {
	if a.ended || a.expected < 0 || a.settled < a.expected {
		return
	}
	a.ended = true
	now := ctx.Now()
	a.advance(now)
	a.ledger.Ended, a.ledger.Cost = now, a.cost
	for _, ns := range a.nodes {
		if ns.alive {
			ctx.Send(ns.addr, EpisodeOver{Cost: a.cost})
		}
	}
	if a.OnEnd != nil {
		a.OnEnd(a.cost)
	}
}

// current finds the node a message names and checks that it comes from
// the node's current incarnation; a message from a fenced one is counted
// and answered with Fenced.
func (a *Auctioneer) current(ctx actors.Context, name string, epoch uint64) (int, bool) {
	ni, ok := a.byName[name]
	if !ok || epoch == 0 || epoch > a.nextEpoch {
		a.ledger.Counters.Rejected++
		return -1, false
	}
	ns := a.nodes[ni]
	if ns.alive && ns.epoch == epoch && ns.addr == ctx.Sender() {
		return ni, true
	}
	a.ledger.Counters.StaleMessages++
	ctx.Send(ctx.Sender(), Fenced{Epoch: epoch})
	return -1, false
}

func (a *Auctioneer) stale(attempt uint64) {
	if !a.staleSeen[attempt] {
		a.staleSeen[attempt] = true
		a.ledger.Counters.StaleCompletions++
	}
}

func (a *Auctioneer) register(ctx actors.Context, m Register) {
	ni, ok := a.byName[m.Node]
	if !ok || m.Index != ni || !m.Capacity.Valid() {
		a.ledger.Counters.Rejected++
		return
	}
	ns := a.nodes[ni]
	if ns.alive && ns.addr == ctx.Sender() {
		ctx.Send(ns.addr, Registered{Epoch: ns.epoch}) // a repeat
		return
	}
	if a.gone[ctx.Sender()] {
		a.ledger.Counters.StaleMessages++ // an agent seen gone: it does not come back
		return
	}
	if ns.alive {
		a.fail(ctx, ni, "restarted")
	}
	a.nextEpoch++
	ns.addr, ns.epoch, ns.alive, ns.lastSeen = ctx.Sender(), a.nextEpoch, true, ctx.Now()
	ns.capacity, ns.attempts, ns.used = m.Capacity, map[uint64]bool{}, Resources{}
	a.ledger.Registrations = append(a.ledger.Registrations, Registration{Node: ni, Epoch: ns.epoch, At: ctx.Now()})
	ctx.Send(ns.addr, Registered{Epoch: ns.epoch})
	a.strandAll(ctx)
	a.kick(ctx)
}

func (a *Auctioneer) heartbeat(ctx actors.Context, m Heartbeat) {
	ni, ok := a.current(ctx, m.Node, m.Epoch)
	if !ok {
		for _, at := range m.Done {
			if _, known := a.attempts[at]; known {
				a.stale(at)
			}
		}
		return
	}
	ns := a.nodes[ni]
	ns.lastSeen = ctx.Now()
	var ack HeartbeatAck
	for _, at := range m.Done {
		if a.complete(ctx, ni, m.Epoch, at) {
			ack.Acked = append(ack.Acked, at)
		}
	}
	for _, at := range m.Running {
		if !ns.attempts[at] {
			ack.Abort = append(ack.Abort, at)
		}
	}
	if len(ack.Acked)+len(ack.Abort) > 0 {
		ctx.Send(ns.addr, ack)
	}
}

// complete records that incarnation epoch of node ni finished attempt: the
// job completes if that is its current attempt on that incarnation. It
// reports whether the node may forget the attempt.
func (a *Auctioneer) complete(ctx actors.Context, ni int, epoch, attempt uint64) bool {
	id, ok := a.attempts[attempt]
	if !ok {
		a.ledger.Counters.Rejected++
		return false
	}
	js := a.jobs[id]
	if (js.phase != running && js.phase != assigned) || js.attempt != attempt || js.node != ni || js.epoch != epoch {
		if js.phase != done || a.record(js).Runs == nil || a.record(js).Runs[len(a.record(js).Runs)-1].Attempt != attempt {
			a.stale(attempt)
		}
		return true
	}
	now := ctx.Now()
	if js.phase == assigned { // its acceptance is still on its way
		a.started(now, js, js.assigned)
	}
	js.phase = done
	ns := a.nodes[ni]
	delete(ns.attempts, attempt)
	ns.used = ns.used.Minus(js.job.Needs)
	ns.record.Completed++
	r := a.record(js)
	r.State, r.Node, r.Start, r.End = "completed", ni, js.start, now
	run := &r.Runs[len(r.Runs)-1]
	run.End, run.Outcome = now, "completed"
	a.ledger.LastCompletion = now
	a.leave(now, js)
	a.kick(ctx)
	a.settle(ctx)
	return true
}

// fail declares node ni's incarnation failed: its jobs go back to the
// queue, and it is fenced.
func (a *Auctioneer) fail(ctx actors.Context, ni int, why string) {
	now := ctx.Now()
	ns := a.nodes[ni]
	ns.alive = false
	f := Failure{Node: ni, Epoch: ns.epoch, LastSeen: ns.lastSeen, Detected: now, Why: why, Recovered: -1}
	atts := make([]uint64, 0, len(ns.attempts))
	for at := range ns.attempts {
		atts = append(atts, at)
	}
	slices.Sort(atts)
	fs := &failureState{index: len(a.ledger.Failures)}
	for _, at := range atts {
		js := a.jobs[a.attempts[at]]
		r := a.record(js)
		if js.phase == running {
			run := &r.Runs[len(r.Runs)-1]
			run.End, run.Outcome = now, "lost"
		}
		f.Jobs = append(f.Jobs, js.job.ID)
		js.failure = fs.index
		fs.pending++
		r.Requeues++
		a.ledger.Counters.Rescheduled++
		a.enqueue(js)
		js.attempt = 0
	}
	ns.record.Lost += len(atts)
	ns.attempts, ns.used = map[uint64]bool{}, Resources{}
	a.ledger.Failures = append(a.ledger.Failures, f)
	a.failures = append(a.failures, fs)
	a.strandAll(ctx)
	a.kick(ctx)
}

// kick asks for a scheduling round at the end of this instant (or after
// the round in progress).
func (a *Auctioneer) kick(ctx actors.Context) {
	if a.ended {
		return
	}
	if a.inRound {
		a.dirty = true
		return
	}
	if !a.kicked {
		a.kicked = true
		ctx.After(0, roundNow{})
	}
}

// waiting are the queued jobs some registered node can hold, in order.
func (a *Auctioneer) waiting() []*jobState {
	var w []*jobState
	for _, js := range a.queue {
		if js.stranded < 0 {
			w = append(w, js)
		}
	}
	return w
}

func (a *Auctioneer) round(ctx actors.Context) {
	if a.ended || a.inRound {
		return
	}
	w := a.waiting()
	if len(w) == 0 {
		return
	}
	a.ledger.Counters.Rounds++
	if a.Discipline != nil {
		a.central(ctx, w)
		return
	}
	a.inRound, a.dirty = true, false
	if len(w) > a.Window {
		w = w[:a.Window]
	}
	a.auction(ctx, w, 0)
}

func (a *Auctioneer) endRound(ctx actors.Context) {
	a.inRound = false
	if a.dirty {
		a.dirty = false
		a.kick(ctx)
	}
}

// auction offers cands[k:] one at a time.
func (a *Auctioneer) auction(ctx actors.Context, cands []*jobState, k int) {
	for ; k < len(cands); k++ {
		js := cands[k]
		if js.phase != queued || js.stranded >= 0 {
			continue
		}
		targets := a.roomFor(js.job.Needs)
		if len(targets) == 0 {
			continue
		}
		next := k + 1
		a.call(ctx, js, targets, func(ctx actors.Context) { a.auction(ctx, cands, next) })
		return
	}
	a.endRound(ctx)
}

// queueInfo describes the queue to bidders for js.
func (a *Auctioneer) queueInfo(now float64, js *jobState) QueueInfo {
	q := QueueInfo{Position: -1}
	sum := 0.0
	for _, w := range a.queue {
		if w.stranded >= 0 {
			continue
		}
		if q.Length == 0 {
			q.HeadWait, q.HeadRequested, q.HeadNeeds = now-w.job.Submit, w.job.Requested, w.job.Needs
		}
		if w == js {
			q.Position = q.Length
		}
		q.Length++
		sum += w.job.Requested
		if w.job.Needs.GPUs > 0 {
			q.GPUJobs++
		}
	}
	if q.Length > 0 {
		q.MeanRequested = sum / float64(q.Length)
	}
	for _, n := range a.nodes {
		if n.alive {
			q.LiveNodes++
		}
	}
	return q
}

// call asks targets to bid for js, awards it to the best bid once every
// target has answered or timed out, then goes on with next.
func (a *Auctioneer) call(ctx actors.Context, js *jobState, targets []int, next func(actors.Context)) {
	now := ctx.Now()
	a.advance(now)
	q := a.queueInfo(now, js)
	offers := make([]Offer, len(targets))
	got := make([]bool, len(targets))
	epochs := make([]uint64, len(targets))
	pending := len(targets)
	for i, ni := range targets {
		ns := a.nodes[ni]
		epochs[i] = ns.epoch
		a.ledger.Counters.Calls++
		c := CallForBids{Epoch: ns.epoch, Job: js.job.Info(now), Queue: q, Record: ns.record, Cost: a.cost}
		ctx.Request(ns.addr, c, a.Timeout, a.then(func(ctx actors.Context, reply any, err error) {
			if o, ok := reply.(Offer); ok && err == nil {
				offers[i], got[i] = o, true
			} else {
				a.retry = true
				if err != nil {
					a.ledger.Counters.Unanswered++
				}
			}
			pending--
			if pending > 0 {
				return
			}
			a.decide(ctx, js, targets, epochs, offers, got)
			next(ctx)
		}))
	}
}

// decide awards js to the best valid bid, if any.
func (a *Auctioneer) decide(ctx actors.Context, js *jobState, targets []int, epochs []uint64, offers []Offer, got []bool) {
	if js.phase != queued || js.stranded >= 0 || a.ended {
		return
	}
	best := -1
	for i, ni := range targets {
		o := offers[i]
		ns := a.nodes[ni]
		switch {
		case !got[i] || o.Level == Decline:
			continue
		case o.Level != Bid, !(o.Score >= 0 && o.Score <= 1), !ns.capacity.Covers(js.job.Needs):
			a.ledger.Counters.InvalidBids++
			continue
		case !ns.alive || ns.epoch != epochs[i]:
			continue // failed or restarted since
		}
		a.ledger.Counters.Bids++
		if best < 0 || o.Score > offers[best].Score {
			best = i
		}
	}
	if best >= 0 {
		a.award(ctx, js, targets[best])
	}
}

// central places jobs with the Discipline, from the ledger's view of the
// registered nodes.
func (a *Auctioneer) central(ctx actors.Context, w []*jobState) {
	now := ctx.Now()
	queue := make([]Waiting, len(w))
	byID := map[int]*jobState{}
	for i, js := range w {
		queue[i] = Waiting{ID: js.job.ID, Needs: js.job.Needs, Requested: js.job.Requested, Submit: js.job.Submit}
		byID[js.job.ID] = js
	}
	var nodes []NodeState
	free := map[int]Resources{}
	for ni, ns := range a.nodes {
		if !ns.alive {
			continue
		}
		st := NodeState{Index: ni, Capacity: ns.capacity, Free: ns.capacity.Minus(ns.used)}
		atts := make([]uint64, 0, len(ns.attempts))
		for at := range ns.attempts {
			atts = append(atts, at)
		}
		slices.Sort(atts)
		for _, at := range atts {
			js := a.jobs[a.attempts[at]]
			start := js.start
			if js.phase == assigned {
				start = js.assigned
			}
			st.Running = append(st.Running, Reservation{Needs: js.job.Needs, End: start + js.job.Requested})
		}
		free[ni] = st.Free
		nodes = append(nodes, st)
	}
	for _, p := range a.Discipline.Schedule(now, queue, nodes) {
		js, ok := byID[p.Job]
		f, alive := free[p.Node]
		if !ok || !alive || js.phase != queued || !f.Covers(js.job.Needs) {
			a.ledger.Counters.Rejected++ // a discipline's mistake: not applied
			continue
		}
		free[p.Node] = f.Minus(js.job.Needs)
		a.award(ctx, js, p.Node)
	}
}

// award assigns js to node ni under a new attempt number.
func (a *Auctioneer) award(ctx actors.Context, js *jobState, ni int) {
	now := ctx.Now()
	ns := a.nodes[ni]
	a.nextAttempt++
	at := a.nextAttempt
	a.attempts[at] = js.job.ID
	a.dequeue(js)
	js.phase, js.attempt, js.node, js.epoch, js.assigned = assigned, at, ni, ns.epoch, now
	a.record(js).State = "running"
	ns.attempts[at] = true
	ns.used = ns.used.Plus(js.job.Needs)
	a.ledger.Counters.Awards++
	addr := ns.addr
	ctx.Request(addr, Assign{Epoch: ns.epoch, Attempt: at, Job: js.job}, a.Timeout, a.then(func(ctx actors.Context, reply any, err error) {
		if js.attempt != at || js.phase != assigned {
			return // superseded: its node was declared failed meanwhile
		}
		if _, ok := reply.(Accepted); ok && err == nil {
			a.started(ctx.Now(), js, ctx.Now())
			return
		}
		a.ledger.Counters.AssignFailures++
		a.retry = true
		if ns.attempts[at] {
			delete(ns.attempts, at)
			ns.used = ns.used.Minus(js.job.Needs)
		}
		ctx.Send(addr, Abort{Attempt: at}) // in case it started it after all
		a.enqueue(js)
		js.attempt = 0
		a.strand(ctx, js)
		// No round now: the node may refuse for a reason that only time
		// clears (it still runs an attempt the ledger gave up on, whose
		// abort is on its way), and a round now would make the same
		// assignment at the same instant, for ever. The next sweep retries.
	}))
}

// started records that js's current attempt runs since start.
func (a *Auctioneer) started(now float64, js *jobState, start float64) {
	js.phase, js.start = running, start
	r := a.record(js)
	r.Runs = append(r.Runs, Run{Node: js.node, Epoch: js.epoch, Attempt: js.attempt, Start: start, Outcome: "running"})
	if js.failure >= 0 {
		fs := a.failures[js.failure]
		js.failure = -1
		fs.pending--
		if fs.pending == 0 {
			a.ledger.Failures[fs.index].Recovered = now
		}
	}
}
