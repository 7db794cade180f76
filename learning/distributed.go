package learning

import (
	"fmt"
	"sort"
)

// Distributed is implemented by policies whose training can be split across
// processes: rollout nodes run episodes with a copy of the policy and export
// the experience of its agents; a learner learns from that experience as if
// the episodes had run on it, and sends its model back to the rollouts
// (the Model's MarshalBinary, loaded with UnmarshalBinary).
//
// A rollout runs an episode between BeginRollout and EndRollout instead of
// BeginEpisode and EndEpisode, with the policy learning (SetLearning(true)):
// its agents explore and record as in training, and EndRollout returns what
// they recorded instead of learning from it. The learner calls Learn with
// each episode's experience, in the order it chooses; Learn does what
// EndEpisode would have done had the episode run on the learner, including
// counting a learning episode.
//
// The contract that makes distribution exact: a policy that runs episode k
// as a rollout (BeginRollout(k), the episode, EndRollout) on a copy of the
// learner's model, while the learner then calls Learn with its experience,
// leaves the learner's model exactly where BeginEpisode, the same episode
// and EndEpisode would have left a single policy, to the bit. One rollout
// node running one episode per update therefore reproduces single-process
// training.
//
// With several rollouts, or several episodes per update, the rollouts act
// on parameters older than the learner's (stale parameters); what that does
// depends on the algorithm, and each implementation says so in its doc.
//
// The experience is an opaque encoding of the implementation's; Learn
// refuses (with an error, without learning anything) experience that is
// malformed or was made by a policy of another configuration, since it
// crosses the network.
type Distributed interface {
	Model
	// BeginRollout begins learning episode number episode (from 0, counted
	// over the whole training run, whichever node runs it): exploration
	// schedules and common random numbers follow that number, so that two
	// rollouts running different episodes on the same parameters explore
	// differently, and one running episode k explores as a single policy
	// would in its episode k.
	BeginRollout(episode int)
	// EndRollout ends the episode begun by BeginRollout and returns its
	// agents' experience. Whatever the policy learnt within the episode
	// (an algorithm that learns while acting) it keeps until its model is
	// next replaced; it makes no update that waits for the end of an
	// episode (a batched gradient step): that is the learner's.
	EndRollout() ([]byte, error)
	// Learn learns from the experience of one episode exported by
	// EndRollout of a policy made with the same configuration.
	Learn(experience []byte) error
}

// BeginRollout begins learning episode number episode as a rollout on every
// policy of the team (and on any policy the team makes for a new agent
// before EndRollout). Every policy must be Distributed.
func (t *Team) BeginRollout(episode int) error {
	ps, err := t.distributed()
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.rolling, t.rollout = true, episode
	t.mu.Unlock()
	for _, p := range ps {
		p.d.BeginRollout(episode)
	}
	return nil
}

// EndRollout ends the rollout's episode on every policy and returns each
// policy's experience by policy name, for Learn.
func (t *Team) EndRollout() (map[string][]byte, error) {
	t.mu.Lock()
	t.rolling = false
	t.mu.Unlock()
	ps, err := t.distributed()
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(ps))
	for _, p := range ps {
		b, err := p.d.EndRollout()
		if err != nil {
			return nil, fmt.Errorf("learning: policy %s: %w", p.name, err)
		}
		out[p.name] = b
	}
	return out, nil
}

// Learn gives each policy the experience a rollout team's policy of the
// same name exported (EndRollout), policies in name order. A policy the team
// does not have yet is made first (an independent team's new agent); a
// shared team has only SharedPolicy. Every policy must be Distributed.
func (t *Team) Learn(experience map[string][]byte) error {
	names := make([]string, 0, len(experience))
	for name := range experience {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p, err := t.policyNamed(name)
		if err != nil {
			return err
		}
		d, ok := As[Distributed](p)
		if !ok {
			return fmt.Errorf("learning: policy %s (%s) cannot learn from another node's experience (it is not learning.Distributed)", name, p.Name())
		}
		if err := d.Learn(experience[name]); err != nil {
			return fmt.Errorf("learning: policy %s: %w", name, err)
		}
	}
	return nil
}

type namedDistributed struct {
	name string
	d    Distributed
}

// distributed lists the team's policies as Distributed, in name order.
func (t *Team) distributed() ([]namedDistributed, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []namedDistributed
	for _, name := range t.sortedPolicies() {
		d, ok := As[Distributed](t.policies[name])
		if !ok {
			return nil, fmt.Errorf("learning: policy %s (%s) cannot be trained across nodes (it is not learning.Distributed)", name, t.policies[name].Name())
		}
		out = append(out, namedDistributed{name, d})
	}
	return out, nil
}

// policyNamed returns the named policy, made if the team makes policies on
// demand.
func (t *Team) policyNamed(name string) (Policy, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.policies[name]; ok {
		return p, nil
	}
	if t.newOne == nil {
		return nil, fmt.Errorf("learning: the team has no policy %s (it has %v)", name, t.sortedPolicies())
	}
	p, err := t.newOne(name)
	if err != nil {
		return nil, err
	}
	t.policies[name] = p
	return p, nil
}
