package faults

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/marlon-go/marlon/actors"
)

// Hooks are what an environment does when the injector changes its nodes.
type Hooks struct {
	// Kill, if set, kills node for the injector (at a crash, and when a
	// node cut off by a partition rejoins), so that the environment can
	// record it; it must stop the node's actors at once, as
	// actors.Sim.KillNode does. Nil: actors.Sim.KillNode.
	Kill func(node string)
	// Restart starts node's actors afresh when the node comes back as a new
	// incarnation: after a crash, or after a partition in which it was
	// declared down. It is called inside the injector's turn, in the Sim's
	// order, and may spawn actors on node (actors.Sim.SpawnOn) or send
	// messages. Nil: the node comes back empty.
	Restart func(node string)
}

// Injector applies a plan to one simulated episode: it is the Sim's
// network model (actors.Refusing) and runs an actor on node Node that
// crashes, partitions and restarts nodes at the planned times. Its methods
// are for use in the Sim's goroutine.
type Injector struct {
	sim    *actors.Sim
	plan   Plan
	hooks  Hooks
	origin float64
	r      *rand.Rand
	nodes  map[string]*nodeState
	parts  []*partition
	report Report
	// byzantine faults by agent
	liars map[string][]int
	todo  []step
}

type nodeState struct {
	name    string
	down    bool    // crashed, not back yet
	downAt  float64 // when it crashed
	backAt  float64 // when it is due back (+Inf: never)
	waiting bool    // due back while cut off: comes back when the partition heals
	downFor float64 // time spent down so far (closed outages)
	incarn  int
}

type partition struct {
	f        Fault
	set      map[string]bool
	started  bool
	declared bool
	healed   bool
}

var _ actors.Refusing = (*Injector)(nil)

// Inject applies plan to the episode about to run in sim: times in the plan
// count from sim's current time. It installs the injector as sim's network
// and spawns its actor.
func Inject(sim *actors.Sim, plan Plan, hooks Hooks) (*Injector, error) {
	if err := plan.Validate(); err != nil {
		return nil, err
	}
	in := &Injector{
		sim: sim, plan: plan, hooks: hooks, origin: sim.Now(),
		r: rand.New(rand.NewPCG(plan.Seed, 0x11e7)), nodes: map[string]*nodeState{}, liars: map[string][]int{},
	}
	in.report.Seed, in.report.Spec, in.report.Detect, in.report.RTO = plan.Seed, plan.Spec, plan.Detect, plan.RTO
	for _, f := range plan.Faults {
		for _, n := range f.Nodes {
			in.node(n)
		}
		switch f.Kind {
		case Partition:
			p := &partition{f: f, set: map[string]bool{}}
			for _, n := range f.Nodes {
				p.set[n] = true
			}
			in.parts = append(in.parts, p)
		case Byzantine:
			for _, a := range f.Agents {
				in.liars[string(a)] = append(in.liars[string(a)], f.ID)
			}
		}
	}
	sim.SetNetwork(in)
	sim.SpawnOn(Node, &driver{in: in})
	return in, nil
}

// Plan is the plan being applied.
func (in *Injector) Plan() Plan { return in.plan }

func (in *Injector) node(name string) *nodeState {
	s := in.nodes[name]
	if s == nil {
		s = &nodeState{name: name, backAt: math.Inf(1)}
		in.nodes[name] = s
	}
	return s
}

// now is the episode's time.
func (in *Injector) now() float64 { return in.sim.Now() - in.origin }

// Down reports whether node is down now (crashed and not back).
func (in *Injector) Down(node string) bool {
	s := in.nodes[node]
	return s != nil && s.down
}

// cut returns the partition that separates a and b now, if any.
func (in *Injector) cut(a, b string) *partition {
	for _, p := range in.parts {
		if p.started && !p.healed && p.set[a] != p.set[b] {
			return p
		}
	}
	return nil
}

// long reports whether p lasts longer than the detection time.
func (in *Injector) long(p *partition) bool {
	return p.f.Duration == 0 || p.f.Duration > in.plan.Detect
}

// told is when a node on peer learns that the crashed node n is gone: the
// detection time after it last heard from n (when n crashed, or when a
// partition between them began), or when n comes back if that is sooner
// (a restarted node replaces its previous incarnation).
func (in *Injector) told(n *nodeState, peer string) float64 {
	heard := n.downAt
	if p := in.cut(n.name, peer); p != nil && p.f.At < heard {
		heard = p.f.At
	}
	return math.Min(heard+in.plan.Detect, n.backAt)
}

// Refuse implements actors.Refusing: a message to a crashed node, or across
// a partition that lasts longer than the detection time, is refused, and
// its sender told when the node is declared down (at once if it already
// is).
func (in *Injector) Refuse(from, to string, msg any) (float64, bool) {
	if in.Down(from) {
		return 0, false // the Sim's own message for a dead actor: see Link
	}
	now := in.now()
	if t := in.nodes[to]; t != nil && t.down {
		in.report.Refused++
		return math.Max(0, in.told(t, from)-now), true
	}
	if p := in.cut(from, to); p != nil && in.long(p) {
		in.report.Refused++
		return math.Max(0, p.f.At+in.plan.Detect-now), true
	}
	return 0, false
}

// Link implements actors.Network.
func (in *Injector) Link(from, to string, msg any) (float64, bool) {
	now := in.now()
	if f := in.nodes[from]; f != nil && f.down {
		// A dead actor sends nothing: this is the Down of an actor of the
		// crashed node, or the error answering a request that reached it
		// after it died. The observer's failure detector produces it.
		return math.Max(0, in.told(f, to)-now), false
	}
	if p := in.cut(from, to); p != nil {
		// Healing before the detection time (Refuse took the others): the
		// message is sent again every RTO and arrives at the first
		// retransmission after the partition heals.
		k := math.Ceil((p.f.End() - now) / in.plan.RTO)
		at := now + k*in.plan.RTO
		if in.crashesBetween(from, now, at) {
			in.report.LostWithSender++
			return 0, true // the sender's buffer died with it
		}
		in.report.Held++
		return at - now + in.extra(from, to, at), false
	}
	return in.extra(from, to, now), false
}

// crashesBetween reports whether the plan crashes node in (from, to].
func (in *Injector) crashesBetween(node string, from, to float64) bool {
	for _, f := range in.plan.Faults {
		if f.Kind == Crash && f.At > from && f.At <= to && slices.Contains(f.Nodes, node) {
			return true
		}
	}
	return false
}

// extra is the delay that slow and lossy links add to a message sent at t
// between a and b.
func (in *Injector) extra(a, b string, t float64) float64 {
	if len(in.nodes) == 0 || (in.nodes[a] == nil && in.nodes[b] == nil) {
		return 0
	}
	d, pLoss, pCorrupt := 0.0, 0.0, 0.0
	for _, f := range in.plan.Faults {
		if !f.activeAt(t) || (!slices.Contains(f.Nodes, a) && !slices.Contains(f.Nodes, b)) {
			continue
		}
		switch f.Kind {
		case Delay:
			d += f.Delay
		case Loss:
			pLoss = 1 - (1-pLoss)*(1-f.Rate)
		case Corrupt:
			pCorrupt = 1 - (1-pCorrupt)*(1-f.Rate)
		}
	}
	if d > 0 {
		in.report.Delayed++
	}
	if pLoss == 0 && pCorrupt == 0 {
		return d
	}
	// Each transmission is lost, or else corrupted (and rejected by the
	// receiver's MAC check); either way it is sent again after the RTO.
	for range 10000 {
		switch u := in.r.Float64(); {
		case u < pLoss:
			in.report.Retransmitted++
		case u < pLoss+(1-pLoss)*pCorrupt:
			in.report.Rejected++
			in.report.Retransmitted++
		default:
			return d
		}
		d += in.plan.RTO
	}
	return d
}

// driver is the injector's actor: it applies the plan's events at their
// times.
type driver struct{ in *Injector }

type step struct {
	at    float64
	order int // at the same time: restarts, then heals, then the rest
	do    func()
}

type wake struct{ i int }

func (d *driver) Receive(ctx actors.Context, msg any) {
	in := d.in
	switch m := msg.(type) {
	case actors.Started:
		in.todo = in.steps()
		for i, s := range in.todo {
			ctx.After(math.Max(0, s.at-in.now()), wake{i})
		}
	case wake:
		in.todo[m.i].do()
	}
}

// steps lists what the injector does and when, in order.
func (in *Injector) steps() []step {
	var out []step
	add := func(at float64, order int, do func()) { out = append(out, step{at, order, do}) }
	for _, f := range in.plan.Faults {
		switch f.Kind {
		case Crash:
			add(f.At, 3, func() { in.crash(f) })
			if f.Duration > 0 {
				add(f.End(), 0, func() { in.restart(f) })
			}
		case Partition:
			p := in.partition(f.ID)
			add(f.At, 2, func() { in.split(p) })
			if in.long(p) {
				add(f.At+in.plan.Detect, 4, func() { in.declare(p) })
			}
			if f.Duration > 0 {
				add(f.End(), 1, func() { in.heal(p) })
			}
		default:
			add(f.At, 5, func() { in.event(f, string(f.Kind), f.Nodes, f.describe()) })
			if f.Duration > 0 {
				add(f.End(), 5, func() { in.event(f, string(f.Kind)+" ends", f.Nodes, "") })
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].at != out[j].at {
			return out[i].at < out[j].at
		}
		return out[i].order < out[j].order
	})
	return out
}

func (in *Injector) partition(id int) *partition {
	for _, p := range in.parts {
		if p.f.ID == id {
			return p
		}
	}
	panic(fmt.Sprintf("faults: no partition %d", id))
}

func (in *Injector) event(f Fault, what string, nodes []string, detail string) {
	e := Event{At: in.now(), Fault: f.ID, What: what, Nodes: nodes, Detail: detail}
	for _, a := range f.Agents {
		e.Agents = append(e.Agents, string(a))
	}
	in.report.Timeline = append(in.report.Timeline, e)
}

func (f Fault) describe() string {
	switch f.Kind {
	case Delay:
		return fmt.Sprintf("+%.3g per message", f.Delay)
	case Loss:
		return fmt.Sprintf("%.0f%% of transmissions lost", 100*f.Rate)
	case Corrupt:
		return fmt.Sprintf("%.0f%% of transmissions corrupted", 100*f.Rate)
	case Byzantine:
		return string(f.Mode)
	}
	return ""
}

func until(f Fault) string {
	if f.Duration == 0 {
		return "for ever"
	}
	return fmt.Sprintf("until %.1f", f.End())
}

func (in *Injector) crash(f Fault) {
	n := in.node(f.Nodes[0])
	if n.down {
		in.event(f, "crash skipped", f.Nodes, "already down")
		return
	}
	n.down, n.downAt, n.backAt, n.waiting = true, in.now(), f.End(), false
	detail := "down " + until(f)
	if f.Cause != 0 {
		detail += fmt.Sprintf(", set off by fault %d", f.Cause)
	}
	in.event(f, "crash", f.Nodes, detail)
	in.report.Crashes++
	in.kill(n.name)
}

func (in *Injector) restart(f Fault) {
	n := in.node(f.Nodes[0])
	if !n.down || n.backAt != f.End() {
		return // its crash was skipped
	}
	for _, p := range in.parts {
		if p.started && !p.healed && p.set[n.name] {
			n.waiting = true
			in.event(f, "restart waits", f.Nodes, fmt.Sprintf("cut off by partition %d", p.f.ID))
			return
		}
	}
	in.back(n, f, "restart")
}

func (in *Injector) kill(node string) {
	if in.hooks.Kill != nil {
		in.hooks.Kill(node)
		return
	}
	in.sim.KillNode(node)
}

// back brings n up as a new incarnation.
func (in *Injector) back(n *nodeState, f Fault, what string) {
	if n.down {
		n.downFor += in.now() - n.downAt
	}
	n.down, n.waiting, n.backAt = false, false, math.Inf(1)
	n.incarn++
	in.event(f, what, []string{n.name}, fmt.Sprintf("incarnation %d", n.incarn+1))
	in.report.Restarts++
	if in.hooks.Restart != nil {
		in.hooks.Restart(n.name)
	}
}

func (in *Injector) split(p *partition) {
	p.started = true
	detail := "heals " + strings.TrimPrefix(until(p.f), "until ")
	if !in.long(p) {
		detail += fmt.Sprintf(", before the detection time %.3g: messages across are held", in.plan.Detect)
	}
	in.event(p.f, "partition", p.f.Nodes, detail)
}

// declare: each side's failure detector declares the other's nodes down.
func (in *Injector) declare(p *partition) {
	if p.healed {
		return
	}
	p.declared = true
	inside := func(n string) bool { return p.set[n] }
	outside := func(n string) bool { return !p.set[n] && n != Node }
	detail := fmt.Sprintf("partition %d: no heartbeat for %.3g", p.f.ID, in.plan.Detect)
	downs := in.sim.DeclareDown(inside, outside, detail) + in.sim.DeclareDown(outside, inside, detail)
	in.report.DownsDeclared += downs
	in.event(p.f, "declared down", p.f.Nodes, fmt.Sprintf("each side tells its watchers the other's actors are gone (%d Down messages)", downs))
}

func (in *Injector) heal(p *partition) {
	p.healed = true
	in.event(p.f, "heal", p.f.Nodes, "")
	for _, name := range p.f.Nodes {
		n := in.node(name)
		switch {
		case n.waiting:
			in.back(n, p.f, "restart")
		case n.down:
			// Crashed while cut off and not due back yet: its restart does it.
		case p.declared:
			in.kill(name) // the incarnation the others wrote off
			in.back(n, p.f, "rejoin")
		}
	}
}

// Lying reports whether agent lies now, and how (the Liar hook).
func (in *Injector) Lying(agent string) (Mode, bool) {
	now := in.now()
	for _, id := range in.liars[agent] {
		f := in.plan.Faults[in.index(id)]
		if f.activeAt(now) {
			return f.Mode, true
		}
	}
	return "", false
}

func (in *Injector) index(id int) int {
	for i, f := range in.plan.Faults {
		if f.ID == id {
			return i
		}
	}
	return -1
}

// Report is what was injected so far: the timeline and the network's
// counts.
func (in *Injector) Report() Report {
	r := in.report
	r.Timeline = slices.Clone(r.Timeline)
	now := in.now()
	r.Downtime = map[string]float64{}
	names := make([]string, 0, len(in.nodes))
	for name := range in.nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		n := in.nodes[name]
		d := n.downFor
		if n.down {
			d += now - n.downAt
		}
		if d > 0 {
			r.Downtime[name] = d
		}
	}
	r.Time = now
	return r
}
