// Package schednet runs the HPC job scheduling example live across
// processes and machines: it is the glue between examples/scheduling,
// which must not depend on a transport, and env/hosting, which places any
// environment's actors in the slots of hosting nodes over the transport.
//
// A slot of the scheduling kind hosts one compute node's resource agent.
// The compute nodes are the scenario's: their number and capacities (the
// cores, memory and GPUs the agent manages) come from the scenario, whose
// workload is drawn for that cluster, and are sent with each placement; a
// hosting node offers room for so many agents (`marlon node
// --compute-nodes K`: K slots), not capacities of its own. Jobs do not run
// on the hosting machines: a resource agent keeps its node's accounts and
// times its jobs, as in the simulator, but on the episode's clock in real
// time and with every message through NATS.
//
// A node that hosts resource agents calls Serve: hosting.Serve under the
// kind "scheduling", with so many slots and a PolicyFactory; for each run
// the node makes the policy its agents will share (an algorithm by name,
// restored from a checkpoint for a learner; none when a central
// discipline places the jobs) and makes a resource agent, with a learning
// agent of that policy, for each placement. A master process calls Run on
// its own node. Run waits until the hosting nodes offer a slot for each
// compute node, has them begin the run, and starts the episode's
// auctioneer, workload, roster and director on the master's node with
// scheduling.Environment.StartPlaced; the director places each compute
// node's agent through the placer (in the first free slot, hosting nodes
// by name).
//
// Failures: a hosting node that dies, or leaves, takes its agents with it.
// The auctioneer finds out from the agents' missing heartbeats, or sooner
// from the transport: the agents' watchers (the director, the roster)
// receive actors.Down with reason NodeDown once the transport declares the
// node down, and the director has the auctioneer declare the compute nodes
// failed then. Either way their jobs go back to the queue under new
// attempt numbers and run elsewhere; the director places fresh agents for
// the lost compute nodes in free slots (spare slots of the other hosting
// nodes, or those of a hosting node that joins or comes back as a new
// incarnation), where they register as new incarnations. A job is never
// completed twice: the auctioneer records one completion per job, of its
// current attempt, from the incarnation it was given to (see the scheduling
// package's protocol), and a lost node's agent cannot talk to the master
// any more (the transport refuses a down incarnation's frames).
//
// When the episode is over every agent still there reports what it
// completed (scheduling.AgentReport); Run checks the auctioneer's ledger
// against those reports (scheduling.CheckReports) and returns what
// disagrees (Outcome.Problems), which a run that works never has.
//
// A run's virtual time unit (a second of the scenario) is the master's
// node's runtime scale (its transport.Config.Scale); the actors see the
// episode's clock (hosting.Clock), so a run's results are in the same
// units as the simulator's.
//
// # Dependencies
//
// The package depends on actors, env, env/hosting, learning, transport and
// the scheduling example; not on any algorithm (the caller's PolicyFactory
// makes the policies) nor on the CLI. It registers with transport, under
// the same names in every process that imports it, the example's messages
// that cross nodes.
package schednet
