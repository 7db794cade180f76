package loadbalancing

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/faults"
	"github.com/marlon-go/marlon/learning"
)

// Fault injection (version v2, Scenario.Faults): every worker runs on a
// simulated node of its own, named by WorkerNode, as it would on a machine
// of its own in a live run; the Master, the roster and the director stay on
// the simulator's own node, which no fault touches (the Master is the
// example's single point of failure). The episode is started as a live one
// over a transport is (StartPlaced): the director places each worker
// through the host actor of its node, and a worker reports by message.
// Each episode draws its own fault plan from its seed (faults.Generate) and
// the injector applies it (faults.Inject). What the faults do to the
// workers is what a live run's nodes would do to them:
//
//   - a crashed node's worker is gone: the Master, the roster and the
//     director are told after the failure detector's time, the Master hands
//     its chunk back to the pool, and its own report is lost with it;
//   - a partitioned node's worker is cut off: messages across are held
//     until the partition heals, or, past the detection time, both sides are
//     told the other is gone (the Master hands the chunk back, the worker
//     sees the Master go and stops);
//   - a node that comes back (a restart, or a partition healing after its
//     worker was written off) starts afresh: its host offers its slot
//     (AddWorkers), and the director places a new worker, a new agent, of
//     the node's speed there;
//   - slow and lossy links delay the protocol's messages;
//   - a byzantine worker's agent chooses chunk sizes against the schedule.
//
// Units stay conserved under any plan: the ledger counts every unit done
// exactly once, and every worker that reports reports the ledger's count
// for it.

// WorkerNode is the simulated node worker i's slot is on, in an episode
// with faults.
func WorkerNode(i int) string { return fmt.Sprintf("w%d", i) }

// faulty reports whether e injects faults.
func (e *Environment) faulty() bool { return e.version != "v1" && e.scenario.Faults.Active() }

// Horizon is how long an episode of e is expected to last without faults:
// its lower bound with units of mean cost. Fault plans are drawn for it.
func (e *Environment) Horizon() float64 {
	sc := e.scenario
	joins, leaves := sc.expectedTimes()
	return LowerBound(e.speeds, joins, leaves, sc.CommTime, sc.UnitTime*float64(sc.Job))
}

// FaultPlan is the fault plan of the episode of seed.
func (e *Environment) FaultPlan(seed uint64) (faults.Plan, error) {
	sc := e.scenario
	t := faults.Targets{Horizon: e.Horizon()}
	for i := range e.speeds {
		t.Nodes = append(t.Nodes, WorkerNode(i))
		t.Agents = append(t.Agents, AgentID(i))
	}
	return faults.Generate(sc.Faults, t, rand.New(rand.NewPCG(seed, 0xfa175)).Uint64())
}

// hostPlace asks a node's host to start a worker.
type hostPlace struct{ Spec WorkerSpec }

// host starts workers on its node: one host per node incarnation.
type host struct {
	costs  *Costs
	agents env.Agents
}

func (h *host) Receive(ctx actors.Context, msg any) {
	req, ok := msg.(hostPlace)
	if !ok {
		return
	}
	s := req.Spec
	var alg learning.LearningAlgorithm
	if h.agents != nil {
		alg = h.agents(AgentID(s.ID))
	}
	w := s.Worker(h.costs, env.Attach(AgentID(s.ID), alg), nil)
	w.Report = func(r WorkerReport) { ctx.Send(s.Reports, r) }
	ctx.Reply(ctx.ReplyTo(), ctx.Spawn(w))
}

// slot is a node's room for one worker.
type slot struct {
	node  string
	speed float64
	host  actors.Addr
}

func (e *Environment) startFaulty(rt actors.Runtime, seed uint64, agents env.Agents) (*Episode, error) {
	sim, ok := rt.(*actors.Sim)
	if !ok {
		return nil, errors.New("loadbalancing: fault injection runs in the simulator (actors.Sim)")
	}
	plan, err := e.FaultPlan(seed)
	if err != nil {
		return nil, err
	}
	costs := NewCosts(e.scenario.Job, e.scenario.Variability, seed)
	slots := make([]*slot, len(e.speeds))
	var ep *Episode
	var in *faults.Injector
	var waiting []*slot // nodes back, offered to the director, not yet given a worker
	spawnHost := func(s *slot) {
		wrapped := agents
		if agents != nil {
			wrapped = env.Agents(in.Agents(learning.Agents(agents), func(id learning.AgentID) learning.ActionSpace { return e.Spec(id).Actions }))
		}
		s.host = sim.SpawnOn(s.node, &host{costs: costs, agents: wrapped})
	}
	in, err = faults.Inject(sim, plan, faults.Hooks{Restart: func(node string) {
		for _, s := range slots {
			if s.node == node {
				spawnHost(s)
				waiting = append(waiting, s)
				sim.Send(ep.director, AddWorkers{Speeds: []float64{s.speed}})
			}
		}
	}})
	if err != nil {
		return nil, err
	}
	for i, sp := range e.speeds {
		slots[i] = &slot{node: WorkerNode(i), speed: sp}
		spawnHost(slots[i])
	}
	place := func(ctx actors.Context, spec WorkerSpec, placed func(actors.Context, actors.Addr, error)) {
		var s *slot
		if spec.ID < len(slots) {
			s = slots[spec.ID]
		} else {
			for i, w := range waiting {
				if w.speed == spec.Speed {
					s = w
					waiting = append(waiting[:i], waiting[i+1:]...)
					break
				}
			}
		}
		if s == nil {
			placed(ctx, actors.Addr{}, fmt.Errorf("no node offers a slot of speed %g", spec.Speed))
			return
		}
		ctx.Request(s.host, hostPlace{spec}, actors.Forever, func(ctx actors.Context, reply any, err error) {
			a, ok := reply.(actors.Addr)
			switch {
			case err != nil:
				placed(ctx, actors.Addr{}, fmt.Errorf("node %s: %w", s.node, err))
			case !ok:
				placed(ctx, actors.Addr{}, fmt.Errorf("node %s answered %T", s.node, reply))
			default:
				placed(ctx, a, nil)
			}
		})
	}
	ep = e.start(rt, seed, nil, place)
	ep.injector = in
	return ep, nil
}

// maxRestarts bounds how many workers restarted nodes can add to an episode.
func (e *Environment) maxRestarts() int {
	if !e.faulty() {
		return 0
	}
	return e.scenario.Faults.MaxOutages(len(e.speeds))
}
