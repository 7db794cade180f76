package hosting

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/transport"
)

// HostKind is the transport kind of the host actors of the environment
// named kind: a placer for that kind spawns one on every node that serves
// it.
func HostKind(kind string) string { return "hosting.host/" + kind }

// Run is what a hosting node holds for one run of an environment: made by
// the node's RunFactory when the run begins, it makes the actors placed on
// the node. Its methods are called from the host actor's turns, one at a
// time, and must not block.
type Run interface {
	// Actor makes the actor to start in a slot of speed speed from a
	// placement's arguments. The host starts it on the run's clock.
	Actor(args []byte, speed float64) (actors.Actor, error)
	// End is called once the run is over on this node.
	End()
}

// RunFactory makes a node's Run from the run's begin payload (Placer.Begin).
type RunFactory func(payload []byte) (Run, error)

// HostConfig configures Serve.
type HostConfig struct {
	// Kind names the environment the node hosts actors of; a placer of
	// the same Kind finds it.
	Kind string
	// Speeds are the node's slots: it hosts at most len(Speeds) actors at
	// once, each in a slot of its speed.
	Speeds []float64
	// Reserved are more slots, kept for actors placed on this node by name
	// (Place.Node: an actor that moves here): they are not offered to runs
	// as free slots.
	Reserved []float64
	// NewRun makes a run's Run.
	NewRun RunFactory
	// Logger receives what the host does; default: discarded.
	Logger *slog.Logger
}

// Host is a node's room for an environment's actors, shared by the runs of
// every master that uses the node.
type Host struct {
	node   *transport.Node
	newRun RunFactory
	log    *slog.Logger

	mu    sync.Mutex
	slots []slot
}

type slot struct {
	speed    float64
	reserved bool // for actors placed by name only
	used     bool
	actor    actors.Addr // once spawned
}

// Serve makes node host actors of cfg.Kind for the masters that ask (it
// registers HostKind(cfg.Kind) with it) and returns the host. Call it in the
// node's transport.Config.Setup: a master that sees the node join asks it at
// once, and is told it hosts nothing if the kind is not registered yet.
func Serve(node *transport.Node, cfg HostConfig) *Host {
	h := &Host{node: node, newRun: cfg.NewRun, log: cfg.Logger}
	for _, s := range cfg.Speeds {
		h.slots = append(h.slots, slot{speed: s})
	}
	for _, s := range cfg.Reserved {
		h.slots = append(h.slots, slot{speed: s, reserved: true})
	}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	node.RegisterKind(HostKind(cfg.Kind), func(raw []byte) (actors.Actor, error) {
		var args hostArgs
		if err := json.Unmarshal(raw, &args); err != nil {
			return nil, fmt.Errorf("host arguments: %w", err)
		}
		if args.Owner.IsZero() || args.Scale <= 0 {
			return nil, fmt.Errorf("host arguments: no owner or no time scale")
		}
		return &hostActor{h: h, owner: args.Owner, ratio: float64(node.Runtime().Scale()) / float64(args.Scale), placed: map[actors.Addr]int{}}, nil
	})
	return h
}

// Hosted is the number of actors the node hosts now.
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

// Stop stops every actor the node hosts (they see Stopping, as an actor
// that leaves: a load-balancing worker hands its chunk back and reports),
// and waits until they have all gone, at most wait. A node that stops
// cleanly calls it before transport.Node.Close.
func (h *Host) Stop(wait time.Duration) {
	h.mu.Lock()
	for _, s := range h.slots {
		if !s.actor.IsZero() {
			h.node.Runtime().Stop(s.actor)
		}
	}
	h.mu.Unlock()
	for deadline := time.Now().Add(wait); h.Hosted() > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}

// free lists the speeds of the free slots offered to runs.
func (h *Host) free() []float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []float64
	for _, s := range h.slots {
		if !s.used && !s.reserved {
			out = append(out, s.speed)
		}
	}
	return out
}

// take claims a free slot of speed s (0: of any speed) for the actor start
// starts, given the slot's speed: with named (an actor placed on this node
// by name), a reserved slot if there is one, else any; -1 if there is
// none.
func (h *Host) take(s float64, named bool, start func(speed float64) actors.Addr) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	pick := -1
	for i, sl := range h.slots {
		if sl.used || s != 0 && sl.speed != s || sl.reserved && !named {
			continue
		}
		if pick < 0 || sl.reserved && !h.slots[pick].reserved {
			pick = i
		}
	}
	if pick >= 0 {
		h.slots[pick].used = true
		h.slots[pick].actor = start(h.slots[pick].speed)
	}
	return pick
}

func (h *Host) release(i int) {
	h.mu.Lock()
	h.slots[i].used, h.slots[i].actor = false, actors.Addr{}
	h.mu.Unlock()
}

// hostActor is a run's host on one node: it begins the run, starts its
// actors in the node's free slots and frees the slots as they end. It ends
// when its owner (the run's placer) does, stopping what is left of its
// actors.
type hostActor struct {
	h       *Host
	owner   actors.Addr
	ratio   float64 // the node's time unit over the run's
	run     Run
	placed  map[actors.Addr]int // slot by actor
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
	case Place:
		ctx.Reply(ctx.ReplyTo(), a.place(ctx, m))
	case actors.Down:
		if m.Actor == a.owner {
			a.h.log.Info("run over", "owner", a.owner, "reason", m.Reason, "actors left", len(a.placed))
			a.closing = true
			for w := range a.placed {
				ctx.Stop(w)
			}
		} else if slot, ok := a.placed[m.Actor]; ok {
			delete(a.placed, m.Actor)
			a.h.release(slot)
		}
		if a.closing && len(a.placed) == 0 {
			ctx.Stop(ctx.Self())
		}
	case actors.Stopping:
		for _, slot := range a.placed {
			a.h.release(slot)
		}
		if a.run != nil {
			a.run.End()
		}
	}
}

func (a *hostActor) begin(m begin) answer {
	if a.run != nil {
		return answer{Err: "the run has begun already"}
	}
	r, err := a.h.newRun(m.Payload)
	if err != nil {
		return answer{Err: err.Error()}
	}
	a.run = r
	a.h.log.Info("run begun", "owner", a.owner)
	return answer{}
}

func (a *hostActor) place(ctx actors.Context, m Place) answer {
	switch {
	case a.run == nil:
		return answer{Err: "the run has not begun"}
	case a.closing:
		return answer{Err: "the run is over"}
	}
	var addr actors.Addr
	var err error
	var speed float64
	slot := a.h.take(m.Speed, m.Node != "", func(s float64) actors.Addr {
		var actor actors.Actor
		speed = s
		if actor, err = a.run.Actor(m.Args, speed); err != nil {
			return actors.Addr{}
		}
		addr = ctx.Spawn(Clock{At: m.At, From: ctx.Now(), Ratio: a.ratio}.Wrap(actor))
		return addr
	})
	switch {
	case slot < 0 && m.Speed == 0:
		return answer{Err: fmt.Sprintf("node %s has no free slot", ctx.Self().Node)}
	case slot < 0:
		return answer{Err: fmt.Sprintf("node %s has no free slot of speed %g (free: %v)", ctx.Self().Node, m.Speed, a.h.free())}
	case err != nil:
		a.h.release(slot)
		return answer{Err: err.Error()}
	}
	ctx.Watch(addr)
	a.placed[addr] = slot
	a.h.log.Debug("actor placed", "speed", m.Speed, "addr", addr)
	return answer{Actor: addr, Speed: speed}
}
