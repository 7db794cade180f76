package learning

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
