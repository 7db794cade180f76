package hosting

import (
	"fmt"
	"sync"

	"github.com/marlon-go/marlon/learning"
)

// NodePolicy is the policy a hosting node's actors share for one run: the
// agents it makes take turns, since the actors they are attached to run
// on goroutines of their own and their models may be shared (one policy,
// one model, for every agent of a node). A live run evaluates: it acts
// greedily and does not learn. A Run makes one from the begin payload
// (the algorithm, a checkpoint) and ends its episode in Run.End.
type NodePolicy struct {
	mu    sync.Mutex
	inner learning.Policy
}

// NewNodePolicy wraps p for a run: it stops learning (if it learns) and
// begins an episode (if it counts them). Both are found through p's
// wrappers (learning.As): a generic learner adapted to the environment
// (learning.Adapt) learns, and is switched off, inside its adapter.
func NewNodePolicy(p learning.Policy) *NodePolicy {
	if t, ok := learning.As[learning.Trainable](p); ok {
		t.SetLearning(false)
	}
	if e, ok := learning.As[learning.Episodic](p); ok {
		e.BeginEpisode()
	}
	return &NodePolicy{inner: p}
}

// NewAgent makes agent id's LearningAlgorithm, whose calls take turns with
// those of every other agent of p.
func (p *NodePolicy) NewAgent(id learning.AgentID) learning.LearningAlgorithm {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &lockedAgent{mu: &p.mu, inner: p.inner.NewAgent(id)}
}

// EndEpisode ends the policy's episode (if it counts them).
func (p *NodePolicy) EndEpisode() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := learning.As[learning.Episodic](p.inner); ok {
		e.EndEpisode()
	}
}

type lockedAgent struct {
	mu    *sync.Mutex
	inner learning.LearningAlgorithm
}

func (a *lockedAgent) InitAgent(obs learning.Observation) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inner.InitAgent(obs)
}

func (a *lockedAgent) IsLearning() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inner.IsLearning()
}

func (a *lockedAgent) SampleAction() learning.Action {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inner.SampleAction()
}

func (a *lockedAgent) Update(obs learning.Observation, reward float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inner.Update(obs, reward)
}

func (a *lockedAgent) ActionProbabilities() []float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inner.ActionProbabilities()
}

func (a *lockedAgent) AgentJoined(id learning.AgentID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inner.AgentJoined(id)
}

// UsesMembership implements learning.MembershipUser for the agent it guards.
func (a *lockedAgent) UsesMembership() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return learning.UsesMembership(a.inner)
}

func (a *lockedAgent) AgentLeft(id learning.AgentID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inner.AgentLeft(id)
}

// MarshalAgent implements learning.Migratable for the agent it guards: its
// state, if it keeps one it can give (nil if its algorithm is not
// Migratable: a heuristic keeps none).
func (a *lockedAgent) MarshalAgent() ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if m, ok := a.inner.(learning.Migratable); ok {
		return m.MarshalAgent()
	}
	return nil, nil
}

// UnmarshalAgent implements learning.Migratable for the agent it guards.
func (a *lockedAgent) UnmarshalAgent(data []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, ok := a.inner.(learning.Migratable)
	if !ok {
		return fmt.Errorf("hosting: a migrated agent's state for an algorithm that keeps none (not learning.Migratable)")
	}
	return m.UnmarshalAgent(data)
}
