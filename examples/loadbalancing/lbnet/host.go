package lbnet

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
	lb "github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/learning"
	"github.com/marlon-go/marlon/transport"
)

// HostKind is the kind of actor a hosting node registers: a master's placer
// spawns one on every hosting node for a run.
const HostKind = "loadbalancing.host"

// PolicyFactory makes the policy that the workers of a run on one node
// share: algorithm by name, for the run's scenario, seeded, and restored
// from checkpoint (a learning.Checkpoint as written by its Write) unless
// that is nil.
type PolicyFactory func(algorithm string, sc lb.Scenario, seed uint64, checkpoint []byte) (learning.Policy, error)

// HostConfig configures Serve.
type HostConfig struct {
	// Speeds are the node's worker slots: it hosts at most len(Speeds)
	// workers at once, each in a slot of its speed.
	Speeds []float64
	// NewPolicy makes a run's policy.
	NewPolicy PolicyFactory
	// Logger receives what the host does; default: discarded.
	Logger *slog.Logger
}

// Host is a node's room for load-balancing workers, shared by the runs of
// every master that uses the node.
type Host struct {
	node      *transport.Node
	newPolicy PolicyFactory
	log       *slog.Logger

	mu    sync.Mutex
	slots []slot
}

type slot struct {
	speed  float64
	used   bool
	worker actors.Addr // once spawned
}

// Serve makes node host workers for the masters that ask (it registers
// HostKind with it) and returns the host. Call it in the node's
// transport.Config.Setup: a master that sees the node join asks it at once,
// and is told it hosts nothing if the kind is not registered yet.
func Serve(node *transport.Node, cfg HostConfig) *Host {
	h := &Host{node: node, newPolicy: cfg.NewPolicy, log: cfg.Logger}
	for _, s := range cfg.Speeds {
		h.slots = append(h.slots, slot{speed: s})
	}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	node.RegisterKind(HostKind, func(raw []byte) (actors.Actor, error) {
		var args hostArgs
		if err := json.Unmarshal(raw, &args); err != nil {
			return nil, fmt.Errorf("host arguments: %w", err)
		}
		if args.Owner.IsZero() || args.Scale <= 0 {
			return nil, fmt.Errorf("host arguments: no owner or no time scale")
		}
		return &hostActor{h: h, owner: args.Owner, ratio: float64(node.Runtime().Scale()) / float64(args.Scale), workers: map[actors.Addr]int{}}, nil
	})
	return h
}

// Hosted is the number of workers the node hosts now.
func (h *Host) Hosted() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, s := range h.slots {
		if s.used {
			n++
		}
	}
	return n
}

// Stop dismisses every worker the node hosts, as a worker that leaves: it
// hands its chunk back and reports. It waits until they have all gone, at
// most wait. A node that stops cleanly calls it before transport.Node.Close.
func (h *Host) Stop(wait time.Duration) {
	h.mu.Lock()
	for _, s := range h.slots {
		if !s.worker.IsZero() {
			h.node.Runtime().Stop(s.worker)
		}
	}
	h.mu.Unlock()
	for deadline := time.Now().Add(wait); h.Hosted() > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *Host) free() []float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []float64
	for _, s := range h.slots {
		if !s.used {
			out = append(out, s.speed)
		}
	}
	return out
}

// take claims a free slot of speed s for the worker start makes; -1 if
// there is none.
func (h *Host) take(s float64, start func() actors.Addr) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.slots {
		if sl := &h.slots[i]; !sl.used && sl.speed == s {
			sl.used, sl.worker = true, start()
			return i
		}
	}
	return -1
}

func (h *Host) release(i int) {
	h.mu.Lock()
	h.slots[i].used, h.slots[i].worker = false, actors.Addr{}
	h.mu.Unlock()
}

// hostActor is a run's host on one node: it makes the run's policy, starts
// its workers in the node's free slots and frees the slots as they end. It
// ends when its owner (the run's placer) does, stopping what is left of its
// workers.
type hostActor struct {
	h       *Host
	owner   actors.Addr
	ratio   float64 // the node's time unit over the run's
	policy  *lockedPolicy
	costs   *lb.Costs
	costsOf costsKey // what costs was drawn for
	workers map[actors.Addr]int
	closing bool
}

func (a *hostActor) Receive(ctx actors.Context, msg any) {
	switch m := msg.(type) {
	case actors.Started:
		ctx.Watch(a.owner)
	case capacityQuery:
		ctx.Reply(ctx.ReplyTo(), capacity{Speeds: a.h.free()})
	case begin:
		ctx.Reply(ctx.ReplyTo(), a.begin(m))
	case placeWorker:
		ctx.Reply(ctx.ReplyTo(), a.place(ctx, m))
	case actors.Down:
		if m.Actor == a.owner {
			a.h.log.Info("run over", "owner", a.owner, "reason", m.Reason, "workers left", len(a.workers))
			a.closing = true
			for w := range a.workers {
				ctx.Stop(w)
			}
		} else if slot, ok := a.workers[m.Actor]; ok {
			delete(a.workers, m.Actor)
			a.h.release(slot)
		}
		if a.closing && len(a.workers) == 0 {
			ctx.Stop(ctx.Self())
		}
	case actors.Stopping:
		for _, slot := range a.workers {
			a.h.release(slot)
		}
		if a.policy != nil {
			a.policy.endEpisode()
		}
	}
}

func (a *hostActor) begin(m begin) answer {
	if a.policy != nil {
		return answer{Err: "the run has begun already"}
	}
	p, err := a.h.newPolicy(m.Algorithm, m.Scenario, m.Seed, m.Checkpoint)
	if err != nil {
		return answer{Err: err.Error()}
	}
	a.policy = newLockedPolicy(p)
	a.h.log.Info("run begun", "owner", a.owner, "algorithm", m.Algorithm, "job", m.Scenario.Job)
	return answer{}
}

func (a *hostActor) place(ctx actors.Context, m placeWorker) answer {
	s := m.Spec
	switch {
	case a.policy == nil:
		return answer{Err: "the run has not begun"}
	case a.closing:
		return answer{Err: "the run is over"}
	}
	var addr actors.Addr
	slot := a.h.take(s.Speed, func() actors.Addr {
		if key := (costsKey{s.Job, s.Variability, s.Seed}); a.costs == nil || key != a.costsOf {
			a.costs, a.costsOf = s.Costs(), key
		}
		id := lb.AgentID(s.ID)
		rt := a.h.node.Runtime()
		w := s.Worker(a.costs, env.Attach(id, a.policy.NewAgent(id)), func(r lb.WorkerReport) { rt.Send(s.Reports, r) })
		addr = ctx.Spawn(clock{at: m.At, from: ctx.Now(), ratio: a.ratio}.wrap(w))
		return addr
	})
	if slot < 0 {
		return answer{Err: fmt.Sprintf("node %s has no free slot of speed %g (free: %v)", ctx.Self().Node, s.Speed, a.h.free())}
	}
	ctx.Watch(addr)
	a.workers[addr] = slot
	a.h.log.Debug("worker placed", "worker", s.ID, "speed", s.Speed, "addr", addr)
	return answer{Worker: addr}
}

type costsKey struct {
	job         int
	variability float64
	seed        uint64
}

// lockedPolicy makes the agents of a policy take turns: a node's workers
// share one policy, and run on different goroutines.
type lockedPolicy struct {
	mu    sync.Mutex
	inner learning.Policy
}

// newLockedPolicy wraps p for a run: it acts greedily (a live run
// evaluates) and starts an episode.
func newLockedPolicy(p learning.Policy) *lockedPolicy {
	if t, ok := p.(learning.Trainable); ok {
		t.SetLearning(false)
	}
	if e, ok := p.(learning.Episodic); ok {
		e.BeginEpisode()
	}
	return &lockedPolicy{inner: p}
}

func (p *lockedPolicy) NewAgent(id learning.AgentID) learning.LearningAlgorithm {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &lockedAgent{mu: &p.mu, inner: p.inner.NewAgent(id)}
}

func (p *lockedPolicy) endEpisode() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.inner.(learning.Episodic); ok {
		e.EndEpisode()
	}
}

type lockedAgent struct {
	mu    *sync.Mutex
	inner learning.LearningAlgorithm
}

func (a *lockedAgent) InitAgent(obs learning.Observation) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inner.InitAgent(obs)
}

func (a *lockedAgent) IsLearning() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inner.IsLearning()
}

func (a *lockedAgent) SampleAction() learning.Action {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inner.SampleAction()
}

func (a *lockedAgent) Update(obs learning.Observation, reward float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inner.Update(obs, reward)
}

func (a *lockedAgent) ActionProbabilities() []float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inner.ActionProbabilities()
}

func (a *lockedAgent) AgentJoined(id learning.AgentID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inner.AgentJoined(id)
}

// UsesMembership implements learning.MembershipUser for the agent it guards.
func (a *lockedAgent) UsesMembership() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return learning.UsesMembership(a.inner)
}

func (a *lockedAgent) AgentLeft(id learning.AgentID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inner.AgentLeft(id)
}
