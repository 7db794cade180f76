package faults

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/marlon-go/marlon/learning"
)

// Node is the name of the simulated node the injector's own actor runs on;
// no target may have it.
const Node = "faults"

// Mode is how a byzantine agent lies.
type Mode string

const (
	// Adversarial: the action its own policy rates least likely, or the
	// allowed action farthest from the one it would have taken.
	Adversarial Mode = "adversarial"
	// RandomMode: an allowed action drawn uniformly.
	RandomMode Mode = "random"
)

// Fault is one planned fault. Times are virtual time units from the start
// of the episode.
type Fault struct {
	// ID numbers the plan's faults from 1, in time order.
	ID   int     `json:"id"`
	Kind Kind    `json:"kind"`
	At   float64 `json:"at"`
	// Duration is how long the fault lasts: for a crash, how long the
	// node stays down before it restarts. 0: for ever.
	Duration float64            `json:"duration"`
	Nodes    []string           `json:"nodes,omitempty"`
	Agents   []learning.AgentID `json:"agents,omitempty"`
	// Delay is the extra time a message takes (Delay faults).
	Delay float64 `json:"delay,omitempty"`
	// Rate is the probability that a transmission is lost or corrupted
	// (Loss and Corrupt faults), below 1.
	Rate float64 `json:"rate,omitempty"`
	// Mode is how the agents lie (Byzantine faults).
	Mode Mode `json:"mode,omitempty"`
	// Cause is the ID of the crash that set this one off, in a cascade (0:
	// none).
	Cause int `json:"cause,omitempty"`
}

// End is when the fault is over (+Inf if it lasts for ever).
func (f Fault) End() float64 {
	if f.Duration == 0 {
		return math.Inf(1)
	}
	return f.At + f.Duration
}

// activeAt reports whether t falls within the fault.
func (f Fault) activeAt(t float64) bool { return t >= f.At && t < f.End() }

// Plan is a timeline of faults for one episode.
type Plan struct {
	// Seed is what the plan was generated from, and seeds the network
	// model's draws (losses, corruptions, random lies).
	Seed uint64 `json:"seed"`
	// Spec is the resolved spec the plan was generated from.
	Spec Spec `json:"spec"`
	// Horizon is the expected length of the episode the plan was made for.
	Horizon float64 `json:"horizon"`
	// Detect is the failure detector's time (Spec.Heartbeat*Missed) and
	// RTO the retransmission timeout (Spec.Heartbeat).
	Detect float64 `json:"detect"`
	RTO    float64 `json:"rto"`
	Faults []Fault `json:"faults"`
}

// Targets are what a plan's faults may hit.
type Targets struct {
	// Nodes may crash, be partitioned off, or have slow or lossy links;
	// their order defines which are related (neighbours) for cascades.
	Nodes []string
	// Agents may turn byzantine.
	Agents []learning.AgentID
	// Horizon is how long an episode is expected to last, in virtual time
	// units: faults start between 10% and 90% of it, and outages last a
	// share of it.
	Horizon float64
	// Related names the nodes a crash of node makes likelier to crash
	// (nil: its neighbours in Nodes).
	Related func(node string) []string
}

// share is the nearest whole number of n that share p makes, at least one
// (for n > 0) and at most n.
func share(p float64, n int) int {
	if n == 0 {
		return 0
	}
	return min(max(int(math.Round(p*float64(n))), 1), n)
}

// MaxOutages bounds how many node outages (crashes, and nodes cut off for
// longer than the detection time) a plan generated from s for n nodes can
// have: each may bring a node back as a new incarnation.
func (s Spec) MaxOutages(n int) int {
	r, err := s.Resolved()
	if err != nil || !r.Active() {
		return 0
	}
	return r.Faults * share(r.Targets, n)
}

// Generate draws a plan from spec for targets, with seed. The same
// arguments give the same plan.
func Generate(spec Spec, t Targets, seed uint64) (Plan, error) {
	s, err := spec.Resolved()
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Seed: seed, Spec: s, Horizon: t.Horizon, Detect: s.Heartbeat * float64(s.Missed), RTO: s.Heartbeat}
	if !s.Active() {
		return p, nil
	}
	if err := t.validate(s); err != nil {
		return Plan{}, err
	}
	g := &generator{s: s, t: t, sev: Severe(s.Severity), detect: p.Detect, r: rand.New(rand.NewPCG(seed, 0xfa175))}
	switch s.Pattern {
	case Random:
		g.random()
	case Cascading:
		g.cascading()
	case PartitionPattern:
		g.partitions()
	}
	p.Faults = g.out
	separatePartitions(p.Faults, p.RTO)
	renumber(p.Faults)
	return p, p.Validate()
}

func (t Targets) validate(s Spec) error {
	if !(t.Horizon > 0) || !finite(t.Horizon) {
		return fmt.Errorf("faults: the horizon must be a finite number > 0, got %v", t.Horizon)
	}
	seen := map[string]bool{}
	for _, n := range t.Nodes {
		if n == "" || n == Node || seen[n] {
			return fmt.Errorf("faults: target nodes must be distinct, non-empty and not %q, got %q", Node, n)
		}
		seen[n] = true
	}
	needsNodes := s.Pattern != Random || slices.ContainsFunc(s.Kinds, func(k Kind) bool { return k != Byzantine })
	if needsNodes && len(t.Nodes) == 0 {
		return fmt.Errorf("faults: the %s pattern with kinds %s needs target nodes", s.Pattern, joinNames(s.Kinds))
	}
	if s.Pattern == Random && slices.Contains(s.Kinds, Byzantine) && len(t.Agents) == 0 {
		return bad("fault-kinds", "byzantine needs agents that can lie; this environment names none", joinNames(s.Kinds))
	}
	return nil
}

type generator struct {
	s      Spec
	t      Targets
	sev    Severity
	detect float64
	r      *rand.Rand
	out    []Fault
}

// when draws a start time between 10% and 90% of the horizon.
func (g *generator) when() float64 { return g.t.Horizon * (0.1 + 0.8*g.r.Float64()) }

// outage draws how long an outage or window lasts.
func (g *generator) outage() float64 { return g.sev.Outage * g.t.Horizon * (0.5 + g.r.Float64()) }

// pick draws k distinct items of xs.
func pick[T any](r *rand.Rand, xs []T, k int) []T {
	idx := r.Perm(len(xs))[:k]
	sort.Ints(idx) // in the targets' order
	out := make([]T, k)
	for i, j := range idx {
		out[i] = xs[j]
	}
	return out
}

func (g *generator) add(f Fault) int {
	f.ID = len(g.out) + 1
	g.out = append(g.out, f)
	return f.ID
}

// random: each incident, Targets' share of the nodes fail independently,
// each with a kind drawn from Kinds, at a time of its own.
func (g *generator) random() {
	for range g.s.Faults {
		var nodes []string
		if len(g.t.Nodes) > 0 {
			nodes = pick(g.r, g.t.Nodes, share(g.s.Targets, len(g.t.Nodes)))
		} else {
			for range share(g.s.Targets, len(g.t.Agents)) {
				nodes = append(nodes, "")
			}
		}
		for _, n := range nodes {
			kind := g.s.Kinds[g.r.IntN(len(g.s.Kinds))]
			if kind == Byzantine {
				g.add(g.byzantine([]learning.AgentID{g.t.Agents[g.r.IntN(len(g.t.Agents))]}))
				continue
			}
			g.add(g.fault(kind, n))
		}
	}
}

// fault draws a fault of kind on node.
func (g *generator) fault(kind Kind, node string) Fault {
	f := Fault{Kind: kind, At: g.when(), Duration: g.outage(), Nodes: []string{node}}
	switch kind {
	case Delay:
		f.Delay = g.sev.Delay * g.s.Heartbeat * (0.5 + g.r.Float64())
	case Loss, Corrupt:
		f.Rate = g.sev.Rate
	}
	return f
}

func (g *generator) byzantine(agents []learning.AgentID) Fault {
	mode := Adversarial
	if g.r.IntN(2) == 1 {
		mode = RandomMode
	}
	return Fault{Kind: Byzantine, At: g.when(), Duration: g.outage(), Agents: agents, Mode: mode}
}

// related is the nodes a crash of node makes likelier to crash.
func (g *generator) related(node string) []string {
	if g.t.Related != nil {
		return g.t.Related(node)
	}
	i := slices.Index(g.t.Nodes, node)
	n := len(g.t.Nodes)
	if n < 2 {
		return nil
	}
	if n == 2 {
		return []string{g.t.Nodes[1-i]}
	}
	return []string{g.t.Nodes[(i+n-1)%n], g.t.Nodes[(i+1)%n]}
}

// cascading: each incident, a node crashes, and each node related to a
// crashed one crashes with the cascade probability within two detection
// times of it, up to Targets' share of the nodes.
func (g *generator) cascading() {
	limit := share(g.s.Targets, len(g.t.Nodes))
	for range g.s.Faults {
		root := g.t.Nodes[g.r.IntN(len(g.t.Nodes))]
		type crashed struct {
			node string
			at   float64
			id   int
		}
		first := Fault{Kind: Crash, At: g.when(), Duration: g.outage(), Nodes: []string{root}}
		queue := []crashed{{root, first.At, g.add(first)}}
		down := map[string]bool{root: true}
		for len(queue) > 0 && len(down) < limit {
			c := queue[0]
			queue = queue[1:]
			for _, n := range g.related(c.node) {
				if down[n] || len(down) >= limit || g.r.Float64() >= g.sev.Cascade {
					continue
				}
				down[n] = true
				f := Fault{Kind: Crash, At: c.at + 2*g.detect*g.r.Float64(), Duration: g.outage(), Nodes: []string{n}, Cause: c.id}
				queue = append(queue, crashed{n, f.At, g.add(f)})
			}
		}
	}
}

// partitions: each incident, Targets' share of the nodes cut off from the
// rest.
func (g *generator) partitions() {
	for range g.s.Faults {
		nodes := pick(g.r, g.t.Nodes, share(g.s.Targets, len(g.t.Nodes)))
		g.add(Fault{Kind: Partition, At: g.when(), Duration: g.outage(), Nodes: nodes})
	}
}

// separatePartitions moves partitions later, in start order, so that each
// starts after the one before has healed (plus a heartbeat).
func separatePartitions(fs []Fault, gap float64) {
	var parts []*Fault
	for i := range fs {
		if fs[i].Kind == Partition {
			parts = append(parts, &fs[i])
		}
	}
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].At < parts[j].At })
	for i := 1; i < len(parts); i++ {
		if end := parts[i-1].End(); parts[i].At < end+gap {
			parts[i].At = end + gap // finite: only the last may last for ever
		}
	}
}

// renumber sorts fs by time and numbers them from 1, keeping causes.
func renumber(fs []Fault) {
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].At < fs[j].At })
	ids := map[int]int{}
	for i := range fs {
		ids[fs[i].ID] = i + 1
		fs[i].ID = i + 1
	}
	for i := range fs {
		if fs[i].Cause != 0 {
			fs[i].Cause = ids[fs[i].Cause]
		}
	}
}

// Validate checks a plan, hand-written or generated, and returns the first
// problem, naming the fault.
func (p Plan) Validate() error {
	if !(p.Detect > 0) || !finite(p.Detect) || !(p.RTO > 0) || !finite(p.RTO) {
		return fmt.Errorf("faults: plan: detect and rto must be finite numbers > 0, got %v and %v", p.Detect, p.RTO)
	}
	ids := map[int]Kind{}
	var parts []Fault
	for _, f := range p.Faults {
		where := fmt.Sprintf("faults: plan: fault %d (%s)", f.ID, f.Kind)
		if _, dup := ids[f.ID]; dup || f.ID < 1 {
			return fmt.Errorf("%s: ids must be distinct and start at 1", where)
		}
		switch {
		case !slices.Contains(Kinds(), f.Kind):
			return fmt.Errorf("%s: unknown kind; one of %s", where, joinNames(Kinds()))
		case !(f.At >= 0) || !finite(f.At):
			return fmt.Errorf("%s: at must be a finite time >= 0, got %v", where, f.At)
		case !(f.Duration >= 0) || !finite(f.Duration):
			return fmt.Errorf("%s: duration must be a finite time >= 0 (0: for ever), got %v", where, f.Duration)
		case f.Kind == Byzantine && len(f.Agents) == 0:
			return fmt.Errorf("%s: names no agents", where)
		case f.Kind == Byzantine && f.Mode != Adversarial && f.Mode != RandomMode:
			return fmt.Errorf("%s: mode must be %s or %s, got %q", where, Adversarial, RandomMode, f.Mode)
		case f.Kind != Byzantine && len(f.Nodes) == 0:
			return fmt.Errorf("%s: names no nodes", where)
		case f.Kind == Delay && (!(f.Delay > 0) || !finite(f.Delay)):
			return fmt.Errorf("%s: delay must be a finite time > 0, got %v", where, f.Delay)
		case (f.Kind == Loss || f.Kind == Corrupt) && !(f.Rate > 0 && f.Rate < 1):
			return fmt.Errorf("%s: rate must be a probability in (0, 1), got %v", where, f.Rate)
		case f.Cause != 0 && ids[f.Cause] != Crash:
			return fmt.Errorf("%s: cause %d is not an earlier crash", where, f.Cause)
		}
		for _, n := range f.Nodes {
			if n == "" || n == Node {
				return fmt.Errorf("%s: node names must be non-empty and not %q", where, Node)
			}
		}
		ids[f.ID] = f.Kind
		if f.Kind == Partition {
			parts = append(parts, f)
		}
	}
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].At < parts[j].At })
	for i := 1; i < len(parts); i++ {
		if parts[i].At < parts[i-1].End() {
			return fmt.Errorf("faults: plan: partitions %d and %d overlap in time; a plan's partitions must not", parts[i-1].ID, parts[i].ID)
		}
	}
	return nil
}

// Count returns how many faults of each kind the plan has.
func (p Plan) Count() map[Kind]int {
	out := map[Kind]int{}
	for _, f := range p.Faults {
		out[f.Kind]++
	}
	return out
}
