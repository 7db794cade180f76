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
// observations go through a.Observe and its actions through a.Act. The
// learner's optional interfaces (Trainable, Episodic, Model, ...) are found
// through the wrapper with As.
func Adapt(inner Policy, a Adapter, native ActionSpace) Policy {
	return &adapted{inner: inner, a: a, native: native}
}

type adapted struct {
	inner  Policy
	a      Adapter
	native ActionSpace
}

func (p *adapted) Name() string   { return p.inner.Name() }
func (p *adapted) Unwrap() Policy { return p.inner }

func (p *adapted) NewAgent(id AgentID) LearningAlgorithm {
	return &adaptedAgent{inner: p.inner.NewAgent(id), p: p}
}

type adaptedAgent struct {
	inner LearningAlgorithm
	p     *adapted
	last  Observation // the agent's own latest observation
}

func (g *adaptedAgent) InitAgent(obs Observation) {
	g.last = obs
	g.inner.InitAgent(g.p.a.Observe(obs))
}

func (g *adaptedAgent) IsLearning() bool { return g.inner.IsLearning() }

func (g *adaptedAgent) SampleAction() Action { return g.p.a.Act(g.last, g.inner.SampleAction()) }

func (g *adaptedAgent) Update(obs Observation, reward float64) {
	g.last = obs
	g.inner.Update(g.p.a.Observe(obs), reward)
}

// ActionProbabilities spreads the learner's distribution over its actions
// onto the agent's actions they map to. It allocates a slice as long as the
// agent's action space; the learner's own distribution is cheaper to read
// where that is large (Unwrap the policy and ask its agents).
func (g *adaptedAgent) ActionProbabilities() []float64 {
	probs := g.inner.ActionProbabilities()
	out := make([]float64, g.p.native.N)
	spec := g.p.a.Spec().Actions
	for i, pi := range probs {
		if pi == 0 {
			continue
		}
		j := g.p.native.Index(g.p.a.Act(g.last, spec.Action(i)))
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
