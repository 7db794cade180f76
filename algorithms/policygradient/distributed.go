package policygradient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/marlon-go/marlon/learning"
)

// Distributed training (learning.Distributed). A rollout's agents act and
// record their experience as in training (the inputs, the allowed actions,
// the actions drawn, the rewards, where each stretch of experience ended and
// the inputs it is bootstrapped from); EndRollout returns it instead of
// taking the gradient step, and Learn takes that step on the learner: the
// same batch, in the same order (agents sorted by ID), through the same
// code, so that with the learner's parameters, Adam's moments and running
// advantage scale unchanged by the trip, the step is the one EndEpisode
// would have taken. A learner that resumes from a checkpoint gets the
// moments and the scale back from its update state (learning.Resumable),
// and steps on as the original would have.
//
// Asynchrony (stale parameters). REINFORCE is on-policy: its gradient is
// that of the policy that drew the actions. Experience drawn with parameters
// older than the learner's gives the gradient at the old parameters, applied
// at the new ones, without importance weights: for small learning rates
// and a few updates of lag this is the usual asynchronous policy gradient
// (A3C's, whose actors run a few steps behind), but the lag adds variance
// and bias that grow with it, and the value baseline is the learner's
// (current), not the one the actions were drawn under. Keep the lag small:
// one episode per rollout node per update, few nodes. The learner still takes
// one gradient step per episode, in the order Learn is called.

// ExperienceFormat identifies the encoding of an episode's experience:
// Learn refuses any other.
const (
	ExperienceFormat  = "marlon-pg-experience"
	ExperienceVersion = 1
)

// agentExperience is one agent's recorded episode.
type agentExperience struct {
	ID      string    `json:"id"`
	X       []float64 `json:"x"`       // inputs of each step, back to back
	Allowed []bool    `json:"allowed"` // allowed actions of each step, back to back
	Acts    []int     `json:"acts"`
	Rews    []float64 `json:"rews"`
	Segs    []segExp  `json:"segs"`
}

type segExp struct {
	End  int       `json:"end"`
	Boot []float64 `json:"boot,omitempty"`
}

type experience struct {
	Format  string            `json:"format"`
	Version int               `json:"version"`
	Inputs  int               `json:"inputs"`
	Actions int               `json:"actions"`
	Episode int               `json:"episode"`
	Agents  []agentExperience `json:"agents"`
}

// BeginRollout begins learning episode number episode as a rollout:
// coordinated draws follow episode, and the agents record their experience
// for EndRollout.
func (p *Policy) BeginRollout(episode int) {
	p.mu.Lock()
	p.episodes = max(episode, 0)
	p.rollout = true
	for _, a := range p.agents {
		a.reset()
	}
	p.mu.Unlock()
}

// EndRollout ends the rollout's episode and returns its agents' experience,
// without learning from it.
func (p *Policy) EndRollout() ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.rollout {
		return nil, errors.New("policygradient: EndRollout without BeginRollout")
	}
	p.rollout = false
	x := experience{Format: ExperienceFormat, Version: ExperienceVersion, Inputs: len(p.inputs), Actions: p.actions.N, Episode: p.episodes}
	if p.IsLearning() {
		p.episodes++
	}
	for _, a := range p.agents {
		a.closeSegment(false)
		if len(a.acts) == 0 {
			continue
		}
		e := agentExperience{ID: string(a.id), X: slices.Clone(a.xs), Allowed: slices.Clone(a.allowed),
			Acts: slices.Clone(a.acts), Rews: slices.Clone(a.rews)}
		for _, s := range a.segs {
			e.Segs = append(e.Segs, segExp{End: s.end, Boot: slices.Clone(s.boot)})
		}
		x.Agents = append(x.Agents, e)
		a.reset()
	}
	b, err := json.Marshal(x)
	if err != nil {
		return nil, fmt.Errorf("policygradient: encoding the experience: %w", err)
	}
	return b, nil
}

// Learn takes the gradient step EndEpisode would have taken on a rollout's
// episode, and counts a learning episode. It refuses experience of another
// format, made for other inputs or actions, or inconsistent (lengths that
// do not match, actions out of range or not allowed, values that are not
// finite), and then learns nothing. It panics if gorgonia fails, which is a
// bug.
func (p *Policy) Learn(data []byte) error {
	var x experience
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&x); err != nil {
		return fmt.Errorf("policygradient: not readable experience: %w", err)
	}
	if dec.More() {
		return errors.New("policygradient: not readable experience: data after the object")
	}
	if err := p.checkExperience(x); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.episodes++
	n := 0
	for _, e := range x.Agents {
		a := p.agentLocked(learning.AgentID(e.ID))
		a.reset()
		a.xs = append(a.xs, e.X...)
		a.allowed = append(a.allowed, e.Allowed...)
		a.acts = append(a.acts, e.Acts...)
		a.rews = append(a.rews, e.Rews...)
		for _, s := range e.Segs {
			a.segs = append(a.segs, segment{end: s.End, boot: slices.Clone(s.Boot)})
		}
		a.start = len(a.acts)
		n += len(a.acts)
	}
	if n > 0 {
		if err := p.learn(n); err != nil {
			panic(err)
		}
	}
	for _, a := range p.agents {
		a.reset()
	}
	return nil
}

// agentLocked returns agent id, made if the policy has none yet. The caller
// holds p.mu.
func (p *Policy) agentLocked(id learning.AgentID) *agent {
	i := sort.Search(len(p.agents), func(i int) bool { return p.agents[i].id >= id })
	if i < len(p.agents) && p.agents[i].id == id {
		return p.agents[i]
	}
	a := p.newAgent(id)
	p.agents = slices.Insert(p.agents, i, a)
	return a
}

// checkExperience reports why x cannot be learnt by this policy, or nil.
func (p *Policy) checkExperience(x experience) error {
	d, k := len(p.inputs), p.actions.N
	switch {
	case x.Format != ExperienceFormat:
		return fmt.Errorf("policygradient: experience format %q, want %q", x.Format, ExperienceFormat)
	case x.Version != ExperienceVersion:
		return fmt.Errorf("policygradient: experience version %d, this build reads version %d", x.Version, ExperienceVersion)
	case x.Inputs != d || x.Actions != k:
		return fmt.Errorf("policygradient: experience of %d inputs and %d actions, this policy has %d and %d", x.Inputs, x.Actions, d, k)
	}
	seen := map[string]bool{}
	for _, e := range x.Agents {
		n := len(e.Acts)
		bad := func(what string) error {
			return fmt.Errorf("policygradient: experience of agent %q: %s", e.ID, what)
		}
		switch {
		case e.ID == "" || seen[e.ID]:
			return bad("an empty or repeated agent ID")
		case n == 0 || len(e.Rews) != n || len(e.X) != n*d || len(e.Allowed) != n*k:
			return bad(fmt.Sprintf("%d actions, want at least one, and as many rewards, %d inputs and %d allowed flags per action", n, d, k))
		case len(e.Segs) == 0 || e.Segs[len(e.Segs)-1].End != n:
			return bad("its segments do not end with its last step")
		case !allFinite(e.X) || !allFinite(e.Rews):
			return bad("a value that is not finite")
		}
		seen[e.ID] = true
		for i, act := range e.Acts {
			if act < 0 || act >= k || !e.Allowed[i*k+act] {
				return bad(fmt.Sprintf("step %d took action %d, not an allowed action of [0, %d)", i, act, k))
			}
		}
		prev := 0
		for _, s := range e.Segs {
			if s.End <= prev || (s.Boot != nil && (len(s.Boot) != d || !allFinite(s.Boot))) {
				return bad("segments that do not grow, or a bootstrap that is not a finite input vector")
			}
			prev = s.End
		}
	}
	return nil
}

func allFinite(v []float64) bool {
	for _, x := range v {
		if !finite(x) {
			return false
		}
	}
	return true
}
