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
	"slices"
	"sort"
	"strings"
)

// AgentID names an agent within an environment (for example "worker-3").
type AgentID string

// Schema names the values of an observation vector. Environments define one
// schema per kind of agent; algorithms look fields up by name once and then
// read by index. A schema may also describe its fields (NewSchemaOf): their
// bounds and the bins a tabular learner may cut them into, so that a generic
// learner needs no environment-specific settings to start with.
type Schema struct {
	name   string
	fields []string
	desc   []Field
	index  map[string]int
}

// Field describes one value of an observation.
type Field struct {
	Name string
	// About says what the value is, for documentation and tables.
	About string
	// Low and High bound the value if High > Low (otherwise it has no
	// stated bounds).
	Low, High float64
	// Bins are edges a tabular learner may cut the value at (nil: none
	// suggested), finite and strictly increasing.
	Bins []float64
}

// NewSchema returns a schema of the named fields. It panics on a repeated or
// empty field name: a schema is written once, in code.
func NewSchema(name string, fields ...string) *Schema {
	desc := make([]Field, len(fields))
	for i, f := range fields {
		desc[i] = Field{Name: f}
	}
	return NewSchemaOf(name, desc...)
}

// NewSchemaOf returns a schema of the described fields. It panics on a
// repeated or empty field name, or bins that are not strictly increasing.
func NewSchemaOf(name string, fields ...Field) *Schema {
	s := &Schema{name: name, index: make(map[string]int, len(fields))}
	for i, f := range fields {
		if f.Name == "" {
			panic("learning: empty field name in schema " + name)
		}
		if _, dup := s.index[f.Name]; dup {
			panic("learning: field " + f.Name + " twice in schema " + name)
		}
		for j, e := range f.Bins {
			if e != e || e > 1e308 || e < -1e308 || (j > 0 && e <= f.Bins[j-1]) {
				panic(fmt.Sprintf("learning: field %s of schema %s: bins %v are not finite and strictly increasing", f.Name, name, f.Bins))
			}
		}
		f.Bins = slices.Clone(f.Bins)
		s.index[f.Name] = i
		s.fields = append(s.fields, f.Name)
		s.desc = append(s.desc, f)
	}
	return s
}

// Describe returns the description of field, and whether the schema has it.
func (s *Schema) Describe(field string) (Field, bool) {
	i, ok := s.index[field]
	if !ok {
		return Field{}, false
	}
	f := s.desc[i]
	f.Bins = slices.Clone(f.Bins)
	return f, true
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
//
// Mask, if set, says which actions are allowed now, by ActionSpace.Index (a
// resource too small for a job, say): an algorithm chooses only allowed
// actions and gives the others probability 0. Nil allows every action; a
// mask allows at least one.
type Observation struct {
	Schema   *Schema
	Values   []float64
	Terminal bool
	Mask     []bool
}

// Allowed reports whether the action at index i of the space is allowed.
func (o Observation) Allowed(i int) bool { return o.Mask == nil || (i < len(o.Mask) && o.Mask[i]) }

// Get returns the value of field. It panics if the schema has no such field,
// which is a programming error caught by Schema.Require at set-up.
func (o Observation) Get(field string) float64 {
	i := o.Schema.Index(field)
	if i < 0 {
		panic(fmt.Sprintf("learning: observation schema %q has no field %q", o.Schema.Name(), field))
	}
	return o.Values[i]
}

// Clone returns a copy that does not share Values or Mask with o.
func (o Observation) Clone() Observation {
	o.Values = append([]float64(nil), o.Values...)
	if o.Mask != nil {
		o.Mask = append([]bool(nil), o.Mask...)
	}
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
// agents of the environment as they come and go, unless it says it does not
// use them (MembershipUser).
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
	// latest observation, indexed by ActionSpace.Index; actions the
	// observation's Mask forbids have probability 0.
	ActionProbabilities() []float64
	// AgentJoined tells that another agent joined the environment.
	AgentJoined(id AgentID)
	// AgentLeft tells that another agent left the environment.
	AgentLeft(id AgentID)
}

// MembershipUser is implemented by a LearningAlgorithm to say whether it
// uses AgentJoined and AgentLeft. An environment need not call them on an
// algorithm whose UsesMembership reports false; an algorithm that does not
// implement MembershipUser is told of every join and leave, as the
// LearningAlgorithm contract says.
//
// Telling every one of P listening agents of every other is P^2 calls (and,
// in an actor environment, P^2 messages) by the nature of the contract: an
// algorithm that ignores the others should say so, and then costs nothing per
// join or leave.
type MembershipUser interface {
	UsesMembership() bool
}

// UsesMembership reports whether alg is to be told of other agents joining
// and leaving: true unless it implements MembershipUser and says no.
func UsesMembership(alg LearningAlgorithm) bool {
	if u, ok := alg.(MembershipUser); ok {
		return u.UsesMembership()
	}
	return true
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
	// Params are what else the environment tells algorithms that know it,
	// by name (the load-balancing environment's "cv": the a priori
	// coefficient of variation of a unit's cost, which FSC needs). Generic
	// algorithms ignore them.
	Params map[string]float64
}

// Params by which an environment says that its action space is ordered:
// the actions, in order, stand for the N equal parts of the interval
// [Params[ParamLow], Params[ParamHigh]] of a continuous quantity, action i
// for the i-th part. An algorithm with a continuous head draws a value
// and takes the action of its part.
const (
	ParamLow  = "interval_low"
	ParamHigh = "interval_high"
)

// Same reports whether s and t describe the same observations and actions
// (their seeds aside).
func (s Spec) Same(t Spec) bool {
	if (s.Observation == nil) != (t.Observation == nil) || s.Actions.N != t.Actions.N || s.Actions.Start != t.Actions.Start {
		return false
	}
	return s.Observation == nil || (s.Observation.Name() == t.Observation.Name() && slices.Equal(s.Observation.fields, t.Observation.fields))
}
