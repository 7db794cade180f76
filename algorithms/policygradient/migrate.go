package policygradient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// agentState is an agent's state for migration (learning.Migratable).
type agentState struct {
	X       []float64 `json:"x"`
	Mask    []bool    `json:"mask,omitempty"`
	Seen    bool      `json:"seen"`
	Draws   int       `json:"draws"`
	Xs      []float64 `json:"xs,omitempty"`
	Allowed []bool    `json:"allowed,omitempty"`
	Acts    []int     `json:"acts,omitempty"`
	Rews    []float64 `json:"rews,omitempty"`
	Segs    []segExp  `json:"segs,omitempty"`
	Start   int       `json:"start"`
	Source  []byte    `json:"source"`
}

// MarshalAgent encodes the agent's state in its episode: its latest
// inputs and mask, the experience it recorded for the episode's gradient
// step, how many actions it drew, and its random source.
func (a *agent) MarshalAgent() ([]byte, error) {
	src, err := a.src.MarshalBinary()
	if err != nil {
		return nil, err
	}
	a.p.mu.RLock()
	defer a.p.mu.RUnlock()
	s := agentState{X: a.x, Mask: a.mask, Seen: a.seen, Draws: a.draws, Xs: a.xs, Allowed: a.allowed, Acts: a.acts, Rews: a.rews, Start: a.start, Source: src}
	for _, sg := range a.segs {
		s.Segs = append(s.Segs, segExp{End: sg.end, Boot: sg.boot})
	}
	return json.Marshal(s)
}

// UnmarshalAgent restores a migrated agent's state. It refuses a state that
// does not fit this policy's inputs and actions, and then changes nothing.
func (a *agent) UnmarshalAgent(data []byte) error {
	var s agentState
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return fmt.Errorf("policygradient: not an agent's state: %w", err)
	}
	d, k, n := len(a.p.inputs), a.p.actions.N, len(s.Acts)
	bad := len(s.X) != d || !allFinite(s.X) || len(s.Xs) != n*d || !allFinite(s.Xs) || len(s.Allowed) != n*k ||
		len(s.Rews) > n || len(s.Rews) < n-1 || !allFinite(s.Rews) || s.Start < 0 || s.Start > n || s.Draws < 0
	for i, act := range s.Acts {
		bad = bad || act < 0 || act >= k || !s.Allowed[i*k+act]
	}
	prev := 0
	for _, sg := range s.Segs {
		bad = bad || sg.End <= prev || sg.End > n || (sg.Boot != nil && (len(sg.Boot) != d || !allFinite(sg.Boot)))
		prev = sg.End
	}
	if bad {
		return errors.New("policygradient: a migrated agent's state does not fit this policy")
	}
	if err := a.src.UnmarshalBinary(s.Source); err != nil {
		return fmt.Errorf("policygradient: a migrated agent's random source: %w", err)
	}
	a.p.mu.Lock()
	defer a.p.mu.Unlock()
	copy(a.x, s.X)
	a.mask, a.seen, a.draws = s.Mask, s.Seen, s.Draws
	a.xs, a.allowed, a.acts, a.rews, a.start = s.Xs, s.Allowed, s.Acts, s.Rews, s.Start
	a.segs = a.segs[:0]
	for _, sg := range s.Segs {
		a.segs = append(a.segs, segment{end: sg.End, boot: slices.Clone(sg.Boot)})
	}
	return nil
}
