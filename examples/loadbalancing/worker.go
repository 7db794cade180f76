package loadbalancing

import (
	"fmt"
	"math"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/learning"
)

// Observation fields of a worker's agent, in order. What the worker knows
// itself (its nominal speed, its measured time per unit, the last wait the
// Master notified, its own idle time) and what the Master told it when it
// served the request (MasterState).
const (
	FieldTime       = "time"       // virtual time now
	FieldJob        = "job"        // units in the job (N)
	FieldRemaining  = "remaining"  // units not yet handed out (R)
	FieldUnfinished = "unfinished" // estimate of the units not yet done: R plus what is left of the chunks being processed
	FieldWorkers    = "workers"    // live workers (P)
	FieldGranted    = "granted"    // chunks handed out so far
	FieldQueue      = "queue"      // requests waiting at the Master behind this one
	FieldCommTime   = "comm_time"  // the Master's time per request (h)
	FieldUnitTime   = "unit_time"  // nominal time per unit at speed 1 (c)
	FieldSpeed      = "speed"      // this worker's nominal speed
	FieldSpeedSum   = "speed_sum"  // sum of the live workers' nominal speeds
	FieldMu         = "mu"         // this worker's measured mean time per unit (0: none yet)
	FieldSigma      = "sigma"      // its standard deviation
	FieldMeasured   = "measured"   // live workers with measurements
	FieldMuMean     = "mu_mean"    // mean of their mean times per unit
	FieldSigmaMean  = "sigma_mean" // mean of their standard deviations
	FieldInvMuSum   = "inv_mu_sum" // sum of 1/mu over them
	FieldDSum       = "d_sum"      // sum of sigma^2/mu over them
	FieldWait       = "wait"       // the wait the Master notified for this request
	FieldLastChunk  = "last_chunk" // units in this worker's last chunk (0: none yet)
	FieldIdle       = "idle"       // this worker's idle time so far
	FieldLastMu     = "last_mu"    // loadbalancing/v3: this worker's time per unit on its last chunk (0: none yet)
)

// Schema is the observation schema of the load-balancing agents.
var Schema = learning.NewSchema("loadbalancing/v1",
	FieldTime, FieldJob, FieldRemaining, FieldUnfinished, FieldWorkers, FieldGranted, FieldQueue,
	FieldCommTime, FieldUnitTime, FieldSpeed, FieldSpeedSum, FieldMu, FieldSigma,
	FieldMeasured, FieldMuMean, FieldSigmaMean, FieldInvMuSum, FieldDSum,
	FieldWait, FieldLastChunk, FieldIdle)

// SchemaV3 is the observation schema of loadbalancing/v3's agents:
// Schema's fields and, last, last_mu, which a worker whose speed changes
// needs to notice it.
var SchemaV3 = learning.NewSchema("loadbalancing/v3", append(Schema.Fields(), FieldLastMu)...)

// SchemaOf is the observation schema of a version of the dynamics.
func SchemaOf(version string) *learning.Schema {
	if !perturbs(version) {
		return Schema
	}
	return SchemaV3
}

// AgentID is the agent of worker i.
func AgentID(i int) learning.AgentID { return learning.AgentID(fmt.Sprintf("worker-%d", i)) }

// Reward says what a worker's agent is rewarded for. Rewards are in units of
// the ideal time c*N/S (the job's nominal work over the live workers' total
// speed), so that returns compare across scenarios: S as the Master last
// told the worker on v1 to v3, and as it first told it from v4 on (see
// Worker.ideal).
type Reward int

const (
	// RewardTime is minus the time, idle and busy, from one choice to the
	// next (or to the end). An agent's return is then minus the makespan
	// (counted from its arrival) over the ideal time: the sum tracks the
	// makespan exactly, and the part of it a choice can change is idle time,
	// waiting for the Master or for the others at the end. Rewarding idle
	// time alone would let a slow worker look good by taking more work.
	RewardTime Reward = iota
	// RewardIdle is minus the idle time from one choice to the next (or to
	// the end): an agent's return is minus its own idle time.
	RewardIdle
)

func (r Reward) String() string {
	if r == RewardIdle {
		return "idle"
	}
	return "time"
}

// Worker asks the Master for chunks and processes them; a unit of cost w
// takes UnitTime*w/Speed. Its agent chooses each chunk's size; without an
// agent it asks for one unit at a time, as the Marlon seed's worker does.
type Worker struct {
	ID       int
	Speed    float64
	UnitTime float64
	Master   actors.Addr
	Roster   actors.Addr
	Costs    *Costs
	Agent    *env.Agent
	Reward   Reward
	// Availability, if set, is the factor of Speed the worker works at over
	// time (loadbalancing/v3: Slow, Perturbation). The worker times its
	// chunks as they run, so its measured time per unit follows it.
	Availability *Profile
	// Schema is the observation schema of the worker's agent: Schema (nil)
	// or SchemaV3.
	Schema *learning.Schema
	// Report receives the worker's account when it finishes or leaves; it is
	// called inside the worker's turn and must not block.
	Report func(WorkerReport)

	joined      float64
	waiting     bool
	requestedAt float64
	chunk       Grant
	chunkUnits  int
	chunkStart  float64
	chunkTime   float64
	chunkCost   [2]float64 // the chunk's units' summed costs and squared costs
	state       MasterState
	wait        float64
	timed       int
	sumT, sumT2 float64
	lastMu      float64 // time per unit on the last chunk
	idle, busy  float64
	units       int
	chunks      int
	lastDone    float64
	rewardedAt  float64 // when the last reward was given
	rewardUnit  float64 // loadbalancing/v4: the unit of its rewards, fixed at the first (0: not yet)
	rewarded    float64 // idle time given as reward so far
	pendingDone int     // units of the ChunkDone in the request not yet answered
	ended       bool

	// Spec is what the worker was made from (WorkerSpec.Worker), for
	// migration.
	Spec        WorkerSpec
	resumed     *WorkerState // a migrated worker's state, until it starts
	moveTo      actors.Addr  // the host it is to move to, once it holds a chunk
	moveTimeout float64      // of the Adopt request; 0: none
	migrating   bool         // it has handed its state off
	movedTo     actors.Addr  // its new incarnation, once adopted
	dismissed   bool         // told to leave while it moved
	chunkTimer  actors.Timer
}

// WorkerReport is a worker's own account of an episode.
type WorkerReport struct {
	ID     int     `json:"id"`
	Speed  float64 `json:"speed"`
	Joined float64 `json:"joined"`
	Left   bool    `json:"left"`              // it left before the end
	LeftAt float64 `json:"left_at,omitempty"` // when
	Units  int     `json:"units"`
	Chunks int     `json:"chunks"`
	// ChunkSizes are the units of every chunk the Master granted the
	// worker, in order, and HandedBack the units of those handed back (a
	// chunk it held when it left): the sizes add up to Units + HandedBack.
	// They are the Master's record, which Episode.Result fills in; the
	// worker reports neither.
	ChunkSizes []int   `json:"chunk_sizes"`
	HandedBack int     `json:"units_handed_back,omitempty"`
	Busy       float64 `json:"busy"`
	Idle       float64 `json:"idle"`
	LastDone   float64 `json:"last_done"` // when its last chunk was done
	Return     float64 `json:"return"`
	// Unsettled are the units, counted in Units, of a chunk done whose
	// ChunkDone the Master had not answered when the worker ended: the
	// Master may never have received it (its node was cut off, say).
	Unsettled int `json:"unsettled_units,omitempty"`

	// finish gives a departed worker's agent its last reward once the
	// makespan is known, and returns the agent's return.
	finish func(makespan float64) float64
}

// Receive implements actors.Actor.
func (w *Worker) Receive(ctx actors.Context, msg any) {
	if w.Agent.Handle(msg) || w.migration(ctx, msg) {
		return
	}
	switch m := msg.(type) {
	case actors.Started:
		if w.resumed != nil {
			w.resume(ctx)
			return
		}
		w.joined, w.rewardedAt = ctx.Now(), ctx.Now()
		ctx.Send(w.Roster, env.JoinOf(AgentID(w.ID), w.Agent))
		ctx.Watch(w.Master)
		w.request(ctx, ChunkDone{})
	case WaitNotice:
		w.wait = m.Wait
	case Offer:
		w.state = m.State
		ctx.Reply(ctx.ReplyTo(), Take{Units: w.decide(ctx)})
	case chunkDone:
		sum, sum2 := w.chunkCost[0], w.chunkCost[1]
		k := w.UnitTime / w.Speed
		if w.Availability != nil && sum > 0 {
			k = w.chunkTime / sum // as measured: the units' costs spread the chunk's time
		}
		w.sumT += k * sum
		w.sumT2 += k * k * sum2
		w.timed += w.chunkUnits
		w.lastMu = w.chunkTime / float64(w.chunkUnits)
		w.busy += w.chunkTime
		w.units += w.chunkUnits
		w.chunks++
		w.lastDone = ctx.Now()
		w.request(ctx, ChunkDone{Chunk: w.chunk.Chunk, Units: w.chunkUnits, Stats: w.unitStats()})
	case actors.Down: // the Master is gone: nothing more to do
		w.end(ctx, false)
		ctx.Stop(ctx.Self())
	case Dismiss:
		ctx.Stop(ctx.Self())
	case actors.Stopping:
		if !w.ended {
			if !w.waiting && w.chunkUnits > 0 {
				w.busy += ctx.Now() - w.chunkStart // worked on a chunk it hands back
			}
			w.end(ctx, true)
		}
	}
}

func (w *Worker) request(ctx actors.Context, done ChunkDone) {
	w.waiting, w.requestedAt, w.chunkUnits, w.pendingDone = true, ctx.Now(), 0, done.Units
	ctx.Request(w.Master, ChunkRequest{Worker: w.ID, Speed: w.Speed, Done: done}, actors.Forever, w.onReply)
}

func (w *Worker) onReply(ctx actors.Context, reply any, err error) {
	if w.ended {
		return
	}
	w.idle += ctx.Now() - w.requestedAt
	w.waiting, w.pendingDone = false, 0
	switch g := reply.(type) {
	case Grant:
		w.chunk = g
		w.chunkUnits = unitsOf(g.Ranges)
		sum, sum2 := w.Costs.Of(g.Ranges)
		w.chunkCost = [2]float64{sum, sum2}
		w.chunkTime = w.UnitTime * sum / w.Speed
		if w.Availability != nil {
			w.chunkTime = w.Availability.Finish(ctx.Now(), w.UnitTime*sum, w.Speed) - ctx.Now()
		}
		w.chunkStart = ctx.Now()
		w.chunkTimer = ctx.After(w.chunkTime, chunkDone{})
		if !w.moveTo.IsZero() {
			w.handOff(ctx)
		}
	case Finished:
		w.end(ctx, false)
		ctx.Stop(ctx.Self())
	case WrittenOff:
		if g.Uncredited > 0 {
			w.units -= g.Uncredited
			w.chunks--
		}
		w.end(ctx, true)
		ctx.Stop(ctx.Self())
	default:
		_ = err // the Master is gone; its Down ends this worker
	}
}

// idleNow is the idle time so far, counting a wait in progress.
func (w *Worker) idleNow(now float64) float64 {
	if w.waiting {
		return w.idle + now - w.requestedAt
	}
	return w.idle
}

func (w *Worker) unitStats() UnitStats {
	if w.timed == 0 {
		return UnitStats{}
	}
	n := float64(w.timed)
	mean := w.sumT / n
	return UnitStats{N: w.timed, Mean: mean, Sd: math.Sqrt(math.Max(0, w.sumT2/n-mean*mean))}
}

// observe builds the agent's observation.
func (w *Worker) observe(now float64) learning.Observation {
	s, u := w.state, w.unitStats()
	obs := learning.Observation{Schema: Schema, Values: []float64{
		now, float64(s.Job), float64(s.Remaining), s.Unfinished, float64(s.Workers), float64(s.Granted), float64(s.Queue),
		s.CommTime, w.UnitTime, w.Speed, s.SpeedSum, u.Mean, u.Sd,
		float64(s.Measured), s.MuMean, s.SigmaMean, s.InvMuSum, s.DSum,
		w.wait, float64(w.lastChunkUnits()), w.idleNow(now),
	}}
	if w.Schema == SchemaV3 {
		obs.Schema, obs.Values = SchemaV3, append(obs.Values, w.lastMu)
	}
	return obs
}

func (w *Worker) lastChunkUnits() int { return unitsOf(w.chunk.Ranges) }

// reward is the reward for the time since the last one.
func (w *Worker) reward(now float64) float64 {
	idle := w.idleNow(now)
	cost := idle - w.rewarded
	if w.Reward == RewardTime {
		cost = now - w.rewardedAt
	}
	w.rewarded, w.rewardedAt = idle, now
	return -cost / w.ideal()
}

// ideal is the unit of rewards: the job's nominal work over the live
// workers' speed, as the Master last told; from loadbalancing/v4 on, as
// it told before the worker's first reward, and fixed from then on.
//
// A unit that follows the live workers (v1 to v3) makes a worker's return
// rank schedules by something other than the makespan once workers join
// or leave: a worker that learns of a join counts each later time unit at
// the smaller ideal time of the larger crowd, one that does not (because
// it took so much work that it never asks again) at the old one. On a
// join, a schedule that hands the whole job out before it (share-1) then
// earns a better return than one that leaves work for the joiners, at a
// makespan half as long again. With the unit fixed, a worker's return is
// minus the makespan from its arrival over a constant: what every worker
// shares, as RewardTime says.
func (w *Worker) ideal() float64 {
	if w.rewardUnit > 0 {
		return w.rewardUnit
	}
	ideal := w.UnitTime * float64(w.state.Job) / w.state.SpeedSum
	if !(ideal > 0) {
		return 1
	}
	if fixesRewardUnit(w.Spec.Version) && !math.IsInf(ideal, 0) {
		w.rewardUnit = ideal
	}
	return ideal
}

// decide asks the agent how many units to take; without an agent, one.
func (w *Worker) decide(ctx actors.Context) int {
	if w.Agent == nil {
		return 1
	}
	now := ctx.Now()
	a, _ := w.Agent.Act(w.observe(now), w.reward(now))
	return max(int(a), 1)
}

// end closes the worker's episode: the agent's last update and the report.
func (w *Worker) end(ctx actors.Context, left bool) {
	if w.ended {
		return
	}
	now := ctx.Now()
	unsettled := 0
	if w.waiting {
		w.idle += now - w.requestedAt
		w.waiting, unsettled = false, w.pendingDone
	}
	w.ended = true
	rep := WorkerReport{ID: w.ID, Speed: w.Speed, Joined: w.joined, Units: w.units, Chunks: w.chunks, Busy: w.busy, Idle: w.idle, LastDone: w.lastDone, Unsettled: unsettled}
	if left {
		rep.Left, rep.LeftAt = true, now
	}
	switch {
	case w.Agent == nil:
	case left && w.Reward == RewardTime:
		// Its return is to be minus the makespan too, which nobody knows
		// yet: the last reward waits for the end of the job.
		obs, from, ideal := w.observe(now), w.rewardedAt, w.ideal()
		rep.finish = func(end float64) float64 {
			w.Agent.Finish(obs, -(end-from)/ideal)
			return w.Agent.Return()
		}
	default:
		w.Agent.Finish(w.observe(now), w.reward(now))
		rep.Return = w.Agent.Return()
	}
	if w.Report != nil {
		w.Report(rep)
	}
}
