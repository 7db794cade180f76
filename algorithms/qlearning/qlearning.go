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
//	Q(s,a) += alpha * (r + Gamma * max_a' Q(s',a') - Q(s,a))
//
// where alpha is Config.Alpha, or with Config.SampleAverage max(Alpha, 1/n)
// on the pair's n-th update,
// with the target r alone when s' is terminal. While learning, an agent takes
// a uniformly random action with probability epsilon and the greedy one
// otherwise; epsilon decays over the learning episodes (Config.Epsilon).
// Not learning (SetLearning(false)), it takes the greedy action and leaves
// the table alone. Ties between actions go to the lowest index.
//
// A Policy is one Q-table: every agent it makes reads and updates that table
// (parameter sharing); make one Policy per agent for independent learners.
// The table is sparse, a row per state that has been updated, so that a fine
// discretisation costs memory only for the states the agents reach.
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
	agents   []*agent // in the order they were made, for taking turns exploring
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

// Name is "qlearning".
func (p *Policy) Name() string { return "qlearning" }

// NewAgent returns agent id's handle on the table. Its random draws come from
// a source seeded by the spec's seed and id, so that each agent's
// exploration depends only on its own calls.
func (p *Policy) NewAgent(id learning.AgentID) learning.LearningAlgorithm {
	h := fnv.New64a()
	h.Write([]byte(id))
	a := &agent{p: p, rng: rand.New(rand.NewPCG(p.seed, h.Sum64()))}
	p.mu.Lock()
	a.turn = len(p.agents)
	p.agents = append(p.agents, a)
	p.mu.Unlock()
	return a
}

// explores reports whether agent a explores this episode. The caller holds
// p.mu.
func (p *Policy) explores(a *agent) bool {
	n := len(p.agents)
	if p.cfg.Explorers <= 0 || p.cfg.Explorers >= n {
		return true
	}
	first := p.episodes * p.cfg.Explorers % n
	return (a.turn-first+n)%n < p.cfg.Explorers
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

// EndEpisode counts a learning episode for the exploration schedule;
// episodes run while not learning do not count.
func (p *Policy) EndEpisode() {
	p.mu.Lock()
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

// greedy is the action of highest value in state s, the lowest such index
// on a tie. The caller holds p.mu.
func (p *Policy) greedy(s int) int {
	row := p.q[s]
	if row == nil {
		return 0
	}
	best := 0
	for a, v := range row {
		if v > row[best] {
			best = a
		}
	}
	return best
}

// maxQ is the value of the greedy action in state s. The caller holds p.mu.
func (p *Policy) maxQ(s int) float64 {
	if row := p.q[s]; row != nil {
		return slices.Max(row)
	}
	return p.cfg.InitialQ
}

// update applies the Q-learning rule. The caller holds p.mu.
func (p *Policy) update(s, a int, r float64, next int, terminal bool) {
	target := r
	if !terminal {
		target += p.cfg.Gamma * p.maxQ(next)
	}
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

// agent is one agent's handle: its current state and last action.
type agent struct {
	p       *Policy
	turn    int // position among the Policy's agents
	rng     *rand.Rand
	state   int
	action  int
	pending bool // action was taken while learning and awaits its reward
}

func (a *agent) InitAgent(obs learning.Observation) {
	a.state = a.p.state(obs)
	a.pending = false
}

func (a *agent) IsLearning() bool { return a.p.IsLearning() }

// SampleAction is epsilon-greedy while learning, greedy otherwise.
func (a *agent) SampleAction() learning.Action {
	p := a.p
	p.mu.Lock()
	act, on, eps, explore := p.greedy(a.state), p.learning, p.cfg.Epsilon(p.episodes), p.explores(a)
	p.mu.Unlock()
	if on && explore && a.rng.Float64() < eps {
		act = a.rng.IntN(p.actions.N)
	}
	a.action, a.pending = act, on
	return p.actions.Action(act)
}

// Update learns from the reward of the last action, if it was taken while
// learning, and moves the agent to obs's state.
func (a *agent) Update(obs learning.Observation, reward float64) {
	p := a.p
	next := p.state(obs)
	if a.pending {
		p.mu.Lock()
		if p.learning {
			p.update(a.state, a.action, reward, next, obs.Terminal)
		}
		p.mu.Unlock()
	}
	a.state, a.pending = next, false
}

// ActionProbabilities is the epsilon-greedy distribution in the current
// state: epsilon/N on every action plus 1-epsilon on the greedy one (all on
// the greedy one when not learning).
func (a *agent) ActionProbabilities() []float64 {
	p := a.p
	p.mu.Lock()
	greedy, on, eps := p.greedy(a.state), p.learning, p.cfg.Epsilon(p.episodes)
	p.mu.Unlock()
	probs := make([]float64, p.actions.N)
	if !on {
		eps = 0
	}
	for i := range probs {
		probs[i] = eps / float64(len(probs))
	}
	probs[greedy] += 1 - eps
	return probs
}

// AgentJoined does nothing: the state is the agent's own observation.
func (a *agent) AgentJoined(learning.AgentID) {}

// AgentLeft does nothing: the state is the agent's own observation.
func (a *agent) AgentLeft(learning.AgentID) {}
