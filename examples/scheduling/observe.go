package scheduling

import (
	"github.com/marlon-go/marlon/learning"
)

// Score is the seed's multi-factor score of a node for a job it can fit
// now, in [0, 1]: the fit of CPU, memory and GPU, the node's load and its
// history,
//
//		0.5 fit + 0.25 (1 - load) + 0.25 history
//
//	  - fit is the mean, over the resources the node has free, of the share
//	    of what is free that the job would take: 1 when the job fills what is
//	    left (best fit); a job that needs no GPU on a node with GPUs free
//	    scores 0 on that resource, so that GPU nodes bid lower for CPU jobs;
//	  - load is the largest share of the node's capacity in use before the
//	    job;
//	  - history is (completed + 1) / (completed + lost + 2) of the node's
//	    record: nodes that lose jobs bid lower.
func Score(needs, free, capacity Resources, rec Record) float64 {
	load := share(capacity.Minus(free), capacity)
	return 0.7*fit(needs, free) + 0.1*(1-min(1, load)) + 0.2*History(rec)
}

// History is a node's reliability as its record shows it, (completed + 1)
// / (completed + lost + 2): 1/2 with no record.
func History(r Record) float64 {
	return float64(r.Completed+1) / float64(r.Completed+r.Lost+2)
}

// The fields of a resource agent's observation (Schema), when it is asked
// to bid: what the node knows of itself and what the call for bids says.
// Memory is in GB, times in seconds.
const (
	FieldJobCores      = "job_cores"      // cores the job needs
	FieldJobMemory     = "job_memory"     // memory the job needs
	FieldJobGPUs       = "job_gpus"       // GPUs the job needs
	FieldJobRequested  = "job_requested"  // the job's requested time
	FieldJobWait       = "job_wait"       // how long the job has waited
	FieldNodeCores     = "node_cores"     // the node's capacity...
	FieldNodeMemory    = "node_memory"    //
	FieldNodeGPUs      = "node_gpus"      //
	FieldFreeCores     = "free_cores"     // ...and what its running jobs leave free
	FieldFreeMemory    = "free_memory"    //
	FieldFreeGPUs      = "free_gpus"      //
	FieldRunning       = "running"        // jobs running on the node
	FieldNextEnd       = "next_end"       // time until the soonest requested end of its running jobs (0: none)
	FieldQueueLength   = "queue_length"   // jobs waiting at the auctioneer
	FieldQueuePosition = "queue_position" // the job's place in the queue, from 0
	FieldHeadWait      = "head_wait"      // how long the oldest waiting job has waited
	FieldHeadRequested = "head_requested" // its requested time
	FieldMeanRequested = "mean_requested" // the mean requested time of the waiting jobs
	FieldGPUJobs       = "gpu_jobs"       // waiting jobs that need GPUs
	FieldDelaysHead    = "delays_head"    // 1 if running the job here would delay the oldest waiting job's earliest start here (EASY's test, on this node), else 0
	FieldLiveNodes     = "live_nodes"     // registered nodes
	FieldCompleted     = "completed"      // jobs completed on the node (its record)
	FieldLost          = "lost"           // jobs lost with it
	FieldScore         = "score"          // the node's multi-factor score for the job (Score)
)

// Schema is a resource agent's observation, for algorithms that read the
// environment's own (the bidding heuristic); generic learners see
// Features through an adapter.
var Schema = learning.NewSchemaOf("scheduling/v1",
	learning.Field{Name: FieldJobCores, About: "cores the job needs"},
	learning.Field{Name: FieldJobMemory, About: "memory the job needs, GB"},
	learning.Field{Name: FieldJobGPUs, About: "GPUs the job needs"},
	learning.Field{Name: FieldJobRequested, About: "the job's requested time, s"},
	learning.Field{Name: FieldJobWait, About: "how long the job has waited, s"},
	learning.Field{Name: FieldNodeCores, About: "the node's cores"},
	learning.Field{Name: FieldNodeMemory, About: "the node's memory, GB"},
	learning.Field{Name: FieldNodeGPUs, About: "the node's GPUs"},
	learning.Field{Name: FieldFreeCores, About: "cores free on the node"},
	learning.Field{Name: FieldFreeMemory, About: "memory free on the node, GB"},
	learning.Field{Name: FieldFreeGPUs, About: "GPUs free on the node"},
	learning.Field{Name: FieldRunning, About: "jobs running on the node"},
	learning.Field{Name: FieldNextEnd, About: "time until the soonest requested end of the node's jobs, s (0: none)"},
	learning.Field{Name: FieldQueueLength, About: "jobs waiting at the auctioneer"},
	learning.Field{Name: FieldQueuePosition, About: "the job's place in the queue, from 0"},
	learning.Field{Name: FieldHeadWait, About: "how long the oldest waiting job has waited, s"},
	learning.Field{Name: FieldHeadRequested, About: "the oldest waiting job's requested time, s"},
	learning.Field{Name: FieldMeanRequested, About: "the mean requested time of the waiting jobs, s"},
	learning.Field{Name: FieldGPUJobs, About: "waiting jobs that need GPUs"},
	learning.Field{Name: FieldDelaysHead, About: "1 if running the job here would delay the oldest waiting job's earliest start here", Low: 0, High: 1},
	learning.Field{Name: FieldLiveNodes, About: "nodes registered at the auctioneer"},
	learning.Field{Name: FieldCompleted, About: "jobs completed on the node"},
	learning.Field{Name: FieldLost, About: "jobs lost with the node"},
	learning.Field{Name: FieldScore, About: "the node's multi-factor score for the job, [0, 1]", Low: 0, High: 1},
)

// Actions is a resource agent's action space: its bid's Level.
var Actions = learning.ActionSpace{N: len(Levels), Labels: Levels}

// nodeView is what a node knows of itself when it bids.
type nodeView struct {
	capacity, free Resources
	running        int
	nextEnd        float64
	delaysHead     bool
}

const gb = 1024.0

// observe builds a node's observation of a call for bids it can fit, and
// the mask of its allowed bids: it may decline only while it runs jobs
// (an idle node that can fit a job must bid for it, so that a queued job
// never waits on an idle cluster).
func observe(c CallForBids, n nodeView, score float64) learning.Observation {
	j, q := c.Job, c.Queue
	v := []float64{
		float64(j.Needs.Cores), float64(j.Needs.Memory) / gb, float64(j.Needs.GPUs), j.Requested, j.Wait,
		float64(n.capacity.Cores), float64(n.capacity.Memory) / gb, float64(n.capacity.GPUs),
		float64(n.free.Cores), float64(n.free.Memory) / gb, float64(n.free.GPUs),
		float64(n.running), n.nextEnd,
		float64(q.Length), float64(q.Position), q.HeadWait, q.HeadRequested, q.MeanRequested, float64(q.GPUJobs), b2f(n.delaysHead), float64(q.LiveNodes),
		float64(c.Record.Completed), float64(c.Record.Lost), score,
	}
	return learning.Observation{Schema: Schema, Values: v, Mask: []bool{n.running > 0, true}}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// terminal is the observation an agent's last reward comes with.
func terminal() learning.Observation {
	return learning.Observation{Schema: Schema, Values: make([]float64, Schema.Len()), Terminal: true}
}
