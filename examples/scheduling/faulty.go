package scheduling

import (
	"errors"
	"math/rand/v2"

	"github.com/marlon-go/marlon/faults"
)

// Fault injection (Scenario.Faults). Each episode draws its own fault plan
// from its seed (faults.Generate) over the compute nodes, for the horizon
// its workload suggests, with the scenario's heartbeats as the failure
// detector, and the injector applies it in the simulator (faults.Inject):
// it kills nodes (Episode.KillNode) and restarts them as new incarnations
// (Episode.RestartNode), cuts nodes off from the auctioneer and the rest,
// and slows or loses their messages, as the NATS transport would see it.
// The auctioneer finds failures out the way it always does, from missing
// heartbeats. A byzantine node lies in its bids: adversarially, it bids for
// every job it is asked about with a perfect score whatever its load (a
// bid that misstates its fit); at random, it bids or declines at random,
// with a random score.

// Horizon is how long an episode of jobs is expected to last without
// faults: the last submission plus the mean run, or the work over the
// cluster's cores if that is longer. Fault plans are drawn for it.
func (e *Environment) Horizon(jobs []Job) float64 {
	if len(jobs) == 0 {
		return 1
	}
	cores := 0
	for _, c := range e.scenario.Capacities() {
		cores += c.Cores
	}
	work, run := 0.0, 0.0
	for _, j := range jobs {
		work += j.Run * float64(j.Needs.Cores)
		run += j.Run
	}
	h := jobs[len(jobs)-1].Submit + run/float64(len(jobs))
	return max(h, work/float64(max(cores, 1)), 1)
}

// FaultSpec is the scenario's fault spec, its failure detector the
// scenario's heartbeats where the spec does not set one.
func (e *Environment) FaultSpec() faults.Spec {
	s := e.scenario.Faults
	if s.Heartbeat == 0 {
		s.Heartbeat = e.scenario.Heartbeat
	}
	if s.Missed == 0 {
		s.Missed = e.scenario.MissedHeartbeats
	}
	return s
}

// FaultPlan is the fault plan of the episode of seed, whose workload is
// jobs.
func (e *Environment) FaultPlan(seed uint64, jobs []Job) (faults.Plan, error) {
	t := faults.Targets{Horizon: e.Horizon(jobs), Agents: e.PossibleAgents()}
	for i := range e.scenario.Nodes {
		t.Nodes = append(t.Nodes, NodeName(i))
	}
	return faults.Generate(e.FaultSpec(), t, rand.New(rand.NewPCG(seed, 0xfa175)).Uint64())
}

// injectFaults applies the episode's fault plan, if the scenario has one.
func (ep *Episode) injectFaults() error {
	if !ep.env.scenario.Faults.Active() {
		return nil
	}
	if ep.sim == nil {
		return errors.New("scheduling: fault injection needs the simulator")
	}
	plan, err := ep.env.FaultPlan(ep.seed, ep.jobs)
	if err != nil {
		return err
	}
	in, err := faults.Inject(ep.sim, plan, faults.Hooks{
		Kill:    func(node string) { ep.KillNode(node) },
		Restart: func(node string) { ep.RestartNode(node) },
	})
	if err != nil {
		return err
	}
	ep.mu.Lock()
	ep.injector = in
	ep.liar = rand.New(rand.NewPCG(plan.Seed, 0x11a7))
	ep.mu.Unlock()
	return nil
}

// lie is node i's bid when the plan makes it byzantine now, honest
// otherwise.
func (ep *Episode) lie(i int, job JobInfo, honest Offer) Offer {
	ep.mu.Lock()
	in, r := ep.injector, ep.liar
	ep.mu.Unlock()
	if in == nil {
		return honest
	}
	mode, ok := in.Lying(string(AgentID(i)))
	if !ok {
		return honest
	}
	lie := Offer{Level: Bid, Score: 1}
	if mode == faults.RandomMode {
		lie = Offer{Level: Level(r.IntN(len(Levels))), Score: r.Float64()}
	}
	if lie != honest {
		in.CountLie()
	}
	return lie
}
