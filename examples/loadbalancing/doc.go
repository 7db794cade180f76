// Package loadbalancing is the flagship environment: distributed load
// balancing as dynamic loop self-scheduling, after the Marlon seed.
//
// A Master holds a job of N work units. Workers of different speeds ask it
// for chunks; it serves one request at a time and each takes the
// communication time h. A unit of cost w takes c*w/speed on a worker (c the
// unit time; costs are gamma-distributed with mean 1 and coefficient of
// variation v, drawn per episode from its seed). Workers join and leave on a
// schedule; one that leaves mid-chunk hands the chunk back, and every unit is
// done exactly once: the Master's Ledger proves it and the workers' own
// reports must add up to the same count. Each worker's agent chooses the size
// of its next chunk; see messages.go for the protocol and why the agent
// chooses when its request is served rather than when it is sent.
//
// Corrections to the seed's code: the last partial chunk is granted
// (min(X, remaining)) rather than dropped; a cancelled chunk is added back to
// the remaining work, not subtracted from it; "no more work" is answered only
// when every unit is done, so that work handed back by a leaving worker is
// still picked up.
//
// The dynamics have versions (Versions): loadbalancing/v1 as above, and
// loadbalancing/v2, which adds fault injection, and
// loadbalancing/v3, which adds perturbations (perturb.go): worker speeds
// that change at given times or follow seeded random processes, a
// communication time that spikes or drifts, and joins and leaves at random
// times drawn for each episode, none of which an agent can foresee, and
// loadbalancing/v4, v3 with each worker's rewards in the unit of its first,
// so that returns rank schedules by makespan when workers join or leave.
// Episodes may also draw their whole scenario from a named Distribution,
// to train policies that generalise.
//
// Generic learners see the workers through adapters (env.Adaptable):
// "share" (five multiples of a fair share), "fraction" (an ordered fine
// scale of the fair share, for continuous heads), and those registered by
// packages that hold algorithms (RegisterAdapter: "technique", technique
// selection).
//
// An episode reports the makespan, the lower bound T_LB (see LowerBound),
// their ratio, each worker's idle time (waiting for the Master, and the tail
// after its last chunk), the number of requests and the load imbalance.
//
// Version v2 adds fault injection (Scenario.Faults, the faults package):
// workers on simulated nodes of their own that crash and restart, are
// partitioned off, have slow or lossy links, or whose agents lie; see
// WorkerNode. Without faults a v2 episode is a v1 episode, to the bit.
//
// This package depends on actors, env, learning and faults; it must not
// depend on any algorithm, so that every algorithm is compared on the same
// footing.
package loadbalancing
