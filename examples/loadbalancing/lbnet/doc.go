// Package lbnet runs the load-balancing example live across processes and
// machines, over the NATS transport: it is the glue between
// examples/loadbalancing, which must not depend on a transport, and the
// transport package.
//
// A node that hosts workers calls Serve: it registers a host kind with its
// transport.Node, with so many worker slots of given speeds (`marlon node
// --workers K --speed S`: K slots of speed S) and a PolicyFactory. A master
// process calls Run on its own node. Run spawns one host actor on every
// member that hosts, learns their free slots, makes the scenario's workers
// from them (or takes the scenario's own), has every host build the policy
// its workers will share (an algorithm by name, restored from a checkpoint
// for a learner), and starts the episode's Master, roster and director on
// the master's node with loadbalancing.Environment.StartPlaced. The director
// places each worker through a placer actor, which asks a host with a free
// slot of the worker's speed; the host spawns the worker on its node, with
// an agent of the node's policy. A node that joins during the episode gets a
// host too, and its slots become new workers (loadbalancing.AddWorkers);
// the other agents see them join. A node that leaves or falls silent is
// reported by the transport: its workers' watchers (the Master, the roster,
// the director) receive actors.Down with reason NodeDown, the Master hands
// their chunks back to the pool, and the other agents see them leave. A
// node declared down after a silence that then speaks again (a partition
// that healed) joins again: its written-off workers are told so when they
// next ask the Master (loadbalancing.WrittenOff) and stop, and its free
// slots become new workers.
//
// Workers report (loadbalancing.WorkerReport) by message to the director. A
// worker whose node is killed never reports, so the check of a live run is
// the Master's ledger: every unit done exactly once (its bitset), as many as
// the job, and for every worker that did report, the units it reports equal
// the ledger's for it (Result.LedgerUnits).
//
// # Time
//
// A run's virtual time unit is the master's node's runtime scale (its
// transport.Config.Scale). Every node's runtime has its own scale and its
// own origin (when the node started), so the actors of an episode see the
// episode's clock through a wrapper: on the master, time since the episode
// started; on a host, each worker's clock is set from the master's time in
// the placement request (off by that message's one-way latency) and runs
// at the master's scale, whatever the node's. A run's results are thus in
// the same units as the simulator's.
//
// # Dependencies
//
// The package depends on actors, env, learning, transport and the
// load-balancing example; not on any algorithm (the caller's PolicyFactory
// makes the policies) nor on the CLI. It registers with transport, under the
// same names in every process that imports it, the example's messages that
// cross nodes, env's roster messages and its own.
package lbnet
