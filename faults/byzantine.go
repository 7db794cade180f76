package faults

import (
	"hash/fnv"
	"math/rand/v2"

	"github.com/marlon-go/marlon/learning"
)

// Liar is the hook an environment asks whether one of its agents is
// byzantine now, and how it lies, for lies that are not the agent's
// actions: a bid that misstates a node's capacity, a vote that misreports
// what a node saw. The environment decides what each Mode means for it
// (Adversarial: the lie that does the most harm; RandomMode: a value drawn
// at random). *Injector implements it from the plan's byzantine faults.
type Liar interface {
	Lying(agent string) (Mode, bool)
}

var _ Liar = (*Injector)(nil)

// CountLie counts a lie an environment told on the Liar hook's word
// (Report.Lies), when it differs from the honest answer.
func (in *Injector) CountLie() { in.report.Lies++ }

// Agents wraps agents so that the agents a byzantine fault names act against
// the system while it lasts: each action their policy chooses is replaced
// by the action it rates least likely (Adversarial; without probabilities,
// the allowed action farthest from its choice) or by an allowed action drawn
// at random (RandomMode). actions gives each agent's action space. The
// policy still chooses first and learns from what follows, as a compromised
// agent's would. Agents no fault names are returned as they are.
func (in *Injector) Agents(agents learning.Agents, actions func(learning.AgentID) learning.ActionSpace) learning.Agents {
	if agents == nil || len(in.liars) == 0 {
		return agents
	}
	return func(id learning.AgentID) learning.LearningAlgorithm {
		alg := agents(id)
		if alg == nil || in.liars[string(id)] == nil {
			return alg
		}
		h := fnv.New64a()
		h.Write([]byte(id))
		return &liar{inner: alg, id: string(id), in: in, space: actions(id), r: rand.New(rand.NewPCG(in.plan.Seed, h.Sum64()))}
	}
}

// liar is a byzantine agent's learning algorithm.
type liar struct {
	inner learning.LearningAlgorithm
	id    string
	in    *Injector
	space learning.ActionSpace
	mask  []bool
	r     *rand.Rand
}

// Unwrap returns the honest algorithm.
func (l *liar) Unwrap() learning.LearningAlgorithm { return l.inner }

func (l *liar) InitAgent(obs learning.Observation) {
	l.mask = obs.Mask
	l.inner.InitAgent(obs)
}

func (l *liar) IsLearning() bool { return l.inner.IsLearning() }

func (l *liar) Update(obs learning.Observation, reward float64) {
	l.mask = obs.Mask
	l.inner.Update(obs, reward)
}

func (l *liar) ActionProbabilities() []float64  { return l.inner.ActionProbabilities() }
func (l *liar) AgentJoined(id learning.AgentID) { l.inner.AgentJoined(id) }
func (l *liar) AgentLeft(id learning.AgentID)   { l.inner.AgentLeft(id) }

func (l *liar) SampleAction() learning.Action {
	honest := l.inner.SampleAction()
	mode, ok := l.in.Lying(l.id)
	if !ok {
		return honest
	}
	a := l.lie(mode, honest)
	if a != honest {
		l.in.report.Lies++
	}
	return a
}

func (l *liar) allowed(i int) bool { return l.mask == nil || (i < len(l.mask) && l.mask[i]) }

// lie chooses the action a byzantine agent takes instead of honest.
func (l *liar) lie(mode Mode, honest learning.Action) learning.Action {
	n, h := l.space.N, l.space.Index(honest)
	if n <= 1 {
		return honest
	}
	if mode == RandomMode {
		var ok []int
		for i := range n {
			if l.allowed(i) {
				ok = append(ok, i)
			}
		}
		if len(ok) == 0 {
			return honest
		}
		return l.space.Action(ok[l.r.IntN(len(ok))])
	}
	probs := l.inner.ActionProbabilities()
	if len(probs) != n {
		probs = nil
	}
	best, bestP, bestD := -1, 0.0, -1
	for i := range n {
		if !l.allowed(i) {
			continue
		}
		d := i - h
		if d < 0 {
			d = -d
		}
		p := 0.0
		if probs != nil {
			p = probs[i]
		}
		if best < 0 || p < bestP || (p == bestP && d > bestD) {
			best, bestP, bestD = i, p, d
		}
	}
	if best < 0 {
		return honest
	}
	return l.space.Action(best)
}
