// Package envtest is the conformance suite of environments: it checks that
// an env.Environment honours the contracts that algorithms, env.Run and the
// CLI rely on, as PettingZoo's api_test and seed_test do for its
// environments. A researcher checks an environment in one line of a test:
//
//	func TestConformance(t *testing.T) { envtest.Check(t, myEnvironment) }
//
// Check runs episodes of the environment in the simulator (and one in the
// live runtime) with agents that choose uniformly among the actions their
// latest observation allows and record every call they receive, and reports
// each contract (Contracts) as a subtest. A failure names the contract,
// shows what happened, and says how to fix it.
//
// CheckAlgorithm checks an algorithm of the environment's family (the
// learning registry's) as the environment runs it, with the algorithm suite
// (learning/algotest) on the environment's Spec and observations recorded
// from its episodes.
//
// Run returns the verdicts without a testing.T, for notebooks and tools.
//
// This package depends on actors, env, learning and learning/algotest. It
// must not depend on any particular environment or algorithm.
package envtest

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/learning"
	"github.com/marlon-go/marlon/learning/algotest"
)

var inf = math.Inf(1)

// The contracts, by the names verdicts and subtests carry.
const (
	// Agents: PossibleAgents names every agent, once, and the episodes ask
	// for no other agent, and for each at most once.
	Agents = "agents"
	// Specs: every possible agent has an observation schema and at least
	// one action, and every observation it is given fits its schema: as
	// many values as fields, finite, within the fields' stated bounds.
	Specs = "spec"
	// Protocol: every agent's calls follow the LearningAlgorithm contract:
	// InitAgent, then SampleAction and Update in turn, and in an episode
	// that ends, a last Update with a Terminal observation.
	Protocol = "protocol"
	// Masks: a mask has one entry per action and allows at least one; the
	// suite's agents only ever act within it, and the environment takes
	// any allowed action.
	Masks = "masks"
	// Adapters: an environment that offers adapters (env.Adaptable) names
	// them, each maps the agents' observations onto its schema (fitting it,
	// as Specs says) and every allowed learner action onto an allowed
	// action of the agent.
	Adapters = "adapters"
	// Completes: driven by a uniformly random policy over the allowed
	// actions, every episode starts and reaches its end (Done is closed).
	Completes = "completes"
	// Crash: no actor's handler panics.
	Crash = "crash"
	// Metrics: an ended episode reports metrics, the same names every
	// episode, all finite; Metrics may be called while the episode runs.
	Metrics = "metrics"
	// Reproducible: the same seed gives the same episode to the bit (every
	// message delivered, every observation and reward, the metrics); other
	// seeds give other episodes.
	Reproducible = "reproducible"
	// Membership: the actors of agents join an env.Roster, and the agents'
	// algorithms are told (AgentJoined, AgentLeft) of the agents that
	// join and leave while they are live. An actor is in the Roster from the
	// moment the Roster handles its env.Join until the actor stops (or the
	// run ends); two agents in the Roster together for a positive time must
	// each be told the other joined, and one still in it after another's
	// actor stopped must be told that one left. Told of: only possible
	// agents, never itself, joins and leaves in turn. (The suite's agents
	// use membership: learning.MembershipUser.)
	Membership = "membership"
	// Live: an episode runs to its end in the live runtime (goroutines,
	// real timers) with Metrics read concurrently, without a crash (and,
	// under -race, without a data race).
	Live = "live"
)

// Contracts lists the contracts in the order they are reported.
func Contracts() []string {
	return []string{Agents, Specs, Protocol, Masks, Adapters, Completes, Crash, Metrics, Reproducible, Membership, Live}
}

var fixes = map[string]string{
	Agents:       "list every agent that may take part in PossibleAgents, each once, and call the Agents function once per agent per episode, only with those IDs",
	Specs:        "give every agent a Spec with a schema and Actions.N >= 1, and build each observation with that schema, one finite value per field, within the bounds NewSchemaOf states (or state none)",
	Protocol:     "drive each agent through env.Agent (Attach, then Act at each decision and Finish when its episode ends), which makes the calls in the contract's order and ends with a Terminal observation",
	Masks:        "give a mask exactly Actions.N entries, at least one true, and accept any action it allows",
	Adapters:     "make Adapters list the adapters offered (the default first), Adapter(name) return each and an error naming them for any other name, Observe return observations of the adapter's schema, and Act map every action the adapted mask allows onto an action of the agent's space that its mask allows",
	Completes:    "make every episode reach its end whatever the agents choose among the allowed actions, and call End on the episode's env.Ending when it does (Done must be closed, not polled)",
	Crash:        "fix the handler that panicked (the stack shows where); an actor must handle every message it can receive, including actors.Stopping and Down",
	Metrics:      "return from Metrics the same names every episode, with finite values (report 0 or leave a metric out rather than NaN or Inf), and guard what the actors report to the episode with a mutex",
	Reproducible: "draw every random number from the episode's seed (or ctx.Rand, which the runtime seeds), keep no state from one episode to the next in the Environment, never read the clock, and iterate maps in sorted order",
	Membership:   "make each agent's actor send env.Join to the episode's env.Roster when it starts, before its agent first acts, and pass every message to env.Agent.Handle first, so that Joined and Left reach the algorithm",
	Live:         "make the episode run on any actors.Runtime: no type assertion on the runtime, time from ctx.Now and ctx.After, and state the episode shares with code outside the actors (Metrics, Done) guarded",
}

// Fix says how to honour contract.
func Fix(contract string) string { return fixes[contract] }

// Options say how to check an environment. The zero Options run the
// episodes of seeds 1, 2 and 3.
type Options struct {
	// Seeds are the seeds of the episodes run (nil: 1, 2, 3); the first is
	// run twice for the reproducible contract.
	Seeds []uint64
	// Limit bounds each episode's virtual time (0: no limit).
	Limit float64
	// MaxEvents bounds each simulated episode's delivered messages (0:
	// 1,000,000): an episode still running then fails completes.
	MaxEvents int
	// LiveScale is the real duration of a virtual time unit in the live
	// episode (0: 20µs), and LiveTimeout how long it may take in real time
	// (0: 60s).
	LiveScale   time.Duration
	LiveTimeout time.Duration
	// Skip names contracts not to check, with the reason, which the verdict
	// shows.
	Skip map[string]string
}

func (o Options) withDefaults() Options {
	if len(o.Seeds) == 0 {
		o.Seeds = []uint64{1, 2, 3}
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = 1_000_000
	}
	if o.LiveScale <= 0 {
		o.LiveScale = 20 * time.Microsecond
	}
	if o.LiveTimeout <= 0 {
		o.LiveTimeout = 60 * time.Second
	}
	return o
}

// Verdict is the outcome of one contract (with no Spec: the contracts are
// the environment's).
type Verdict = algotest.Verdict

// Failed returns the verdicts that did not pass and were not skipped.
func Failed(vs []Verdict) []Verdict { return algotest.Failed(vs) }

// Check runs every contract on e, each as a subtest.
func Check(t *testing.T, e env.Environment) { CheckWith(t, e, Options{}) }

// CheckWith runs every contract on e as o says, each as a subtest. The live
// contract runs inside its subtest, so that a data race the race detector
// finds fails that subtest.
func CheckWith(t *testing.T, e env.Environment, o Options) {
	t.Helper()
	o = o.withDefaults()
	_, skipLive := o.Skip[Live]
	skip := map[string]string{Live: deferred}
	for c, why := range o.Skip {
		skip[c] = why
	}
	o.Skip = skip
	for _, v := range Run(e, o) {
		if v.Contract == Live && !skipLive && v.Skipped == deferred {
			t.Run(v.Contract, func(t *testing.T) { runLive(e, o).Report(t) })
			continue
		}
		t.Run(v.Contract, func(t *testing.T) { v.Report(t) })
	}
}

const deferred = "\x00deferred"

// findings collects the first problem of each contract.
type findings struct {
	problems map[string]string
	notes    map[string]string
}

func (f *findings) fail(contract, format string, args ...any) {
	if _, seen := f.problems[contract]; !seen {
		f.problems[contract] = fmt.Sprintf("contract %q broken: %s.\nFix: %s.", contract, fmt.Sprintf(format, args...), fixes[contract])
	}
}

func (f *findings) note(contract, format string, args ...any) {
	if _, seen := f.notes[contract]; !seen {
		f.notes[contract] = fmt.Sprintf(format, args...)
	}
}

// Run checks every contract on e and returns the verdicts in the order of
// Contracts.
func Run(e env.Environment, o Options) []Verdict {
	o = o.withDefaults()
	f := &findings{problems: map[string]string{}, notes: map[string]string{}}
	skipped := map[string]string{}
	for c, why := range o.Skip {
		skipped[c] = why
	}
	checkAgents(e, f)
	if _, bad := f.problems[Agents]; bad {
		for _, c := range Contracts() {
			if c != Agents && skipped[c] == "" {
				skipped[c] = "the environment's agents are not as the contract says"
			}
		}
	} else {
		const policy = 7 // the suite's agents' seed
		var eps []*episode
		for _, seed := range o.Seeds {
			eps = append(eps, simulate(e, seed, policy, o))
		}
		again := simulate(e, o.Seeds[0], policy, o)
		for _, ep := range eps {
			checkEpisode(e, ep, f)
		}
		checkMetricNames(eps, f)
		checkReproducible(eps, again, f)
		checkMembership(e, eps, f)
		if skipped[Adapters] == "" {
			if why := checkAdapters(e, eps, f); why != "" {
				skipped[Adapters] = why
			}
		}
		masked := false
		for _, ep := range eps {
			for _, r := range ep.agents {
				for _, c := range r.calls {
					masked = masked || c.obs.Mask != nil
				}
			}
		}
		if !masked && skipped[Masks] == "" {
			skipped[Masks] = "no agent was offered a mask"
		}
		if skipped[Live] == "" {
			v := runLive(e, o)
			if v.Problem != "" {
				f.problems[Live] = v.Problem
			}
			if v.Note != "" {
				f.notes[Live] = v.Note
			}
		}
	}
	var out []Verdict
	for _, c := range Contracts() {
		v := Verdict{Contract: c, Skipped: skipped[c]}
		if v.Skipped == "" {
			v.Problem, v.Note = f.problems[c], f.notes[c]
		}
		out = append(out, v)
	}
	return out
}

// checkAgents checks PossibleAgents and every possible agent's Spec.
func checkAgents(e env.Environment, f *findings) {
	ids := e.PossibleAgents()
	if len(ids) == 0 {
		f.fail(Agents, "PossibleAgents is empty")
		return
	}
	seen := map[learning.AgentID]bool{}
	for _, id := range ids {
		if id == "" {
			f.fail(Agents, "PossibleAgents names an empty ID: %q", ids)
		}
		if seen[id] {
			f.fail(Agents, "PossibleAgents names %s twice: %q", id, ids)
		}
		seen[id] = true
		spec := e.Spec(id)
		switch {
		case spec.Observation == nil:
			f.fail(Specs, "agent %s's Spec has no observation schema", id)
		case spec.Actions.N < 1:
			f.fail(Specs, "agent %s's Spec has %d actions", id, spec.Actions.N)
		case len(spec.Actions.Labels) != 0 && len(spec.Actions.Labels) != spec.Actions.N:
			f.fail(Specs, "agent %s's action space has %d labels for %d actions", id, len(spec.Actions.Labels), spec.Actions.N)
		}
	}
}

// fits reports why obs does not fit schema, or "".
func fits(obs learning.Observation, schema *learning.Schema) string {
	if obs.Schema == nil {
		return "it has no schema"
	}
	if obs.Schema != schema && (obs.Schema.Name() != schema.Name() || strings.Join(obs.Schema.Fields(), ",") != strings.Join(schema.Fields(), ",")) {
		return fmt.Sprintf("its schema is %s %v, the Spec's %s %v", obs.Schema.Name(), obs.Schema.Fields(), schema.Name(), schema.Fields())
	}
	if len(obs.Values) != schema.Len() {
		return fmt.Sprintf("it has %d values for the %d fields %v", len(obs.Values), schema.Len(), schema.Fields())
	}
	for i, name := range schema.Fields() {
		v := obs.Values[i]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Sprintf("field %s is %v, not a finite number", name, v)
		}
		d, _ := schema.Describe(name)
		if d.High > d.Low {
			tol := 1e-9 * math.Max(1, d.High-d.Low)
			if v < d.Low-tol || v > d.High+tol {
				return fmt.Sprintf("field %s is %v, outside its bounds [%v, %v]", name, v, d.Low, d.High)
			}
		}
	}
	return ""
}

// checkEpisode checks what one episode did: the agents asked for, their
// observations and calls, the end, crashes and the metrics.
func checkEpisode(e env.Environment, ep *episode, f *findings) {
	if ep.startErr != nil {
		f.fail(Completes, "Start(seed %d) returned an error: %v", ep.seed, ep.startErr)
		return
	}
	for _, id := range ep.unknown {
		f.fail(Agents, "episode seed %d asked for agent %s, which PossibleAgents does not name", ep.seed, id)
	}
	for _, id := range ep.twice {
		f.fail(Agents, "episode seed %d asked for agent %s's algorithm more than once", ep.seed, id)
	}
	if len(ep.crashes) > 0 {
		c := ep.crashes[0]
		f.fail(Crash, "episode seed %d: actor %v panicked at t=%v: %s\n%s", ep.seed, c.Actor, c.At, c.Value, firstLines(c.Stack, 12))
	}
	switch {
	case ep.done:
	case ep.capped:
		f.fail(Completes, "episode seed %d did not end within %d delivered messages (t=%v)", ep.seed, ep.events, ep.end)
	case ep.quiet:
		f.fail(Completes, "episode seed %d did not end: its actors went quiet at t=%v (no message or timer left) and Done was never closed", ep.seed, ep.end)
	default:
		f.fail(Completes, "episode seed %d did not end before the time limit (t=%v)", ep.seed, ep.end)
	}
	acted := 0
	for _, id := range ep.order {
		r := ep.agents[id]
		spec := e.Spec(id)
		if r.badMask != "" {
			f.fail(Masks, "episode seed %d: %s", ep.seed, r.badMask)
		}
		for k, c := range r.calls {
			if c.kind == callSample {
				continue
			}
			if spec.Observation != nil {
				if why := fits(c.obs, spec.Observation); why != "" {
					f.fail(Specs, "episode seed %d: agent %s's observation %d (%s): %s", ep.seed, id, k, c.kind, why)
				}
			}
			if math.IsNaN(c.reward) || math.IsInf(c.reward, 0) {
				f.fail(Specs, "episode seed %d: agent %s's reward %d is %v, not a finite number", ep.seed, id, k, c.reward)
			}
		}
		if why := protocol(r.calls, ep.done); why != "" {
			f.fail(Protocol, "episode seed %d: agent %s: %s (its calls: %s)", ep.seed, id, why, callNames(r.calls))
		}
		if len(r.calls) > 0 {
			acted++
		}
	}
	if ep.midMetrics != nil {
		f.fail(Metrics, "episode seed %d: Metrics panicked: %v", ep.seed, ep.midMetrics)
	}
	if ep.done {
		if len(ep.metrics) == 0 {
			f.fail(Metrics, "episode seed %d ended with no metrics", ep.seed)
		}
		for _, name := range ep.metrics.Names() {
			v := ep.metrics[name]
			if name == "" || math.IsNaN(v) || math.IsInf(v, 0) {
				f.fail(Metrics, "episode seed %d: metric %q is %v, not a finite number", ep.seed, name, v)
			}
		}
	}
}

// protocol reports how calls break the LearningAlgorithm contract, or "".
func protocol(calls []call, done bool) string {
	if len(calls) == 0 {
		return ""
	}
	if calls[0].kind != callInit {
		return fmt.Sprintf("its first call is %s, not InitAgent", calls[0].kind)
	}
	for i := 1; i < len(calls); i++ {
		prev, c := calls[i-1], calls[i]
		switch {
		case prev.kind == callUpdate && prev.obs.Terminal:
			return fmt.Sprintf("call %d (%s) comes after the Terminal Update", i, c.kind)
		case c.kind == callInit:
			return fmt.Sprintf("call %d is a second InitAgent in one episode", i)
		case c.kind == callSample && prev.kind == callSample:
			return fmt.Sprintf("call %d is a SampleAction with no Update for the previous action", i)
		case c.kind == callUpdate && prev.kind != callSample:
			return fmt.Sprintf("call %d is an Update with no action before it", i)
		}
	}
	last := calls[len(calls)-1]
	if done && !(last.kind == callUpdate && last.obs.Terminal) {
		return "the episode ended and the agent's last call was not an Update with a Terminal observation: its last action got no reward"
	}
	return ""
}

func callNames(calls []call) string {
	var b strings.Builder
	for i, c := range calls {
		if i == 12 && len(calls) > 14 {
			fmt.Fprintf(&b, " ... (%d more)", len(calls)-12)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.kind.String())
		if c.kind == callUpdate && c.obs.Terminal {
			b.WriteString("(terminal)")
		}
	}
	return b.String()
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// checkMetricNames checks that every ended episode reports the same metrics.
func checkMetricNames(eps []*episode, f *findings) {
	var first *episode
	for _, ep := range eps {
		if !ep.done {
			continue
		}
		if first == nil {
			first = ep
			continue
		}
		if a, b := strings.Join(first.metrics.Names(), ","), strings.Join(ep.metrics.Names(), ","); a != b {
			f.fail(Metrics, "episode seed %d reported metrics %s, episode seed %d %s", first.seed, a, ep.seed, b)
		}
	}
}
