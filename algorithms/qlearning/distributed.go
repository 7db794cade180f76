package qlearning

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Distributed training (learning.Distributed). A rollout's agents learn into
// its copy of the table while they act, exactly as in single-process
// training (an agent's Monte Carlo updates are made when its episode ends,
// and the agents still acting then read them), and the policy records every
// update it makes: which steps, and whether they ended with a terminal
// observation. EndRollout returns that record; Learn replays it on the
// learner's table, through the same code, recomputing every target there
// (the bootstrapped values of lambda-returns and of one-step targets come
// from the learner's table). On the same table, the replay makes the same
// updates in the same order: the learner ends where a single policy would.
//
// Asynchrony (stale parameters). Q-learning learns off-policy: a transition
// is valid experience whichever policy chose its action, and the learner
// recomputes every bootstrapped target on its current table, so stale
// parameters change only which actions were explored, as a replay buffer
// does. Monte Carlo returns (Lambda 1, what the load-balancing learner uses)
// are the returns of the policy that acted, an older one: their targets move
// the table towards that policy's values, which lags the greedy policy by
// the staleness; with the sample averages of Config.SampleAverage every
// return counts, so a few episodes of lag among hundreds barely move the
// averages. The exploration schedule follows the global episode number that
// BeginRollout is given, not the rollout's model.
//
// Resuming. Everything an update depends on is in the model: the table, the
// update counts of Config.SampleAverage and the learning episodes counted
// (the exploration schedule). A learner restored from a checkpoint of the
// model therefore updates as the original would have, and the policy keeps
// no update state besides (it is not learning.Resumable).

// ExperienceFormat identifies the encoding of an episode's experience:
// Learn refuses any other.
const (
	ExperienceFormat  = "marlon-qlearning-experience"
	ExperienceVersion = 1
)

// event is one update of the table: the steps of one agent towards their
// lambda-returns (Terminal: the last step's observation was terminal,
// else it is bootstrapped), or with OneStep the single step's one-step
// target (Lambda 0).
type event struct {
	Steps    []step `json:"steps"`
	Terminal bool   `json:"terminal,omitempty"`
	OneStep  bool   `json:"one_step,omitempty"`
}

// experience is the encoding of a rollout's experience.
type experience struct {
	Format  string  `json:"format"`
	Version int     `json:"version"`
	Actions int     `json:"actions"`
	States  int     `json:"states"`
	Episode int     `json:"episode"`
	Events  []event `json:"events"`
}

// learn makes the updates of e and, in a rollout, records them. The
// caller holds p.mu.
func (p *Policy) learn(e event) {
	if p.log != nil {
		c := event{Steps: slices.Clone(e.Steps), Terminal: e.Terminal, OneStep: e.OneStep}
		p.log = append(p.log, c)
	}
	p.apply(e)
}

// apply updates the table for e. The caller holds p.mu.
func (p *Policy) apply(e event) {
	if e.OneStep {
		st := e.Steps[0]
		if e.Terminal {
			p.update(st.S, st.A, st.R)
		} else {
			p.update(st.S, st.A, st.R+p.cfg.Gamma*p.maxQ(st.Next, st.NextMask))
		}
		return
	}
	// Lambda-returns, computed backwards from the last step (all before
	// any update). After the last step comes 0 if the episode ended with a
	// terminal observation, the greedy value of the state it stopped in
	// otherwise.
	steps := e.Steps
	gamma, lambda := p.cfg.Gamma, p.cfg.Lambda
	targets := make([]float64, len(steps))
	last := len(steps) - 1
	g := 0.0
	if !e.Terminal {
		g = p.maxQ(steps[last].Next, steps[last].NextMask)
	}
	for t := last; t >= 0; t-- {
		st := steps[t]
		if t < last {
			g = (1-lambda)*p.maxQ(st.Next, st.NextMask) + lambda*g
		}
		g = st.R + gamma*g
		targets[t] = g
	}
	var seen map[[2]int]bool // with FirstVisit, the pairs updated
	if p.cfg.FirstVisit {
		seen = make(map[[2]int]bool, len(steps))
	}
	for t, st := range steps {
		if seen != nil {
			if seen[[2]int{st.S, st.A}] {
				continue
			}
			seen[[2]int{st.S, st.A}] = true
		}
		p.update(st.S, st.A, targets[t])
	}
}

// BeginRollout begins learning episode number episode as a rollout: the
// exploration schedule and coordinated draws follow episode, and every
// update the agents make is recorded until EndRollout.
func (p *Policy) BeginRollout(episode int) {
	p.mu.Lock()
	p.episodes = max(episode, 0)
	p.log = []event{}
	p.mu.Unlock()
}

// EndRollout ends the rollout's episode as EndEpisode does (the agents'
// last updates are made, on this copy of the table too) and returns the
// updates of the episode, for Learn.
func (p *Policy) EndRollout() ([]byte, error) {
	p.mu.Lock()
	if p.log == nil {
		p.mu.Unlock()
		return nil, errors.New("qlearning: EndRollout without BeginRollout")
	}
	for _, a := range p.agents {
		a.flush(false)
	}
	x := experience{Format: ExperienceFormat, Version: ExperienceVersion, Actions: p.actions.N,
		States: p.cfg.Discretizer.States(), Episode: p.episodes, Events: p.log}
	if p.learning {
		p.episodes++
	}
	p.log = nil
	p.mu.Unlock()
	return json.Marshal(x)
}

// Learn replays a rollout's updates on this table and counts a learning
// episode, as EndEpisode would have had the episode run here. It refuses
// experience of another format, or made for other actions or states, or
// with a step out of range, and then learns nothing.
func (p *Policy) Learn(data []byte) error {
	var x experience
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&x); err != nil {
		return fmt.Errorf("qlearning: not readable experience: %w", err)
	}
	if dec.More() {
		return errors.New("qlearning: not readable experience: data after the object")
	}
	if err := p.checkExperience(x); err != nil {
		return err
	}
	p.mu.Lock()
	for _, e := range x.Events {
		p.apply(e)
	}
	p.episodes++
	p.mu.Unlock()
	return nil
}

// checkExperience reports why x cannot be replayed on this table, or nil.
func (p *Policy) checkExperience(x experience) error {
	states := p.cfg.Discretizer.States()
	switch {
	case x.Format != ExperienceFormat:
		return fmt.Errorf("qlearning: experience format %q, want %q", x.Format, ExperienceFormat)
	case x.Version != ExperienceVersion:
		return fmt.Errorf("qlearning: experience version %d, this build reads version %d", x.Version, ExperienceVersion)
	case x.Actions != p.actions.N || x.States != states:
		return fmt.Errorf("qlearning: experience of a table of %d states and %d actions, this one has %d and %d", x.States, x.Actions, states, p.actions.N)
	}
	for i, e := range x.Events {
		switch {
		case len(e.Steps) == 0:
			return fmt.Errorf("qlearning: experience event %d has no steps", i)
		case e.OneStep && (len(e.Steps) != 1 || p.cfg.Lambda > 0):
			return fmt.Errorf("qlearning: experience event %d is a one-step update of %d steps, with Lambda %v (one step, Lambda 0 only)", i, len(e.Steps), p.cfg.Lambda)
		case !e.OneStep && p.cfg.Lambda == 0:
			return fmt.Errorf("qlearning: experience event %d holds lambda-returns and this policy's Lambda is 0", i)
		}
		for j, st := range e.Steps {
			if st.S < 0 || st.S >= states || st.Next < 0 || st.Next >= states || st.A < 0 || st.A >= p.actions.N ||
				math.IsNaN(st.R) || math.IsInf(st.R, 0) || !p.allowsOne(st.NextMask) {
				return fmt.Errorf("qlearning: experience event %d, step %d is out of range: states in [0, %d), actions in [0, %d), a finite reward, a mask allowing an action", i, j, states, p.actions.N)
			}
		}
	}
	return nil
}

// allowsOne reports whether mask allows at least one action.
func (p *Policy) allowsOne(mask []bool) bool {
	for a := 0; a < p.actions.N; a++ {
		if allowed(mask, a) {
			return true
		}
	}
	return false
}
