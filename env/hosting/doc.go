// Package hosting runs an environment's actors live across the nodes of a
// transport cluster: nodes offer slots, a master places actors into them.
// It is the part of a live run that is not about any one environment, so
// that every environment that runs across machines (load balancing, HPC job
// scheduling...) shares it.
//
// A hosting node calls Serve: it registers, with its transport.Node, a host
// kind for one environment (HostConfig.Kind) with slots of given speeds, and
// a RunFactory that makes what the node needs for one run of that
// environment (a policy for its agents, say) from the run's begin payload.
//
// A master process makes a Placer on its own node. The placer watches the
// cluster's membership and spawns a host actor on every member that hosts
// the environment; the host answers what slots it has free. The master
// waits for enough hosting nodes (WaitNodes, bounded by its context), takes
// their slots as the run's (Nodes), has every host begin the run (Begin,
// with an environment's payload) and then places actors: an actor of the
// master sends the placer a Place request (a slot speed and the
// environment's arguments) and is answered with the address of the actor
// the host started in a free slot of that speed (Placement). A Place may
// name a node, to move an actor there, say: it goes to that node only, into
// any free slot with speed 0, first the slots the node keeps for such
// placements (HostConfig.Reserved), which are not offered to runs. A node
// that joins later, or comes back as a new incarnation, gets a host too;
// once it has begun, its free slots are handed to the run (Started's late
// callback), which may place more actors there. A node that leaves is
// reported by the transport: the watchers of its actors receive
// actors.Down with reason NodeDown. A host ends when its placer does, and
// stops what is left of the actors it started; Host.Stop dismisses them
// when a node leaves cleanly.
//
// The episode's clock: every node's runtime has its own scale and origin,
// so the actors of a run see the run's clock through a wrapper
// (Clock.Wrap). On the master, EpisodeRuntime starts actors on a clock
// that reads the time since the episode started, and stops them all when
// the episode is over; on a host, each placed actor's clock is set from the
// master's time in the placement request (off by that message's one-way
// latency) and runs at the master's scale, whatever the node's.
//
// What every environment's live run also needs: Await waits for the
// episode's end, bounded by a timeout, the context, a crash on the master,
// and how long it goes on with no hosting node; NodePolicy is the policy a
// node's agents share for a run (their calls take turns, it acts greedily);
// StartLocal starts an embedded server, a master node and a hosting node in
// one process, for a live run without other machines.
//
// # Dependencies
//
// The package depends on actors, transport, env (the roster's messages,
// which it registers with transport for every environment) and learning
// (the Policy a node's agents share). It must not depend on any
// environment, algorithm, learner or the CLI: what is particular to an
// environment (what a slot's actor is, what a run needs on every node)
// crosses it as opaque payloads, made and read by the environment's own
// glue (examples/loadbalancing/lbnet for load balancing,
// examples/scheduling/schednet for HPC job scheduling). It registers its
// protocol's messages with transport under "hosting." names, and env's
// roster messages under "env." names.
package hosting
