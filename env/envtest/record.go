package envtest

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"reflect"
	"sync"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/learning"
)

// callKind names a LearningAlgorithm call a recorder saw.
type callKind uint8

const (
	callInit callKind = iota + 1
	callSample
	callUpdate
)

func (k callKind) String() string {
	return [...]string{"?", "InitAgent", "SampleAction", "Update"}[k]
}

// call is one call of the LearningAlgorithm contract as a recorder saw it.
type call struct {
	kind   callKind
	obs    learning.Observation // InitAgent, Update
	reward float64              // Update
	action learning.Action      // SampleAction
}

// told is one AgentJoined or AgentLeft call.
type told struct {
	joined bool
	id     learning.AgentID
}

// recorder is the suite's agent: it chooses uniformly among the actions
// the latest observation allows and records every call.
type recorder struct {
	id    learning.AgentID
	spec  learning.Spec
	rng   *rand.Rand
	mu    sync.Mutex // calls for one agent never overlap; the suite reads after the run
	calls []call
	told  []told
	last  learning.Observation
	// badMask is the first malformed mask the agent was offered.
	badMask string
}

func newRecorder(id learning.AgentID, spec learning.Spec, seed uint64) *recorder {
	h := fnv.New64a()
	h.Write([]byte(id))
	return &recorder{id: id, spec: spec, rng: rand.New(rand.NewPCG(seed, h.Sum64()))}
}

func (r *recorder) see(kind callKind, obs learning.Observation, reward float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	obs = obs.Clone()
	r.calls = append(r.calls, call{kind: kind, obs: obs, reward: reward})
	r.last = obs
	if obs.Mask != nil && r.badMask == "" {
		allowed := 0
		for i := range r.spec.Actions.N {
			if obs.Allowed(i) {
				allowed++
			}
		}
		switch {
		case len(obs.Mask) != r.spec.Actions.N:
			r.badMask = fmt.Sprintf("agent %s was offered a mask of %d entries for %d actions: %v", r.id, len(obs.Mask), r.spec.Actions.N, obs.Mask)
		case allowed == 0:
			r.badMask = fmt.Sprintf("agent %s was offered a mask that allows no action: %v", r.id, obs.Mask)
		}
	}
}

func (r *recorder) InitAgent(obs learning.Observation) { r.see(callInit, obs, 0) }

func (r *recorder) Update(obs learning.Observation, reward float64) { r.see(callUpdate, obs, reward) }

func (r *recorder) IsLearning() bool { return true }

// SampleAction draws uniformly among the allowed actions (among all of
// them if the mask allows none, which the masks contract reports).
func (r *recorder) SampleAction() learning.Action {
	r.mu.Lock()
	defer r.mu.Unlock()
	sp := r.spec.Actions
	var ok []int
	if r.last.Mask != nil {
		for i := range sp.N {
			if r.last.Allowed(i) {
				ok = append(ok, i)
			}
		}
	}
	i := 0
	if len(ok) > 0 {
		i = ok[r.rng.IntN(len(ok))]
	} else if sp.N > 0 {
		i = r.rng.IntN(sp.N)
	}
	a := sp.Action(i)
	r.calls = append(r.calls, call{kind: callSample, action: a})
	return a
}

func (r *recorder) ActionProbabilities() []float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	sp := r.spec.Actions
	p := make([]float64, sp.N)
	n := 0
	for i := range p {
		if r.last.Allowed(i) {
			n++
		}
	}
	for i := range p {
		if r.last.Allowed(i) {
			p[i] = 1 / float64(n)
		}
	}
	return p
}

// UsesMembership is true: the suite's agents want to be told of joins and
// leaves, whichever optimisation skips agents that do not.
func (r *recorder) UsesMembership() bool { return true }

func (r *recorder) AgentJoined(id learning.AgentID) {
	r.mu.Lock()
	r.told = append(r.told, told{joined: true, id: id})
	r.mu.Unlock()
}

func (r *recorder) AgentLeft(id learning.AgentID) {
	r.mu.Lock()
	r.told = append(r.told, told{joined: false, id: id})
	r.mu.Unlock()
}

// event is a delivered message as the suite keeps it: the message's type,
// not its content (which may hold pointers and functions).
type event struct {
	at       float64
	seq      uint64
	from, to actors.Addr
	msg      string
}

func (e event) String() string {
	return fmt.Sprintf("t=%v #%d %v -> %v %s", e.at, e.seq, e.from, e.to, e.msg)
}

// join is an actor's joining the Roster, and its stop.
type join struct {
	id      learning.AgentID
	addr    actors.Addr
	at      float64
	stopped float64 // -1: not stopped before the run's end
}

// episode is one simulated run of the environment with the suite's agents.
type episode struct {
	seed, policy uint64
	startErr     error
	done         bool
	quiet        bool // the simulator ran out of events before the end
	capped       bool // it hit Options.MaxEvents
	end          float64
	events       int
	metrics      env.Metrics
	midMetrics   any // a panic from Metrics during the run, if any
	crashes      []actors.Crash
	trace        []event
	joins        []*join
	agents       map[learning.AgentID]*recorder
	order        []learning.AgentID // in the order they were asked for
	unknown      []learning.AgentID // asked for, not among PossibleAgents
	twice        []learning.AgentID // asked for more than once
}

// simulate runs one episode of e in a fresh simulator seeded with seed,
// with agents whose random draws derive from policy.
func simulate(e env.Environment, seed, policy uint64, o Options) *episode {
	ep := &episode{seed: seed, policy: policy, agents: map[learning.AgentID]*recorder{}}
	possible := map[learning.AgentID]bool{}
	for _, id := range e.PossibleAgents() {
		possible[id] = true
	}
	sim := actors.NewSim(seed)
	byAddr := map[actors.Addr]*join{}
	sim.SetTracer(func(t actors.TraceEvent) {
		ep.trace = append(ep.trace, event{at: t.At, seq: t.Seq, from: t.From, to: t.To, msg: typeName(t.Msg)})
		switch m := t.Msg.(type) {
		case env.Join:
			if _, dup := byAddr[t.From]; !dup && !t.From.IsZero() {
				j := &join{id: m.ID, addr: t.From, at: t.At, stopped: -1}
				byAddr[t.From] = j
				ep.joins = append(ep.joins, j)
			}
		case actors.Stopping:
			if j, ok := byAddr[t.To]; ok && j.stopped < 0 {
				j.stopped = t.At
			}
		}
	})
	agents := func(id learning.AgentID) learning.LearningAlgorithm {
		if !possible[id] {
			ep.unknown = append(ep.unknown, id)
		}
		if r, ok := ep.agents[id]; ok {
			ep.twice = append(ep.twice, id)
			return r
		}
		r := newRecorder(id, e.Spec(id), policy)
		ep.agents[id] = r
		ep.order = append(ep.order, id)
		return r
	}
	run, err := e.Start(sim, seed, agents)
	if err != nil {
		ep.startErr = err
		return ep
	}
	limit := o.Limit
	if limit <= 0 {
		limit = inf
	}
	ep.done = env.IsDone(run)
	if !ep.done {
		sim.RunUntil(limit, func() bool {
			ep.events++
			if ep.events == 10 {
				func() {
					defer func() { ep.midMetrics = recover() }()
					run.Metrics()
				}()
			}
			if env.IsDone(run) {
				ep.done = true
				return true
			}
			if ep.events >= o.MaxEvents {
				ep.capped = true
				return true
			}
			return false
		})
	}
	ep.quiet = !ep.done && !ep.capped && sim.Pending() == 0
	ep.end = sim.Now()
	ep.crashes = sim.Crashes()
	func() {
		defer func() {
			if r := recover(); r != nil {
				ep.midMetrics = r
			}
		}()
		ep.metrics = run.Metrics()
	}()
	return ep
}

func typeName(v any) string {
	if v == nil {
		return "<nil>"
	}
	if err, ok := v.(error); ok {
		return "error: " + err.Error()
	}
	return reflect.TypeOf(v).String()
}
