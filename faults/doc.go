// Package faults injects faults into simulated episodes: node crashes and
// restarts, cascading failures, network partitions, message delay, message
// loss and corruption, and byzantine agents, at the light, medium, heavy and
// chaos intensities of the resilient-scheduling seed, in random, cascading
// and partition patterns.
//
// A Spec says what to inject; Generate turns it, with a seed and the nodes
// and agents that may fail (Targets), into a Plan: a timeline of faults,
// plain data that can be printed, stored as JSON, edited and replayed.
// Inject applies a Plan to an episode running in an actors.Sim: it installs
// itself as the Sim's network model (actors.Sim.SetNetwork) and runs an actor
// of its own, on node Node, that crashes, partitions and restarts nodes at
// the planned virtual times. Its Report is the timeline of what was
// injected and what the network did, in text and JSON, for the run's output.
//
// # How each fault is modelled
//
// Faults are modelled as the live system experiences them over the
// transport package, whose guarantees are: frames are numbered per pair of
// nodes, retransmitted until acknowledged (the retransmission timeout is the
// heartbeat interval) and delivered in order; a frame that fails its MAC is
// rejected, counted and sent again; a peer that sends nothing for
// MissedHeartbeats intervals is declared down, and then the watchers of its
// actors receive actors.Down{NodeDown} and what was sent to it and not
// acknowledged is reported to the senders (a request fails with
// actors.ErrUndeliverable, a plain message comes back as
// actors.Undeliverable). In virtual time units, with the Spec's Heartbeat
// and Missed, the detection time is Heartbeat*Missed and the retransmission
// timeout (RTO) is Heartbeat. So:
//
//   - Crash: the node's actors stop at once (actors.Sim.KillNode). Their
//     watchers on other nodes receive Down{NodeDown} after the detection
//     time, or when the node restarts if that is sooner (a restarted node
//     replaces its previous incarnation, which is then reported down).
//     Messages sent to the node meanwhile are refused when it is declared
//     down: the senders are told then. After the downtime the node restarts
//     empty, as a new incarnation: the environment's Hooks.Restart starts its
//     actors afresh (new addresses; nothing of the old ones survives).
//   - Cascading failure: a crash raises the chance that related nodes crash
//     soon after (within two detection times): each related node crashes
//     with the severity's cascade probability, and so on from it, up to the
//     intensity's share of the nodes. Related nodes are the crashed node's
//     neighbours in the Targets' order (a rack, a switch), unless
//     Targets.Related says otherwise. In the plan these are crashes whose
//     Cause names the crash that set them off.
//   - Network partition: a set of nodes is cut off from the rest. Messages
//     across the cut are not acknowledged, so the transport sends them again
//     every RTO: if the partition heals before the detection time they
//     arrive at the first retransmission after it heals, in order. If it
//     lasts longer, each side declares the other's nodes down at the
//     detection time (actors.Sim.DeclareDown: the watchers across the cut
//     receive Down{NodeDown}, the actors keep running on their own side),
//     messages across are refused, and when the partition heals the cut-off
//     nodes come back as new incarnations: their actors are stopped and
//     Hooks.Restart starts them afresh, as after a restart. (Over the
//     transport, a node declared down by silence keeps its actors when it
//     speaks again, but every actor across the cut has been told they are
//     gone: the load-balancing Master, for one, writes its workers off and
//     they stop when they next ask. Starting the cut-off side afresh is
//     that outcome, for any environment.) The partitions of a plan do not
//     overlap in time.
//   - Message delay: messages to or from the node take Delay longer, in
//     order per pair of nodes.
//   - Message loss: each transmission of a message to or from the node is
//     lost with probability Rate; the transport sends it again after the
//     RTO, so a lost message arrives k RTOs late after k losses, and is
//     counted (Report.Retransmitted), never dropped.
//   - Message corruption: each transmission is corrupted with probability
//     Rate; the receiver's MAC check rejects it and counts it, and the
//     sender sends it again after the RTO: extra delay and a count
//     (Report.Rejected), never a corrupted message applied.
//   - Byzantine agent: the agent's policy acts against the system while the
//     fault lasts: Injector.Agents wraps chosen agents' learning algorithms
//     so that they choose the action their own policy rates least likely
//     (or, without probabilities, the allowed action farthest from the one
//     it would have taken), or an allowed action at random; this works for
//     any discrete action space and respects action masks. Lies that are
//     not actions (a bid that misstates a node's capacity, a vote that
//     misreports what a node saw) belong to the environment, which asks
//     the Liar hook whether an agent lies now and how.
//
// Only messages between nodes are affected; messages within a node, timers
// and messages injected from outside the actors never cross a link. The
// network model draws its randomness from its own source seeded by the plan,
// in the Sim's deterministic order: the same seed gives the same plan and,
// with the same actors, the same run to the bit.
//
// # Intensities
//
// As in the seed: light is one fault on 20% of the nodes at low severity,
// medium two on 30% at medium severity, heavy three on 40% at high severity,
// chaos five on 60% at critical severity. How long outages and windows last
// is a share of Targets.Horizon, the expected length of an episode; delays
// are multiples of the heartbeat; see Level for the figures.
//
// # Dependencies
//
// The package is top-level because it serves every environment (load
// balancing and scheduling inject its plans) and the evaluation campaign
// alike; a test of the live transport could replay the same plans. It depends on actors
// (the Sim it drives), learning (the agents it makes lie) and env (the
// FieldError every environment reports bad input with). It must not
// depend on any particular environment, algorithm, transport or the CLI:
// environments call it, not the reverse.
package faults
