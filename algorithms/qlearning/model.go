package qlearning

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
)

// Model encoding identification: UnmarshalBinary refuses any other.
const (
	ModelFormat  = "marlon-qlearning"
	ModelVersion = 1
)

// model is the encoding of a Policy's table, as JSON: what the table means
// (actions, discretizer, initial value of the rows not stored), the rows by
// state in increasing order, and the learning episodes counted so far (so
// that the exploration schedule resumes where it was).
type model struct {
	Format      string      `json:"format"`
	Version     int         `json:"version"`
	Actions     int         `json:"actions"`
	Discretizer Discretizer `json:"discretizer"`
	InitialQ    float64     `json:"initial_q"`
	Episodes    int         `json:"episodes"`
	States      []int       `json:"states"`
	Q           [][]float64 `json:"q"`
	// Counts are the updates per state-action of the states listed, kept
	// with SampleAverage so that learning rates resume where they were.
	Counts [][]int `json:"counts,omitempty"`
}

// MarshalBinary encodes the table and what it means.
func (p *Policy) MarshalBinary() ([]byte, error) {
	m := model{Format: ModelFormat, Version: ModelVersion, Actions: p.actions.N, Discretizer: p.cfg.Discretizer, InitialQ: p.cfg.InitialQ}
	p.mu.Lock()
	m.Episodes = p.episodes
	m.States = make([]int, 0, len(p.q))
	for s := range p.q {
		m.States = append(m.States, s)
	}
	sort.Ints(m.States)
	m.Q = make([][]float64, len(m.States))
	for i, s := range m.States {
		m.Q[i] = slices.Clone(p.q[s])
	}
	if p.cfg.SampleAverage {
		m.Counts = make([][]int, len(m.States))
		for i, s := range m.States {
			m.Counts[i] = slices.Clone(p.n[s])
			if m.Counts[i] == nil {
				m.Counts[i] = make([]int, p.actions.N)
			}
		}
	}
	p.mu.Unlock()
	return json.Marshal(m)
}

// UnmarshalBinary replaces the table by an encoded one. It refuses a table
// of another format or version, or one made for other actions, another
// discretisation or another initial value.
func (p *Policy) UnmarshalBinary(data []byte) error {
	var m model
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("qlearning: not a readable model: %w", err)
	}
	if err := p.fits(m); err != nil {
		return err
	}
	q := make(map[int][]float64, len(m.States))
	n := make(map[int][]int, len(m.Counts))
	for i, s := range m.States {
		if _, dup := q[s]; dup || s < 0 || s >= p.cfg.Discretizer.States() || len(m.Q[i]) != p.actions.N {
			return fmt.Errorf("qlearning: model row %d (state %d) is invalid: want distinct states in [0, %d) with %d values each", i, s, p.cfg.Discretizer.States(), p.actions.N)
		}
		q[s] = m.Q[i]
		if m.Counts != nil {
			n[s] = m.Counts[i]
		}
	}
	p.mu.Lock()
	p.q, p.n, p.episodes = q, n, m.Episodes
	p.mu.Unlock()
	return nil
}

// fits reports why m cannot be this policy's table, or nil.
func (p *Policy) fits(m model) error {
	switch {
	case m.Format != ModelFormat:
		return fmt.Errorf("qlearning: model format %q, want %q", m.Format, ModelFormat)
	case m.Version != ModelVersion:
		return fmt.Errorf("qlearning: model version %d, this build reads version %d", m.Version, ModelVersion)
	case m.Actions != p.actions.N:
		return fmt.Errorf("qlearning: the model has %d actions, this policy %d", m.Actions, p.actions.N)
	case !slices.EqualFunc(m.Discretizer, p.cfg.Discretizer, func(a, b Bins) bool { return a.Field == b.Field && slices.Equal(a.Edges, b.Edges) }):
		return fmt.Errorf("qlearning: the model's Discretizer is %v, this policy's %v", m.Discretizer, p.cfg.Discretizer)
	case m.InitialQ != p.cfg.InitialQ:
		return fmt.Errorf("qlearning: the model's InitialQ is %v, this policy's %v", m.InitialQ, p.cfg.InitialQ)
	case len(m.States) != len(m.Q) || m.Episodes < 0:
		return errors.New("qlearning: corrupt model: states and rows differ in number, or episodes < 0")
	case m.Counts != nil && (len(m.Counts) != len(m.States) || slices.ContainsFunc(m.Counts, func(c []int) bool { return len(c) != p.actions.N })):
		return errors.New("qlearning: corrupt model: update counts do not match the rows")
	}
	return nil
}
