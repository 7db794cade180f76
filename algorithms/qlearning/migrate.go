package qlearning

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// agentState is an agent's state for migration (learning.Migratable).
type agentState struct {
	State   int    `json:"state"`
	Mask    []bool `json:"mask,omitempty"`
	Action  int    `json:"action"`
	Pending bool   `json:"pending,omitempty"`
	Steps   []step `json:"steps,omitempty"`
	Source  []byte `json:"source"`
}

// MarshalAgent encodes the agent's state in its episode: its state and
// last action, the steps it holds for its Monte Carlo updates, and its
// random source.
func (a *agent) MarshalAgent() ([]byte, error) {
	src, err := a.src.MarshalBinary()
	if err != nil {
		return nil, err
	}
	a.p.mu.Lock()
	s := agentState{State: a.state, Mask: a.mask, Action: a.action, Pending: a.pending, Steps: a.steps, Source: src}
	b, err := json.Marshal(s)
	a.p.mu.Unlock()
	return b, err
}

// UnmarshalAgent restores a migrated agent's state. It refuses a state out
// of this table's range and then changes nothing.
func (a *agent) UnmarshalAgent(data []byte) error {
	var s agentState
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return fmt.Errorf("qlearning: not an agent's state: %w", err)
	}
	p := a.p
	n := p.cfg.Discretizer.States()
	bad := s.State < 0 || s.State >= n || s.Action < 0 || s.Action >= p.actions.N || (s.Mask != nil && !p.allowsOne(s.Mask))
	for _, st := range s.Steps {
		bad = bad || st.S < 0 || st.S >= n || st.Next < 0 || st.Next >= n || st.A < 0 || st.A >= p.actions.N || math.IsNaN(st.R) || math.IsInf(st.R, 0) || !p.allowsOne(st.NextMask)
	}
	if bad {
		return errors.New("qlearning: a migrated agent's state is out of this table's range")
	}
	if err := a.src.UnmarshalBinary(s.Source); err != nil {
		return fmt.Errorf("qlearning: a migrated agent's random source: %w", err)
	}
	p.mu.Lock()
	a.state, a.mask, a.action, a.pending, a.steps = s.State, s.Mask, s.Action, s.Pending, s.Steps
	p.mu.Unlock()
	return nil
}
