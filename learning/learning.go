// Package learning is the contract between environments and the algorithms
// that learn in them: observations, action spaces, the LearningAlgorithm
// interface an agent uses, and the Policy that makes agents.
//
// It follows Marlon's LearningAlgorithm (init_agent, is_learning,
// sample_action, update, action_probabilities, agent_joined, agent_left): one
// LearningAlgorithm per agent, fed the state of the actor it is attached to.
// Agents that share a model (parameter sharing) are made by the same Policy.
//
// This package must not depend on actors, environments or any algorithm: it
// is what they all depend on.
package learning

import (
	"fmt"
	"sort"
	"strings"
)

// AgentID names an agent within an environment (for example "worker-3").
type AgentID string

// Schema names the values of an observation vector. Environments define one
// schema per kind of agent; algorithms look fields up by name once and then
// read by index.
type Schema struct {
	name   string
	fields []string
	index  map[string]int
}

// NewSchema returns a schema. It panics on a repeated or empty field name: a
// schema is written once, in code.
func NewSchema(name string, fields ...string) *Schema {
	s := &Schema{name: name, fields: append([]string(nil), fields...), index: make(map[string]int, len(fields))}
	for i, f := range fields {
		if f == "" {
			panic("learning: empty field name in schema " + name)
		}
		if _, dup := s.index[f]; dup {
			panic("learning: field " + f + " twice in schema " + name)
		}
		s.index[f] = i
	}
	return s
}

// Name identifies the schema (and its version, by convention "env/v1").
func (s *Schema) Name() string { return s.name }

// Fields are the names of the observation's values, in order.
func (s *Schema) Fields() []string { return append([]string(nil), s.fields...) }

// Len is the number of values in an observation.
func (s *Schema) Len() int { return len(s.fields) }

// Index is the position of field, or -1 if the schema has no such field.
func (s *Schema) Index(field string) int {
	i, ok := s.index[field]
	if !ok {
		return -1
	}
	return i
}

// Require returns an error naming the fields s lacks, for an algorithm that
// needs them.
func (s *Schema) Require(fields ...string) error {
	var missing []string
	for _, f := range fields {
		if _, ok := s.index[f]; !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return fmt.Errorf("observation schema %q lacks field(s) %s (it has %s)", s.name, strings.Join(missing, ", "), strings.Join(s.fields, ", "))
}

// Observation is what an agent sees of its actor: a vector of named values.
// Terminal marks the last observation of an episode for that agent.
type Observation struct {
	Schema   *Schema
	Values   []float64
	Terminal bool
}

// Get returns the value of field. It panics if the schema has no such field,
// which is a programming error caught by Schema.Require at set-up.
func (o Observation) Get(field string) float64 {
	i := o.Schema.Index(field)
	if i < 0 {
		panic(fmt.Sprintf("learning: observation schema %q has no field %q", o.Schema.Name(), field))
	}
	return o.Values[i]
}

// Clone returns a copy that does not share Values with o.
func (o Observation) Clone() Observation {
	o.Values = append([]float64(nil), o.Values...)
	return o
}

// Action is the index of a choice in a discrete ActionSpace.
type Action int

// ActionSpace is a discrete set of N actions Start, Start+1, ...,
// Start+N-1, as gym's Discrete(n, start). Labels, if set, say what each
// means, for tables and plots.
type ActionSpace struct {
	N      int
	Start  int
	Labels []string
}

// Discrete returns the space 0..n-1.
func Discrete(n int) ActionSpace { return ActionSpace{N: n} }

// Contains reports whether a is in the space.
func (s ActionSpace) Contains(a Action) bool { return int(a) >= s.Start && int(a) < s.Start+s.N }

// Index is a's position in the space (0 for Start).
func (s ActionSpace) Index(a Action) int { return int(a) - s.Start }

// Action is the action at position i.
func (s ActionSpace) Action(i int) Action { return Action(s.Start + i) }

// Label says what a means.
func (s ActionSpace) Label(a Action) string {
	if i := s.Index(a); i >= 0 && i < len(s.Labels) {
		return s.Labels[i]
	}
	return fmt.Sprint(int(a))
}

// LearningAlgorithm is what an agent uses to act and learn. An environment
// calls, for each agent and episode: InitAgent with the first observation,
// then SampleAction; after each action, Update with the next observation and
// the reward the action earned, then SampleAction again; the last Update has
// a Terminal observation. AgentJoined and AgentLeft tell it about the other
// agents of the environment as they come and go.
//
// Calls for one agent never overlap. In the live runtime calls for different
// agents may run in parallel, so agents that share a model through their
// Policy must guard it.
type LearningAlgorithm interface {
	// InitAgent starts an episode from the actor's state.
	InitAgent(obs Observation)
	// IsLearning reports whether the agent is learning (exploring and
	// updating) rather than acting greedily on what it learnt.
	IsLearning() bool
	// SampleAction chooses the next action for the latest observation.
	SampleAction() Action
	// Update gives the reward the last action earned and the observation it
	// led to.
	Update(obs Observation, reward float64)
	// ActionProbabilities is the distribution SampleAction draws from for the
	// latest observation, indexed by ActionSpace.Index.
	ActionProbabilities() []float64
	// AgentJoined tells that another agent joined the environment.
	AgentJoined(id AgentID)
	// AgentLeft tells that another agent left the environment.
	AgentLeft(id AgentID)
}

// Policy makes the agents that share it: one for independent learners, one
// per group of agents for parameter sharing (RLlib's policy mapping), one
// for a fixed heuristic.
type Policy interface {
	// Name says which algorithm this is ("gss", "qlearning", ...).
	Name() string
	// NewAgent returns the LearningAlgorithm for agent id.
	NewAgent(id AgentID) LearningAlgorithm
}

// Episodic is implemented by policies that need to know where episodes begin
// and end (to reset per-episode state, or to learn from whole episodes).
type Episodic interface {
	BeginEpisode()
	EndEpisode()
}

// Spec is what an environment tells an algorithm about itself when the
// algorithm is made.
type Spec struct {
	Observation *Schema
	Actions     ActionSpace
	Seed        uint64
}
