// Package scheduling is the second environment: resilient HPC job
// scheduling by bidding resource agents, after the seed "Distributed
// Multi-Agent Scheduling for Resilient HPC".
//
// Jobs that need CPU cores, memory and GPUs, with a run time and a
// requested time (the wall-clock limit their user asked for, all a
// scheduler knows of their length), arrive by a workload: constant,
// bursts, Poisson, or replayed from a Standard Workload Format trace
// (package swf; a trace the project made ships with the package). A
// resource agent (ResourceAgent, one actor per compute node, on that
// node's own simulated node) manages the node's capacity and running jobs
// and bids for jobs; the Auctioneer keeps the queue, offers queued jobs
// one at a time to the nodes that have room and gives each to the best
// bid. Heartbeats tell it which agents are alive: a node not heard from is
// declared failed, its jobs go back to the queue, and its incarnation is
// fenced so that it can never complete a job given to another since (see
// messages.go for the protocol and why a job is never lost nor completed
// twice).
//
// What the agents learn is whether to bid (Level: decline or bid), from
// what a node knows when it is asked (Schema; generic learners see
// Features through Adapter, with a mask: a node that cannot fit a job is
// not asked, an idle node may not decline). Their reward is the change of
// the episode's cost between their decisions, so that an agent's return is
// minus about the mean bounded slowdown of the jobs.
//
// The baselines are central, as production batch schedulers are: FCFS and
// EASY backfilling (Discipline), which the auctioneer applies from its
// queue and ledger when the algorithm's agents are Central; and the seed's
// competitive bidding (HeuristicPolicy), what a node does without an agent.
//
// An episode reports the job completion rate, availability, mean time to
// recovery, throughput, mean wait, mean bounded slowdown, utilisation and
// makespan, and counts what faults did (Result). Scenario.Faults injects
// the faults package's plans (crashes, cascades, partitions, slow and lossy
// links, byzantine bids) into every episode; see faulty.go. Other faults
// plug in through Environment.OnStart and the Episode: KillNode,
// RestartNode and At in the simulator, actors.Sim.SetNetwork for the links,
// Environment.Lie for byzantine bids.
//
// An episode can also run with its resource agents elsewhere, on other
// machines over a transport (StartPlaced, placed.go): its director places
// one agent per compute node through a function the caller gives, sees
// them go (actors.Down) and has the auctioneer declare their nodes failed
// at once (AgentDown), places fresh agents for those nodes where a slot
// is free, and collects the agents' reports when the episode is over, to
// check the ledger against (CheckReports). examples/scheduling/schednet
// is the glue that places them over NATS with env/hosting.
//
// This package depends on actors, env, learning, faults and its swf
// package; it
// must not depend on any algorithm (examples/scheduling/learners registers
// them), nor on a transport.
package scheduling
