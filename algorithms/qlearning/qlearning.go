// Package qlearning is tabular Q-learning with epsilon-greedy exploration: a
// learning algorithm for the agents of any environment with a discrete action
// space.
//
// The state is the agent's observation discretised by the Config's
// Discretizer: each listed field is cut into bins and the bins are combined
// into one index. Which fields matter and where their edges lie is the
// environment adapter's choice, not this package's. The actions are the
// positions of the environment's learning.ActionSpace. After an action a,
// taken in state s, earned reward r and led to state s', the agent updates
//
//	Q(s,a) += alpha * (target - Q(s,a))
//
// where alpha is Config.Alpha, or with Config.SampleAverage max(Alpha, 1/n)
// on the pair's n-th update. With Config.Lambda 0 the target is the
// one-step r + Gamma * max_a' Q(s',a'), or r alone when s' is terminal, and
// the update is made at once. With Lambda above 0 the agent keeps its
// episode's steps and updates them all when its episode ends, towards
// lambda-returns that blend those one-step targets with the rewards that
// followed (Config.Lambda); Lambda 1 is the Monte Carlo return.
//
// While learning, an agent takes a uniformly random action with probability
// epsilon and the greedy one otherwise; epsilon follows a schedule over the
// learning episodes (Config.Epsilon). With Config.Coordinated the agents
// explore together instead: in an episode each state explores with
// probability epsilon, and every agent in an exploring state takes the same
// random action. Not learning (SetLearning(false)), an agent takes the
// greedy action and leaves the table alone. Ties between actions go to the
// lowest index.
//
// A Policy is one Q-table: every agent it makes reads and updates that table
// (parameter sharing); make one Policy per agent for independent learners.
// The table is sparse, a row per state that has been updated, so that a fine
// discretisation costs memory only for the states the agents reach.
// Agents of one Policy may act concurrently; BeginEpisode and EndEpisode
// must not overlap their calls, as in learning.Train.
//
// This package depends on learning only. It must not depend on actors, env
// or any environment.
package qlearning

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/marlon-go/marlon/learning"
)

// Policy is a Q-table and the agents that share it. It implements
// learning.Policy, learning.Episodic, learning.Trainable and learning.Model.
type Policy struct {
	cfg     Config
	actions learning.ActionSpace
	seed    uint64
	fields  []int // observation index of each Discretizer field

	mu       sync.Mutex
	q        map[int][]float64 // rows by state, made on first update
	n        map[int][]int     // updates per state-action, with SampleAverage
	episodes int               // learning episodes ended
	learning bool
	agents   []*agent // in the order they were made, for ending their episodes
	// log, between BeginRollout and EndRollout, records every update made
	// to the table, in order, for the learner to replay (nil otherwise).
	log []event
}

// New returns a Policy for spec, learning from the start. The Discretizer's
// fields must be in spec.Observation.
func New(spec learning.Spec, cfg Config) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case spec.Observation == nil:
		return nil, fmt.Errorf("qlearning: spec.Observation is nil, want the observation schema")
	case spec.Actions.N < 1:
		return nil, fmt.Errorf("qlearning: spec.Actions.N = %d, want >= 1", spec.Actions.N)
	}
	if len(cfg.Discretizer) == 0 {
		cfg.Discretizer = SchemaBins(spec.Observation)
	}
	if err := spec.Observation.Require(cfg.Discretizer.Fields()...); err != nil {
		return nil, fmt.Errorf("qlearning: Discretizer: %w", err)
	}
	d := make(Discretizer, len(cfg.Discretizer))
	fields := make([]int, len(d))
	for i, b := range cfg.Discretizer {
		d[i] = Bins{Field: b.Field, Edges: slices.Clone(b.Edges)}
		fields[i] = spec.Observation.Index(b.Field)
	}
	cfg.Discretizer = d
	return &Policy{cfg: cfg, actions: spec.Actions, seed: spec.Seed, fields: fields, q: map[int][]float64{}, n: map[int][]int{}, learning: true}, nil
}

// SchemaBins is the Discretizer the schema suggests: every field that has
// Bins, in the schema's order (empty if none has).
func SchemaBins(s *learning.Schema) Discretizer {
	var d Discretizer
	for _, f := range s.Fields() {
		if desc, _ := s.Describe(f); len(desc.Bins) > 0 {
			d = append(d, Bins{Field: f, Edges: desc.Bins})
		}
	}
	return d
}

// Name is "qlearning".
func (p *Policy) Name() string { return "qlearning" }

// NewAgent returns agent id's handle on the table. Its random draws come from
// a source seeded by the spec's seed and id, so that each agent's
// exploration depends only on its own calls (with Coordinated, on the
// episode and the state alone).
func (p *Policy) NewAgent(id learning.AgentID) learning.LearningAlgorithm {
	h := fnv.New64a()
	h.Write([]byte(id))
	src := rand.NewPCG(p.seed, h.Sum64())
	a := &agent{p: p, src: src, rng: rand.New(src)}
	p.mu.Lock()
	p.agents = append(p.agents, a)
	p.mu.Unlock()
	return a
}

// coordinated is the action every agent takes in state s this episode with
// Coordinated exploration, or -1 for the greedy one. It depends on the
// seed, the episode's number and s only, so that agents acting in any order
// agree. The caller holds p.mu.
func (p *Policy) coordinated(s int, mask []bool) int {
	rng := rand.New(rand.NewPCG(p.seed^0x9e3779b97f4a7c15*uint64(p.episodes+1), uint64(s)))
	if rng.Float64() < p.cfg.Epsilon(p.episodes) {
		return p.uniform(rng, mask)
	}
	return -1
}

// uniform draws an allowed action uniformly.
func (p *Policy) uniform(rng *rand.Rand, mask []bool) int {
	if mask == nil {
		return rng.IntN(p.actions.N)
	}
	k := rng.IntN(allowedCount(mask, p.actions.N))
	for a := 0; a < p.actions.N; a++ {
		if allowed(mask, a) {
			if k == 0 {
				return a
			}
			k--
		}
	}
	panic("unreachable")
}

// allowed reports whether mask allows action a (nil allows all).
func allowed(mask []bool, a int) bool { return mask == nil || (a < len(mask) && mask[a]) }

// allowedCount is the number of actions mask allows out of n; a mask that
// allows none is an environment's error, and counts as allowing all.
func allowedCount(mask []bool, n int) int {
	if mask == nil {
		return n
	}
	c := 0
	for a := 0; a < n; a++ {
		if allowed(mask, a) {
			c++
		}
	}
	if c == 0 {
		panic("qlearning: the observation's mask allows no action")
	}
	return c
}

// SetLearning switches learning (exploring and updating) on or off.
func (p *Policy) SetLearning(on bool) {
	p.mu.Lock()
	p.learning = on
	p.mu.Unlock()
}

// IsLearning reports whether the policy learns.
func (p *Policy) IsLearning() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.learning
}

// BeginEpisode does nothing: an agent's episode starts at its InitAgent.
func (p *Policy) BeginEpisode() {}

// EndEpisode ends the agents' episodes, making the updates that wait for
// them (with Lambda above 0, bootstrapped where an agent's episode stopped
// short of a terminal observation), and counts a learning episode for the
// exploration schedule; episodes run while not learning do not count.
func (p *Policy) EndEpisode() {
	p.mu.Lock()
	for _, a := range p.agents {
		a.flush(false)
	}
	if p.learning {
		p.episodes++
	}
	p.mu.Unlock()
}

// Epsilon is the current exploration rate of learning agents.
func (p *Policy) Epsilon() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg.Epsilon(p.episodes)
}

// state is obs's state index: the fields' bins in mixed radix.
func (p *Policy) state(obs learning.Observation) int {
	s := 0
	for i, b := range p.cfg.Discretizer {
		s = s*(len(b.Edges)+1) + b.bin(obs.Values[p.fields[i]])
	}
	return s
}

// greedy is the allowed action of highest value in state s, the lowest such
// index on a tie. The caller holds p.mu.
func (p *Policy) greedy(s int, mask []bool) int {
	row := p.q[s]
	best := -1
	for a := 0; a < p.actions.N; a++ {
		if allowed(mask, a) && (best < 0 || row != nil && row[a] > row[best]) {
			best = a
		}
	}
	if best < 0 {
		panic("qlearning: the observation's mask allows no action")
	}
	return best
}

// maxQ is the value of the greedy action in state s among those mask
// allows. The caller holds p.mu.
func (p *Policy) maxQ(s int, mask []bool) float64 {
	row := p.q[s]
	if row == nil {
		return p.cfg.InitialQ
	}
	if mask == nil {
		return slices.Max(row)
	}
	return row[p.greedy(s, mask)]
}

// update moves Q(s,a) towards target. The caller holds p.mu.
func (p *Policy) update(s, a int, target float64) {
	row := p.q[s]
	if row == nil {
		row = make([]float64, p.actions.N)
		for i := range row {
			row[i] = p.cfg.InitialQ
		}
		p.q[s] = row
	}
	alpha := p.cfg.Alpha
	if p.cfg.SampleAverage {
		counts := p.n[s]
		if counts == nil {
			counts = make([]int, p.actions.N)
			p.n[s] = counts
		}
		counts[a]++
		alpha = max(alpha, 1/float64(counts[a]))
	}
	row[a] += alpha * (target - row[a])
}

// agent is one agent's handle: its current state and last action and, with
// Lambda above 0, the steps of its episode that await their updates.
type agent struct {
	p       *Policy
	src     *rand.PCG // rng's source, for migration
	rng     *rand.Rand
	state   int
	mask    []bool // the latest observation's
	action  int
	pending bool   // action was taken while learning and awaits its reward
	steps   []step // Lambda > 0: the episode's rewarded steps so far
}

// step is one rewarded action: in state S, action A earned R and led to
// Next, where NextMask allowed the actions.
type step struct {
	S        int     `json:"s"`
	A        int     `json:"a"`
	Next     int     `json:"next"`
	R        float64 `json:"r"`
	NextMask []bool  `json:"next_mask,omitempty"`
}

func (a *agent) InitAgent(obs learning.Observation) {
	a.p.mu.Lock()
	a.flush(false)
	a.p.mu.Unlock()
	a.state, a.mask = a.p.state(obs), cloneMask(obs.Mask)
	a.pending = false
}

func cloneMask(m []bool) []bool {
	if m == nil {
		return nil
	}
	return append([]bool(nil), m...)
}

// flush updates the steps a holds towards their lambda-returns and forgets
// them (Policy.learn). Steps held when learning was switched off are
// dropped. The caller holds p.mu.
func (a *agent) flush(terminal bool) {
	if len(a.steps) > 0 && a.p.learning {
		a.p.learn(event{Steps: a.steps, Terminal: terminal})
	}
	a.steps = a.steps[:0]
}

func (a *agent) IsLearning() bool { return a.p.IsLearning() }

// SampleAction is epsilon-greedy (or coordinated) while learning, greedy
// otherwise.
func (a *agent) SampleAction() learning.Action {
	p := a.p
	p.mu.Lock()
	act, on, eps := p.greedy(a.state, a.mask), p.learning, p.cfg.Epsilon(p.episodes)
	if on && p.cfg.Coordinated {
		if x := p.coordinated(a.state, a.mask); x >= 0 {
			act = x
		}
	}
	p.mu.Unlock()
	if on && !p.cfg.Coordinated && a.rng.Float64() < eps {
		act = p.uniform(a.rng, a.mask)
	}
	a.action, a.pending = act, on
	return p.actions.Action(act)
}

// Update learns from the reward of the last action, if it was taken while
// learning, and moves the agent to obs's state: at once with Lambda 0,
// keeping the step for the end of the episode otherwise.
func (a *agent) Update(obs learning.Observation, reward float64) {
	p := a.p
	next := p.state(obs)
	if a.pending {
		p.mu.Lock()
		st := step{S: a.state, A: a.action, Next: next, R: reward, NextMask: cloneMask(obs.Mask)}
		switch {
		case !p.learning:
		case p.cfg.Lambda > 0:
			a.steps = append(a.steps, st)
			if obs.Terminal {
				a.flush(true)
			}
		default:
			p.learn(event{Steps: []step{st}, Terminal: obs.Terminal, OneStep: true})
		}
		p.mu.Unlock()
	}
	a.state, a.mask, a.pending = next, cloneMask(obs.Mask), false
}

// ActionProbabilities is the epsilon-greedy distribution in the current
// state: epsilon/n on every one of the n allowed actions plus 1-epsilon on
// the greedy one (all on the greedy one when not learning). With
// Coordinated it is the same distribution over episodes; within one, the
// state's draw is made.
func (a *agent) ActionProbabilities() []float64 {
	p := a.p
	p.mu.Lock()
	greedy, on, eps := p.greedy(a.state, a.mask), p.learning, p.cfg.Epsilon(p.episodes)
	p.mu.Unlock()
	probs := make([]float64, p.actions.N)
	if !on {
		eps = 0
	}
	n := float64(allowedCount(a.mask, p.actions.N))
	for i := range probs {
		if allowed(a.mask, i) {
			probs[i] = eps / n
		}
	}
	probs[greedy] += 1 - eps
	return probs
}

// AgentJoined does nothing: the state is the agent's own observation.
func (a *agent) AgentJoined(learning.AgentID) {}

// AgentLeft does nothing: the state is the agent's own observation.
func (a *agent) AgentLeft(learning.AgentID) {}

// UsesMembership implements learning.MembershipUser: the agent ignores the
// others' joins and leaves, so the environment need not tell it.
func (a *agent) UsesMembership() bool { return false }
