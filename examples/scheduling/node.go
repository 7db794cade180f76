package scheduling

import (
	"cmp"
	"math"
	"slices"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/learning"
)

// ResourceAgent is the actor that manages one compute node: its capacity
// and running jobs, its bids and its heartbeats (see messages.go for the
// protocol). It runs on the node it manages, so that the node's failure
// takes it down. A restarted node gets a new ResourceAgent, which starts
// with nothing running and registers as a new incarnation.
type ResourceAgent struct {
	Name       string
	Index      int
	Capacity   Resources
	Auctioneer actors.Addr
	Roster     actors.Addr // zero: none
	Heartbeat  float64
	// Bidder chooses the bids (nil: the seed's heuristic, always Bid).
	// It outlives the agent: a restarted node's new agent gets the same.
	Bidder *Bidder
	// Lie, if set, replaces every bid the node sends: a byzantine node.
	Lie func(job JobInfo, honest Offer) Offer
	// Reports, if set, is where the agent reports (AgentReport) when the
	// episode is over, finishing its learning agent itself: a placed
	// agent, whose learning agent is not the episode's to finish (see
	// StartPlaced). Zero: no report.
	Reports actors.Addr

	epoch   uint64
	free    Resources
	running map[uint64]*attemptRun
	order   []uint64 // running attempts in start order
	done    []uint64 // finished, not yet acknowledged
	over    bool
	// For the report (Reports): every incarnation, and every attempt run
	// to its end.
	epochs    []uint64
	completed []Completion
	reported  bool
}

type attemptRun struct {
	job     Job
	attempt uint64
	timer   actors.Timer
	ends    float64 // requested end
}

// Bidder binds a node's learning agent and what its reward needs between
// decisions: the episode's cost at its last decision. One per node and
// episode, shared by the node's incarnations.
type Bidder struct {
	Agent    *env.Agent
	lastCost float64
	jobs     float64 // the episode's jobs: the reward's scale
}

// NewBidder returns the binding of agent for an episode of jobs jobs.
func NewBidder(agent *env.Agent, jobs int) *Bidder {
	return &Bidder{Agent: agent, jobs: float64(max(jobs, 1))}
}

// act asks the agent for a bid at episode cost cost; false if the node
// has no agent.
func (b *Bidder) act(obs learning.Observation, cost float64) (Level, bool) {
	if b == nil || b.Agent == nil {
		return 0, false
	}
	r := -(cost - b.lastCost) / b.jobs
	b.lastCost = cost
	a, ok := b.Agent.Act(obs, r)
	return Level(a), ok
}

// finish gives the agent its last reward at the episode's final cost.
func (b *Bidder) finish(cost float64) {
	if b == nil || b.Agent == nil {
		return
	}
	b.Agent.Finish(terminal(), -(cost-b.lastCost)/b.jobs)
}

type beat struct{}

type jobEnd struct{ attempt uint64 }

// Receive implements actors.Actor.
func (n *ResourceAgent) Receive(ctx actors.Context, msg any) {
	if n.Bidder != nil && n.Bidder.Agent.Handle(msg) {
		return
	}
	switch m := msg.(type) {
	case actors.Started:
		n.free = n.Capacity
		n.running = map[uint64]*attemptRun{}
		n.register(ctx)
		if !n.Roster.IsZero() && n.Bidder != nil && n.Bidder.Agent != nil {
			ctx.Send(n.Roster, env.Join{ID: n.Bidder.Agent.ID})
		}
		ctx.After(n.Heartbeat, beat{})
	case Registered:
		if n.epoch == 0 {
			n.epoch = m.Epoch
			n.epochs = append(n.epochs, m.Epoch)
		}
	case beat:
		if n.over {
			return
		}
		if n.epoch == 0 {
			n.register(ctx) // not answered yet: lost, or the auctioneer is slow
		} else {
			ctx.Send(n.Auctioneer, Heartbeat{Node: n.Name, Epoch: n.epoch, Running: slices.Clone(n.order), Done: slices.Clone(n.done)})
		}
		ctx.After(n.Heartbeat, beat{})
	case HeartbeatAck:
		n.done = slices.DeleteFunc(n.done, func(a uint64) bool { return slices.Contains(m.Acked, a) })
		for _, a := range m.Abort {
			n.abort(ctx, a)
		}
	case CallForBids:
		ctx.Reply(ctx.ReplyTo(), n.bid(ctx, m))
	case Assign:
		ctx.Reply(ctx.ReplyTo(), n.assign(ctx, m))
	case jobEnd:
		r, ok := n.running[m.attempt]
		if !ok {
			return
		}
		n.remove(m.attempt)
		n.done = append(n.done, m.attempt)
		n.completed = append(n.completed, Completion{Job: r.job.ID, Attempt: m.attempt, Epoch: n.epoch})
		ctx.Send(n.Auctioneer, Completed{Node: n.Name, Epoch: n.epoch, Attempt: m.attempt, Job: r.job.ID})
	case Abort:
		n.abort(ctx, m.Attempt)
	case Fenced:
		if m.Epoch != n.epoch || n.epoch == 0 {
			return // about an earlier incarnation of ours: already dealt with
		}
		for _, a := range slices.Clone(n.order) {
			n.abort(ctx, a)
		}
		n.done, n.epoch = nil, 0
		n.register(ctx)
	case EpisodeOver:
		n.over = true
		if !n.Reports.IsZero() && !n.reported {
			n.reported = true
			n.Bidder.finish(m.Cost)
			rep := AgentReport{Node: n.Index, Epochs: n.epochs, Completed: n.completed}
			if n.Bidder != nil {
				rep.Return, rep.Steps = n.Bidder.Agent.Return(), n.Bidder.Agent.Steps()
			}
			ctx.Send(n.Reports, rep)
		}
	}
}

func (n *ResourceAgent) register(ctx actors.Context) {
	ctx.Send(n.Auctioneer, Register{Node: n.Name, Index: n.Index, Capacity: n.Capacity})
}

func (n *ResourceAgent) view(now float64, c CallForBids) nodeView {
	v := nodeView{capacity: n.Capacity, free: n.free, running: len(n.running)}
	v.delaysHead = c.Queue.Position > 0 && n.delaysHead(now, c.Job, c.Queue.HeadNeeds)
	next := math.Inf(1)
	for _, r := range n.running {
		next = math.Min(next, r.ends-now)
	}
	if len(n.running) > 0 {
		v.nextEnd = math.Max(next, 0)
	}
	return v
}

// delaysHead reports whether running job here now would delay the
// earliest start here of a job that needs head, if the running jobs end
// by their requested times: EASY's test, on this node alone. A node that
// can never hold head delays nothing.
func (n *ResourceAgent) delaysHead(now float64, job JobInfo, head Resources) bool {
	if !n.Capacity.Covers(head) {
		return false
	}
	ends := make([]Reservation, 0, len(n.running))
	for _, a := range n.order {
		r := n.running[a]
		ends = append(ends, Reservation{Needs: r.job.Needs, End: r.ends})
	}
	slices.SortStableFunc(ends, func(a, b Reservation) int { return cmp.Compare(a.End, b.End) })
	avail, shadow := n.free, now
	for i := 0; !avail.Covers(head) && i < len(ends); i++ {
		avail, shadow = avail.Plus(ends[i].Needs), math.Max(now, ends[i].End)
	}
	return now+job.Requested > shadow && !avail.Minus(head).Covers(job.Needs)
}

// bid answers a call for bids: Decline if the node cannot fit the job now
// (or the call is for another incarnation), else the agent's choice (the
// heuristic's, Bid, without an agent) with the node's score.
func (n *ResourceAgent) bid(ctx actors.Context, c CallForBids) Offer {
	if c.Epoch == 0 || c.Epoch != n.epoch || !n.free.Covers(c.Job.Needs) {
		return n.lie(c, Offer{Level: Decline})
	}
	score := Score(c.Job.Needs, n.free, n.Capacity, c.Record)
	obs := observe(c, n.view(ctx.Now(), c), score)
	level := Bid
	if a, ok := n.Bidder.act(obs, c.Cost); ok && a >= 0 && int(a) < len(obs.Mask) && obs.Mask[a] {
		level = a
	}
	return n.lie(c, Offer{Level: level, Score: score})
}

func (n *ResourceAgent) lie(c CallForBids, o Offer) Offer {
	if n.Lie != nil {
		return n.Lie(c.Job, o)
	}
	return o
}

// assign starts attempt m if it is for this incarnation and fits.
func (n *ResourceAgent) assign(ctx actors.Context, m Assign) any {
	switch {
	case m.Epoch == 0 || m.Epoch != n.epoch:
		return Refused{Reason: "not this incarnation"}
	case n.running[m.Attempt] != nil:
		return Accepted{} // a repeat
	case !n.free.Covers(m.Job.Needs):
		return Refused{Reason: "does not fit"}
	}
	r := &attemptRun{job: m.Job, attempt: m.Attempt, ends: ctx.Now() + m.Job.Requested}
	r.timer = ctx.After(math.Min(m.Job.Run, m.Job.Requested), jobEnd{m.Attempt})
	n.running[m.Attempt] = r
	n.order = append(n.order, m.Attempt)
	n.free = n.free.Minus(m.Job.Needs)
	return Accepted{}
}

func (n *ResourceAgent) abort(ctx actors.Context, attempt uint64) {
	r, ok := n.running[attempt]
	if !ok {
		return
	}
	ctx.Cancel(r.timer)
	n.remove(attempt)
}

func (n *ResourceAgent) remove(attempt uint64) {
	r := n.running[attempt]
	delete(n.running, attempt)
	n.order = slices.DeleteFunc(n.order, func(a uint64) bool { return a == attempt })
	n.free = n.free.Plus(r.job.Needs)
}
