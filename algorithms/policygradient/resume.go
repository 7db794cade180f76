package policygradient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Update state encoding identification (learning.Resumable):
// UnmarshalUpdateState refuses any other.
const (
	UpdateStateFormat  = "marlon-pg-update-state"
	UpdateStateVersion = 1
)

// updateState is the encoding of what a Policy's gradient steps depend on
// besides its networks' parameters, as JSON: each network's Adam state, the
// running mean square of the advantages that scales them, and the learning
// episodes counted (the episode Coordinated draws follow). It is what a
// learner resuming from a checkpoint needs to step as the original would
// have; the model (MarshalBinary), what rollouts are sent, leaves it out.
type updateState struct {
	Format   string    `json:"format"`
	Version  int       `json:"version"`
	Policy   adamState `json:"policy"`
	Value    adamState `json:"value"`
	AdvMS    float64   `json:"adv_ms"`
	Episodes int       `json:"episodes"`
}

// adamState is one network's Adam state: the steps taken, and the first and
// second moments of each parameter array (in the order of the model's).
type adamState struct {
	T int         `json:"t"`
	M [][]float64 `json:"m"`
	V [][]float64 `json:"v"`
}

// MarshalUpdateState implements learning.Resumable: it encodes both
// networks' Adam moments and step counts, the running advantage scale and
// the learning episodes counted.
func (p *Policy) MarshalUpdateState() ([]byte, error) {
	p.mu.RLock()
	s := updateState{Format: UpdateStateFormat, Version: UpdateStateVersion,
		Policy: p.policyOpt.state(), Value: p.valueOpt.state(), AdvMS: p.advMS, Episodes: p.episodes}
	b, err := json.Marshal(s)
	p.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("policygradient: encoding the update state: %w", err)
	}
	return b, nil
}

// UnmarshalUpdateState implements learning.Resumable: it replaces the
// update state by an encoded one. It refuses, changing nothing, a state of
// another format or version, or one whose moments do not fit the networks
// or are not finite.
func (p *Policy) UnmarshalUpdateState(data []byte) error {
	var s updateState
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return fmt.Errorf("policygradient: not a readable update state: %w", err)
	}
	switch {
	case s.Format != UpdateStateFormat:
		return fmt.Errorf("policygradient: update state format %q, want %q", s.Format, UpdateStateFormat)
	case s.Version != UpdateStateVersion:
		return fmt.Errorf("policygradient: update state version %d, this build reads version %d", s.Version, UpdateStateVersion)
	case !finite(s.AdvMS) || s.AdvMS < 0 || s.Episodes < 0:
		return errors.New("policygradient: corrupt update state: a negative or infinite advantage scale, or negative episodes")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := s.Policy.check(p.policy.params()); err != nil {
		return fmt.Errorf("policygradient: the policy network's update state: %w", err)
	}
	if err := s.Value.check(p.value.params()); err != nil {
		return fmt.Errorf("policygradient: the value network's update state: %w", err)
	}
	p.policyOpt.restore(s.Policy)
	p.valueOpt.restore(s.Value)
	p.advMS, p.episodes = s.AdvMS, s.Episodes
	return nil
}

// state is a copy of o's moments and step count.
func (o *adam) state() adamState {
	s := adamState{T: o.t}
	for i := range o.m {
		s.M = append(s.M, slices.Clone(o.m[i]))
		s.V = append(s.V, slices.Clone(o.v[i]))
	}
	return s
}

// restore replaces o's moments and step count by s's (checked).
func (o *adam) restore(s adamState) {
	for i := range o.m {
		copy(o.m[i], s.M[i])
		copy(o.v[i], s.V[i])
	}
	o.t = s.T
}

// check reports why s is not an Adam state for params, or nil.
func (s adamState) check(params [][]float64) error {
	switch {
	case s.T < 0:
		return fmt.Errorf("%d steps taken, want at least 0", s.T)
	case !sameLengths(s.M, params) || !sameLengths(s.V, params):
		return errors.New("its moments do not fit the network's parameters")
	}
	for i := range s.M {
		if !allFinite(s.M[i]) || !allFinite(s.V[i]) || slices.ContainsFunc(s.V[i], func(v float64) bool { return v < 0 }) {
			return errors.New("a moment that is not finite, or a negative second moment")
		}
	}
	return nil
}
