package learning

import "fmt"

// Adapter presents an environment's agents to a generic learner as other
// observations and actions, as gym's ObservationWrapper and ActionWrapper do
// together: the learner sees features that carry over between scenarios and
// chooses among a few actions, which the adapter turns into the agent's own.
// An environment offers its adapters by name (env.Adaptable).
type Adapter interface {
	// Spec is what the learner is made for: its observation schema and
	// action space (Seed unset).
	Spec() Spec
	// Observe maps the agent's observation onto the learner's, Mask
	// included.
	Observe(obs Observation) Observation
	// Act maps the learner's action, chosen on Observe(obs), onto the
	// agent's.
	Act(obs Observation, a Action) Action
}

// AgentAdapter is implemented by an adapter whose mapping depends on an
// agent's history (a self-scheduling technique's batches and its
// measurements, say): Adapt gives each agent the Adapter ForAgent returns
// for it, which then sees that agent's observations and actions only. If
// that Adapter has a method BeginAgent(), it is called when the agent
// starts an episode (InitAgent), before its first observation is mapped.
//
// An adapter (the shared one) that keeps state across agents for an
// episode implements Episodic: the policies Adapt makes pass on
// BeginEpisode and EndEpisode to it, as they do to the learner's policy.
// Those calls may come more than once per episode (once per policy of a
// team of independent learners), so they must be idempotent.
type AgentAdapter interface {
	Adapter
	ForAgent(id AgentID) Adapter
}

// Wrapper is implemented by a policy that wraps another (Adapt's, say), so
// that what the inner policy implements (Trainable, Episodic, Model, ...)
// can be found through it with As.
type Wrapper interface {
	Unwrap() Policy
}

// As finds the first policy in p's chain of wrappers, p included, that
// implements T, as errors.As does for errors.
func As[T any](p Policy) (T, bool) {
	for p != nil {
		if t, ok := p.(T); ok {
			return t, true
		}
		w, ok := p.(Wrapper)
		if !ok {
			break
		}
		p = w.Unwrap()
	}
	var zero T
	return zero, false
}

// Adapt wraps a generic learner's policy, made for a.Spec(), so that its
// agents drive agents whose own actions are in native: each agent's
// observations go through a.Observe and its actions through a.Act (through
// its own adapter, if a is an AgentAdapter). The learner's optional
// interfaces (Trainable, Episodic, Model, ...) are found through the
// wrapper with As. If the adapter is Episodic, so is the wrapper: it passes
// episode ends on to the adapter and to the learner's policy.
func Adapt(inner Policy, a Adapter, native ActionSpace) Policy {
	p := &adapted{inner: inner, a: a, native: native}
	if _, ok := a.(Episodic); ok {
		return &episodicAdapted{p}
	}
	return p
}

type adapted struct {
	inner  Policy
	a      Adapter
	native ActionSpace
}

func (p *adapted) Name() string   { return p.inner.Name() }
func (p *adapted) Unwrap() Policy { return p.inner }

// episodicAdapted is an adapted policy whose adapter is Episodic.
type episodicAdapted struct{ *adapted }

// BeginEpisode tells the adapter, then the learner's policy.
func (p *episodicAdapted) BeginEpisode() {
	if e, ok := p.a.(Episodic); ok {
		e.BeginEpisode()
	}
	if e, ok := As[Episodic](p.inner); ok {
		e.BeginEpisode()
	}
}

// EndEpisode tells the learner's policy, then the adapter.
func (p *episodicAdapted) EndEpisode() {
	if e, ok := As[Episodic](p.inner); ok {
		e.EndEpisode()
	}
	if e, ok := p.a.(Episodic); ok {
		e.EndEpisode()
	}
}

func (p *adapted) NewAgent(id AgentID) LearningAlgorithm {
	a := p.a
	if aa, ok := a.(AgentAdapter); ok {
		a = aa.ForAgent(id)
	}
	return &adaptedAgent{inner: p.inner.NewAgent(id), p: p, a: a}
}

type adaptedAgent struct {
	inner LearningAlgorithm
	p     *adapted
	a     Adapter     // the agent's own adapter (p.a, or its ForAgent)
	last  Observation // the agent's own latest observation
}

func (g *adaptedAgent) InitAgent(obs Observation) {
	if b, ok := g.a.(interface{ BeginAgent() }); ok {
		b.BeginAgent()
	}
	g.last = obs
	g.inner.InitAgent(g.a.Observe(obs))
}

func (g *adaptedAgent) IsLearning() bool { return g.inner.IsLearning() }

func (g *adaptedAgent) SampleAction() Action { return g.a.Act(g.last, g.inner.SampleAction()) }

func (g *adaptedAgent) Update(obs Observation, reward float64) {
	g.last = obs
	g.inner.Update(g.a.Observe(obs), reward)
}

// ActionProbabilities spreads the learner's distribution over its actions
// onto the agent's actions they map to. It allocates a slice as long as the
// agent's action space; the learner's own distribution is cheaper to read
// where that is large (Unwrap the policy and ask its agents).
func (g *adaptedAgent) ActionProbabilities() []float64 {
	probs := g.inner.ActionProbabilities()
	out := make([]float64, g.p.native.N)
	spec := g.a.Spec().Actions
	for i, pi := range probs {
		if pi == 0 {
			continue
		}
		j := g.p.native.Index(g.a.Act(g.last, spec.Action(i)))
		if j < 0 || j >= len(out) {
			panic(fmt.Sprintf("learning: adapter maps action %d onto %d, outside the agent's action space", spec.Action(i), g.p.native.Action(j)))
		}
		out[j] += pi
	}
	return out
}

func (g *adaptedAgent) AgentJoined(id AgentID) { g.inner.AgentJoined(id) }
func (g *adaptedAgent) AgentLeft(id AgentID)   { g.inner.AgentLeft(id) }

// UsesMembership implements MembershipUser for the learner it wraps.
func (g *adaptedAgent) UsesMembership() bool { return UsesMembership(g.inner) }
