// Package lbnet runs the load-balancing example live across processes and
// machines: it is the glue between examples/loadbalancing, which must not
// depend on a transport, and env/hosting, which places any environment's
// actors in the slots of hosting nodes over the transport.
//
// A node that hosts workers calls Serve: hosting.Serve under the kind
// "loadbalancing", with so many worker slots of given speeds (`marlon node
// --workers K --speed S`: K slots of speed S) and a PolicyFactory; for each
// run, the node makes the policy its workers will share (an algorithm by
// name, restored from a checkpoint for a learner), and makes a worker, with
// an agent of that policy, for each placement. A master process calls Run
// on its own node. Run waits for the hosting nodes through a
// hosting.Placer, makes the scenario's workers from their free slots (or
// takes the scenario's own), has them begin the run, and starts the
// episode's Master, roster and director on the master's node with
// loadbalancing.Environment.StartPlaced; the director places each worker
// through the placer. The slots of a node that joins during the episode
// become new workers (loadbalancing.AddWorkers); the other agents see them
// join. A node that leaves or falls silent is reported by the transport:
// its workers' watchers (the Master, the roster, the director) receive
// actors.Down with reason NodeDown, the Master hands their chunks back to
// the pool, and the other agents see them leave. A node declared down comes
// back only as a new incarnation (see the transport's Membership): its old
// workers, told by the host that their run's master is gone or told
// WrittenOff by the Master when they next ask, stop; its free slots become
// new workers.
//
// A worker can migrate, with its agent and the chunk it holds, to another
// hosting node mid-episode (Config.Migrations; the protocol and what a
// failure does are loadbalancing.Migrate's): an adopter on the master's
// node has the placer start it again from its state on the node named, in
// a spare slot (HostConfig.Spare) or any free one.
//
// Workers report (loadbalancing.WorkerReport) by message to the director. A
// worker whose node is killed never reports, so the check of a live run is
// the Master's ledger: every unit done exactly once (its bitset), as many as
// the job, and for every worker that did report, the units it reports equal
// the ledger's for it (Result.LedgerUnits).
//
// A run's virtual time unit is the master's node's runtime scale (its
// transport.Config.Scale); the actors see the episode's clock
// (hosting.Clock), so a run's results are in the same units as the
// simulator's.
//
// # Dependencies
//
// The package depends on actors, env, env/hosting, learning, transport and
// the load-balancing example; not on any algorithm (the caller's
// PolicyFactory makes the policies) nor on the CLI. It registers with
// transport, under the same names in every process that imports it, the
// example's messages that cross nodes and env's roster messages.
package lbnet
