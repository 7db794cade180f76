package scheduling

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
)

// Placed episodes: the resource agents run somewhere other than on the
// auctioneer's node (on other machines, over a transport), each placed by
// the episode's director through a Place function the caller gives.
//
// The director places one agent per compute node when the episode starts
// and watches them. When one goes (actors.Down: its machine failed or
// left, it crashed, it was stopped) before the episode is over, the
// director tells the auctioneer (AgentDown), which declares the node
// failed at once if that agent was its current incarnation (its
// heartbeats would have told it later; they still do, for an agent that
// is alive but cut off), and places a fresh agent for the node wherever a
// slot is free: the node restarts there, as a new incarnation with nothing
// running. With no free slot, the node stays down until one frees up
// (AddSlots, or the director's retry every heartbeat interval).
//
// When the auctioneer has settled every job, the director tells every
// agent it placed that the episode is over (EpisodeOver, with the final
// cost): each finishes its learning agent and reports (AgentReport). The
// episode is done once every placed agent has reported or gone.

// Place starts a compute node's resource agent somewhere other than on
// the director's node. It is called inside the director's turn and must
// not block. It starts the agent spec describes (AgentSpec.Agent), with
// the learning agent of where it runs, and calls placed inside a later
// turn of the director with the agent's address, or with why it could
// not.
type Place func(ctx actors.Context, spec AgentSpec, placed func(ctx actors.Context, agent actors.Addr, err error))

// AgentSpec is a compute node's resource agent as the director makes it,
// less what the machine that runs it supplies: its learning agent.
type AgentSpec struct {
	// Index is the compute node's number; Capacity its capacity.
	Index    int
	Capacity Resources
	// Auctioneer, Roster and Reports are the episode's auctioneer, roster
	// and director (where the agent reports when the episode is over).
	Auctioneer, Roster, Reports actors.Addr
	// Heartbeat is the interval of the agent's heartbeats.
	Heartbeat float64
	// Jobs is the episode's number of jobs: the scale of the agent's
	// reward.
	Jobs int
}

// Agent makes the resource agent s describes, bidding with agent (nil: the
// seed's heuristic, or no bids at all when a central discipline places the
// jobs).
func (s AgentSpec) Agent(agent *env.Agent) *ResourceAgent {
	return &ResourceAgent{
		Name: NodeName(s.Index), Index: s.Index, Capacity: s.Capacity, Auctioneer: s.Auctioneer, Roster: s.Roster,
		Reports: s.Reports, Heartbeat: s.Heartbeat, Bidder: NewBidder(agent, s.Jobs),
	}
}

// PlacedAgent is what became of a resource agent of a placed episode.
type PlacedAgent struct {
	// Node is the compute node's number; Host where its agent ran (the
	// name of the machine, or of the transport node).
	Node int    `json:"node"`
	Host string `json:"host"`
	// At is when it was placed (by the episode's clock).
	At float64 `json:"at"`
	// Gone and Reason say when the director saw it go, and why, if that
	// was before it reported; Lost says it went with its host (a node
	// failure or departure: actors.NodeDown).
	Gone   float64 `json:"gone,omitempty"`
	Reason string  `json:"reason,omitempty"`
	Lost   bool    `json:"lost,omitempty"`
	// Reported says it reported when the episode was over.
	Reported bool `json:"reported"`
}

// StartPlaced starts an episode on rt whose resource agents are placed by
// place (see the comment above Place), and returns it. Jobs are placed by
// the central discipline if it is not nil, else by auction among the
// agents, which bid with the learning agents of where they run. Crashes,
// fault plans and byzantine bids (Scenario.Crashes, Scenario.Faults,
// Environment.Lie) are the simulator's and are refused: a placed episode
// meets real failures.
func (e *Environment) StartPlaced(rt actors.Runtime, seed uint64, central Discipline, place Place) (*Episode, error) {
	sc := e.scenario
	switch {
	case len(sc.Crashes) > 0:
		return nil, errors.New("scheduling: crashes need the simulator (a placed episode meets real failures)")
	case sc.Faults.Active():
		return nil, errors.New("scheduling: fault plans need the simulator (a placed episode meets real failures)")
	case e.Lie != nil:
		return nil, errors.New("scheduling: byzantine bids (Lie) need the simulator")
	case place == nil:
		return nil, errors.New("scheduling: StartPlaced needs a Place")
	}
	jobs := e.Workload(seed)
	if err := checkJobs(jobs); err != nil {
		return nil, err
	}
	ep := &Episode{env: e, seed: seed, jobs: jobs, rt: rt, capacities: sc.Capacities(), central: central}
	ep.members.OnChange(func() {})
	ep.roster = rt.Spawn(env.NewRoster(&ep.members))
	names := make([]string, sc.Nodes)
	for i := range names {
		names[i] = NodeName(i)
	}
	ep.auctioneer = &Auctioneer{
		Capacities: ep.capacities, Names: names, Heartbeat: sc.Heartbeat, Missed: sc.MissedHeartbeats,
		Timeout: sc.Timeout, Window: sc.Window, StrandTimeout: sc.StrandTimeout, Discipline: central, OnEnd: ep.end,
	}
	ep.auctioneerAddr = rt.Spawn(ep.auctioneer)
	ep.director = rt.Spawn(&director{ep: ep, place: place, agents: make([]actors.Addr, sc.Nodes), placing: map[int]bool{}, fate: map[actors.Addr]int{}})
	rt.Spawn(&submitter{jobs: jobs, to: ep.auctioneerAddr})
	return ep, nil
}

// Director is the address of a placed episode's director, which takes
// AddSlots.
func (ep *Episode) Director() actors.Addr { return ep.director }

// AgentCounts are how many times learning agents joined and left the
// episode's roster so far.
func (ep *Episode) AgentCounts() (joined, left int) { return ep.members.Counts() }

type episodeEnded struct{ cost float64 }
type retryPlacing struct{}

// director places a placed episode's resource agents, watches them,
// places them again when they go, and collects their reports.
type director struct {
	ep       *Episode
	place    Place
	agents   []actors.Addr       // each node's current agent (zero: none)
	placing  map[int]bool        // nodes whose placement is under way
	waiting  []int               // nodes with no agent, waiting for a slot
	fate     map[actors.Addr]int // placed agents: index in ep.fates
	pending  int                 // placed agents that have neither reported nor gone
	retrying bool
	ended    bool
	cost     float64
}

func (d *director) Receive(ctx actors.Context, msg any) {
	switch m := msg.(type) {
	case actors.Started:
		for i := range d.agents {
			d.placeNode(ctx, i)
		}
	case actors.Down:
		d.gone(ctx, m)
	case AddSlots:
		d.retry(ctx, m.Count)
	case retryPlacing:
		d.retrying = false
		d.retry(ctx, len(d.waiting))
	case AgentReport:
		i, ok := d.fate[ctx.Sender()]
		if !ok {
			return // not an agent of ours
		}
		node := d.ep.fateOf(i).Node
		if m.Node != node || d.agents[node] != ctx.Sender() {
			return // about another node, or from an agent written off
		}
		d.ep.reported(i, m)
		d.agents[node] = actors.Addr{}
		d.pending--
		d.check()
	case episodeEnded:
		d.ended, d.cost = true, m.cost
		for _, a := range d.agents {
			if !a.IsZero() {
				ctx.Send(a, EpisodeOver{Cost: m.cost})
			}
		}
		d.check()
	}
}

// placeNode places an agent for node i.
func (d *director) placeNode(ctx actors.Context, i int) {
	ep := d.ep
	sc := ep.env.scenario
	spec := AgentSpec{Index: i, Capacity: ep.capacities[i], Auctioneer: ep.auctioneerAddr, Roster: ep.roster, Reports: ctx.Self(), Heartbeat: sc.Heartbeat, Jobs: len(ep.jobs)}
	d.placing[i] = true
	d.place(ctx, spec, func(ctx actors.Context, a actors.Addr, err error) {
		delete(d.placing, i)
		if err != nil {
			ep.placeFailed(i, err)
			d.wait(ctx, i)
			d.check()
			return
		}
		d.agents[i] = a
		d.fate[a] = ep.placed(PlacedAgent{Node: i, Host: a.Node, At: ctx.Now()})
		d.pending++
		ctx.Watch(a)
		if d.ended {
			ctx.Send(a, EpisodeOver{Cost: d.cost})
		}
	})
}

// wait puts node i in the queue of nodes waiting for a slot, and makes
// sure a retry is due.
func (d *director) wait(ctx actors.Context, i int) {
	if d.ended || slices.Contains(d.waiting, i) {
		return
	}
	d.waiting = append(d.waiting, i)
	if !d.retrying {
		d.retrying = true
		ctx.After(d.ep.env.scenario.Heartbeat, retryPlacing{})
	}
}

// retry places up to n waiting nodes again.
func (d *director) retry(ctx actors.Context, n int) {
	if d.ended {
		return
	}
	for ; n > 0 && len(d.waiting) > 0; n-- {
		i := d.waiting[0]
		d.waiting = d.waiting[1:]
		d.placeNode(ctx, i)
	}
}

// gone records that a placed agent went; if it is a node's current agent
// and the episode is not over, the node is declared failed and placed
// again.
func (d *director) gone(ctx actors.Context, m actors.Down) {
	fi, ok := d.fate[m.Actor]
	if !ok {
		return
	}
	var node = -1
	for i, a := range d.agents {
		if a == m.Actor {
			node = i
		}
	}
	if node < 0 {
		return // it reported, and went since, as every agent does
	}
	why := m.Reason.String()
	if m.Detail != "" {
		why += ": " + m.Detail
	}
	d.ep.agentGone(fi, ctx.Now(), why, m.Reason == actors.NodeDown)
	d.agents[node] = actors.Addr{}
	d.pending--
	if !d.ended {
		ctx.Send(d.ep.auctioneerAddr, AgentDown{Node: NodeName(node), Agent: m.Actor, Why: why})
		d.placeNode(ctx, node)
	}
	d.check()
}

// check ends the episode once the auctioneer has, and every placed agent
// has reported or gone.
func (d *director) check() {
	if d.ended && d.pending == 0 && len(d.placing) == 0 {
		d.ep.End()
	}
}

func (ep *Episode) placed(p PlacedAgent) int {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.fates = append(ep.fates, p)
	return len(ep.fates) - 1
}

func (ep *Episode) fateOf(i int) PlacedAgent {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.fates[i]
}

func (ep *Episode) placeFailed(node int, err error) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	for i := range ep.placeErrors {
		if e := &ep.placeErrors[i]; e.Node == node {
			e.Attempts++
			e.Last = err.Error()
			return
		}
	}
	ep.placeErrors = append(ep.placeErrors, PlaceError{Node: node, Attempts: 1, Last: err.Error()})
}

// PlaceError is a compute node whose agent could not be placed: how many
// times (the director tries again every heartbeat interval while it has
// no agent, and whenever slots free up), and why the last time.
type PlaceError struct {
	Node     int    `json:"node"`
	Attempts int    `json:"attempts"`
	Last     string `json:"last"`
}

func (ep *Episode) agentGone(i int, at float64, why string, lost bool) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	f := &ep.fates[i]
	f.Gone, f.Reason, f.Lost = at, why, lost
}

func (ep *Episode) reported(i int, r AgentReport) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.fates[i].Reported = true
	ep.reports = append(ep.reports, r)
}

// Reports are the placed agents' reports so far.
func (ep *Episode) Reports() []AgentReport {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return slices.Clone(ep.reports)
}

// CheckReports checks the auctioneer's ledger against the resource agents'
// own accounts (the reports of a placed episode's agents; agents that died
// with their machine never report) and returns what disagrees, or nil:
//
//   - every job the ledger counts completed has exactly one run that
//     completed, its last, and no other job state has one;
//   - every completion an agent reports is the completing run of its job,
//     on that agent's node and incarnation, or a stale one (an attempt the
//     ledger did not credit: given to an incarnation declared failed since,
//     or refused); stale reports it returns the number of;
//   - every completing run given to an incarnation of an agent that
//     reported is among that agent's reported completions: the ledger
//     credits no completion its node did not make;
//   - no attempt is reported completed twice.
func CheckReports(l Ledger, reports []AgentReport) (stale int, problems []string) {
	type credit struct {
		job   int
		node  int
		epoch uint64
	}
	credited := map[uint64]credit{} // completing attempt -> its job, node, incarnation
	for _, j := range l.Jobs {
		n := 0
		for _, r := range j.Runs {
			if r.Outcome == "completed" {
				n++
			}
		}
		switch {
		case j.State == "completed" && (n != 1 || j.Runs[len(j.Runs)-1].Outcome != "completed"):
			problems = append(problems, fmt.Sprintf("job %d: completed with %d completed runs %v", j.ID, n, j.Runs))
		case j.State != "completed" && n > 0:
			problems = append(problems, fmt.Sprintf("job %d is %s with %d completed runs", j.ID, j.State, n))
		}
		if j.State == "completed" && len(j.Runs) > 0 {
			r := j.Runs[len(j.Runs)-1]
			credited[r.Attempt] = credit{job: j.ID, node: r.Node, epoch: r.Epoch}
		}
	}
	reported := map[uint64]int{} // attempt -> the node that reported it
	byEpoch := map[uint64]bool{} // incarnations of agents that reported
	for _, rep := range reports {
		for _, e := range rep.Epochs {
			byEpoch[e] = true
		}
		for _, c := range rep.Completed {
			if other, dup := reported[c.Attempt]; dup {
				problems = append(problems, fmt.Sprintf("attempt %d of job %d reported completed by node %d and node %d", c.Attempt, c.Job, other, rep.Node))
				continue
			}
			reported[c.Attempt] = rep.Node
			cr, ok := credited[c.Attempt]
			switch {
			case !ok:
				stale++
			case cr.job != c.Job || cr.node != rep.Node || cr.epoch != c.Epoch:
				problems = append(problems, fmt.Sprintf("node %d reports attempt %d of job %d completed as incarnation %d; the ledger credits it to job %d on node %d, incarnation %d",
					rep.Node, c.Attempt, c.Job, c.Epoch, cr.job, cr.node, cr.epoch))
			}
		}
	}
	var unreported []string
	for at, cr := range credited {
		if _, ok := reported[at]; byEpoch[cr.epoch] && !ok {
			unreported = append(unreported, fmt.Sprintf("job %d (attempt %d, node %d, incarnation %d)", cr.job, at, cr.node, cr.epoch))
		}
	}
	sort.Strings(unreported)
	if len(unreported) > 0 {
		problems = append(problems, "the ledger credits completions their nodes did not report: "+strings.Join(unreported, ", "))
	}
	return stale, problems
}
