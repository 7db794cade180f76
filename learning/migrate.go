package learning

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Migratable is implemented by LearningAlgorithms whose per-agent state can
// move to another process in the middle of an episode (seed 001's agent
// migration): where the agent is in its episode (its latest observation and
// action), the experience it holds for the end of the episode, and its
// random source. The agent the same policy makes for the same ID on the
// other side (a copy of the model, restored from the same checkpoint), given
// that state with UnmarshalAgent, continues as the original would have: the
// same actions, the same updates. The original must not act again.
type Migratable interface {
	MarshalAgent() ([]byte, error)
	UnmarshalAgent(data []byte) error
}

// adaptedState is an adapted agent's state: the inner agent's and the
// agent's own latest observation.
type adaptedState struct {
	Inner    []byte    `json:"inner"`
	Schema   string    `json:"schema,omitempty"`
	Fields   []string  `json:"fields,omitempty"`
	Values   []float64 `json:"values,omitempty"`
	Mask     []bool    `json:"mask,omitempty"`
	Terminal bool      `json:"terminal,omitempty"`
}

// MarshalAgent encodes the inner agent's state and the latest observation.
func (g *adaptedAgent) MarshalAgent() ([]byte, error) {
	m, ok := g.inner.(Migratable)
	if !ok {
		return nil, fmt.Errorf("learning: the %s agent cannot migrate (its LearningAlgorithm is not learning.Migratable)", g.p.inner.Name())
	}
	inner, err := m.MarshalAgent()
	if err != nil {
		return nil, err
	}
	s := adaptedState{Inner: inner, Values: g.last.Values, Mask: g.last.Mask, Terminal: g.last.Terminal}
	if g.last.Schema != nil {
		s.Schema, s.Fields = g.last.Schema.Name(), g.last.Schema.Fields()
	}
	return json.Marshal(s)
}

// UnmarshalAgent restores the inner agent's state and the latest
// observation (with a schema of the same name and fields).
func (g *adaptedAgent) UnmarshalAgent(data []byte) error {
	m, ok := g.inner.(Migratable)
	if !ok {
		return fmt.Errorf("learning: the %s agent cannot migrate (its LearningAlgorithm is not learning.Migratable)", g.p.inner.Name())
	}
	var s adaptedState
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return fmt.Errorf("learning: not a migrated agent's state: %w", err)
	}
	seen := map[string]bool{}
	for _, f := range s.Fields {
		if f == "" || seen[f] {
			return fmt.Errorf("learning: a migrated agent's observation schema has an empty or repeated field")
		}
		seen[f] = true
	}
	if len(s.Values) != len(s.Fields) {
		return fmt.Errorf("learning: a migrated agent's observation has %d values for %d fields", len(s.Values), len(s.Fields))
	}
	if err := m.UnmarshalAgent(s.Inner); err != nil {
		return err
	}
	g.last = Observation{Values: s.Values, Mask: s.Mask, Terminal: s.Terminal}
	if s.Schema != "" {
		g.last.Schema = NewSchema(s.Schema, s.Fields...)
	}
	return nil
}
