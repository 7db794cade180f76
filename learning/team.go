package learning

import (
	"encoding"
	"fmt"
	"sort"
	"sync"
)

// Trainable is implemented by policies that learn: SetLearning(false) makes
// their agents act greedily and stop updating (IsLearning reports it).
type Trainable interface {
	SetLearning(on bool)
}

// Model is implemented by policies whose learnt state can be saved in a
// checkpoint and restored.
type Model interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// SharedPolicy is the policy name every agent maps to under parameter
// sharing.
const SharedPolicy = "shared"

// Team maps agents onto policies, as RLlib's policy mapping does, and keeps
// one LearningAlgorithm per agent across episodes, so that what an agent
// learns in one episode it still has in the next. With parameter sharing
// every agent, including agents that were not known when the team was made,
// maps to SharedPolicy; with independent learners each agent has a policy of
// its own, named by its ID; in general a mapping names each agent's policy
// (one per kind of agent, say).
type Team struct {
	shared   bool
	policyOf func(AgentID) string
	policies map[string]Policy
	newOne   func(name string) (Policy, error)

	mu      sync.Mutex
	agents  map[AgentID]LearningAlgorithm
	rolling bool // between BeginRollout and EndRollout
	rollout int  // the rollout's episode number
}

// NewSharedTeam returns a team whose agents all share p.
func NewSharedTeam(p Policy) *Team {
	return &Team{
		shared: true, policyOf: func(AgentID) string { return SharedPolicy },
		policies: map[string]Policy{SharedPolicy: p}, agents: map[AgentID]LearningAlgorithm{},
	}
}

// NewIndependentTeam returns a team of independent learners, one policy per
// agent, made by newPolicy for each of ids now and for any other agent when
// it first appears.
func NewIndependentTeam(ids []AgentID, newPolicy func(AgentID) (Policy, error)) (*Team, error) {
	return NewTeam(ids, func(id AgentID) string { return string(id) }, func(name string) (Policy, error) { return newPolicy(AgentID(name)) })
}

// NewTeam returns a team whose agents map onto policies by policyOf; newPolicy
// makes the named policy, for the agents of ids now and for any other agent
// when it first appears. A mapping onto SharedPolicy alone is not a shared
// team: use NewSharedTeam.
func NewTeam(ids []AgentID, policyOf func(AgentID) string, newPolicy func(name string) (Policy, error)) (*Team, error) {
	t := &Team{policyOf: policyOf, policies: map[string]Policy{}, newOne: newPolicy, agents: map[AgentID]LearningAlgorithm{}}
	for _, id := range ids {
		name := policyOf(id)
		if _, ok := t.policies[name]; ok {
			continue
		}
		p, err := newPolicy(name)
		if err != nil {
			return nil, err
		}
		t.policies[name] = p
	}
	return t, nil
}

// Shared reports whether the team shares one policy.
func (t *Team) Shared() bool { return t.shared }

// PolicyName is the policy agent id maps to.
func (t *Team) PolicyName(id AgentID) string { return t.policyOf(id) }

// Policies lists the team's policies by name, sorted by name.
func (t *Team) Policies() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sortedPolicies()
}

// sortedPolicies is Policies. The caller holds t.mu.
func (t *Team) sortedPolicies() []string {
	names := make([]string, 0, len(t.policies))
	for n := range t.policies {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Policy returns the named policy.
func (t *Team) Policy(name string) Policy {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.policies[name]
}

// Agent returns agent id's LearningAlgorithm, the same one every episode.
// It is safe for concurrent use. It panics if an independent team cannot
// make a policy for a new agent: the team's constructor already proved it
// could for the known ones.
func (t *Team) Agent(id AgentID) LearningAlgorithm {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a, ok := t.agents[id]; ok {
		return a
	}
	name := t.PolicyName(id)
	p, ok := t.policies[name]
	if !ok {
		var err error
		if t.newOne == nil {
			panic(fmt.Sprintf("learning: agent %s maps to policy %s, which the team does not have", id, name))
		}
		if p, err = t.newOne(name); err != nil {
			panic(fmt.Sprintf("learning: cannot make a policy for agent %s: %v", id, err))
		}
		t.policies[name] = p
		if t.rolling {
			if d, ok := As[Distributed](p); ok {
				d.BeginRollout(t.rollout)
			}
		}
	}
	a := p.NewAgent(id)
	t.agents[id] = a
	return a
}

// SetLearning switches every policy that learns on or off.
func (t *Team) SetLearning(on bool) {
	for _, p := range t.policies {
		if tr, ok := As[Trainable](p); ok {
			tr.SetLearning(on)
		}
	}
}

// BeginEpisode and EndEpisode tell every Episodic policy.
func (t *Team) BeginEpisode() { t.each(func(e Episodic) { e.BeginEpisode() }) }

// EndEpisode tells every Episodic policy that the episode ended.
func (t *Team) EndEpisode() { t.each(func(e Episodic) { e.EndEpisode() }) }

func (t *Team) each(f func(Episodic)) {
	for _, name := range t.Policies() { // sorted: deterministic order
		if e, ok := As[Episodic](t.policies[name]); ok {
			f(e)
		}
	}
}

// models captures every policy's model, by policy name.
func (t *Team) models() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, name := range t.Policies() {
		m, ok := As[Model](t.policies[name])
		if !ok {
			return nil, fmt.Errorf("learning: policy %s (%s) has no model to keep", name, t.policies[name].Name())
		}
		b, err := m.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("learning: keeping policy %s: %w", name, err)
		}
		out[name] = b
	}
	return out, nil
}

// restore loads models captured by models.
func (t *Team) restore(models map[string][]byte) error {
	for name, b := range models {
		m, _ := As[Model](t.policies[name])
		if err := m.UnmarshalBinary(b); err != nil {
			return fmt.Errorf("learning: restoring policy %s: %w", name, err)
		}
	}
	return nil
}
