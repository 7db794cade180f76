package scheduling

import "github.com/marlon-go/marlon/actors"

// The protocol between the resource agents (one per compute node, each on
// its own node) and the auctioneer.
//
// Membership and failure detection:
//
//  1. A resource agent sends Register when it starts (and again at every
//     heartbeat until it is answered); the auctioneer answers Registered
//     with an Epoch, a number it never hands out again, which names this
//     incarnation of the node in every later message.
//  2. Every Heartbeat seconds the agent sends Heartbeat: its epoch, the
//     attempts it is running, and those it finished whose completion the
//     auctioneer has not acknowledged yet. The auctioneer answers
//     HeartbeatAck: the completions it has recorded, and the attempts the
//     node runs that are no longer the node's (Abort them).
//  3. An incarnation not heard from for MissedHeartbeats intervals is
//     declared failed: its epoch is fenced, and every job it was running
//     goes back to the queue, to be assigned again under a new attempt
//     number. A later message from a fenced epoch (a node that was only
//     cut off, or slow) is counted, not applied, and answered with Fenced:
//     the node drops every job it has and registers again, as a new
//     incarnation with an empty slate.
//
// Auctions (the auctioneer offers queued jobs one at a time, in queue
// order):
//
//  4. CallForBids (a request) goes to every registered node that has room
//     for the job by the ledger (its capacity less the jobs assigned to it
//     and not completed: the others would decline); the node answers an
//     Offer: Decline, or Bid with the seed's multi-factor score. A node that
//     cannot fit the job now declines; one with nothing running that can
//     must bid, so that a queued job never waits on an idle cluster. Missing answers
//     after Timeout count as declines.
//  5. The best bid wins (the highest score, then the lower node number);
//     the auctioneer sends the winner Assign (a request) with a new attempt
//     number. The node answers Accepted and runs the job, or Refused. A
//     refusal or no answer puts the job back in the queue (Abort goes to
//     the node in case it started it after all).
//  6. When the job ends the node sends Completed (and lists the attempt in
//     its heartbeats until acknowledged). The auctioneer records a job
//     completed once: for the attempt it last assigned, from the epoch it
//     assigned it to, while that epoch is not fenced. A completion of any
//     other attempt is stale: counted, never applied.
//
// So a job is never lost with a node (it is queued again when the node is
// declared failed), and never completes twice: attempt numbers are never
// reused, a job has one current attempt, and the auctioneer, one actor,
// records its completion once. A node that comes back after being declared
// failed cannot complete a job that was rescheduled: the attempt it holds
// is no longer the job's.

// JobInfo is a job as the auctioneer describes it in a call for bids:
// everything but its run time, which nobody knows before it ends.
type JobInfo struct {
	ID        int
	Needs     Resources
	Requested float64
	Wait      float64 // how long it has waited so far
}

// Info is what a call for bids says about j, at time now.
func (j Job) Info(now float64) JobInfo {
	return JobInfo{ID: j.ID, Needs: j.Needs, Requested: j.Requested, Wait: now - j.Submit}
}

// Register announces a resource agent.
type Register struct {
	Node     string
	Index    int
	Capacity Resources
}

// Registered answers Register with the incarnation's epoch.
type Registered struct{ Epoch uint64 }

// Heartbeat says a registered incarnation is alive.
type Heartbeat struct {
	Node    string
	Epoch   uint64
	Running []uint64 // attempts it is running
	Done    []uint64 // attempts it finished and the auctioneer has not acknowledged
}

// HeartbeatAck answers a Heartbeat.
type HeartbeatAck struct {
	Acked []uint64 // completions recorded (or stale: either way, forget them)
	Abort []uint64 // attempts the node runs that are not its own any more
}

// Fenced tells a node that its incarnation Epoch was declared failed.
type Fenced struct{ Epoch uint64 }

// Level is how a node bids.
type Level int

// The bid levels, the resource agents' actions.
const (
	// Decline: no bid.
	Decline Level = iota
	// Bid: a bid, with the node's score.
	Bid
)

// Levels are the levels' names, by Level: the actions' labels.
//
// There was a third level, "defer" (a bid ranked below every plain one),
// and it was taken out: in most states it does what a bid does, so a
// stochastic policy split the probability of taking a job between the two,
// and its greedy action became "decline" where taking the job was the
// likelier choice (policy gradient's greedy evaluation collapsed to
// fixed:decline's slowdown on bursty loads).
var Levels = []string{"decline", "bid"}

func (l Level) String() string {
	if l >= 0 && int(l) < len(Levels) {
		return Levels[l]
	}
	return "invalid"
}

// QueueInfo is what the auctioneer tells bidders of its queue.
type QueueInfo struct {
	Length        int     // jobs waiting (that some registered node can hold)
	Position      int     // of the job on offer, from 0
	HeadWait      float64 // how long the oldest waiting job has waited
	HeadRequested float64 // its requested time
	HeadNeeds     Resources
	MeanRequested float64 // the mean requested time of the waiting jobs
	GPUJobs       int     // waiting jobs that need GPUs
	LiveNodes     int     // registered nodes
}

// Record is a node's track record at the auctioneer: jobs completed on it
// and jobs lost with it (its incarnations declared failed while running
// them). A restarted node learns its record this way.
type Record struct {
	Completed int
	Lost      int
}

// CallForBids asks a node, as a request, to bid for a job: the answer is
// an Offer.
type CallForBids struct {
	Epoch  uint64
	Job    JobInfo
	Queue  QueueInfo
	Record Record
	// Cost is the episode's cost so far (see Episode): the node's agent is
	// rewarded for its change between its decisions.
	Cost float64
}

// Offer answers a CallForBids.
type Offer struct {
	Level Level
	Score float64 // the node's multi-factor score for the job, in [0, 1]
}

// Assign gives a node, as a request, attempt Attempt of Job. The answer
// is Accepted or Refused.
type Assign struct {
	Epoch   uint64
	Attempt uint64
	Job     Job
}

// Accepted: the node runs the job.
type Accepted struct{}

// Refused: the node does not run the job.
type Refused struct{ Reason string }

// Completed reports that a node finished an attempt.
type Completed struct {
	Node    string
	Epoch   uint64
	Attempt uint64
	Job     int
}

// Abort tells a node to stop an attempt that is no longer its own.
type Abort struct{ Attempt uint64 }

// EpisodeOver tells a node the episode has ended, at cost Cost: it stops
// sending heartbeats. A placed node (one with ResourceAgent.Reports) also
// finishes its agent at that cost and reports (AgentReport).
type EpisodeOver struct{ Cost float64 }

// AgentReport is what a placed resource agent reports to the episode when
// it is over: what it did, by its own account, to check the auctioneer's
// ledger against (CheckReports). An agent that dies with its node never
// reports.
type AgentReport struct {
	Node int `json:"node"`
	// Epochs are the incarnations it registered as, in order.
	Epochs []uint64 `json:"epochs"`
	// Completed are the attempts it ran to their end and reported.
	Completed []Completion `json:"completed"`
	// Return is its learning agent's return (0 without one); Steps its
	// decisions.
	Return float64 `json:"return"`
	Steps  int     `json:"steps"`
}

// Completion is an attempt a node ran to its end, as the incarnation
// Epoch.
type Completion struct {
	Job     int    `json:"job"`
	Attempt uint64 `json:"attempt"`
	Epoch   uint64 `json:"epoch"`
}

// AgentDown tells the auctioneer that Agent, a resource agent of node
// Node, has gone (its machine failed or left, it crashed or was stopped):
// if it is the node's current incarnation, the node is declared failed at
// once (Failure.Why is Why), without waiting for its heartbeats to be
// missed, and a Register from Agent is refused from then on. The director
// of a placed episode sends it when it sees the agent go (actors.Down);
// it is not a message that crosses nodes, so no other node can send it.
type AgentDown struct {
	Node  string
	Agent actors.Addr
	Why   string
}

// AddSlots tells the director of a placed episode that Count more slots
// are free (a hosting node joined, or came back): compute nodes whose
// agents were lost are placed there again at once.
type AddSlots struct{ Count int }

// Submit brings a job to the auctioneer (from the workload).
type Submit struct{ Job Job }

// SubmissionsOver tells the auctioneer that Count jobs have been submitted
// and no more will be.
type SubmissionsOver struct{ Count int }
