package learning

import "fmt"

// Resumable is implemented by policies whose updates depend on state their
// Model does not hold: an optimiser's moments, a running statistic the
// update scales by, a counter. A learner that stops and is replaced by
// another (distributed training's failover) checkpoints that state with its
// models (Team.ResumeCheckpoint), and the replacement, restored from that
// checkpoint (Team.Restore), makes the updates the original would have
// made, to the bit.
//
// The Model is what acting needs and what a policy's copies are sent; the
// update state is only the learner's, and only resuming needs it: a policy
// restored from its model alone (UnmarshalBinary) learns on with its update
// state started afresh, as the implementation's doc says. A policy whose
// Model already holds everything its updates depend on need not implement
// Resumable.
type Resumable interface {
	// MarshalUpdateState encodes the update state (not the model).
	MarshalUpdateState() ([]byte, error)
	// UnmarshalUpdateState replaces the update state by one encoded by a
	// policy of the same configuration, for the model it was saved with
	// (restored first, with UnmarshalBinary). It refuses, changing
	// nothing, a state that is malformed or does not fit the policy.
	UnmarshalUpdateState(data []byte) error
}

// ResumeCheckpoint is Checkpoint with the update state of every Resumable
// policy (Checkpoint.UpdateState): what a learner that is to be resumed
// from it keeps. Checkpoint alone is what the policies' copies need (a
// rollout's parameters) and what a trained team is saved as.
func (t *Team) ResumeCheckpoint(env, algorithm string, spec Spec, episodes int) (*Checkpoint, error) {
	c, err := t.Checkpoint(env, algorithm, spec, episodes)
	if err != nil {
		return nil, err
	}
	for _, name := range t.Policies() {
		r, ok := As[Resumable](t.Policy(name))
		if !ok {
			continue
		}
		b, err := r.MarshalUpdateState()
		if err != nil {
			return nil, fmt.Errorf("learning: keeping the update state of policy %s: %w", name, err)
		}
		if c.UpdateState == nil {
			c.UpdateState = map[string][]byte{}
		}
		c.UpdateState[name] = b
	}
	return c, nil
}

// restoreUpdateState restores the update state c holds for the named
// policy, if any, into p (whose model c's has just replaced).
func restoreUpdateState(c *Checkpoint, name string, p Policy) error {
	b, ok := c.UpdateState[name]
	if !ok {
		return nil
	}
	r, ok := As[Resumable](p)
	if !ok {
		return refuse("it holds an update state for policy %s, whose %s policy keeps none (it is not learning.Resumable)", name, p.Name())
	}
	if err := r.UnmarshalUpdateState(b); err != nil {
		return refuse("the update state of policy %s: %v", name, err)
	}
	return nil
}
