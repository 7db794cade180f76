package scheduling

import (
	"math"

	"github.com/marlon-go/marlon/learning"
)

// Feature fields a generic learner sees of a resource agent asked to bid
// (Features). They carry over between cluster sizes, node shapes and
// workloads: shares and ratios, not cores, gigabytes or seconds.
const (
	FeatScore       = "score"       // the node's multi-factor score for the job (Score), [0, 1]
	FeatFit         = "fit"         // the mean share of what the node has free that the job would take, [0, 1]: 1 fills it
	FeatLoad        = "load"        // the largest share of the node's capacity in use before the job, [0, 1]
	FeatGPUSpare    = "gpu_spare"   // 1 if the node has GPUs free and the job needs none, else 0
	FeatGPUDemand   = "gpu_demand"  // the share of the waiting jobs that need GPUs, [0, 1]
	FeatLength      = "length"      // log2(the job's requested time / the waiting jobs' mean), clipped to [-4, 4], mapped to [0, 1]: above 1/2, longer than most
	FeatPressure    = "pressure"    // waiting jobs per registered node, capped at 4, over 4
	FeatHead        = "head"        // 1 if the job is the oldest waiting one, else 0
	FeatStarving    = "starving"    // the oldest waiting job's wait over its requested time, capped at 2, over 2
	FeatReliability = "reliability" // the node's History, [0, 1]
	FeatIdle        = "idle"        // 1 if the node runs nothing (then it may not decline), else 0
	FeatDelaysHead  = "delays_head" // 1 if running the job here would delay the oldest waiting job's earliest start here (EASY's test, on this node), else 0
)

// Features is the observation schema generic learners see through
// Adapter, with bins for tabular learners (QBins): 2^5 = 32 states.
var Features = learning.NewSchemaOf("scheduling-features/v1",
	learning.Field{Name: FeatScore, About: "the node's multi-factor score for the job", Low: 0, High: 1},
	learning.Field{Name: FeatFit, About: "mean share of the node's free resources the job would take", Low: 0, High: 1, Bins: QBins()[FeatFit]},
	learning.Field{Name: FeatLoad, About: "largest share of the node's capacity in use", Low: 0, High: 1},
	learning.Field{Name: FeatGPUSpare, About: "1 if the node has GPUs free and the job needs none", Low: 0, High: 1, Bins: QBins()[FeatGPUSpare]},
	learning.Field{Name: FeatGPUDemand, About: "share of the waiting jobs that need GPUs", Low: 0, High: 1},
	learning.Field{Name: FeatLength, About: "log2(requested / waiting jobs' mean) in [-4, 4], mapped to [0, 1]", Low: 0, High: 1, Bins: QBins()[FeatLength]},
	learning.Field{Name: FeatPressure, About: "waiting jobs per registered node, capped at 4, over 4", Low: 0, High: 1, Bins: QBins()[FeatPressure]},
	learning.Field{Name: FeatHead, About: "1 if the job is the oldest waiting one", Low: 0, High: 1},
	learning.Field{Name: FeatStarving, About: "the oldest waiting job's wait over its requested time, capped at 2, over 2", Low: 0, High: 1},
	learning.Field{Name: FeatReliability, About: "the node's record, (completed+1)/(completed+lost+2)", Low: 0, High: 1},
	learning.Field{Name: FeatIdle, About: "1 if the node runs nothing", Low: 0, High: 1},
	learning.Field{Name: FeatDelaysHead, About: "1 if running the job here would delay the oldest waiting job's earliest start here", Low: 0, High: 1, Bins: QBins()[FeatDelaysHead]},
)

// QBins are bin edges over Features that make a small table for tabular
// learners: delays_head, gpu_spare, fit (tight or loose), length (short or
// long for the queue) and pressure (at most one waiting job per node, or
// more): 32 states.
func QBins() map[string][]float64 {
	return map[string][]float64{
		FeatDelaysHead: {0.5},
		FeatGPUSpare:   {0.5},
		FeatFit:        {0.5},
		FeatLength:     {0.5},
		FeatPressure:   {0.25},
	}
}

// Adapter presents the resource agents to generic learners: Features in,
// the same bid levels out (decline, bid), with the same mask
// (a node that cannot fit the job is not asked; an idle node may not
// decline).
type Adapter struct{}

var _ learning.Adapter = Adapter{}

// Spec implements learning.Adapter.
func (Adapter) Spec() learning.Spec { return learning.Spec{Observation: Features, Actions: Actions} }

// Act implements learning.Adapter: the level itself.
func (Adapter) Act(_ learning.Observation, a learning.Action) learning.Action { return a }

var (
	iJobCores = Schema.Index(FieldJobCores)
	iJobMem   = Schema.Index(FieldJobMemory)
	iJobGPUs  = Schema.Index(FieldJobGPUs)
	iJobReq   = Schema.Index(FieldJobRequested)
	iNodeC    = Schema.Index(FieldNodeCores)
	iNodeM    = Schema.Index(FieldNodeMemory)
	iNodeG    = Schema.Index(FieldNodeGPUs)
	iFreeC    = Schema.Index(FieldFreeCores)
	iFreeM    = Schema.Index(FieldFreeMemory)
	iFreeG    = Schema.Index(FieldFreeGPUs)
	iRunning  = Schema.Index(FieldRunning)
	iQLen     = Schema.Index(FieldQueueLength)
	iQPos     = Schema.Index(FieldQueuePosition)
	iHeadWait = Schema.Index(FieldHeadWait)
	iHeadReq  = Schema.Index(FieldHeadRequested)
	iMeanReq  = Schema.Index(FieldMeanRequested)
	iGPUJobs  = Schema.Index(FieldGPUJobs)
	iLive     = Schema.Index(FieldLiveNodes)
	iDone     = Schema.Index(FieldCompleted)
	iLost     = Schema.Index(FieldLost)
	iScore    = Schema.Index(FieldScore)
	iDelays   = Schema.Index(FieldDelaysHead)
)

// Observe implements learning.Adapter: the node's Features, and its mask.
func (Adapter) Observe(obs learning.Observation) learning.Observation {
	v := obs.Values
	// Memory comes in GB: back to MB so that Resources' integer shares
	// hold to the MB.
	needs := Resources{Cores: int(v[iJobCores]), Memory: int(math.Round(v[iJobMem] * gb)), GPUs: int(v[iJobGPUs])}
	free := Resources{Cores: int(v[iFreeC]), Memory: int(math.Round(v[iFreeM] * gb)), GPUs: int(v[iFreeG])}
	capacity := Resources{Cores: int(v[iNodeC]), Memory: int(math.Round(v[iNodeM] * gb)), GPUs: int(v[iNodeG])}
	f := make([]float64, Features.Len())
	f[0] = v[iScore]
	f[1] = fit(needs, free)
	f[2] = math.Min(1, share(capacity.Minus(free), capacity))
	if free.GPUs > 0 && needs.GPUs == 0 {
		f[3] = 1
	}
	if v[iQLen] > 0 {
		f[4] = v[iGPUJobs] / v[iQLen]
	}
	f[5] = 0.5
	if req, mean := v[iJobReq], v[iMeanReq]; req > 0 && mean > 0 {
		f[5] = (math.Max(-4, math.Min(4, math.Log2(req/mean))) + 4) / 8
	}
	if v[iLive] > 0 {
		f[6] = math.Min(v[iQLen]/v[iLive], 4) / 4
	}
	if v[iQPos] == 0 && v[iQLen] > 0 {
		f[7] = 1
	}
	if v[iHeadReq] > 0 {
		f[8] = math.Min(v[iHeadWait]/v[iHeadReq], 2) / 2
	}
	f[9] = History(Record{Completed: int(v[iDone]), Lost: int(v[iLost])})
	if v[iRunning] == 0 {
		f[10] = 1
	}
	f[11] = v[iDelays]
	return learning.Observation{Schema: Features, Values: f, Terminal: obs.Terminal, Mask: obs.Mask}
}
