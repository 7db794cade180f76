package loadbalancing

import (
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/learning"
)

// Environment is the load-balancing environment for one scenario. The
// workers' speeds are fixed when it is made (drawn from its seed where the
// scenario does not give them); each episode draws its units' costs from the
// episode's seed.
type Environment struct {
	// Reward is what the agents are rewarded for (default RewardTime).
	Reward Reward

	scenario Scenario
	speeds   []float64
	agents   []learning.AgentID
}

var _ env.Environment = (*Environment)(nil)

// New validates sc and returns its environment, drawing unspecified speeds
// from seed.
func New(sc Scenario, seed uint64) (*Environment, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	e := &Environment{scenario: sc, speeds: sc.ResolveSpeeds(seed)}
	for i := range e.speeds {
		e.agents = append(e.agents, AgentID(i))
	}
	return e, nil
}

// Name implements env.Environment.
func (e *Environment) Name() string { return "loadbalancing" }

// Scenario is the scenario the environment runs.
func (e *Environment) Scenario() Scenario { return e.scenario }

// Speeds are every worker's speed, joiners included.
func (e *Environment) Speeds() []float64 { return append([]float64(nil), e.speeds...) }

// PossibleAgents implements env.Environment: one agent per worker.
func (e *Environment) PossibleAgents() []learning.AgentID {
	return append([]learning.AgentID(nil), e.agents...)
}

// Observation implements env.Environment.
func (e *Environment) Observation() *learning.Schema { return Schema }

// Actions implements env.Environment: the number of units to take, 1..Job.
// Learners with a small discrete output use an adapter (see Factors).
func (e *Environment) Actions() learning.ActionSpace {
	return learning.ActionSpace{N: e.scenario.Job, Start: 1}
}

// Start implements env.Environment.
func (e *Environment) Start(rt actors.Runtime, seed uint64, agents env.Agents) (env.Episode, error) {
	return e.start(rt, seed, agents), nil
}

func (e *Environment) start(rt actors.Runtime, seed uint64, agents env.Agents) *Episode {
	sc := e.scenario
	ep := &Episode{env: e, seed: seed, costs: NewCosts(sc.Job, sc.Variability, seed), workers: map[int]WorkerReport{}}
	ep.roster = rt.Spawn(env.NewRoster(&ep.members))
	ep.master = rt.Spawn(&Master{Job: sc.Job, CommTime: sc.CommTime, UnitTime: sc.UnitTime, Report: ep.masterDone})
	rt.Spawn(&director{ep: ep, agents: agents})
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

// director spawns the workers and makes them join and leave on schedule.
type director struct {
	ep      *Episode
	agents  env.Agents
	spawned []actors.Addr
}

type joinNow struct{ join int }
type leaveNow struct{ worker int }

func (d *director) Receive(ctx actors.Context, msg any) {
	sc := d.ep.env.scenario
	switch m := msg.(type) {
	case actors.Started:
		for i := 0; i < sc.Workers; i++ {
			d.spawn(ctx)
		}
		for i, j := range sc.Joins {
			ctx.After(j.At, joinNow{i})
		}
		for _, l := range sc.Leaves {
			ctx.After(l.At, leaveNow{l.Worker})
		}
	case joinNow:
		for k := 0; k < sc.Joins[m.join].Count; k++ {
			d.spawn(ctx)
		}
	case leaveNow:
		if m.worker < len(d.spawned) {
			ctx.Stop(d.spawned[m.worker])
		}
	}
}

func (d *director) spawn(ctx actors.Context) {
	ep := d.ep
	i := len(d.spawned)
	var alg learning.LearningAlgorithm
	if d.agents != nil {
		alg = d.agents(AgentID(i))
	}
	d.spawned = append(d.spawned, ctx.Spawn(&Worker{
		ID: i, Speed: ep.env.speeds[i], UnitTime: ep.env.scenario.UnitTime,
		Master: ep.master, Roster: ep.roster, Costs: ep.costs,
		Agent: env.Attach(AgentID(i), alg), Reward: ep.env.Reward, Report: ep.workerDone,
	}))
}

// Episode is one run of the environment. Its methods are safe to call while
// the runtime runs.
type Episode struct {
	env     *Environment
	seed    uint64
	costs   *Costs
	roster  actors.Addr
	master  actors.Addr
	members env.Membership

	mu      sync.Mutex
	report  *MasterReport
	workers map[int]WorkerReport
}

var _ env.Episode = (*Episode)(nil)

func (ep *Episode) masterDone(r MasterReport) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.report = &r
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

func (ep *Episode) workerDone(r WorkerReport) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.workers[r.ID] = r
}

// Done reports whether the job is done and every worker has wound up.
func (ep *Episode) Done() bool {
	ep.mu.Lock()
	finished := ep.report != nil
	ep.mu.Unlock()
	return finished && len(ep.members.Live()) == 0
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
	UnitsReported int            `json:"units_reported"`
	Duplicates    int            `json:"duplicate_units"`
	Return        float64        `json:"return"`
	Workers       []WorkerReport `json:"workers"`
	History       []ChunkRecord  `json:"-"`
}

// Metrics are r's figures by name, for logs and learning curves.
func (r Result) Metrics() env.Metrics {
	return env.Metrics{
		"makespan": r.Makespan, "lower_bound": r.LowerBound, "ratio": r.Ratio,
		"idle_time": r.IdleTime, "requests": float64(r.Requests), "chunks": float64(r.Chunks),
		"units_done": float64(r.UnitsDone), "load_imbalance": r.Imbalance, "return": r.Return,
	}
}

// Result assembles the episode's figures from the Master's and the workers'
// accounts.
func (ep *Episode) Result() Result {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	sc := ep.env.scenario
	res := Result{Seed: ep.seed, Job: sc.Job}
	res.LowerBound = LowerBound(ep.env.speeds, sc.joinTimes(), sc.leaveTimes(), sc.CommTime, sc.UnitTime*ep.costs.Total())
	if r := ep.report; r != nil {
		res.UnitsDone, res.Makespan, res.Requests, res.Chunks = r.UnitsDone, r.Makespan, r.Requests, r.Chunks
		res.Returned, res.Duplicates, res.History = r.Returned, r.Duplicates, r.History
	}
	if res.LowerBound > 0 {
		res.Ratio = res.Makespan / res.LowerBound
	}
	ids := make([]int, 0, len(ep.workers))
	for id := range ep.workers {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	var finish []float64
	for _, id := range ids {
		w := ep.workers[id]
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

// LowerBound is the least makespan any schedule could reach: the least T
// with sum_k s_k*(min(T, leave_k) - e_k)^+ >= work, where work is the
// job's total cost times the unit time and e_k is the earliest moment worker
// k can start. The Master serves one request at a time, so the starting
// workers, fastest first, start no earlier than h, 2h, 3h, ...; a joining
// worker starts no earlier than its arrival plus h. With every worker
// present throughout this is (work + h*sum_k k*s_(k)) / sum_k s_k.
func LowerBound(speeds, joins, leaves []float64, h, work float64) float64 {
	type worker struct{ speed, start, end float64 }
	var initial, all []worker
	for i, s := range speeds {
		w := worker{speed: s, start: joins[i] + h, end: leaves[i]}
		if joins[i] == 0 {
			initial = append(initial, w)
		} else {
			all = append(all, w)
		}
	}
	sort.SliceStable(initial, func(i, j int) bool { return initial[i].speed > initial[j].speed })
	for k := range initial {
		initial[k].start = float64(k+1) * h
	}
	all = append(all, initial...)
	// Capacity is piecewise linear in T: walk its breakpoints.
	type bp struct{ t, dslope float64 }
	var bps []bp
	for _, w := range all {
		if w.end <= w.start {
			continue
		}
		bps = append(bps, bp{w.start, w.speed})
		if !math.IsInf(w.end, 1) {
			bps = append(bps, bp{w.end, -w.speed})
		}
	}
	sort.SliceStable(bps, func(i, j int) bool { return bps[i].t < bps[j].t })
	capacity, slope, t := 0.0, 0.0, 0.0
	for _, b := range bps {
		if slope > 0 && capacity+slope*(b.t-t) >= work {
			return t + (work-capacity)/slope
		}
		capacity += slope * (b.t - t)
		t = b.t
		slope += b.dslope
	}
	if slope <= 0 {
		return math.Inf(1)
	}
	return t + (work-capacity)/slope
}
