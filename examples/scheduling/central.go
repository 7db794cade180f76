package scheduling

import (
	"math"
	"sort"

	"github.com/marlon-go/marlon/learning"
)

// Discipline is a central scheduler's rule, as production batch schedulers
// apply it: from the queue and what the auctioneer's ledger says each
// registered node runs, which waiting jobs to start now, and where. The
// auctioneer applies it whenever something changes (a job arrives or ends,
// a node registers or is declared failed) instead of holding auctions.
type Discipline interface {
	Name() string
	// Schedule returns the jobs of queue (in queue order: submit time, then
	// number) to start now and their nodes. Every node of nodes is
	// registered; every job of queue fits the capacity of at least one.
	Schedule(now float64, queue []Waiting, nodes []NodeState) []Placement
}

// Waiting is a queued job as a Discipline sees it.
type Waiting struct {
	ID        int
	Needs     Resources
	Requested float64
	Submit    float64
}

// NodeState is a registered node as a Discipline sees it.
type NodeState struct {
	Index    int
	Capacity Resources
	Free     Resources
	Running  []Reservation
}

// Reservation is a job running on a node: what it holds until when it is
// expected to end at the latest (its start plus its requested time).
type Reservation struct {
	Needs Resources
	End   float64
}

// Placement starts job Job on node Node.
type Placement struct{ Job, Node int }

// Central is implemented by the agents of an algorithm that takes placement
// out of the resource agents' hands (FCFS, EASY): when every node's agent
// is Central, the auctioneer schedules with the Discipline from its central
// queue and holds no auctions. See CentralPolicy.
type Central interface {
	Discipline() Discipline
}

// CentralPolicy is the policy of the algorithm that schedules with d.
func CentralPolicy(d Discipline) learning.Policy { return centralPolicy{d} }

type centralPolicy struct{ d Discipline }

func (p centralPolicy) Name() string { return p.d.Name() }

func (p centralPolicy) NewAgent(learning.AgentID) learning.LearningAlgorithm {
	return centralAgent(p)
}

// centralAgent is never asked to act: it only carries the discipline.
type centralAgent struct{ d Discipline }

func (a centralAgent) Discipline() Discipline               { return a.d }
func (a centralAgent) InitAgent(learning.Observation)       {}
func (a centralAgent) IsLearning() bool                     { return false }
func (a centralAgent) SampleAction() learning.Action        { return learning.Action(Bid) }
func (a centralAgent) Update(learning.Observation, float64) {}
func (a centralAgent) ActionProbabilities() []float64       { return []float64{0, 1} }
func (a centralAgent) AgentJoined(learning.AgentID)         {}
func (a centralAgent) AgentLeft(learning.AgentID)           {}

// FCFS starts jobs strictly in queue order: the first waiting job on the
// node it fits best (bestFit), then the next, and stops at the first job
// that fits no node now: nothing overtakes it.
type FCFS struct{}

// Name is "fcfs".
func (FCFS) Name() string { return "fcfs" }

// Schedule implements Discipline.
func (FCFS) Schedule(now float64, queue []Waiting, nodes []NodeState) []Placement {
	free := frees(nodes)
	var out []Placement
	for _, j := range queue {
		k := bestFit(j.Needs, nodes, free, nil)
		if k < 0 {
			break
		}
		free[k] = free[k].Minus(j.Needs)
		out = append(out, Placement{Job: j.ID, Node: nodes[k].Index})
	}
	return out
}

// EASY is EASY backfilling (Lifka's, as in production batch schedulers),
// on nodes with several resources: jobs start in queue order while they
// fit (each on the node it fits best); the first that does not, the head,
// gets a reservation on the node where it can start the earliest, at the
// shadow time when the jobs running there will have freed enough for it,
// by their requested times; a later job may start now only if it cannot
// delay the reservation: it runs on another node, or it will end (by its
// requested time) before the shadow time, or it fits in what the node will
// have left over at the shadow time beyond the head's needs (the extra,
// which it then uses up).
type EASY struct{}

// Name is "easy".
func (EASY) Name() string { return "easy" }

// Schedule implements Discipline.
func (EASY) Schedule(now float64, queue []Waiting, nodes []NodeState) []Placement {
	free := frees(nodes)
	running := make([][]Reservation, len(nodes))
	for k, n := range nodes {
		running[k] = append([]Reservation(nil), n.Running...)
	}
	var out []Placement
	start := func(j Waiting, k int) {
		free[k] = free[k].Minus(j.Needs)
		running[k] = append(running[k], Reservation{Needs: j.Needs, End: now + j.Requested})
		out = append(out, Placement{Job: j.ID, Node: nodes[k].Index})
	}
	i := 0
	for ; i < len(queue); i++ {
		k := bestFit(queue[i].Needs, nodes, free, nil)
		if k < 0 {
			break
		}
		start(queue[i], k)
	}
	if i == len(queue) {
		return out
	}
	res, shadow, extra := reserve(queue[i].Needs, now, nodes, free, running)
	if res < 0 {
		return out // no registered node can ever hold the head: nothing to protect
	}
	for _, j := range queue[i+1:] {
		k := bestFit(j.Needs, nodes, free, func(k int) bool {
			return k != res || now+j.Requested <= shadow || extra.Covers(j.Needs)
		})
		if k < 0 {
			continue
		}
		if k == res && now+j.Requested > shadow {
			extra = extra.Minus(j.Needs)
		}
		start(j, k)
	}
	return out
}

// reserve finds where and when a job needing needs can start the
// earliest, if the running jobs end by their requested times: the node
// (its position in nodes, -1 if none can ever hold it), the shadow time,
// and what that node will have free then beyond needs.
func reserve(needs Resources, now float64, nodes []NodeState, free []Resources, running [][]Reservation) (int, float64, Resources) {
	best, shadow, extra := -1, math.Inf(1), Resources{}
	for k, n := range nodes {
		if !n.Capacity.Covers(needs) {
			continue
		}
		rs := append([]Reservation(nil), running[k]...)
		sort.SliceStable(rs, func(a, b int) bool { return rs[a].End < rs[b].End })
		avail, t := free[k], now
		for i := 0; !avail.Covers(needs) && i < len(rs); {
			t = math.Max(now, rs[i].End)
			for ; i < len(rs) && math.Max(now, rs[i].End) <= t; i++ { // every job ending then
				avail = avail.Plus(rs[i].Needs)
			}
		}
		if avail.Covers(needs) && t < shadow {
			best, shadow, extra = k, t, avail.Minus(needs)
		}
	}
	return best, shadow, extra
}

// frees copies the nodes' free resources.
func frees(nodes []NodeState) []Resources {
	free := make([]Resources, len(nodes))
	for k, n := range nodes {
		free[k] = n.Free
	}
	return free
}

// bestFit is the position of the node, among those whose free resources
// cover needs (and that ok allows, if set), where the job fits best: the
// highest fit, as Score measures it (the job fills most of what is free),
// then the lowest node number. -1 if none.
func bestFit(needs Resources, nodes []NodeState, free []Resources, ok func(k int) bool) int {
	best, bestFit := -1, -1.0
	for k := range nodes {
		if !free[k].Covers(needs) || (ok != nil && !ok(k)) {
			continue
		}
		if f := fit(needs, free[k]); f > bestFit {
			best, bestFit = k, f
		}
	}
	return best
}

// fit is the mean, over the resources free has, of the share of it needs
// would take (see Score).
func fit(needs, free Resources) float64 {
	f, kinds := 0.0, 0
	add := func(n, fr int) {
		if fr > 0 {
			f += min(1, float64(n)/float64(fr))
			kinds++
		}
	}
	add(needs.Cores, free.Cores)
	add(needs.Memory, free.Memory)
	add(needs.GPUs, free.GPUs)
	if kinds == 0 {
		return 0
	}
	return f / float64(kinds)
}
