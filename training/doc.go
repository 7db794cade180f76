// Package training trains a learner across nodes: rollout nodes run
// simulated episodes with the learner's current parameters and send their
// agents' experience to the learner, which is elected, learns from it,
// publishes new parameters and checkpoints to the object store, so that
// another node takes over from the last checkpoint when it dies.
package training
