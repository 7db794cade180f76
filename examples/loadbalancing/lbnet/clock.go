package lbnet

import (
	"sync"

	"github.com/marlon-go/marlon/actors"
)

// clock maps a runtime's time onto an episode's: episode time is
// at + (runtime time - from) * ratio, where ratio is the runtime's time unit
// over the episode's.
type clock struct {
	at, from, ratio float64
}

func (c clock) now(runtime float64) float64 { return c.at + (runtime-c.from)*c.ratio }

// span converts a duration in episode time to runtime time.
func (c clock) span(d float64) float64 { return d / c.ratio }

// wrap makes a run on c: it sees c's time, and its timers and request
// timeouts are in c's units.
func (c clock) wrap(a actors.Actor) actors.Actor {
	w := &clocked{inner: a, c: c}
	w.ctx.w = w
	return w
}

type clocked struct {
	inner actors.Actor
	c     clock
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

func (x *clockedContext) Now() float64 { return x.w.c.now(x.Context.Now()) }

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

func (x *clockedContext) Spawn(a actors.Actor) actors.Addr { return x.Context.Spawn(x.w.c.wrap(a)) }

// clockedRuntime starts actors on a live runtime with a clock, and keeps
// their addresses, to stop them when the episode is over.
type clockedRuntime struct {
	*actors.Live
	c       clock
	mu      sync.Mutex
	spawned []actors.Addr
}

func (r *clockedRuntime) Spawn(a actors.Actor) actors.Addr {
	addr := r.Live.Spawn(r.c.wrap(a))
	r.mu.Lock()
	r.spawned = append(r.spawned, addr)
	r.mu.Unlock()
	return addr
}

func (r *clockedRuntime) Now() float64 { return r.c.now(r.Live.Now()) }

// stopAll stops the actors r started (their own children stop with them or
// on their own).
func (r *clockedRuntime) stopAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.spawned {
		r.Live.Stop(a)
	}
}
