package loadbalancing

// The protocol between a Worker and the Master, one chunk at a time:
//
//  1. the Worker sends ChunkRequest as a request (reporting the chunk it
//     just finished, if any); the Master keeps the reply handle;
//  2. the Master answers at once with WaitNotice: how long until it will
//     have served this request;
//  3. when the Master starts serving the request it sends Offer (a request)
//     with its current state; the Worker's agent chooses how many units to
//     take and replies Take;
//  4. the communication time after the service started, the Master answers
//     the ChunkRequest with Grant (min(Take, remaining) units) or, once every
//     unit is done, Finished;
//  5. the Worker processes the chunk and goes back to 1.
//
// The Marlon seed has the Worker put the size in its request, before it knows
// the wait or the current remaining work. Here the agent chooses when its
// request is served, on what the Master knows then, which is what the
// classical self-scheduling techniques assume (the master computes the chunk
// when it assigns it); the wait notice is part of what the agent sees.
//
// When no unit is left to hand out but chunks are still being processed, a
// request is parked rather than refused: a worker that leaves hands its chunk
// back, and a parked worker takes it. Finished goes to everyone when the last
// unit is done. The time a worker spends parked is the tail of its idle time.

// ChunkRequest asks the Master for work (as a request: the reply is Grant or
// Finished). Done reports the chunk just finished (Chunk 0: none).
type ChunkRequest struct {
	Worker int
	Speed  float64
	Done   ChunkDone
}

// ChunkDone reports a finished chunk and the worker's per-unit time so far.
type ChunkDone struct {
	Chunk uint64
	Units int
	Stats UnitStats
}

// UnitStats are a worker's measured per-unit processing times: how many units
// it has timed, their mean and standard deviation.
type UnitStats struct {
	N    int
	Mean float64
	Sd   float64
}

// WaitNotice tells a worker how long until its request will have been served.
type WaitNotice struct {
	Wait float64
}

// Offer asks a worker, as a request, how many units it wants now.
type Offer struct {
	State MasterState
}

// Take answers Offer.
type Take struct {
	Units int
}

// Grant hands a chunk to a worker.
type Grant struct {
	Chunk  uint64
	Ranges []Range
}

// Finished tells a worker that every unit is done.
type Finished struct{}

// WrittenOff answers the request of a worker the Master has written off: it
// was told the worker had gone (an actors.Down: its node was declared down
// after a silence, say) and handed its chunk back to the pool. A worker
// that is alive after all stops on it, as a worker that leaves, taking off
// its account the Uncredited units of the chunk its request reported,
// which the Master did not count as its own (the ledger will count them as
// whoever's does them again).
type WrittenOff struct {
	Uncredited int
}

// Dismiss tells a worker to leave now: it stops itself, handing its chunk
// back and reporting as a stopped worker does. The director sends it to
// workers on other nodes, which Context.Stop does not reach.
type Dismiss struct{}

// AddWorkers, sent to the director of an episode started with StartPlaced,
// adds workers of these speeds now (a node joined with room for them).
type AddWorkers struct {
	Speeds []float64
}

// MasterState is what the Master knows when it serves a request; it is part
// of the serving worker's observation.
type MasterState struct {
	Job       int
	Remaining int // units not yet handed out
	// Unfinished estimates the units not yet done: Remaining plus what the
	// live workers still have to do of their chunks, judged by their
	// measured (or nominal) speed and the time since the grant.
	Unfinished float64
	Workers    int // live workers
	Granted    int // chunks handed out so far
	Queue      int // requests waiting behind this one
	CommTime   float64
	SpeedSum   float64 // sum of the live workers' nominal speeds
	Measured   int     // live workers with timing measurements
	MuMean     float64 // mean over them of the mean time per unit
	SigmaMean  float64 // mean over them of the standard deviation
	InvMuSum   float64 // sum over them of 1/mean
	DSum       float64 // sum over them of sd^2/mean (adaptive factoring's D)
}

// serveNow is the Master's note to start serving at the end of the instant.
type serveNow struct{}

// startNow is the Master's timer for the latest start of its service.
type startNow struct{}

// serviceDone is the Master's timer for the end of a communication.
type serviceDone struct{}

// chunkDone is a Worker's timer for the end of its chunk.
type chunkDone struct{}
