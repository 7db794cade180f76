package loadbalancing

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/faults"
	"github.com/marlon-go/marlon/learning"
)

// Environment is the load-balancing environment for one scenario. The
// workers' speeds are fixed when it is made (drawn from its seed where the
// scenario does not give them); each episode draws its units' costs from the
// episode's seed.
type Environment struct {
	// Reward is what the agents are rewarded for (default RewardTime).
	Reward Reward
	// OfferTimeout is the Master's (see Master.OfferTimeout; 0: wait for
	// ever). Live runs over a network set it: a worker's node can fail
	// while the Master waits for the worker's answer.
	OfferTimeout float64
	// StartBy is, in an episode started with StartPlaced, the latest time
	// the Master waits until for the starting workers' first requests
	// before it serves (see Master.Expect; 0: it serves at once).
	StartBy float64

	version  string
	scenario Scenario
	speeds   []float64
	agents   []learning.AgentID
	onState  func(m *Master, s MasterState, now float64) // for tests: see Master.onState
	dist     *Distribution                               // set: each episode draws its scenario (NewDistribution)
}

var (
	_ env.Environment = (*Environment)(nil)
	_ env.Adaptable   = (*Environment)(nil)
)

// New validates sc and returns its environment at the latest version of the
// dynamics, drawing unspecified speeds from seed.
func New(sc Scenario, seed uint64) (*Environment, error) {
	v := Versions()
	return NewVersion(v[len(v)-1], sc, seed)
}

// NewVersion is New at the given version of the dynamics ("v1"; see
// Versions).
func NewVersion(version string, sc Scenario, seed uint64) (*Environment, error) {
	if !slices.Contains(Versions(), version) {
		return nil, bad("env", "must be one of "+strings.Join(Versions(), ", "), version)
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	if version == "v1" && sc.Faults.Active() {
		return nil, bad("faults", "need the environment loadbalancing/v2 or later (--env); v1 runs without faults", sc.Faults.Intensity)
	}
	if f := sc.dynamicFlags(); len(f) > 0 && !perturbs(version) {
		return nil, bad(f[0], "is for "+Family+"/v3 (--env "+Family+"/v3): v1 and v2 have no perturbations and no random joins or leaves", "--env "+Family+"/"+version)
	}
	e := &Environment{version: version, scenario: sc, speeds: sc.ResolveSpeeds(seed)}
	for i := range len(e.speeds) + e.maxRestarts() {
		e.agents = append(e.agents, AgentID(i))
	}
	return e, nil
}

// Family is the environment's family, its name without a version.
const Family = "loadbalancing"

// Versions are the versions of the dynamics this package runs, oldest
// first; New makes the last. Any change of what happens in an episode makes
// a new version, and the old ones stay runnable (NewVersion), so that a
// result or a checkpoint can always be reproduced on the dynamics it came
// from.
//
//   - v1: the Master, Workers and scenario of the seed, with joins and
//     leaves.
//   - v2: v1 plus fault injection (Scenario.Faults): workers on nodes of
//     their own that crash and restart, are partitioned off, have slow or
//     lossy links, or whose agents lie (see WorkerNode). Without faults an
//     episode of v2 is the same as v1's, to the bit.
//   - v3: v2, and the perturbations of perturb.go: speeds that change at
//     given times (Slow) or at random (Perturbation), a communication time
//     that changes (Latency, Perturbation), and joins and leaves at random
//     times drawn for each episode (RandomJoin, RandomLeave); its agents
//     observe their time per unit on their last chunk (SchemaV3) and its
//     adapters show the pace (FeaturesV3). Without perturbations the
//     episodes of v3 are v2's, to the bit; only what the agents observe
//     differs.
//   - v4: v3 with the unit of a worker's rewards fixed at its first
//     reward (Worker.ideal), instead of following the live workers' speed:
//     returns then rank schedules by their makespan when workers join or
//     leave. Where no worker joins or leaves (nor crashes), the episodes
//     of v4 are v3's, to the bit, rewards included.
func Versions() []string { return []string{"v1", "v2", "v3", "v4"} }

// perturbs reports whether a version runs the perturbations of perturb.go.
func perturbs(version string) bool { return version != "v1" && version != "v2" }

// fixesRewardUnit reports whether a version fixes the unit of a worker's
// rewards at its first (Worker.ideal).
func fixesRewardUnit(version string) bool {
	return version != "" && perturbs(version) && version != "v3"
}

// Name implements env.Environment: "loadbalancing/" and the version.
func (e *Environment) Name() string { return Family + "/" + e.version }

// Version is the version of the dynamics e runs.
func (e *Environment) Version() string { return e.version }

// Scenario is the scenario the environment runs.
func (e *Environment) Scenario() Scenario { return e.scenario }

// Speeds are every worker's speed, joiners included.
func (e *Environment) Speeds() []float64 { return append([]float64(nil), e.speeds...) }

// PossibleAgents implements env.Environment: one agent per worker, and
// with faults one more for each worker a node coming back can add.
func (e *Environment) PossibleAgents() []learning.AgentID {
	return append([]learning.AgentID(nil), e.agents...)
}

// Spec implements env.Environment: every worker observes Schema and
// chooses the number of units to take, 1..Job. Generic learners use an
// adapter (Adapter).
func (e *Environment) Spec(learning.AgentID) learning.Spec {
	return learning.Spec{
		Observation: SchemaOf(e.version), Actions: learning.ActionSpace{N: e.scenario.Job, Start: 1},
		Params: map[string]float64{ParamCV: e.scenario.Variability},
	}
}

// ParamCV names the Spec parameter that gives the scenario's Variability,
// the a priori coefficient of variation of a unit's cost.
const ParamCV = "cv"

// ChoicesAdapter is the name of the default adapter: DefaultChoices.
const ChoicesAdapter = "share"

// FractionName is the name of the adapter of fractions of the fair share,
// FractionAdapter with DefaultSteps.
const FractionName = "fraction"

// Adapters implements env.Adaptable: "share", "fraction", then those
// registered (RegisterAdapter).
func (e *Environment) Adapters() []string {
	adapters.mu.RLock()
	defer adapters.mu.RUnlock()
	return append([]string{ChoicesAdapter, FractionName}, adapters.names...)
}

// Adapter implements env.Adaptable: "share" (or "") is Adapter with
// DefaultChoices, "fraction" FractionAdapter with DefaultSteps; both
// show the features of e's version (FeaturesOf).
func (e *Environment) Adapter(name string) (learning.Adapter, error) {
	switch name {
	case "", ChoicesAdapter:
		a, err := NewAdapter(nil)
		a.Schema = FeaturesOf(e.version)
		return a, err
	case FractionName:
		return FractionAdapter{Steps: DefaultSteps, Schema: FeaturesOf(e.version)}, nil
	}
	adapters.mu.RLock()
	make := adapters.make[name]
	adapters.mu.RUnlock()
	if make != nil {
		return make(e)
	}
	return nil, fmt.Errorf("unknown adapter %q; one of %s", name, strings.Join(e.Adapters(), ", "))
}

// Start implements env.Environment. An environment made with
// NewDistribution draws the episode's scenario first. With faults (v2 and
// later) it needs the simulator, in which it draws the episode's fault
// plan from seed and applies it.
func (e *Environment) Start(rt actors.Runtime, seed uint64, agents env.Agents) (env.Episode, error) {
	if e.dist != nil {
		sub, err := e.draw(seed)
		if err != nil {
			return nil, err
		}
		return sub.Start(rt, seed, agents)
	}
	if e.faulty() {
		return e.startFaulty(rt, seed, agents)
	}
	return e.start(rt, seed, agents, nil), nil
}

// Place starts a worker somewhere other than on the director's node (on
// another node of a live run over a transport, say). It is called inside
// the director's turn and must not block. It starts the worker spec
// describes, with the unit costs and the agent of where it runs, and calls
// placed inside a later turn of the director with the worker's address, or
// with why it could not.
type Place func(ctx actors.Context, spec WorkerSpec, placed func(ctx actors.Context, worker actors.Addr, err error))

// WorkerSpec is a worker as the director makes it, less what the node that
// runs it supplies: the unit costs (the episode's, drawn again from Job,
// Variability and Seed) and the agent.
type WorkerSpec struct {
	ID       int
	Speed    float64
	UnitTime float64
	Master   actors.Addr
	Roster   actors.Addr
	// Reports is where the worker's WorkerReport is to be sent: the
	// director, which hands it to the episode.
	Reports     actors.Addr
	Reward      Reward
	Job         int
	Variability float64
	Seed        uint64
	// Slows and Perturb change the worker's speed (loadbalancing/v3): its
	// Slows, and the scenario's perturbations (those of the speed apply).
	Slows   []Slow         `json:",omitempty"`
	Perturb []Perturbation `json:",omitempty"`
	// Version is the version of the dynamics ("": v1), which says what
	// the worker's agent observes (SchemaOf).
	Version string `json:",omitempty"`
}

// Costs draws the episode's unit costs.
func (s WorkerSpec) Costs() *Costs { return NewCosts(s.Job, s.Variability, s.Seed) }

// Availability is the factor of the worker's nominal speed over the
// episode (nil: 1 throughout).
func (s WorkerSpec) Availability() *Profile { return speedProfile(s.Seed, s.ID, s.Slows, s.Perturb) }

func (s WorkerSpec) schema() *learning.Schema {
	if s.Version == "" {
		return Schema
	}
	return SchemaOf(s.Version)
}

// Worker makes the worker s describes.
func (s WorkerSpec) Worker(costs *Costs, agent *env.Agent, report func(WorkerReport)) *Worker {
	return &Worker{
		ID: s.ID, Speed: s.Speed, UnitTime: s.UnitTime, Master: s.Master, Roster: s.Roster,
		Costs: costs, Agent: agent, Reward: s.Reward, Report: report, Availability: s.Availability(), Schema: s.schema(), Spec: s,
	}
}

// StartPlaced starts an episode on rt whose workers are started through
// place instead, with their agents where they run. The director sends Dismiss
// to a worker that leaves on schedule, places more workers when it receives
// AddWorkers, and records what became of each worker (Result.Placed). The
// episode is done when the job is, and every placed worker has reported or
// gone. The lower bound counts the workers that were placed, with their
// speeds, and when they were due to join and went away.
func (e *Environment) StartPlaced(rt actors.Runtime, seed uint64, place Place) *Episode {
	return e.start(rt, seed, nil, place)
}

func (e *Environment) start(rt actors.Runtime, seed uint64, agents env.Agents, place Place) *Episode {
	sc := e.scenario
	costs := NewCosts(sc.Job, sc.Variability, seed)
	ep := &Episode{env: e, seed: seed, costs: costs, sched: sc.schedule(seed), workers: map[int]WorkerReport{}, remote: place != nil, pending: map[int]bool{}, fate: map[int]int{}}
	ep.members.OnChange(ep.check)
	ep.roster = rt.Spawn(env.NewRoster(&ep.members))
	m := &Master{Job: sc.Job, CommTime: sc.CommTime, UnitTime: sc.UnitTime, OfferTimeout: e.OfferTimeout, Report: ep.masterDone, Partial: ep.masterStopped, onState: e.onState, Latency: sc.latencyProfile(seed)}
	if place != nil && e.StartBy > 0 {
		m.Expect, m.StartBy = sc.Workers, e.StartBy
	}
	ep.master = rt.Spawn(m)
	ep.director = rt.Spawn(&director{ep: ep, costs: costs, agents: agents, place: place, speeds: e.Speeds(), ids: map[actors.Addr]int{}, leaving: map[int]bool{}})
	return ep
}

// Run runs one episode in the simulator and returns its result.
func (e *Environment) Run(seed uint64, agents env.Agents) (Result, error) {
	out, err := env.RunSim(e, seed, agents, 0)
	if err != nil {
		return Result{}, err
	}
	ep := out.Episode.(*Episode)
	if !out.Done {
		return ep.Result(), fmt.Errorf("loadbalancing: episode %d stopped at t=%v before the job was done", seed, out.Time)
	}
	return ep.Result(), nil
}

// director spawns (or places) the workers and makes them join and leave on
// schedule.
type director struct {
	ep      *Episode
	costs   *Costs // the episode's, for the workers it spawns
	agents  env.Agents
	place   Place
	speeds  []float64           // every worker's, by ID
	spawned []actors.Addr       // by ID; zero until the worker is spawned (or placed)
	ids     map[actors.Addr]int // placed workers by address
	leaving map[int]bool        // workers due to leave before they were spawned (or placed)
}

type joinNow struct{ join int }
type leaveNow struct{ worker int }
type joinWorker struct{ worker int } // a random joiner

func (d *director) Receive(ctx actors.Context, msg any) {
	sc := d.ep.env.scenario
	switch m := msg.(type) {
	case actors.Started:
		d.spawned = make([]actors.Addr, len(d.speeds))
		for i := 0; i < sc.Workers; i++ {
			d.spawn(ctx, i, 0)
		}
		for i, j := range sc.Joins {
			ctx.After(j.At, joinNow{i})
		}
		for _, l := range sc.Leaves {
			ctx.After(l.At, leaveNow{l.Worker})
		}
		// Random joins and leaves, drawn for this episode.
		sch := d.ep.sched
		for i := len(sc.joinTimes()); i < len(sch.joins); i++ {
			ctx.After(sch.joins[i], joinWorker{i})
		}
		if len(sc.RandomLeaves) > 0 {
			for i := 0; i < sc.Workers; i++ {
				if t := sch.leaves[i]; !math.IsInf(t, 1) && !slices.ContainsFunc(sc.Leaves, func(l Leave) bool { return l.Worker == i }) {
					ctx.After(t, leaveNow{i})
				}
			}
		}
	case joinWorker:
		d.spawn(ctx, m.worker, d.ep.sched.joins[m.worker])
	case joinNow:
		// Joiners are numbered in the order of the scenario's joins,
		// whenever they come: as the speeds and the lower bound count them.
		first := sc.Workers
		for _, j := range sc.Joins[:m.join] {
			first += j.Count
		}
		for k := 0; k < sc.Joins[m.join].Count; k++ {
			d.spawn(ctx, first+k, sc.Joins[m.join].At)
		}
	case leaveNow:
		switch {
		case m.worker >= len(d.spawned):
		case d.spawned[m.worker].IsZero(): // not there yet (timers due at once fire in any order)
			d.leaving[m.worker] = true
		case d.place == nil:
			ctx.Stop(d.spawned[m.worker])
		default:
			ctx.Send(d.spawned[m.worker], Dismiss{})
		}
	case AddWorkers:
		if d.place == nil || d.ep.finished() {
			return
		}
		for _, s := range m.Speeds {
			d.speeds, d.spawned = append(d.speeds, s), append(d.spawned, actors.Addr{})
			d.spawn(ctx, len(d.speeds)-1, ctx.Now())
		}
	case WorkerReport: // from a placed worker
		d.ep.workerDone(m)
	case MoveWorker:
		if m.ID >= 0 && m.ID < len(d.spawned) && !d.spawned[m.ID].IsZero() {
			ctx.Send(d.spawned[m.ID], Migrate{Host: m.Host, Timeout: m.Timeout})
		}
	case Moved: // a placed worker migrated
		if id, ok := d.ids[m.From]; ok {
			delete(d.ids, m.From)
			d.ids[ctx.Sender()] = id
			if id < len(d.spawned) {
				d.spawned[id] = ctx.Sender()
			}
			ctx.Unwatch(m.From)
			ctx.Watch(ctx.Sender())
			d.ep.moved(id, m.From.Node, ctx.Sender().Node)
		}
		ctx.Reply(ctx.ReplyTo(), m)
	case actors.Down: // of a placed worker
		if id, ok := d.ids[m.Actor]; ok {
			d.ep.workerGone(id, ctx.Now(), m)
		}
	}
}

// spawn starts worker i, due to join at joined.
func (d *director) spawn(ctx actors.Context, i int, joined float64) {
	ep := d.ep
	sc := ep.env.scenario
	spec := WorkerSpec{
		ID: i, Speed: d.speeds[i], UnitTime: sc.UnitTime, Master: ep.master, Roster: ep.roster, Reports: ctx.Self(),
		Reward: ep.env.Reward, Job: sc.Job, Variability: sc.Variability, Seed: ep.seed, Version: ep.env.version,
	}
	for _, s := range sc.Slows {
		if s.Worker == i {
			spec.Slows = append(spec.Slows, s)
		}
	}
	for _, p := range sc.Perturb {
		if p.Target == TargetSpeed {
			spec.Perturb = append(spec.Perturb, p)
		}
	}
	if d.place == nil {
		var alg learning.LearningAlgorithm
		if d.agents != nil {
			alg = d.agents(AgentID(i))
		}
		d.spawned[i] = ctx.Spawn(spec.Worker(d.costs, env.Attach(AgentID(i), alg), ep.workerDone))
		if d.leaving[i] {
			ctx.Stop(d.spawned[i])
		}
		return
	}
	ep.placing(i, spec.Speed, joined)
	d.place(ctx, spec, func(ctx actors.Context, a actors.Addr, err error) {
		if err != nil {
			ep.notPlaced(i, err)
			return
		}
		d.spawned[i], d.ids[a] = a, i
		ep.placed(i, a.Node)
		ctx.Watch(a)
		if d.leaving[i] {
			ctx.Send(a, Dismiss{})
		}
	})
}

// Episode is one run of the environment. Its methods are safe to call while
// the runtime runs.
type Episode struct {
	env.Ending
	env      *Environment
	seed     uint64
	sched    schedule // arrivals and departures, random ones drawn for the episode
	roster   actors.Addr
	master   actors.Addr
	director actors.Addr
	members  env.Membership

	mu      sync.Mutex
	costs   *Costs  // the units' costs, until the job is done
	work    float64 // then their total
	report  *MasterReport
	partial *MasterReport // the Master's account when it was stopped before the end
	void    int           // reports of lost workers, not taken
	workers map[int]WorkerReport
	// Episodes started with StartPlaced (remote) only:
	remote  bool
	fates   []PlacedWorker // in the order they were placed
	fate    map[int]int    // index in fates by worker ID
	pending map[int]bool   // placed workers that have neither reported nor gone
	// injector applies the episode's faults, if any.
	injector *faults.Injector
}

// PlacedWorker is what became of a worker of an episode started with
// StartPlaced.
type PlacedWorker struct {
	ID     int     `json:"id"`
	Speed  float64 `json:"speed"`
	Node   string  `json:"node,omitempty"` // where it ran; empty if it could not be placed
	Joined float64 `json:"joined"`         // when it was due to join
	// Gone and Reason say when the director was told that the worker went
	// away, and why, if that was before the job was done: it left on
	// schedule ("stopped"), crashed, or was lost with its node ("node
	// down: ...", and Lost).
	Gone   float64 `json:"gone,omitempty"`
	Reason string  `json:"reason,omitempty"`
	Lost   bool    `json:"lost,omitempty"`
	Error  string  `json:"error,omitempty"` // why it could not be placed
	// MovedFrom are the nodes it migrated from, in order (Node is where
	// it ran last).
	MovedFrom []string `json:"moved_from,omitempty"`
}

// Director is the address of the episode's director, which takes
// AddWorkers.
func (ep *Episode) Director() actors.Addr { return ep.director }

// AgentCounts are how many times agents joined and left the episode's
// roster so far.
func (ep *Episode) AgentCounts() (joined, left int) { return ep.members.Counts() }

func (ep *Episode) finished() bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.report != nil
}

func (ep *Episode) placing(id int, speed, joined float64) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.fate[id] = len(ep.fates)
	ep.fates = append(ep.fates, PlacedWorker{ID: id, Speed: speed, Joined: joined})
}

func (ep *Episode) notPlaced(id int, err error) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.fates[ep.fate[id]].Error = err.Error()
}

func (ep *Episode) placed(id int, node string) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.fates[ep.fate[id]].Node = node
	ep.pending[id] = true
}

func (ep *Episode) moved(id int, from, to string) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	f := &ep.fates[ep.fate[id]]
	f.MovedFrom, f.Node = append(f.MovedFrom, from), to
}

func (ep *Episode) workerGone(id int, at float64, d actors.Down) {
	defer ep.check()
	ep.mu.Lock()
	defer ep.mu.Unlock()
	delete(ep.pending, id)
	if ep.report != nil {
		return // it went after the end, as every worker does
	}
	f := &ep.fates[ep.fate[id]]
	if f.Reason != "" {
		return // it was written off before: this is the worker stopping since
	}
	f.Gone, f.Reason, f.Lost = at, d.Reason.String(), d.Reason == actors.NodeDown
	if d.Detail != "" {
		f.Reason += ": " + d.Detail
	}
}

// check ends the episode once the job is done, every placed worker has
// reported or gone, and no agent is left on the roster. It is called after
// each of those changes, from whichever goroutine made it, so the last one
// sees them all.
func (ep *Episode) check() {
	ep.mu.Lock()
	finished := ep.report != nil && len(ep.pending) == 0
	ep.mu.Unlock()
	if finished && ep.members.Count() == 0 {
		ep.End()
	}
}

var (
	_ env.Episode = (*Episode)(nil)
	_ env.Trimmer = (*Episode)(nil)
)

func (ep *Episode) masterDone(r MasterReport) {
	defer ep.check()
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.report = &r
	// The costs (32 bytes per 256 units) go with the episode's actors: a
	// run keeps its evaluation episodes.
	ep.work, ep.costs = ep.costs.Total(), nil
	ids := make([]int, 0, len(ep.workers))
	for id, w := range ep.workers {
		if w.finish != nil {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids) // the same order every run
	for _, id := range ids {
		w := ep.workers[id]
		w.Return, w.finish = w.finish(r.Makespan), nil
		ep.workers[id] = w
	}
}

// masterStopped keeps the account of a Master stopped before the job was
// done, for Result.
func (ep *Episode) masterStopped(r MasterReport) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.partial = &r
}

// workerDone takes a worker's report, unless the worker was lost with its
// node (declared down) and ended with units unsettled: its node came back
// as a new incarnation, whose actors had kept running, and the worker ended
// (its Master's node declared down, as its node saw it) while the Master
// had not answered its last ChunkDone, which it may never have received.
// Such a report is void: the Master's ledger is the account of a lost
// worker. A lost worker that the Master told WrittenOff settled its
// account, and its report is taken.
func (ep *Episode) workerDone(r WorkerReport) {
	defer ep.check()
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if r.Unsettled > 0 && r.ID >= 0 && r.ID < len(ep.fates) && ep.fates[r.ID].Lost {
		ep.void++
		return
	}
	ep.workers[r.ID] = r
	delete(ep.pending, r.ID)
}

// Metrics implements env.Episode.
func (ep *Episode) Metrics() env.Metrics { return ep.Result().Metrics() }

// Result is an episode's outcome: the figures the CLI prints.
type Result struct {
	Algorithm  string  `json:"algorithm,omitempty"`
	Seed       uint64  `json:"seed"`
	Job        int     `json:"job"`
	UnitsDone  int     `json:"units_done"`
	Makespan   float64 `json:"makespan"`
	LowerBound float64 `json:"lower_bound"`
	Ratio      float64 `json:"ratio"`
	IdleTime   float64 `json:"idle_time"`
	Requests   int     `json:"requests"`
	Chunks     int     `json:"chunks"`
	Imbalance  float64 `json:"load_imbalance"`
	Returned   int     `json:"units_returned"`
	// UnitsReported is the sum of the units the workers say they did; it
	// equals UnitsDone when no report was lost or doubled.
	UnitsReported int     `json:"units_reported"`
	Duplicates    int     `json:"duplicate_units"`
	Return        float64 `json:"return"`
	// LedgerUnits are the units the Master's ledger counts done by each
	// worker, by ID; a worker's report (Workers) must say the same.
	LedgerUnits map[int]int    `json:"ledger_units,omitempty"`
	Workers     []WorkerReport `json:"workers,omitempty"`
	// Placed says where each worker ran and what became of it, in an
	// episode started with StartPlaced.
	Placed []PlacedWorker `json:"placed,omitempty"`
	// Faults is what was injected, in an episode with faults.
	Faults *faults.Report `json:"faults,omitempty"`
	// VoidReports counts the reports of workers lost with their node that
	// came anyway (not taken: see Workers).
	VoidReports int           `json:"void_reports,omitempty"`
	History     []ChunkRecord `json:"-"`
}

// CheckLedger says what is wrong with r's accounts, nil if nothing: every
// unit of the job done exactly once by the Master's ledger (no duplicate),
// the ledger's units by worker adding up to the job, and every worker that
// reported (one lost with its node never does) reporting the ledger's
// units for it. Live runs and failure tests check it.
func (r Result) CheckLedger() error {
	total := 0
	for _, u := range r.LedgerUnits {
		total += u
	}
	if r.UnitsDone != r.Job || r.Duplicates != 0 || total != r.Job {
		return fmt.Errorf("the ledger counts %d of %d units done, %d twice, %d by worker", r.UnitsDone, r.Job, r.Duplicates, total)
	}
	var bad []string
	for _, w := range r.Workers {
		if w.Units != r.LedgerUnits[w.ID] {
			bad = append(bad, fmt.Sprintf("worker %d reports %d units, the ledger %d", w.ID, w.Units, r.LedgerUnits[w.ID]))
		}
	}
	if bad != nil {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// Metrics are r's figures by name, for logs and learning curves.
func (r Result) Metrics() env.Metrics {
	return env.Metrics{
		"makespan": r.Makespan, "lower_bound": r.LowerBound, "ratio": r.Ratio,
		"idle_time": r.IdleTime, "requests": float64(r.Requests), "chunks": float64(r.Chunks),
		"units_done": float64(r.UnitsDone), "load_imbalance": r.Imbalance, "return": r.Return,
	}
}

// Trim implements env.Trimmer: it lets go of the chunks' History (a record
// per chunk, for a Gantt chart). Result has none after it.
func (ep *Episode) Trim() {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.report != nil {
		ep.report.History = nil
	}
}

// Result assembles the episode's figures from the Master's and the workers'
// accounts.
func (ep *Episode) Result() Result {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	sc := ep.env.scenario
	res := Result{Seed: ep.seed, Job: sc.Job, VoidReports: ep.void}
	work := ep.work
	if ep.costs != nil {
		work = ep.costs.Total()
	}
	work *= sc.UnitTime
	if !ep.remote {
		res.LowerBound = ep.lowerBound(ep.env.speeds, nil, ep.sched.joins, ep.sched.leaves, work)
	} else {
		res.Placed = append([]PlacedWorker(nil), ep.fates...)
		sort.SliceStable(res.Placed, func(i, j int) bool { return res.Placed[i].ID < res.Placed[j].ID })
		var speeds, joins, leaves []float64
		var ids []int
		for _, f := range ep.fates {
			if f.Node == "" {
				continue
			}
			speeds, joins, leaves, ids = append(speeds, f.Speed), append(joins, f.Joined), append(leaves, math.Inf(1)), append(ids, f.ID)
			if f.Reason != "" {
				leaves[len(leaves)-1] = f.Gone
			}
		}
		res.LowerBound = ep.lowerBound(speeds, ids, joins, leaves, work)
	}
	if r := ep.report; r != nil {
		res.UnitsDone, res.Makespan, res.Requests, res.Chunks = r.UnitsDone, r.Makespan, r.Requests, r.Chunks
		res.Returned, res.Duplicates, res.History, res.LedgerUnits = r.Returned, r.Duplicates, r.History, r.Units
	} else if r := ep.partial; r != nil {
		// The Master was stopped before the end: its ledger so far.
		res.UnitsDone, res.Requests, res.Chunks = r.UnitsDone, r.Requests, r.Chunks
		res.Returned, res.Duplicates, res.History, res.LedgerUnits = r.Returned, r.Duplicates, r.History, r.Units
	}
	if res.LowerBound > 0 {
		res.Ratio = res.Makespan / res.LowerBound
	}
	if ep.injector != nil {
		r := ep.injector.Report()
		res.Faults = &r
	}
	ids := make([]int, 0, len(ep.workers))
	for id := range ep.workers {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	sizes, handedBack := map[int][]int{}, map[int]int{}
	for _, c := range res.History {
		sizes[c.Worker] = append(sizes[c.Worker], c.Units)
		if c.Returned {
			handedBack[c.Worker] += c.Units
		}
	}
	var finish []float64
	for _, id := range ids {
		w := ep.workers[id]
		w.ChunkSizes, w.HandedBack = append([]int{}, sizes[id]...), handedBack[id]
		res.Workers = append(res.Workers, w)
		res.IdleTime += w.Idle
		res.UnitsReported += w.Units
		res.Return += w.Return
		if w.Chunks > 0 {
			finish = append(finish, w.LastDone)
		}
	}
	res.Imbalance = Imbalance(finish)
	return res
}

// lowerBound is LowerBound for these workers (ids: their IDs, nil for
// 0, 1, ...), each at its availability in this episode, and the Master's
// least service time.
func (ep *Episode) lowerBound(speeds []float64, ids []int, joins, leaves []float64, work float64) float64 {
	sc := ep.env.scenario
	if len(sc.Slows) == 0 && len(sc.Latencies) == 0 && len(sc.Perturb) == 0 {
		return LowerBound(speeds, joins, leaves, sc.CommTime, work)
	}
	rates := make([]*Profile, len(speeds))
	for k := range rates {
		id := k
		if ids != nil {
			id = ids[k]
		}
		rates[k] = speedProfile(ep.seed, id, sc.Slows, sc.Perturb)
	}
	return LowerBoundVarying(speeds, rates, joins, leaves, sc.CommTime*sc.minLatency(), work)
}

// Imbalance is the percent load imbalance of finishing times,
// (T_max - T_mean)/T_max * P/(P-1): 0 when all finish together, 1 when one
// worker did everything.
func Imbalance(finish []float64) float64 {
	p := float64(len(finish))
	if p < 2 {
		return 0
	}
	max, sum := 0.0, 0.0
	for _, t := range finish {
		max = math.Max(max, t)
		sum += t
	}
	if max == 0 {
		return 0
	}
	return (max - sum/p) / max * p / (p - 1)
}
