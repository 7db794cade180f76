package hosting

import (
	"sync"

	"github.com/marlon-go/marlon/actors"
)

// Clock maps a runtime's time onto an episode's: episode time is
// At + (runtime time - From) * Ratio, where Ratio is the runtime's time
// unit over the episode's.
type Clock struct {
	At, From, Ratio float64
}

// Now is the episode's time at the runtime's time runtime.
func (c Clock) Now(runtime float64) float64 { return c.At + (runtime-c.From)*c.Ratio }

// span converts a duration in episode time to runtime time.
func (c Clock) span(d float64) float64 { return d / c.Ratio }

// Wrap makes a run on c: it sees c's time, and its timers and request
// timeouts are in c's units; the actors it spawns run on c too.
func (c Clock) Wrap(a actors.Actor) actors.Actor {
	w := &clocked{inner: a, c: c}
	w.ctx.w = w
	return w
}

type clocked struct {
	inner actors.Actor
	c     Clock
	ctx   clockedContext // reused: an actor's turns never overlap
}

func (w *clocked) Receive(ctx actors.Context, msg any) {
	w.ctx.Context = ctx
	w.inner.Receive(&w.ctx, msg)
}

type clockedContext struct {
	actors.Context
	w *clocked
}

func (x *clockedContext) Now() float64 { return x.w.c.Now(x.Context.Now()) }

func (x *clockedContext) After(d float64, msg any) actors.Timer {
	return x.Context.After(x.w.c.span(d), msg)
}

func (x *clockedContext) Request(to actors.Addr, msg any, timeout float64, then actors.Then) actors.RequestID {
	if then != nil {
		w, inner := x.w, then
		then = func(ctx actors.Context, reply any, err error) {
			w.ctx.Context = ctx
			inner(&w.ctx, reply, err)
		}
	}
	return x.Context.Request(to, msg, x.w.c.span(timeout), then)
}

func (x *clockedContext) Spawn(a actors.Actor) actors.Addr { return x.Context.Spawn(x.w.c.Wrap(a)) }

// EpisodeRuntime starts actors on a live runtime with an episode's clock,
// which reads 0 when it is made and runs at the runtime's scale, and keeps
// their addresses, to stop them when the episode is over (StopAll). It is
// what an environment's episode starts its actors in on the master's node.
type EpisodeRuntime struct {
	*actors.Live
	c       Clock
	mu      sync.Mutex
	spawned []actors.Addr
}

// NewEpisodeRuntime starts an episode's clock on rt.
func NewEpisodeRuntime(rt *actors.Live) *EpisodeRuntime {
	return &EpisodeRuntime{Live: rt, c: Clock{From: rt.Now(), Ratio: 1}}
}

// Spawn starts a on the episode's clock.
func (r *EpisodeRuntime) Spawn(a actors.Actor) actors.Addr {
	addr := r.Live.Spawn(r.c.Wrap(a))
	r.mu.Lock()
	r.spawned = append(r.spawned, addr)
	r.mu.Unlock()
	return addr
}

// Now is the episode's time.
func (r *EpisodeRuntime) Now() float64 { return r.c.Now(r.Live.Now()) }

// StopAll stops the actors r started (their own children stop with them or
// on their own).
func (r *EpisodeRuntime) StopAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.spawned {
		r.Live.Stop(a)
	}
}
