package envtest

import (
	"fmt"
	"math"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/learning"
)

// difference describes the first way two episodes differ, or "".
func difference(a, b *episode) string {
	if a.startErr != nil || b.startErr != nil {
		return ""
	}
	for i := range min(len(a.trace), len(b.trace)) {
		if a.trace[i] != b.trace[i] {
			return fmt.Sprintf("message %d delivered: %v, then %v", i, a.trace[i], b.trace[i])
		}
	}
	if len(a.trace) != len(b.trace) {
		return fmt.Sprintf("%d messages delivered, then %d", len(a.trace), len(b.trace))
	}
	if !slices.Equal(a.order, b.order) {
		return fmt.Sprintf("agents asked for in the order %v, then %v", a.order, b.order)
	}
	for _, id := range a.order {
		x, y := a.agents[id].calls, b.agents[id].calls
		for i := range min(len(x), len(y)) {
			if !sameCall(x[i], y[i]) {
				return fmt.Sprintf("agent %s's call %d: %s, then %s", id, i, describe(x[i]), describe(y[i]))
			}
		}
		if len(x) != len(y) {
			return fmt.Sprintf("agent %s had %d calls, then %d", id, len(x), len(y))
		}
	}
	for _, name := range a.metrics.Names() {
		if math.Float64bits(a.metrics[name]) != math.Float64bits(b.metrics[name]) {
			return fmt.Sprintf("metric %s = %v, then %v", name, a.metrics[name], b.metrics[name])
		}
	}
	if len(a.metrics) != len(b.metrics) {
		return fmt.Sprintf("metrics %v, then %v", a.metrics.Names(), b.metrics.Names())
	}
	if a.done != b.done || a.end != b.end {
		return fmt.Sprintf("ended (%v) at t=%v, then (%v) at t=%v", a.done, a.end, b.done, b.end)
	}
	return ""
}

func sameCall(x, y call) bool {
	if x.kind != y.kind || x.action != y.action || math.Float64bits(x.reward) != math.Float64bits(y.reward) ||
		x.obs.Terminal != y.obs.Terminal || len(x.obs.Values) != len(y.obs.Values) || !slices.Equal(x.obs.Mask, y.obs.Mask) {
		return false
	}
	for i := range x.obs.Values {
		if math.Float64bits(x.obs.Values[i]) != math.Float64bits(y.obs.Values[i]) {
			return false
		}
	}
	return true
}

func describe(c call) string {
	switch c.kind {
	case callSample:
		return fmt.Sprintf("SampleAction -> %d", c.action)
	case callUpdate:
		return fmt.Sprintf("Update(%v, reward %v)", c.obs.Values, c.reward)
	}
	return fmt.Sprintf("InitAgent(%v)", c.obs.Values)
}

// checkReproducible compares the first episode with its rerun, and with
// the episodes of the other seeds.
func checkReproducible(eps []*episode, again *episode, f *findings) {
	if d := difference(eps[0], again); d != "" {
		f.fail(Reproducible, "two episodes of seed %d, with the same agents' choices, differ: %s", eps[0].seed, d)
		return
	}
	if len(eps) < 2 {
		f.note(Reproducible, "one seed only: other seeds not compared")
		return
	}
	for _, ep := range eps[1:] {
		if difference(eps[0], ep) != "" {
			return
		}
	}
	seeds := make([]uint64, len(eps))
	for i, ep := range eps {
		seeds[i] = ep.seed
	}
	f.fail(Reproducible, "the episodes of seeds %v, with the same agents' choices, are identical: the environment ignores its seed", seeds)
}

// checkMembership checks, episode by episode, that the agents' algorithms
// were told of the agents that joined and left the Roster while they were
// in it. An actor is in the Roster from the moment the Roster handles its
// env.Join until it stops (or the run ends); the Roster tells the others
// at once, and messages in the simulator take no time, so an agent still
// in the Roster at a later time than a join or a stop has been told.
func checkMembership(e env.Environment, eps []*episode, f *findings) {
	possible := map[learning.AgentID]bool{}
	for _, id := range e.PossibleAgents() {
		possible[id] = true
	}
	pairs := 0
	for _, ep := range eps {
		acting := 0
		for _, r := range ep.agents {
			if len(r.calls) > 0 {
				acting++
			}
			// Told of valid agents, joins and leaves in turn.
			state := map[learning.AgentID]bool{}
			for _, t := range r.told {
				switch {
				case !possible[t.id]:
					f.fail(Membership, "episode seed %d: agent %s was told that %s joined or left, which PossibleAgents does not name", ep.seed, r.id, t.id)
				case t.id == r.id:
					f.fail(Membership, "episode seed %d: agent %s was told that it joined or left itself", ep.seed, r.id)
				case t.joined && state[t.id]:
					f.fail(Membership, "episode seed %d: agent %s was told twice that %s joined, with no leave between", ep.seed, r.id, t.id)
				case !t.joined && !state[t.id]:
					f.fail(Membership, "episode seed %d: agent %s was told that %s left before being told it joined", ep.seed, r.id, t.id)
				}
				state[t.id] = t.joined
			}
		}
		if acting >= 2 && len(ep.joins) == 0 {
			f.fail(Membership, "episode seed %d: %d agents acted and none of their actors joined an env.Roster", ep.seed, acting)
			continue
		}
		joined := map[learning.AgentID]bool{}
		for _, j := range ep.joins {
			joined[j.id] = true
		}
		for _, id := range ep.order {
			if len(ep.agents[id].calls) > 0 && !joined[id] && len(ep.joins) > 0 {
				f.fail(Membership, "episode seed %d: agent %s acted and its actor never joined the env.Roster", ep.seed, id)
			}
		}
		end := func(j *join) float64 {
			if j.stopped >= 0 {
				return j.stopped
			}
			return ep.end
		}
		for _, x := range ep.joins {
			rx := ep.agents[x.id]
			if rx == nil {
				continue
			}
			for _, y := range ep.joins {
				if y == x || y.id == x.id {
					continue
				}
				if from, to := math.Max(x.at, y.at), math.Min(end(x), end(y)); to > from {
					pairs++
					if !rx.wasTold(true, y.id) {
						f.fail(Membership, "episode seed %d: agent %s (in the Roster from t=%v to t=%v) was not told that %s joined (in the Roster from t=%v to t=%v)", ep.seed, x.id, x.at, end(x), y.id, y.at, end(y))
					}
				}
				if y.stopped >= 0 && x.at < y.stopped && end(x) > y.stopped {
					if !rx.wasTold(false, y.id) {
						f.fail(Membership, "episode seed %d: agent %s (in the Roster from t=%v to t=%v) was not told that %s left (its actor stopped at t=%v)", ep.seed, x.id, x.at, end(x), y.id, y.stopped)
					}
				}
			}
		}
	}
	if pairs == 0 {
		f.note(Membership, "no two agents were in the Roster together: joins and leaves not exercised")
	}
}

func (r *recorder) wasTold(joined bool, id learning.AgentID) bool {
	for _, t := range r.told {
		if t.joined == joined && t.id == id {
			return true
		}
	}
	return false
}

// maxAdapted is how many recorded observations each adapter maps.
const maxAdapted = 300

// checkAdapters checks an Adaptable environment's adapters on the
// observations the episodes recorded. It returns why it skipped, if it did.
func checkAdapters(e env.Environment, eps []*episode, f *findings) string {
	ad, ok := e.(env.Adaptable)
	if !ok {
		return "the environment offers no adapters (env.Adaptable)"
	}
	names := ad.Adapters()
	if len(names) == 0 {
		f.fail(Adapters, "Adapters() is empty: an Adaptable environment offers at least one")
		return ""
	}
	type sample struct {
		id  learning.AgentID
		obs learning.Observation
	}
	var samples []sample
	for _, ep := range eps {
		for _, id := range ep.order {
			for _, c := range ep.agents[id].calls {
				if c.kind != callSample && len(samples) < maxAdapted {
					samples = append(samples, sample{id, c.obs})
				}
			}
		}
	}
	seen := map[string]bool{}
	if _, err := ad.Adapter(""); err != nil {
		f.fail(Adapters, `Adapter("") (the default) returned an error: %v`, err)
	}
	const bogus = "envtest-no-such-adapter"
	if _, err := ad.Adapter(bogus); err == nil {
		f.fail(Adapters, "Adapter(%q) returned no error", bogus)
	}
	for _, name := range names {
		if seen[name] {
			f.fail(Adapters, "Adapters() names %q twice", name)
		}
		seen[name] = true
		a, err := ad.Adapter(name)
		if err != nil {
			f.fail(Adapters, "Adapter(%q), which Adapters() names, returned an error: %v", name, err)
			continue
		}
		spec := a.Spec()
		if spec.Observation == nil || spec.Actions.N < 1 {
			f.fail(Adapters, "adapter %q's Spec has no schema or no action", name)
			continue
		}
		for _, s := range samples {
			if why := adapt(a, s.obs, e.Spec(s.id).Actions); why != "" {
				f.fail(Adapters, "adapter %q, agent %s's observation %v mask %v: %s", name, s.id, s.obs.Values, s.obs.Mask, why)
				break
			}
		}
	}
	return ""
}

// adapt maps obs and every allowed learner action through a, and reports
// what is wrong, or "".
func adapt(a learning.Adapter, obs learning.Observation, native learning.ActionSpace) (why string) {
	defer func() {
		if r := recover(); r != nil {
			why = fmt.Sprintf("the adapter panicked: %v\n%s", r, firstLines(string(debug.Stack()), 12))
		}
	}()
	spec := a.Spec()
	o := a.Observe(obs.Clone())
	if w := fits(o, spec.Observation); w != "" {
		return "Observe returned an observation that does not fit the adapter's schema: " + w
	}
	if o.Terminal != obs.Terminal {
		return fmt.Sprintf("Observe turned Terminal %v into %v", obs.Terminal, o.Terminal)
	}
	if o.Mask != nil {
		allowed := 0
		for i := range spec.Actions.N {
			if o.Allowed(i) {
				allowed++
			}
		}
		if len(o.Mask) != spec.Actions.N || allowed == 0 {
			return fmt.Sprintf("Observe returned the mask %v for the adapter's %d actions", o.Mask, spec.Actions.N)
		}
	}
	for k := range spec.Actions.N {
		if !o.Allowed(k) {
			continue
		}
		act := a.Act(obs.Clone(), spec.Actions.Action(k))
		if !native.Contains(act) {
			return fmt.Sprintf("Act maps learner action %d onto %d, outside the agent's action space (%d to %d)", spec.Actions.Action(k), act, native.Start, native.Start+native.N-1)
		}
		if !obs.Allowed(native.Index(act)) {
			return fmt.Sprintf("Act maps learner action %d onto %d, which the agent's mask forbids", spec.Actions.Action(k), act)
		}
	}
	return ""
}

// runLive runs one episode in the live runtime, reading Metrics
// concurrently all along.
func runLive(e env.Environment, o Options) (v Verdict) {
	v.Contract = Live
	fail := func(format string, args ...any) Verdict {
		v.Problem = fmt.Sprintf("contract %q broken: %s.\nFix: %s.", Live, fmt.Sprintf(format, args...), fixes[Live])
		return v
	}
	seed := o.Seeds[0]
	rt := actors.NewLive(actors.LiveOptions{Scale: o.LiveScale, Seed: seed})
	defer rt.Close()
	var mu sync.Mutex
	agents := map[learning.AgentID]*recorder{}
	ep, err := func() (ep env.Episode, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("the environment's Start panicked: %v", r)
			}
		}()
		return e.Start(rt, seed, func(id learning.AgentID) learning.LearningAlgorithm {
			mu.Lock()
			defer mu.Unlock()
			if r, ok := agents[id]; ok {
				return r
			}
			r := newRecorder(id, e.Spec(id), 7)
			agents[id] = r
			return r
		})
	}()
	if err != nil {
		return fail("Start(seed %d) on the live runtime: %v", seed, err)
	}
	stop := make(chan struct{})
	polled := make(chan any, 1)
	go func() {
		defer func() { polled <- recover() }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			ep.Metrics()
			time.Sleep(200 * time.Microsecond)
		}
	}()
	timeout := time.NewTimer(o.LiveTimeout)
	defer timeout.Stop()
	done := false
	select {
	case <-ep.Done():
		done = true
	case <-rt.Crashed():
	case <-timeout.C:
	}
	close(stop)
	if r := <-polled; r != nil {
		return fail("Metrics, read while the live episode ran, panicked: %v", r)
	}
	if c := rt.Crashes(); len(c) > 0 {
		return fail("live episode seed %d: actor %v panicked at t=%v: %s\n%s", seed, c[0].Actor, c[0].At, c[0].Value, firstLines(c[0].Stack, 12))
	}
	if !done {
		return fail("live episode seed %d did not end within %v (time unit %v)", seed, o.LiveTimeout, o.LiveScale)
	}
	for name, x := range ep.Metrics() {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fail("live episode seed %d: metric %q is %v", seed, name, x)
		}
	}
	if !raceEnabled {
		v.Note = "built without -race: data races were not looked for"
	}
	return v
}
