package policygradient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// Model encoding identification: UnmarshalBinary refuses any other.
const (
	ModelFormat  = "marlon-pg"
	ModelVersion = 1
)

// model is the encoding of a Policy's networks, as JSON: their shape (the
// inputs with their scaling, the hidden layers, the activation, the action
// count) and their parameters, each layer's weights (row-major, inputs by
// outputs) then biases. Adam's moments and the running advantage scale are
// not in the model (it is what acting needs, and what distributed training
// sends its rollouts): a policy restored from it alone starts its
// optimisers afresh; MarshalUpdateState saves them for a learner to resume
// from (learning.Resumable).
type model struct {
	Format     string      `json:"format"`
	Version    int         `json:"version"`
	Inputs     []Input     `json:"inputs"`
	Hidden     []int       `json:"hidden"`
	Activation Activation  `json:"activation"`
	Actions    int         `json:"actions"`
	Head       string      `json:"head,omitempty"` // "" for HeadSoftmax
	Policy     [][]float64 `json:"policy"`
	Value      [][]float64 `json:"value"`
}

// MarshalBinary encodes the networks and their shape.
func (p *Policy) MarshalBinary() ([]byte, error) {
	m := p.shape()
	p.mu.RLock()
	m.Policy, m.Value = p.policy.params(), p.value.params()
	b, err := json.Marshal(m)
	p.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("policygradient: encoding the model: %w", err)
	}
	return b, nil
}

func (p *Policy) shape() model {
	m := model{Format: ModelFormat, Version: ModelVersion, Inputs: p.cfg.Inputs, Hidden: p.cfg.Hidden,
		Activation: p.cfg.Activation, Actions: p.actions.N}
	if p.beta() {
		m.Head = HeadBeta
	}
	return m
}

// UnmarshalBinary replaces the networks' parameters by encoded ones. It
// refuses a model of another format or version, or of another shape:
// other inputs or scaling, hidden layers, activation or action count.
func (p *Policy) UnmarshalBinary(data []byte) error {
	var m model
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("policygradient: not a readable model: %w", err)
	}
	want := p.shape()
	switch {
	case m.Format != ModelFormat:
		return fmt.Errorf("policygradient: model format %q, want %q", m.Format, ModelFormat)
	case m.Version != ModelVersion:
		return fmt.Errorf("policygradient: model version %d, this build reads version %d", m.Version, ModelVersion)
	case !slices.Equal(m.Inputs, want.Inputs):
		return fmt.Errorf("policygradient: the model's Inputs are %v, this policy's %v", m.Inputs, want.Inputs)
	case !slices.Equal(m.Hidden, want.Hidden):
		return fmt.Errorf("policygradient: the model's Hidden layers are %v, this policy's %v", m.Hidden, want.Hidden)
	case m.Activation != want.Activation:
		return fmt.Errorf("policygradient: the model's Activation is %q, this policy's %q", m.Activation, want.Activation)
	case m.Actions != want.Actions:
		return fmt.Errorf("policygradient: the model has %d actions, this policy %d", m.Actions, want.Actions)
	case m.Head != want.Head:
		return fmt.Errorf("policygradient: the model's head is %q, this policy's %q", headName(m.Head), headName(want.Head))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pp, vp := p.policy.params(), p.value.params()
	if !sameLengths(m.Policy, pp) || !sameLengths(m.Value, vp) {
		return fmt.Errorf("policygradient: corrupt model: its parameter arrays do not fit its shape")
	}
	for i := range pp {
		copy(pp[i], m.Policy[i]) // in place: the loss graph shares these arrays
	}
	for i := range vp {
		copy(vp[i], m.Value[i])
	}
	p.resetOptimisers()
	return nil
}

func headName(h string) string {
	if h == "" {
		return HeadSoftmax
	}
	return h
}

func sameLengths(a, b [][]float64) bool {
	return slices.EqualFunc(a, b, func(x, y []float64) bool { return len(x) == len(y) })
}
