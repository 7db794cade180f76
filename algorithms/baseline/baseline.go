// Package baseline holds the trivial baselines of an action space: always
// the same action (Fixed) and a uniformly random one (Random). A learner's
// training is worth something only where the learnt policy beats them, so
// every comparison of learners shows them, each fixed choice and random,
// beside the learners, on the same episodes. They are registered for every
// environment, as baselines (learning.Algorithm.Baseline): "random", and the
// parametric "fixed", whose instances are "fixed:LABEL" (the action's label
// in the space, see learning.ActionSpace.Labels) or "fixed:INDEX".
//
// It depends on learning only.
package baseline

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/marlon-go/marlon/learning"
)

func init() {
	learning.Register(learning.Algorithm{
		Name: "random", About: "baseline: an action drawn uniformly from the allowed ones at every decision", Baseline: true,
		New: func(spec learning.Spec) (learning.Policy, error) { return NewRandom(spec) },
	})
	learning.Register(learning.Algorithm{
		Name: "fixed", About: "baseline: always the same action (fixed:LABEL or fixed:INDEX)", Baseline: true,
		NewWith: func(param string, spec learning.Spec) (learning.Policy, error) { return NewFixed(param, spec) },
		Params: func(spec learning.Spec) []string {
			var ps []string
			for i := range spec.Actions.N {
				ps = append(ps, FixedParam(spec.Actions, i))
			}
			return ps
		},
	})
}

// FixedParam is how "fixed:" names the action at index i of space: its
// label, or its index if it has none (or the label does not make a name).
func FixedParam(space learning.ActionSpace, i int) string {
	if i < len(space.Labels) && space.Labels[i] != "" && validParam(space.Labels[i]) {
		return space.Labels[i]
	}
	return strconv.Itoa(i)
}

func validParam(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.", r))
	})
}

// Random acts uniformly at random among the allowed actions. It does not
// learn. Each agent draws from its own source, seeded by the spec's seed
// and the agent's ID, so that a run is reproducible.
type Random struct {
	space learning.ActionSpace
	seed  uint64
}

// NewRandom returns the Random policy of spec's action space.
func NewRandom(spec learning.Spec) (*Random, error) {
	if spec.Actions.N < 1 {
		return nil, fmt.Errorf("random: the action space must have at least one action, got N = %d", spec.Actions.N)
	}
	return &Random{space: spec.Actions, seed: spec.Seed}, nil
}

// Name is "random".
func (p *Random) Name() string { return "random" }

// NewAgent implements learning.Policy.
func (p *Random) NewAgent(id learning.AgentID) learning.LearningAlgorithm {
	h := fnv.New64a()
	h.Write([]byte(id))
	return &randomAgent{p: p, rng: rand.New(rand.NewPCG(p.seed, h.Sum64()))}
}

type randomAgent struct {
	p    *Random
	rng  *rand.Rand
	mask []bool
}

func (a *randomAgent) InitAgent(obs learning.Observation)         { a.mask = obs.Mask }
func (a *randomAgent) Update(obs learning.Observation, _ float64) { a.mask = obs.Mask }
func (a *randomAgent) IsLearning() bool                           { return false }
func (a *randomAgent) AgentJoined(learning.AgentID)               {}
func (a *randomAgent) AgentLeft(learning.AgentID)                 {}

// UsesMembership is false: the agents ignore one another
// (learning.MembershipUser).
func (a *randomAgent) UsesMembership() bool { return false }

func (a *randomAgent) SampleAction() learning.Action {
	n := a.p.space.N
	if a.mask == nil {
		return a.p.space.Action(a.rng.IntN(n))
	}
	k := a.rng.IntN(allowed(a.mask, n))
	for i := range n {
		if a.mask[i] {
			if k == 0 {
				return a.p.space.Action(i)
			}
			k--
		}
	}
	panic("unreachable")
}

// ActionProbabilities is uniform over the allowed actions.
func (a *randomAgent) ActionProbabilities() []float64 {
	n := a.p.space.N
	probs := make([]float64, n)
	c := float64(allowed(a.mask, n))
	for i := range probs {
		if a.mask == nil || a.mask[i] {
			probs[i] = 1 / c
		}
	}
	return probs
}

// allowed counts the actions mask allows; it panics if none: a mask that
// allows nothing is a bug in the environment.
func allowed(mask []bool, n int) int {
	if mask == nil {
		return n
	}
	if len(mask) != n {
		panic(fmt.Sprintf("baseline: a mask of %d entries for %d actions", len(mask), n))
	}
	c := 0
	for _, ok := range mask {
		if ok {
			c++
		}
	}
	if c == 0 {
		panic("baseline: the observation's mask allows no action")
	}
	return c
}

// Fixed always takes the same action, or the lowest allowed one where the
// observation's mask forbids it. It does not learn.
type Fixed struct {
	space learning.ActionSpace
	index int
	name  string
}

// NewFixed returns the Fixed policy of spec's action space that takes the
// action param names: its label, or its index.
func NewFixed(param string, spec learning.Spec) (*Fixed, error) {
	s := spec.Actions
	for i := range s.N {
		if FixedParam(s, i) == param || (i < len(s.Labels) && s.Labels[i] == param) {
			return &Fixed{space: s, index: i, name: "fixed:" + param}, nil
		}
	}
	if i, err := strconv.Atoi(param); err == nil && i >= 0 && i < s.N {
		return &Fixed{space: s, index: i, name: "fixed:" + param}, nil
	}
	var names []string
	for i := range s.N {
		names = append(names, FixedParam(s, i))
	}
	return nil, fmt.Errorf("fixed:%s: no such action; the actions are %s (or their indices 0..%d)", param, strings.Join(names, ", "), s.N-1)
}

// Name is "fixed:" and the action.
func (p *Fixed) Name() string { return p.name }

// NewAgent implements learning.Policy.
func (p *Fixed) NewAgent(learning.AgentID) learning.LearningAlgorithm { return &fixedAgent{p: p} }

type fixedAgent struct {
	p    *Fixed
	mask []bool
}

func (a *fixedAgent) InitAgent(obs learning.Observation)         { a.mask = obs.Mask }
func (a *fixedAgent) Update(obs learning.Observation, _ float64) { a.mask = obs.Mask }
func (a *fixedAgent) IsLearning() bool                           { return false }
func (a *fixedAgent) AgentJoined(learning.AgentID)               {}
func (a *fixedAgent) AgentLeft(learning.AgentID)                 {}

// UsesMembership is false: the agents ignore one another
// (learning.MembershipUser).
func (a *fixedAgent) UsesMembership() bool { return false }

func (a *fixedAgent) choice() int {
	if a.mask == nil || a.mask[a.p.index] {
		return a.p.index
	}
	allowed(a.mask, a.p.space.N) // panics if none
	for i, ok := range a.mask {
		if ok {
			return i
		}
	}
	panic("unreachable")
}

func (a *fixedAgent) SampleAction() learning.Action { return a.p.space.Action(a.choice()) }

// ActionProbabilities is one-hot at the action taken.
func (a *fixedAgent) ActionProbabilities() []float64 {
	probs := make([]float64, a.p.space.N)
	probs[a.choice()] = 1
	return probs
}
