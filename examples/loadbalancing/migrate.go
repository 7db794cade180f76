package loadbalancing

import (
	"fmt"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
)

// Agent migration (seed 001): a worker moves, with its agent, to another
// node in the middle of an episode and goes on with the chunk it holds.
//
//  1. The worker is sent Migrate{Host} (by whoever decides, or through the
//     director with MoveWorker): if it is working on a chunk it captures
//     its state (WorkerState: its spec, where it is in its chunk and its
//     accounts, and its agent's state, learner included) and asks Host, an
//     actor that starts workers on the target node, to Adopt it; if it is
//     waiting for the Master it migrates once its chunk is granted (a
//     grant in flight would go to the old address).
//  2. Host makes the worker again from the state (ResumeWorker, with the
//     target node's agent for the same ID, which takes the state) and starts
//     it; it answers Adopted with the new address.
//  3. The new worker tells the Master, the roster and the director that it
//     moved (Moved, env.Moved; each watches it instead of the old one), then
//     sends the old worker Release, which stops it without handing its
//     chunk back or reporting; the new one finishes the chunk at the time
//     the old one would have.
//
// The chunk is conserved: it stays the worker's in the Master's ledger
// throughout, and the new worker reports it done. What can go wrong is
// settled so that no unit is lost or done twice:
//   - Host refuses (Adopted.Err: no free slot there, say): nothing was
//     started, and the worker carries on where it is;
//   - Host does not answer within Migrate.Timeout, or the new worker is
//     gone (its node failed) before the old one is released: the old one
//     cannot know whether, or how far, the new one got, so it gives up and
//     stops, as a worker that leaves: the Master hands its chunk back to
//     the pool when it sees the worker (old or new, whichever it watches)
//     go, and a late new incarnation is written off by the Master when it
//     next asks;
//   - the worker is told to leave (Dismiss) while it moves: it passes it on
//     to its new incarnation.

// Migrate asks a worker to move to the node of Host. Timeout bounds, in
// the episode's time, the wait for Host's answer (0: no bound, as in the
// simulator, where a host always answers).
type Migrate struct {
	Host    actors.Addr
	Timeout float64
}

// MoveWorker asks the director of a placed episode to send worker ID,
// wherever it runs now, Migrate{Host, Timeout}.
type MoveWorker struct {
	ID      int
	Host    actors.Addr
	Timeout float64
}

// Adopt, a request to a host, starts a worker from State on the host's
// node. Reply: Adopted.
type Adopt struct{ State WorkerState }

// Adopted answers Adopt: the new worker's address, or why there is none
// (then nothing was started).
type Adopted struct {
	Worker actors.Addr
	Err    string
}

// Moved, a request to the Master and the director, says worker ID now runs
// at the sender instead of at From. Reply: Moved.
type Moved struct {
	ID   int
	From actors.Addr
}

// Release tells a migrated worker's old incarnation to stop quietly: its new
// one carries on.
type Release struct{}

// WorkerState is a worker's state, to start it again on another node.
type WorkerState struct {
	Spec        WorkerSpec
	From        actors.Addr // the worker's old address
	Joined      float64
	Chunk       Grant
	ChunkUnits  int
	ChunkStart  float64
	ChunkTime   float64
	ChunkCost   [2]float64
	State       MasterState
	Wait        float64
	Timed       int
	SumT, SumT2 float64
	LastMu      float64
	Idle, Busy  float64
	Units       int
	Chunks      int
	LastDone    float64
	RewardedAt  float64
	Rewarded    float64
	RewardUnit  float64 `json:",omitempty"` // loadbalancing/v4
	Agent       env.AgentState
}

// ResumeWorker makes the worker a WorkerState describes, with agent (the
// target node's binding for the same agent ID, which takes the state) and
// report. Spawn it on the target node.
func ResumeWorker(s WorkerState, agent *env.Agent, report func(WorkerReport)) (*Worker, error) {
	if err := agent.Restore(s.Agent); err != nil {
		return nil, fmt.Errorf("loadbalancing: worker %d's agent: %w", s.Spec.ID, err)
	}
	w := s.Spec.Worker(s.Spec.Costs(), agent, report)
	w.resumed = &s
	w.joined, w.chunk, w.chunkUnits, w.chunkStart, w.chunkTime, w.chunkCost = s.Joined, s.Chunk, s.ChunkUnits, s.ChunkStart, s.ChunkTime, s.ChunkCost
	w.state, w.wait, w.timed, w.sumT, w.sumT2, w.lastMu = s.State, s.Wait, s.Timed, s.SumT, s.SumT2, s.LastMu
	w.idle, w.busy, w.units, w.chunks, w.lastDone = s.Idle, s.Busy, s.Units, s.Chunks, s.LastDone
	w.rewardedAt, w.rewarded, w.rewardUnit = s.RewardedAt, s.Rewarded, s.RewardUnit
	return w, nil
}

// migration handles the migration messages, and what an old incarnation
// still hears while it moves; it reports whether msg was one.
func (w *Worker) migration(ctx actors.Context, msg any) bool {
	switch m := msg.(type) {
	case Migrate:
		if w.ended || w.migrating {
			return true
		}
		w.moveTo, w.moveTimeout = m.Host, m.Timeout
		if !w.waiting && w.chunkUnits > 0 {
			w.handOff(ctx)
		}
		return true
	case Release:
		w.ended = true // the new incarnation carries on: no hand-back, no report
		ctx.Stop(ctx.Self())
		return true
	}
	if !w.migrating {
		return false
	}
	switch m := msg.(type) {
	case Dismiss: // a leave on schedule, sent before the director knew
		w.dismissed = true
		if !w.movedTo.IsZero() {
			ctx.Send(w.movedTo, Dismiss{})
		}
	case actors.Down:
		if m.Actor == w.movedTo { // the new incarnation is gone before it released this one
			w.giveUp(ctx)
		}
	}
	return true // it has handed its state off: the new incarnation acts
}

// handOff sends the worker's state to the host it moves to.
func (w *Worker) handOff(ctx actors.Context) {
	ag, err := w.Agent.State()
	if err != nil {
		w.moveTo = actors.Addr{} // it cannot move: it stays
		return
	}
	s := WorkerState{Spec: w.Spec, From: ctx.Self(), Joined: w.joined, Chunk: w.chunk, ChunkUnits: w.chunkUnits, ChunkStart: w.chunkStart,
		ChunkTime: w.chunkTime, ChunkCost: w.chunkCost, State: w.state, Wait: w.wait, Timed: w.timed, SumT: w.sumT, SumT2: w.sumT2,
		LastMu: w.lastMu, Idle: w.idle, Busy: w.busy, Units: w.units, Chunks: w.chunks, LastDone: w.lastDone,
		RewardedAt: w.rewardedAt, Rewarded: w.rewarded, RewardUnit: w.rewardUnit, Agent: ag}
	w.migrating = true
	ctx.Cancel(w.chunkTimer) // the new incarnation finishes the chunk
	timeout := w.moveTimeout
	if timeout <= 0 {
		timeout = actors.Forever
	}
	ctx.Request(w.moveTo, Adopt{State: s}, timeout, func(ctx actors.Context, reply any, err error) {
		if w.ended {
			return
		}
		a, ok := reply.(Adopted)
		switch {
		case err != nil || !ok:
			// No answer: it may have been started there all the same.
			w.giveUp(ctx)
		case a.Err != "" || a.Worker.IsZero():
			// Refused: nothing was started. Carry on here, with the
			// chunk's time left.
			w.migrating, w.moveTo = false, actors.Addr{}
			w.chunkTimer = ctx.After(max(0, w.chunkStart+w.chunkTime-ctx.Now()), chunkDone{})
			if w.dismissed {
				ctx.Stop(ctx.Self())
			}
		default:
			// The new one releases this one once the others know.
			w.movedTo = a.Worker
			ctx.Watch(a.Worker)
			if w.dismissed {
				ctx.Send(a.Worker, Dismiss{})
			}
		}
	})
}

// giveUp stops a worker whose move went wrong in a way that leaves it
// unknown whether a new incarnation runs: it leaves, and the Master hands
// its chunk back to the pool.
func (w *Worker) giveUp(ctx actors.Context) {
	w.migrating = false
	w.busy += ctx.Now() - w.chunkStart // worked on a chunk it hands back
	w.end(ctx, true)
	ctx.Stop(ctx.Self())
}

// resume is a migrated worker's start: it tells the Master, the roster and
// the director where it is now, releases its old incarnation, and finishes
// its chunk when the old one would have.
func (w *Worker) resume(ctx actors.Context) {
	s := w.resumed
	ctx.Watch(w.Master)
	w.chunkTimer = ctx.After(max(0, s.ChunkStart+s.ChunkTime-ctx.Now()), chunkDone{})
	told := 0
	done := func(ctx actors.Context, _ any, _ error) {
		if told++; told == 3 {
			ctx.Send(s.From, Release{})
		}
	}
	ctx.Request(w.Master, Moved{ID: w.ID, From: s.From}, actors.Forever, done)
	ctx.Request(w.Roster, env.Moved{From: s.From}, actors.Forever, done)
	if s.Spec.Reports.IsZero() {
		done(ctx, nil, nil)
	} else {
		ctx.Request(s.Spec.Reports, Moved{ID: w.ID, From: s.From}, actors.Forever, done)
	}
}

// moved re-points the Master's account of a worker at its new address.
func (m *Master) moved(ctx actors.Context, x Moved) {
	if w := m.workers[x.From]; w != nil {
		delete(m.workers, x.From)
		w.addr = ctx.Sender()
		m.workers[w.addr] = w
		ctx.Unwatch(x.From)
		ctx.Watch(w.addr)
	}
	ctx.Reply(ctx.ReplyTo(), x)
}
