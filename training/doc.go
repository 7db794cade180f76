// Package training trains a learner across nodes: rollout nodes run
// simulated episodes with the learner's current parameters and send their
// agents' experience to the learner, which is elected, learns from it,
// publishes new parameters, and checkpoints to the object store, so that
// another node takes over from the last checkpoint when it dies.
//
// # Why a top-level package, and what it must not depend on
//
// Distributed training joins what no other package may join: the learning
// contract (learning.Distributed, teams, checkpoints), episodes of any
// environment (env), and the coordination primitives on JetStream
// (coordination). learning must not depend on actors, env on a transport,
// coordination on learning; so the design needs a package of its own.
// It depends on actors, coordination, env, learning and nats.go's jetstream
// (the object store). It must not depend on any particular environment or
// algorithm (the command gives it a NewEnv), nor on the transport package:
// nodes talk only through JetStream.
//
// # The protocol
//
// A run is a Spec (what to train, how long), written by marlon train to a
// variable (RunVar); every node's Node starts a Trainer for it. Each
// Trainer is a rollout node and a learner candidate: it joins the run's
// group (coordination.Membership) and campaigns for the run's learner role
// (coordination.Election). Its actors run in the simulator on KVModel and
// BlobModel, and live on a JetStream bucket and object store (StartLive),
// unchanged.
//
//   - The learner publishes Params to the params variable, written with
//     its Fence (a deposed learner's writes are refused): the update count,
//     the team's checkpoint (inline, or in the object store when larger
//     than Config.InlineLimit), and the next epoch's assignment: the live
//     members, in order, and the first episode number. Node i runs episodes
//     Next + i*PerNode ... Next + (i+1)*PerNode - 1, with training seeds
//     learning.TrainSeed(Seed, k): the episodes are the same whichever
//     nodes run them.
//   - Each rollout node, on a new params value (watched, and polled in
//     case a watch went silent), loads the model into its own team, runs
//     its episodes as rollouts (learning.Team.BeginRollout, EndRollout),
//     and writes one value for the epoch: its Batch, the experience of all
//     its agents in all its episodes, aggregated by the node (the
//     coordinator of seed 002: one message per node per update, whatever
//     the number of agents). It then arrives at the epoch's barrier, which
//     expects every live member (a node not in the assignment arrives too,
//     with nothing, so as not to hold the epoch up).
//   - The epoch ends when every live member has arrived, or its presence
//     expired (a dead node stops holding the epoch up after its presence
//     TTL), or EpochTimeout passes. The learner then reads the batches of
//     the assigned nodes that arrived, in assignment order, learns from
//     each episode in episode order (learning.Team.Learn), validates when
//     due, checkpoints every CheckpointEvery updates, and publishes again.
//     Progress reports who took part and who was missing.
//   - An epoch that ends with no experience is published again; one whose
//     barrier outcome the learner never learns is published again after
//     twice EpochTimeout plus the lease (a watchdog).
//
// # Failures
//
//   - The learner dies: its lease expires (Timing.LeaseTTL), another node
//     is elected, reads the checkpoint variable (linearizable), restores
//     the team and the learner's counters (updates, episodes, the best
//     validation and its models) from the object store, and publishes the
//     checkpoint's parameters: the epochs since the checkpoint are run
//     again, with the same episode numbers (what the dead learner learnt
//     from them was lost with it: no episode counts twice), and the run
//     continues to the requested number of updates. A checkpoint holds the
//     team's models and the update state of the policies that keep one
//     (learning.Resumable, learning.Team.ResumeCheckpoint: policy
//     gradient's Adam moments and running advantage scale), so the resumed
//     learner's updates are the ones the dead learner would have made: a
//     run with a failover whose epochs keep the same nodes ends with the
//     models of the run without it, to the bit
//     (TestFailoverEndsBitIdenticalToARunWithout). The parameters
//     published to the rollouts every update are the models alone
//     (learning.Team.Checkpoint): rollouts need no update state.
//   - A rollout node dies: the epoch completes without it once its presence
//     expires; later epochs no longer assign it episodes.
//   - A partition: the side that reaches a quorum of JetStream servers
//     continues; a node on the minority side cannot write (its store refuses
//     writes while isolated), so its experience never arrives and its
//     presence expires: the majority's epochs go on without it. A learner
//     cut off loses its lease and its fenced writes are refused; a learner on
//     the majority side takes over from the checkpoint. When the partition
//     heals, the node sees the current params and takes part again. What was
//     acknowledged is not lost (JetStream's guarantees; see coordination).
//
// # Exactness and asynchrony
//
// One rollout node running one episode per update reproduces
// single-process training (env.Run with the same seed, validation and
// selection) to the bit: the learner's model after every update is the one
// a single process has after the same episode (TestOneNodeReproduces...).
// With more nodes or episodes per update, rollouts act on parameters up to
// an update old; learning.Distributed's implementations say what that does
// to each algorithm (qlearning: off-policy, targets recomputed on the
// learner's table; policygradient: on-policy gradients applied one update
// late, without importance weights).
//
// # Limits
//
// One learner (m = 1 shard): the team's policies are learnt in one place.
// Experience and parameters larger than InlineLimit go through the object
// store, which costs a round trip more. KV values are authenticated only by
// the NATS connection (token or nkey), not signed by the node: the learner
// refuses experience that is malformed or for another policy
// (learning.Distributed's Learn), but a client with the bucket's credentials
// could write plausible experience. Old checkpoints and best-model objects
// stay in the object store.
package training
