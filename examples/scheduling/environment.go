package scheduling

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/examples/scheduling/swf"
	"github.com/marlon-go/marlon/faults"
	"github.com/marlon-go/marlon/learning"
)

// Family is the environment's family, its name without a version.
const Family = "scheduling"

// Versions are the versions of the dynamics this package runs, oldest
// first; New makes the last.
func Versions() []string { return []string{"v1"} }

// AuctioneerNode is the simulated node the auctioneer, the workload and
// the roster run on; node i's resource agent runs on node NodeName(i).
const AuctioneerNode = "auctioneer"

// Environment is the scheduling environment for one scenario: a cluster,
// a workload (each episode draws its jobs from its seed, or replays its
// window of the trace) and the protocol's timing.
type Environment struct {
	// OnStart, if set, is called when an episode has spawned its actors,
	// before any of them runs: a fault injector schedules its faults there
	// (Episode.At, KillNode, RestartNode, and actors.Sim.SetNetwork on the
	// runtime). An error stops the episode's start.
	OnStart func(rt actors.Runtime, ep *Episode) error
	// Lie, if set, is called with every bid a node sends, and its result
	// is sent instead: byzantine resource agents.
	Lie func(node string, job JobInfo, honest Offer) Offer
	// Jobs, if set, gives the workload of the episode seeded with seed
	// instead of the scenario's (jobs in submit order, numbers unique).
	Jobs func(seed uint64) []Job

	version  string
	scenario Scenario
	trace    []Job
	skipped  int
	agents   []learning.AgentID
}

var (
	_ env.Environment = (*Environment)(nil)
	_ env.Adaptable   = (*Environment)(nil)
)

// New validates sc and returns its environment at the latest version of
// the dynamics. With Arrival "swf" it reads the trace (Scenario.Trace, or
// the shipped one).
func New(sc Scenario) (*Environment, error) {
	v := Versions()
	return NewVersion(v[len(v)-1], sc)
}

// NewVersion is New at the given version of the dynamics ("v1").
func NewVersion(version string, sc Scenario) (*Environment, error) {
	if !slices.Contains(Versions(), version) {
		return nil, bad("env", "must be one of "+strings.Join(Versions(), ", "), version)
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	e := &Environment{version: version, scenario: sc}
	if sc.Arrival == SWF {
		var log *swf.Log
		var err error
		if sc.Trace == "" {
			log, err = ShippedTrace()
		} else {
			log, err = swf.ReadFile(sc.Trace)
		}
		if err != nil {
			return nil, fmt.Errorf("--trace: %w", err)
		}
		e.trace, e.skipped = TraceJobs(log)
		if len(e.trace) == 0 {
			return nil, bad("trace", "must have at least one job with a known run time and processor count", fmt.Sprintf("%d jobs, %d skipped", len(log.Jobs), e.skipped))
		}
	}
	for i := range sc.Nodes {
		e.agents = append(e.agents, AgentID(i))
	}
	return e, nil
}

// AgentID is node i's agent.
func AgentID(i int) learning.AgentID { return learning.AgentID(NodeName(i)) }

// Name implements env.Environment: "scheduling/" and the version.
func (e *Environment) Name() string { return Family + "/" + e.version }

// Version is the version of the dynamics e runs.
func (e *Environment) Version() string { return e.version }

// Scenario is the scenario the environment runs.
func (e *Environment) Scenario() Scenario { return e.scenario }

// TraceJobs are the usable jobs of the replayed trace, and how many of its
// jobs were skipped (TraceJobs); none without one.
func (e *Environment) TraceJobs() (usable, skipped int) { return len(e.trace), e.skipped }

// Workload is the jobs of the episode seeded with seed.
func (e *Environment) Workload(seed uint64) []Job {
	if e.Jobs != nil {
		return e.Jobs(seed)
	}
	if e.scenario.Arrival == SWF {
		return window(e.trace, e.scenario.Jobs, seed)
	}
	return e.scenario.Synthetic(seed)
}

// PossibleAgents implements env.Environment: one agent per node.
func (e *Environment) PossibleAgents() []learning.AgentID { return slices.Clone(e.agents) }

// Spec implements env.Environment: every node observes Schema and chooses
// its bid's Level.
func (e *Environment) Spec(learning.AgentID) learning.Spec {
	return learning.Spec{Observation: Schema, Actions: Actions}
}

// BidAdapter is the name of the default adapter.
const BidAdapter = "bid"

// Adapters implements env.Adaptable.
func (e *Environment) Adapters() []string { return []string{BidAdapter} }

// Adapter implements env.Adaptable: "bid" (or "") is Adapter.
func (e *Environment) Adapter(name string) (learning.Adapter, error) {
	switch name {
	case "", BidAdapter:
		return Adapter{}, nil
	}
	return nil, fmt.Errorf("unknown adapter %q; one of %s", name, strings.Join(e.Adapters(), ", "))
}

// Start implements env.Environment.
func (e *Environment) Start(rt actors.Runtime, seed uint64, agents env.Agents) (env.Episode, error) {
	return e.StartEpisode(rt, seed, agents)
}

// StartEpisode is Start with the episode's type. In the simulator
// (*actors.Sim) every resource agent runs on its own node, which
// KillNode can kill; elsewhere they all run on the runtime's node.
func (e *Environment) StartEpisode(rt actors.Runtime, seed uint64, agents env.Agents) (*Episode, error) {
	sc := e.scenario
	jobs := e.Workload(seed)
	if err := checkJobs(jobs); err != nil {
		return nil, err
	}
	ep := &Episode{env: e, seed: seed, jobs: jobs, rt: rt, capacities: sc.Capacities()}
	ep.sim, _ = rt.(*actors.Sim)
	centrals := 0
	for i := range sc.Nodes {
		var alg learning.LearningAlgorithm
		if agents != nil {
			alg = agents(AgentID(i))
		}
		if c, ok := alg.(Central); ok {
			d := c.Discipline()
			if ep.central != nil && ep.central.Name() != d.Name() {
				return nil, fmt.Errorf("scheduling: nodes driven by two central disciplines, %s and %s", ep.central.Name(), d.Name())
			}
			ep.central, alg = d, nil
			centrals++
		}
		ep.bidders = append(ep.bidders, NewBidder(env.Attach(AgentID(i), alg), len(jobs)))
	}
	if centrals > 0 && centrals < sc.Nodes {
		return nil, errors.New("scheduling: some nodes driven by a central discipline and some by bids: one or the other")
	}
	if len(sc.Crashes) > 0 && ep.sim == nil {
		return nil, errors.New("scheduling: crashes need the simulator (nodes are killed with actors.Sim.KillNode)")
	}
	ep.members.OnChange(func() {})
	ep.roster = ep.spawnOn(AuctioneerNode, env.NewRoster(&ep.members))
	names := make([]string, sc.Nodes)
	for i := range names {
		names[i] = NodeName(i)
	}
	ep.auctioneer = &Auctioneer{
		Capacities: ep.capacities, Names: names, Heartbeat: sc.Heartbeat, Missed: sc.MissedHeartbeats,
		Timeout: sc.Timeout, Window: sc.Window, StrandTimeout: sc.StrandTimeout, Discipline: ep.central, OnEnd: ep.end,
	}
	ep.auctioneerAddr = ep.spawnOn(AuctioneerNode, ep.auctioneer)
	ep.nodes = make([]actors.Addr, sc.Nodes)
	for i := range sc.Nodes {
		ep.nodes[i] = ep.spawnOn(NodeName(i), ep.agent(i))
	}
	ep.spawnOn(AuctioneerNode, &submitter{jobs: jobs, to: ep.auctioneerAddr})
	if err := ep.injectFaults(); err != nil {
		return nil, err
	}
	for _, c := range sc.Crashes {
		name := NodeName(c.Node)
		if err := ep.At(c.At, func() { ep.KillNode(name) }); err != nil {
			return nil, err
		}
		if c.Down > 0 {
			if err := ep.At(c.At+c.Down, func() { ep.RestartNode(name) }); err != nil {
				return nil, err
			}
		}
	}
	if e.OnStart != nil {
		if err := e.OnStart(rt, ep); err != nil {
			return nil, err
		}
	}
	return ep, nil
}

// checkJobs refuses a workload the auctioneer would reject.
func checkJobs(jobs []Job) error {
	seen := map[int]bool{}
	for i, j := range jobs {
		switch {
		case seen[j.ID]:
			return fmt.Errorf("scheduling: job %d appears twice in the workload", j.ID)
		case !j.Needs.Valid() || j.Needs.Cores < 1:
			return fmt.Errorf("scheduling: job %d needs %v: at least a core, nothing negative", j.ID, j.Needs)
		case !(j.Run >= 0) || !finite(j.Run) || !(j.Requested > 0) || !finite(j.Requested):
			return fmt.Errorf("scheduling: job %d has run time %v and requested time %v: finite, >= 0 and > 0", j.ID, j.Run, j.Requested)
		case !(j.Submit >= 0) || !finite(j.Submit) || (i > 0 && j.Submit < jobs[i-1].Submit):
			return fmt.Errorf("scheduling: job %d is submitted at %v: jobs come in submit order, from 0", j.ID, j.Submit)
		}
		seen[j.ID] = true
	}
	return nil
}

// Run runs one episode in the simulator, with the nodes' agents from
// agents (nil: every node bids the seed's heuristic), and returns its
// result.
func (e *Environment) Run(seed uint64, agents env.Agents) (Result, error) {
	out, err := env.RunSim(e, seed, agents, 0)
	if err != nil {
		return Result{}, err
	}
	ep := out.Episode.(*Episode)
	if !out.Done {
		return ep.Result(), fmt.Errorf("scheduling: episode %d stopped at t=%v before every job was settled", seed, out.Time)
	}
	return ep.Result(), nil
}

// submitter brings the workload's jobs to the auctioneer at their submit
// times.
type submitter struct {
	jobs []Job
	to   actors.Addr
	next int
}

type arrive struct{}

func (s *submitter) Receive(ctx actors.Context, msg any) {
	switch msg.(type) {
	case actors.Started, arrive:
		for s.next < len(s.jobs) && s.jobs[s.next].Submit <= ctx.Now()+1e-9 {
			ctx.Send(s.to, Submit{Job: s.jobs[s.next]})
			s.next++
		}
		if s.next == len(s.jobs) {
			ctx.Send(s.to, SubmissionsOver{Count: len(s.jobs)})
			return
		}
		ctx.After(s.jobs[s.next].Submit-ctx.Now(), arrive{})
	}
}

// Episode is one run of the environment. Its methods are safe to call
// while the runtime runs; KillNode, RestartNode and At act on the
// simulator, so they are called from inside it (OnStart, or a function
// At runs).
type Episode struct {
	env.Ending
	env            *Environment
	seed           uint64
	jobs           []Job
	rt             actors.Runtime
	sim            *actors.Sim
	capacities     []Resources
	central        Discipline
	bidders        []*Bidder
	roster         actors.Addr
	auctioneer     *Auctioneer
	auctioneerAddr actors.Addr
	members        env.Membership
	clock          actors.Addr // runs At's functions

	mu       sync.Mutex
	injector *faults.Injector // applies Scenario.Faults
	liar     *rand.Rand       // byzantine nodes' random bids
	nodes    []actors.Addr    // the nodes' current resource agents
	kills    []NodeEvent
	restarts []NodeEvent
	cost     float64
	// Placed episodes (StartPlaced) only:
	director    actors.Addr
	fates       []PlacedAgent // in the order they were placed
	placeErrors []PlaceError  // placements that failed, by node
	reports     []AgentReport
}

// NodeEvent is a node killed or restarted through the Episode.
type NodeEvent struct {
	Node int     `json:"node"`
	At   float64 `json:"at"`
}

var _ env.Episode = (*Episode)(nil)

// Seed is the episode's seed.
func (ep *Episode) Seed() uint64 { return ep.seed }

// Jobs are the episode's workload.
func (ep *Episode) Jobs() []Job { return slices.Clone(ep.jobs) }

// Nodes are the names of the compute nodes, by number: each resource
// agent runs on the simulated node of its name.
func (ep *Episode) Nodes() []string {
	names := make([]string, len(ep.capacities))
	for i := range names {
		names[i] = NodeName(i)
	}
	return names
}

// Auctioneer is the auctioneer's address (on AuctioneerNode).
func (ep *Episode) Auctioneer() actors.Addr { return ep.auctioneerAddr }

// Agent is the address of node name's current resource agent.
func (ep *Episode) Agent(name string) (actors.Addr, error) {
	i, err := ep.node(name)
	if err != nil {
		return actors.Addr{}, err
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.nodes[i], nil
}

// Central is the discipline placing jobs, or nil if they are auctioned.
func (ep *Episode) Central() Discipline { return ep.central }

func (ep *Episode) node(name string) (int, error) {
	i, err := strconv.Atoi(strings.TrimPrefix(name, "node-"))
	if err != nil || !strings.HasPrefix(name, "node-") || i < 0 || i >= len(ep.capacities) || NodeName(i) != name {
		return -1, fmt.Errorf("scheduling: no node %q (the nodes are node-0 to node-%d)", name, len(ep.capacities)-1)
	}
	return i, nil
}

func (ep *Episode) spawnOn(node string, a actors.Actor) actors.Addr {
	if ep.sim != nil {
		return ep.sim.SpawnOn(node, a)
	}
	return ep.rt.Spawn(a)
}

func (ep *Episode) agent(i int) *ResourceAgent {
	n := &ResourceAgent{
		Name: NodeName(i), Index: i, Capacity: ep.capacities[i], Auctioneer: ep.auctioneerAddr, Roster: ep.roster,
		Heartbeat: ep.env.scenario.Heartbeat, Bidder: ep.bidders[i],
	}
	if lie := ep.env.Lie; lie != nil {
		n.Lie = func(job JobInfo, o Offer) Offer { return lie(n.Name, job, o) }
	} else if ep.env.scenario.Faults.Active() {
		n.Lie = func(job JobInfo, o Offer) Offer { return ep.lie(i, job, o) }
	}
	return n
}

// KillNode kills node name, as if the machine died: its resource agent
// stops at once, without a word. The auctioneer finds out from the
// missing heartbeats. Simulator only.
func (ep *Episode) KillNode(name string) error {
	i, err := ep.node(name)
	if err != nil {
		return err
	}
	if ep.sim == nil {
		return errors.New("scheduling: KillNode needs the simulator")
	}
	ep.sim.KillNode(name)
	ep.mu.Lock()
	ep.kills = append(ep.kills, NodeEvent{Node: i, At: ep.sim.Now()})
	ep.mu.Unlock()
	return nil
}

// RestartNode restarts node name: whatever runs on it is killed (if it
// still runs), and a fresh resource agent starts there, with nothing
// running, and registers as a new incarnation. Its learning agent is the
// node's, as before. Simulator only.
func (ep *Episode) RestartNode(name string) error {
	i, err := ep.node(name)
	if err != nil {
		return err
	}
	if ep.sim == nil {
		return errors.New("scheduling: RestartNode needs the simulator")
	}
	ep.sim.KillNode(name)
	addr := ep.sim.SpawnOn(name, ep.agent(i))
	ep.mu.Lock()
	ep.nodes[i] = addr
	ep.restarts = append(ep.restarts, NodeEvent{Node: i, At: ep.sim.Now()})
	ep.mu.Unlock()
	return nil
}

type call struct{ f func() }

// At runs f at virtual time t (now if t is past), inside the simulation:
// f may kill and restart nodes. Simulator only.
func (ep *Episode) At(t float64, f func()) error {
	if ep.sim == nil {
		return errors.New("scheduling: At needs the simulator")
	}
	if ep.clock.IsZero() {
		ep.clock = ep.sim.SpawnOn("episode", actors.ActorFunc(func(ctx actors.Context, msg any) {
			if c, ok := msg.(call); ok {
				c.f()
			}
		}))
	}
	ep.sim.SendAfter(math.Max(0, t-ep.sim.Now()), ep.clock, call{f})
	return nil
}

// end finishes the agents at the episode's final cost and ends it.
func (ep *Episode) end(cost float64) {
	ep.mu.Lock()
	ep.cost = cost
	ep.mu.Unlock()
	if !ep.director.IsZero() {
		// The agents are elsewhere: the director tells them, collects
		// their reports, and ends the episode.
		ep.rt.Send(ep.director, episodeEnded{cost})
		return
	}
	for _, b := range ep.bidders {
		b.finish(cost)
	}
	ep.End()
}

// Ledger is the auctioneer's account of the episode so far.
func (ep *Episode) Ledger() Ledger { return ep.auctioneer.Ledger() }

// Metrics implements env.Episode.
func (ep *Episode) Metrics() env.Metrics { return ep.Result().Metrics() }

// Result is an episode's outcome.
type Result struct {
	Algorithm string `json:"algorithm,omitempty"`
	Seed      uint64 `json:"seed"`
	Jobs      int    `json:"jobs"`
	Completed int    `json:"completed"`
	// Lost jobs waited StrandTimeout with every node that could hold them
	// down (LostJobs says which and when); Refused jobs fit no node of the
	// cluster.
	Lost    int `json:"lost"`
	Refused int `json:"refused"`
	// CompletionRate is Completed / Jobs.
	CompletionRate float64 `json:"completion_rate"`
	// Availability is the share of the cluster's core-time, over the
	// episode, on nodes that were up: from a node's registration to its
	// failure (when it was killed, if it was through the Episode, else its
	// last heartbeat), until it registers again.
	Availability float64 `json:"availability"`
	// MTTR, the mean time to recovery, is the mean over failures that held
	// jobs of the time from the failure to when the last of its jobs was
	// running again elsewhere (failures some of whose jobs were lost are
	// Unrecovered and not in the mean).
	MTTR        float64 `json:"mttr"`
	Failures    int     `json:"failures"`
	Unrecovered int     `json:"unrecovered"`
	Restarts    int     `json:"restarts"`
	// Throughput is completed jobs per hour of makespan.
	Throughput float64 `json:"throughput"`
	// MeanWait is the mean over completed jobs of the time in the system
	// not spent on the run that completed: queueing, and runs lost.
	MeanWait float64 `json:"mean_wait"`
	// MeanBSLD is the mean over completed jobs of the bounded slowdown,
	// max(1, (wait + run) / max(run, 10 s)); MaxBSLD the largest.
	MeanBSLD float64 `json:"mean_bsld"`
	MaxBSLD  float64 `json:"max_bsld"`
	// Utilisation is the core-time of completed runs over the cluster's
	// cores times the makespan.
	Utilisation float64 `json:"utilisation"`
	// Makespan is when the last job completed.
	Makespan float64 `json:"makespan"`
	// LostWork is the core-time of runs cut short by a failure, from
	// their start to the failure's detection.
	LostWork float64  `json:"lost_work"`
	Counters Counters `json:"counters"`
	// Return is the agents' mean return (minus about the mean bounded
	// slowdown; 0 without agents).
	Return   float64     `json:"return"`
	LostJobs []JobRecord `json:"lost_jobs,omitempty"`
	Kills    []NodeEvent `json:"kills,omitempty"`
	// Faults is what was injected (Scenario.Faults).
	Faults *faults.Report `json:"faults,omitempty"`
	// Placed is what became of the resource agents of a placed episode
	// (StartPlaced), in the order they were placed; PlaceErrors the
	// placements that failed (the node waited for a slot).
	Placed      []PlacedAgent `json:"placed,omitempty"`
	PlaceErrors []PlaceError  `json:"place_errors,omitempty"`
	Ledger      Ledger        `json:"-"`
}

// Metrics are r's figures by name, for logs, learning curves and
// comparisons.
func (r Result) Metrics() env.Metrics {
	c := r.Counters
	return env.Metrics{
		"jobs": float64(r.Jobs), "completed": float64(r.Completed), "lost": float64(r.Lost), "refused": float64(r.Refused),
		"completion_rate": r.CompletionRate, "availability": r.Availability, "mttr": r.MTTR, "throughput": r.Throughput,
		"mean_wait": r.MeanWait, "mean_bsld": r.MeanBSLD, "max_bsld": r.MaxBSLD, "utilisation": r.Utilisation, "makespan": r.Makespan,
		"failures": float64(r.Failures), "unrecovered": float64(r.Unrecovered), "restarts": float64(r.Restarts),
		"rescheduled": float64(c.Rescheduled), "lost_work": r.LostWork, "stale_completions": float64(c.StaleCompletions),
		"stale_messages": float64(c.StaleMessages), "assign_failures": float64(c.AssignFailures), "invalid_bids": float64(c.InvalidBids),
		"rejected": float64(c.Rejected), "calls": float64(c.Calls), "bids": float64(c.Bids), "rounds": float64(c.Rounds), "unanswered": float64(c.Unanswered),
		"return": r.Return,
	}
}

// Result assembles the episode's figures from the auctioneer's ledger and
// what the Episode did to the nodes.
func (ep *Episode) Result() Result {
	l := ep.auctioneer.Ledger()
	ep.mu.Lock()
	kills := slices.Clone(ep.kills)
	in := ep.injector
	reports := slices.Clone(ep.reports)
	r := Result{Seed: ep.seed, Jobs: len(ep.jobs), Counters: l.Counters, Ledger: l, Kills: kills, Makespan: l.LastCompletion,
		Placed: slices.Clone(ep.fates), PlaceErrors: slices.Clone(ep.placeErrors)}
	ep.mu.Unlock()
	area := 0.0
	for _, j := range l.Jobs {
		switch j.State {
		case "completed":
			r.Completed++
			resp := j.End - j.Submit
			r.MeanWait += resp - j.Run
			b := BoundedSlowdown(resp, j.Run)
			r.MeanBSLD += b
			r.MaxBSLD = math.Max(r.MaxBSLD, b)
			area += j.Run * float64(j.Needs.Cores)
		case "lost":
			r.Lost++
			r.LostJobs = append(r.LostJobs, j)
		case "refused":
			r.Refused++
			r.LostJobs = append(r.LostJobs, j)
		}
		for _, run := range j.Runs {
			if run.Outcome == "lost" {
				r.LostWork += (run.End - run.Start) * float64(j.Needs.Cores)
			}
		}
	}
	if r.Jobs > 0 {
		r.CompletionRate = float64(r.Completed) / float64(r.Jobs)
	}
	if r.Completed > 0 {
		r.MeanWait /= float64(r.Completed)
		r.MeanBSLD /= float64(r.Completed)
	}
	cores := 0
	for _, c := range ep.capacities {
		cores += c.Cores
	}
	if r.Makespan > 0 {
		r.Throughput = float64(r.Completed) / r.Makespan * 3600
		r.Utilisation = area / (float64(cores) * r.Makespan)
	}
	// Failures: when each happened, and what it took to recover.
	failedAt := map[uint64]float64{} // by epoch
	recovered := 0
	for _, f := range l.Failures {
		at := f.LastSeen
		for _, k := range kills {
			if k.Node == f.Node && k.At >= f.LastSeen && k.At <= f.Detected {
				at = k.At
			}
		}
		failedAt[f.Epoch] = at
		r.Failures++
		if len(f.Jobs) == 0 {
			continue
		}
		if f.Recovered < 0 {
			r.Unrecovered++
			continue
		}
		r.MTTR += f.Recovered - at
		recovered++
	}
	if recovered > 0 {
		r.MTTR /= float64(recovered)
	}
	r.Restarts = max(0, len(l.Registrations)-len(ep.capacities))
	horizon := math.Max(l.Ended, l.LastCompletion)
	if horizon == 0 && ep.sim != nil {
		horizon = ep.sim.Now()
	}
	if horizon > 0 && cores > 0 {
		up := 0.0
		for _, reg := range l.Registrations {
			end := horizon
			if t, ok := failedAt[reg.Epoch]; ok {
				end = math.Min(end, t)
			}
			up += math.Max(0, end-reg.At) * float64(ep.capacities[reg.Node].Cores)
		}
		r.Availability = math.Min(1, up/(float64(cores)*horizon))
	}
	n := 0
	for _, b := range ep.bidders {
		if b.Agent != nil {
			r.Return += b.Agent.Return()
			n++
		}
	}
	for _, rep := range reports { // a placed episode's agents
		if rep.Steps > 0 {
			r.Return += rep.Return
			n++
		}
	}
	if n > 0 {
		r.Return /= float64(n)
	}
	sort.SliceStable(r.LostJobs, func(i, j int) bool { return r.LostJobs[i].ID < r.LostJobs[j].ID })
	if in != nil {
		f := in.Report()
		r.Faults = &f
	}
	return r
}
