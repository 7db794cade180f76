// Package policygradient is REINFORCE with a learned baseline: a learning
// algorithm for the agents of any environment with numeric observations and
// a discrete action space.
//
// The state is the observation vector, or the Config's Inputs taken from it
// and scaled; the environment's adapter decides what the fields are. The
// actions are the positions of the environment's learning.ActionSpace. A
// policy network (an MLP: Config.Hidden layers, then one logit per action)
// gives a softmax distribution that learning agents sample, each from its
// own random source or, with Config.Coordinated, all from the episode's
// common Gumbel noise; agents that are not learning take its most likely
// action. A value network of the same hidden shape estimates the return
// from a state and serves as the baseline.
//
// With Config.Head HeadBeta ("pg-beta"), the policy is continuous instead:
// the network gives the two parameters of a Beta distribution on [0, 1],
// whose draw picks the action of the part of [0, 1] it falls in, the
// actions standing, in order, for equal parts of an interval (an ordered
// action space, such as a fraction on a fine scale: see HeadBeta). It
// learns from the density of the draw.
//
// Learning happens once per episode, at EndEpisode, in one batched gradient
// step on every sample of every agent of the Policy: the discounted returns
// R are computed per agent (bootstrapped with the value estimate where an
// agent's experience stops without a terminal observation); the advantages
// A, R - V(x) with Config.Lambda 1 (the default) and GAE(Lambda) otherwise,
// are divided by their root mean square, kept as a running average across
// batches (the value baseline centres them; re-centring each batch would
// erase what matters when agents share an outcome: how this episode went
// compared with the others); and the loss
//
//	-mean(A log pi(a|x)) - Entropy*mean(H(pi(.|x))) + mean((V(x) - R)^2)/2
//
// (R being A + V(x) below Lambda 1) is minimised by Adam (this package's
// own, on the gradients gorgonia computes), each network with its own
// learning rate and gradient-norm clip. Since the two networks share no
// parameters and Adam ignores the scale of a gradient, the value term needs
// no weight of its own. The value network learns the returns as they are,
// so rewards of order 1 suit it best; the policy's step does not depend on
// their scale.
//
// Speed: agents act with a plain-Go forward pass over the same weight
// arrays that back the gorgonia tensors; gorgonia runs once per episode, on
// one graph per Policy that is built for a batch size and rebuilt only when
// a batch outgrows it (the rows a batch does not fill weigh nothing).
//
// A Policy is one pair of networks: every agent it makes shares them and
// learns into them (parameter sharing); make one Policy per agent for
// independent learners. Each agent keeps its own episode's experience and
// draws its actions from its own random source, seeded from the spec's seed
// and its ID (with Coordinated, from noise that depends on the seed, the
// episode and the draw's number), so that the same seed and calls give the
// same results.
//
// This package depends on learning, gorgonia, and gonum's special
// functions (the Beta head's). It must not depend on actors, env or any
// environment.
package policygradient

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/marlon-go/marlon/learning"
)

// Policy is a policy network, its value baseline and the agents that share
// them. It implements learning.Policy, learning.Episodic,
// learning.Trainable, learning.Model, learning.Distributed and
// learning.Resumable (its update state: the optimisers' moments, the
// running advantage scale and the episode count).
//
// Agents of one Policy may act concurrently. BeginEpisode and EndEpisode
// must not overlap the agents' calls, as in learning.Train.
type Policy struct {
	cfg      Config
	actions  learning.ActionSpace
	seed     uint64
	inputs   []int // observation index of each input
	learning atomic.Bool

	mu            sync.RWMutex // guards the networks and, at episode ends, the agents
	policy, value *mlp
	policyOpt     *adam
	valueOpt      *adam
	agents        []*agent   // sorted by ID: the batch order
	graph         *lossGraph // nil until the first update
	bufA, bufB    []float64  // forward buffers for EndEpisode
	adv, vals     []float64  // advantages and baseline values of a batch
	advMS         float64    // running mean square of the advantages (0: no batch yet)
	episodes      int        // learning episodes ended, for Coordinated draws
	rollout       bool       // between BeginRollout and EndRollout
}

// New returns a Policy for spec, learning from the start.
func New(spec learning.Spec, cfg Config) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case spec.Observation == nil:
		return nil, fmt.Errorf("policygradient: spec.Observation is nil, want the observation schema")
	case spec.Actions.N < 1:
		return nil, fmt.Errorf("policygradient: spec.Actions.N = %d, want >= 1", spec.Actions.N)
	}
	if len(cfg.Inputs) == 0 {
		for _, f := range spec.Observation.Fields() {
			cfg.Inputs = append(cfg.Inputs, Input{Field: f, Scale: 1})
		}
	}
	if len(cfg.Inputs) == 0 {
		return nil, fmt.Errorf("policygradient: observation schema %q has no fields, want at least one input", spec.Observation.Name())
	}
	cfg.Inputs, cfg.Hidden = slices.Clone(cfg.Inputs), slices.Clone(cfg.Hidden)
	p := &Policy{cfg: cfg, actions: spec.Actions, seed: spec.Seed}
	for _, in := range cfg.Inputs {
		if err := spec.Observation.Require(in.Field); err != nil {
			return nil, fmt.Errorf("policygradient: Inputs: %w", err)
		}
		p.inputs = append(p.inputs, spec.Observation.Index(in.Field))
	}
	if cfg.Head == "" {
		cfg.Head = HeadSoftmax
	}
	p.cfg.Head = cfg.Head
	out := spec.Actions.N
	if cfg.Head == HeadBeta {
		out = 2 // a and b
	}
	rng := rand.New(rand.NewPCG(spec.Seed, 0))
	sizes := append(append([]int{len(cfg.Inputs)}, cfg.Hidden...), out)
	p.policy = newMLP(sizes, cfg.Activation, 0.01, rng) // small logits: a near-uniform start
	sizes[len(sizes)-1] = 1
	p.value = newMLP(sizes, cfg.Activation, 1, rng)
	p.resetOptimisers()
	w := max(p.policy.width(), p.value.width())
	p.bufA, p.bufB = make([]float64, w), make([]float64, w)
	p.learning.Store(true)
	return p, nil
}

func (p *Policy) resetOptimisers() {
	p.policyOpt = newAdam(p.policy.params(), p.cfg.PolicyLR, p.cfg.MaxGradNorm)
	p.valueOpt = newAdam(p.value.params(), p.cfg.ValueLR, p.cfg.MaxGradNorm)
}

// Name is "pg", or "pg-beta" with the Beta head.
func (p *Policy) Name() string {
	if p.beta() {
		return "pg-beta"
	}
	return "pg"
}

func (p *Policy) beta() bool { return p.cfg.Head == HeadBeta }

// NewAgent returns agent id's handle on the networks.
func (p *Policy) NewAgent(id learning.AgentID) learning.LearningAlgorithm {
	a := p.newAgent(id)
	p.mu.Lock()
	i := sort.Search(len(p.agents), func(i int) bool { return p.agents[i].id > id })
	p.agents = slices.Insert(p.agents, i, a)
	p.mu.Unlock()
	return a
}

// newAgent makes agent id's handle, not yet listed among the policy's.
func (p *Policy) newAgent(id learning.AgentID) *agent {
	h := fnv.New64a()
	h.Write([]byte(id))
	w := max(p.policy.width(), p.value.width())
	src := rand.NewPCG(p.seed, h.Sum64())
	return &agent{p: p, id: id, src: src, rng: rand.New(src),
		x: make([]float64, len(p.inputs)), bufA: make([]float64, w), bufB: make([]float64, w)}
}

// gumbel writes into g the Gumbel noise of the k-th draw of every agent in
// this episode, with Coordinated: a function of the seed, the episode's
// number and k only, so that agents acting in any order agree.
func (p *Policy) gumbel(k int, g []float64) {
	p.mu.RLock()
	e := p.episodes
	p.mu.RUnlock()
	rng := rand.New(rand.NewPCG(p.seed^0x9e3779b97f4a7c15*uint64(e+1), uint64(k)))
	for i := range g {
		g[i] = -math.Log(-math.Log(1 - rng.Float64())) // 1 - U is in (0, 1]
	}
}

// uniform is the common uniform draw of the k-th action of every agent in
// this episode, with Coordinated and the Beta head, as gumbel's noise.
func (p *Policy) uniform(k int) float64 {
	p.mu.RLock()
	e := p.episodes
	p.mu.RUnlock()
	return rand.New(rand.NewPCG(p.seed^0x9e3779b97f4a7c15*uint64(e+1), uint64(k))).Float64()
}

// SetLearning switches learning (sampling, recording and updating) on or
// off; off, agents take the most likely action.
func (p *Policy) SetLearning(on bool) { p.learning.Store(on) }

// IsLearning reports whether the policy learns.
func (p *Policy) IsLearning() bool { return p.learning.Load() }

// BeginEpisode discards any experience recorded outside an episode.
func (p *Policy) BeginEpisode() {
	p.mu.Lock()
	for _, a := range p.agents {
		a.reset()
	}
	p.mu.Unlock()
}

// EndEpisode learns from the episode's experience, if any, in one gradient
// step. It panics if gorgonia fails, which is a bug.
func (p *Policy) EndEpisode() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.IsLearning() {
		p.episodes++
	}
	n := 0
	for _, a := range p.agents {
		a.closeSegment(false)
		n += len(a.acts)
	}
	if n == 0 {
		return
	}
	if err := p.learn(n); err != nil {
		panic(err)
	}
	for _, a := range p.agents {
		a.reset()
	}
}

// advDecay is the weight of the latest batch in the running mean square of
// the advantages.
const advDecay = 0.1

// batchRows is the row count of a loss graph for n samples: n and an
// eighth more, in multiples of 64, so that a graph serves batches that vary
// a little and is rebuilt (which costs about as much as an update) rarely.
func batchRows(n int) int { return (n + n/8 + 63) / 64 * 64 }

// learn makes one gradient step on the n samples the agents hold. The
// caller holds p.mu.
func (p *Policy) learn(n int) error {
	if p.graph == nil || p.graph.rows < n {
		g, err := newHeadGraph(p.policy, p.value, batchRows(n), p.beta())
		if err != nil {
			return err
		}
		p.graph = g
	}
	p.fill(n)
	if err := p.graph.run(); err != nil {
		return err
	}
	pp, vp := p.policy.params(), p.value.params()
	grads := make([][]float64, len(pp)+len(vp))
	for i := range grads {
		grads[i] = p.graph.grad(i)
	}
	p.policyOpt.step(pp, grads[:len(pp)])
	p.valueOpt.step(vp, grads[len(pp):])
	return nil
}

// fill writes the agents' n samples into the loss graph's inputs: the
// inputs, the returns, the weighted actions and the constant shifts.
func (p *Policy) fill(n int) {
	lg := p.graph
	if p.beta() {
		p.fillBeta(n)
		return
	}
	x, pg, ent := lg.x.Data().([]float64), lg.pg.Data().([]float64), lg.ent.Data().([]float64)
	shift, ret, vw := lg.shift.Data().([]float64), lg.ret.Data().([]float64), lg.vw.Data().([]float64)
	mask := lg.mask.Data().([]float64)
	d, k := len(p.inputs), p.actions.N
	clear(x)
	clear(pg)
	clear(ent)
	clear(ret)
	clear(vw)
	clear(mask)

	// Baseline values, the largest logit of each row (for a stable
	// log-softmax), then the advantages and value targets.
	p.adv = slices.Grow(p.adv[:0], n)[:n]
	p.vals = slices.Grow(p.vals[:0], n)[:n]
	row := 0
	for _, a := range p.agents {
		copy(x[row*d:], a.xs)
		for j, ok := range a.allowed {
			if !ok {
				mask[row*k+j] = maskedLogit
			}
		}
		row += len(a.acts)
	}
	for i := range n {
		xi := x[i*d : (i+1)*d]
		p.vals[i] = p.value.forward(xi, p.bufA, p.bufB)[0]
		z := p.policy.forward(xi, p.bufA, p.bufB)
		shift[i] = math.Inf(-1)
		for j, v := range z {
			if mask[i*k+j] == 0 {
				shift[i] = max(shift[i], v)
			}
		}
	}
	p.advantages(n, ret)
	i := 0
	for _, a := range p.agents {
		for t, act := range a.acts {
			pg[(i+t)*k+act] = 1 // the advantage multiplies it below
		}
		i += len(a.acts)
	}
	rms := math.Sqrt(p.advMS)
	for i := range n {
		w := p.adv[i] / (rms + 1e-8) / float64(n)
		for j := i * k; j < (i+1)*k; j++ {
			pg[j] *= w
			ent[j] = p.cfg.Entropy / float64(n)
		}
		vw[i] = 0.5 / float64(n)
	}
	if n < lg.rows { // the unused rows are zero
		pad := slices.Max(p.policy.forward(make([]float64, d), p.bufA, p.bufB))
		for i := n; i < lg.rows; i++ {
			shift[i] = pad
		}
	}
}

// advantages computes, backwards through each segment of every agent's
// experience, the advantages by GAE(Lambda) into p.adv and the value
// targets into ret, from the baseline values in p.vals; with Lambda 1 the
// advantage is the discounted return minus the baseline and the target
// is the return itself. It then updates the running mean square of the
// advantages.
func (p *Policy) advantages(n int, ret []float64) {
	gamma, lambda := p.cfg.Gamma, p.cfg.Lambda
	i := 0
	for _, a := range p.agents {
		start := 0
		for _, s := range a.segs {
			next, gae := 0.0, 0.0
			if s.boot != nil {
				next = p.value.forward(s.boot, p.bufA, p.bufB)[0]
			}
			for t := s.end - 1; t >= start; t-- {
				v := p.vals[i+t]
				gae = a.rews[t] + gamma*next - v + gamma*lambda*gae
				p.adv[i+t], ret[i+t] = gae, gae+v
				next = v
			}
			start = s.end
		}
		i += len(a.acts)
	}
	// Advantages scaled by their running root mean square (not re-centred:
	// see the package doc).
	ms := 0.0
	for _, v := range p.adv {
		ms += v * v / float64(n)
	}
	if p.advMS == 0 {
		p.advMS = ms
	} else {
		p.advMS += advDecay * (ms - p.advMS)
	}
}

// fillBeta writes the agents' n samples into the Beta head's loss graph:
// the inputs, the returns, and per row the derivatives of the policy and
// entropy terms with respect to a and b (lossGraph).
func (p *Policy) fillBeta(n int) {
	lg := p.graph
	x, coef := lg.x.Data().([]float64), lg.coef.Data().([]float64)
	ret, vw := lg.ret.Data().([]float64), lg.vw.Data().([]float64)
	d := len(p.inputs)
	clear(x)
	clear(coef)
	clear(ret)
	clear(vw)
	p.adv = slices.Grow(p.adv[:0], n)[:n]
	p.vals = slices.Grow(p.vals[:0], n)[:n]
	us := make([]float64, 0, n)
	row := 0
	for _, a := range p.agents {
		copy(x[row*d:], a.xs)
		us = append(us, a.us...)
		row += len(a.acts)
	}
	for i := range n {
		p.vals[i] = p.value.forward(x[i*d:(i+1)*d], p.bufA, p.bufB)[0]
	}
	p.advantages(n, ret)
	rms := math.Sqrt(p.advMS)
	for i := range n {
		a, b := betaParams(p.policy.forward(x[i*d:(i+1)*d], p.bufA, p.bufB))
		dla, dlb, dha, dhb := betaGrads(a, b, us[i])
		w := p.adv[i] / (rms + 1e-8) / float64(n)
		ent := p.cfg.Entropy / float64(n)
		coef[2*i], coef[2*i+1] = -w*dla-ent*dha, -w*dlb-ent*dhb
		vw[i] = 0.5 / float64(n)
	}
}

// maskedLogit is what the loss graph adds to the logit of an action the
// observation did not allow: exp of it underflows to 0.
const maskedLogit = -1e9

// segment is a stretch of an agent's experience ending at step end (the
// next segment starts there). boot holds the inputs of the observation after
// the last step when that observation was not terminal, nil otherwise.
type segment struct {
	end  int
	boot []float64
}

// agent is one agent's handle: its latest observation and, while learning,
// its experience of the episode.
type agent struct {
	p          *Policy
	id         learning.AgentID
	src        *rand.PCG // rng's source, for migration
	rng        *rand.Rand
	x          []float64 // inputs of the latest observation
	mask       []bool    // the latest observation's Mask (nil: all allowed)
	seen       bool      // x holds an observation
	draws      int       // actions drawn since InitAgent: the next one's k for Coordinated
	bufA, bufB []float64 // forward buffers
	noise      []float64 // Coordinated: Gumbel noise

	xs      []float64 // inputs of each step's observation, back to back
	allowed []bool    // whether each step's observation allowed each action, back to back
	acts    []int     // each step's action index
	us      []float64 // with the Beta head, each step's draw u in (0, 1)
	rews    []float64 // each step's reward; one short while an action awaits it
	segs    []segment // closed segments
	start   int       // first step of the open segment
}

// observe sets x from obs. It panics on a value that is not finite, a bug in
// the environment's adapter.
func (a *agent) observe(obs learning.Observation) {
	for i, idx := range a.p.inputs {
		in := a.p.cfg.Inputs[i]
		v := obs.Values[idx]
		if !finite(v) {
			panic(fmt.Sprintf("policygradient: agent %s observed %s = %v, want a finite value", a.id, in.Field, v))
		}
		a.x[i] = (v - in.Offset) / in.Scale
	}
	a.mask = append(a.mask[:0], obs.Mask...)
	if obs.Mask == nil {
		a.mask = nil
	}
	a.seen = true
}

// dropPending forgets a last action that got no reward.
func (a *agent) dropPending() {
	if n := len(a.rews); len(a.acts) > n {
		a.acts = a.acts[:n]
		if a.p.beta() {
			a.us = a.us[:n]
		}
		a.xs = a.xs[:n*len(a.x)]
		a.allowed = a.allowed[:n*a.p.actions.N]
	}
}

// closeSegment ends the open segment, if it has steps; a non-terminal end
// is bootstrapped from the latest observation.
func (a *agent) closeSegment(terminal bool) {
	a.dropPending()
	if len(a.acts) == a.start {
		return
	}
	s := segment{end: len(a.acts)}
	if !terminal {
		s.boot = slices.Clone(a.x)
	}
	a.segs = append(a.segs, s)
	a.start = s.end
}

func (a *agent) reset() {
	a.xs, a.allowed, a.acts, a.us, a.rews, a.segs, a.start = a.xs[:0], a.allowed[:0], a.acts[:0], a.us[:0], a.rews[:0], a.segs[:0], 0
}

func (a *agent) InitAgent(obs learning.Observation) {
	a.closeSegment(false)
	a.draws = 0
	a.observe(obs)
}

func (a *agent) IsLearning() bool { return a.p.IsLearning() }

// logits returns the policy's logits for the latest observation, in a's
// buffers, with -Inf for the actions its mask does not allow.
func (a *agent) logits() []float64 {
	z := a.outputs()
	if a.mask != nil {
		allowed := false
		for i := range z {
			if i >= len(a.mask) || !a.mask[i] {
				z[i] = math.Inf(-1)
			} else {
				allowed = true
			}
		}
		if !allowed {
			panic(fmt.Sprintf("policygradient: agent %s: the observation's mask allows no action", a.id))
		}
	}
	return z
}

// outputs returns the policy network's outputs for the latest
// observation, in a's buffers.
func (a *agent) outputs() []float64 {
	if !a.seen {
		panic(fmt.Sprintf("policygradient: agent %s acts before InitAgent", a.id))
	}
	a.p.mu.RLock()
	z := a.p.policy.forward(a.x, a.bufA, a.bufB)
	a.p.mu.RUnlock()
	return z
}

// betaMasses returns the Beta head's a and b for the latest observation
// and the probability of each action, in a's noise buffer.
func (a *agent) betaMasses() (al, be float64, probs []float64) {
	al, be = betaParams(a.outputs())
	if a.mask != nil && !slices.Contains(a.mask, true) {
		panic(fmt.Sprintf("policygradient: agent %s: the observation's mask allows no action", a.id))
	}
	a.noise = slices.Grow(a.noise[:0], a.p.actions.N)[:a.p.actions.N]
	betaMasses(al, be, a.mask, a.noise)
	return al, be, a.noise
}

// sampleBeta is SampleAction with the Beta head: a draw u from Beta(a, b)
// (with Coordinated, by inversion of the episode's common uniform), the
// allowed action nearest u's part, recorded with u; not learning, the
// action of largest mass.
func (a *agent) sampleBeta() learning.Action {
	al, be, probs := a.betaMasses()
	if !a.p.IsLearning() {
		return a.p.actions.Action(argmax(probs))
	}
	q := a.rng.Float64()
	if a.p.cfg.Coordinated {
		q = a.p.uniform(a.draws)
	}
	u := betaDraw(al, be, q)
	act := allowedNear(part(u, a.p.actions.N), a.mask)
	a.draws++
	a.dropPending()
	a.xs = append(a.xs, a.x...)
	for i := range a.p.actions.N {
		a.allowed = append(a.allowed, a.mask == nil || (i < len(a.mask) && a.mask[i]))
	}
	a.acts = append(a.acts, act)
	a.us = append(a.us, u)
	return a.p.actions.Action(act)
}

// SampleAction draws from the policy's distribution while learning (with
// Coordinated, by the Gumbel-max trick on the episode's common noise) and
// takes its most likely action (the lowest index on a tie) otherwise.
func (a *agent) SampleAction() learning.Action {
	if a.p.beta() {
		return a.sampleBeta()
	}
	z := a.logits()
	if !a.p.IsLearning() {
		return a.p.actions.Action(argmax(z))
	}
	var act int
	if a.p.cfg.Coordinated {
		a.noise = slices.Grow(a.noise[:0], len(z))[:len(z)]
		a.p.gumbel(a.draws, a.noise)
		for i, g := range a.noise {
			z[i] += g
		}
		act = argmax(z)
	} else {
		softmax(z, z)
		u := a.rng.Float64()
		act = len(z) - 1
		for i, p := range z {
			if u < p {
				act = i
				break
			}
			u -= p
		}
	}
	a.draws++
	a.dropPending()
	a.xs = append(a.xs, a.x...)
	for i := range a.p.actions.N {
		a.allowed = append(a.allowed, a.mask == nil || (i < len(a.mask) && a.mask[i]))
	}
	a.acts = append(a.acts, act)
	return a.p.actions.Action(act)
}

// Update records the reward of the last action and moves to obs.
func (a *agent) Update(obs learning.Observation, reward float64) {
	if len(a.acts) > len(a.rews) {
		a.rews = append(a.rews, reward)
	}
	a.observe(obs)
	if obs.Terminal {
		a.closeSegment(true)
	}
}

// ActionProbabilities is the softmax of the logits while learning, and all
// on the most likely action otherwise.
func (a *agent) ActionProbabilities() []float64 {
	if a.p.beta() {
		_, _, masses := a.betaMasses()
		probs := make([]float64, len(masses))
		if a.p.IsLearning() {
			copy(probs, masses)
		} else {
			probs[argmax(masses)] = 1
		}
		return probs
	}
	z := a.logits()
	probs := make([]float64, len(z))
	if a.p.IsLearning() {
		softmax(z, probs)
	} else {
		probs[argmax(z)] = 1
	}
	return probs
}

// AgentJoined does nothing: the state is the agent's own observation.
func (a *agent) AgentJoined(learning.AgentID) {}

// AgentLeft does nothing: the state is the agent's own observation.
func (a *agent) AgentLeft(learning.AgentID) {}

// UsesMembership implements learning.MembershipUser: the agent ignores the
// others' joins and leaves, so the environment need not tell it.
func (a *agent) UsesMembership() bool { return false }
