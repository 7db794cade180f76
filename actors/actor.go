package actors

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// Addr names an actor: the node that hosts it and a number unique on that
// node. The zero Addr names nobody (it is the sender of messages injected from
// outside the actor system). Addr is plain data: it can be stored, compared,
// used as a map key and sent in messages, locally or across nodes.
type Addr struct {
	Node string
	ID   uint64
}

// IsZero reports whether a is the zero address.
func (a Addr) IsZero() bool { return a.ID == 0 && a.Node == "" }

// String formats a as node/id.
func (a Addr) String() string {
	if a.IsZero() {
		return "<nobody>"
	}
	return a.Node + "/" + strconv.FormatUint(a.ID, 10)
}

// Actor is private state plus a message handler. Receive must not block, must
// not read the wall clock and must not touch any other actor's state: it reads
// and changes only its own fields and acts on the world through ctx.
//
// Every actor first receives Started. An actor stopped by Stop receives
// Stopping as its last message; an actor whose node fails or whose handler
// panics receives nothing more.
type Actor interface {
	Receive(ctx Context, msg any)
}

// ActorFunc adapts a function to Actor; the function's closure is the state.
type ActorFunc func(ctx Context, msg any)

// Receive calls f.
func (f ActorFunc) Receive(ctx Context, msg any) { f(ctx, msg) }

// Forever is the timeout of a request that waits for its reply however long it
// takes.
var Forever = math.Inf(1)

// RequestID identifies one request made by an actor.
type RequestID uint64

// Timer identifies a pending After.
type Timer uint64

// ReplyTo is the handle of a request an actor received. It is plain data: a
// handler may keep it in its state and answer with Context.Reply in a later
// turn (the Master in the load-balancing example answers a worker only after
// the communication time has passed).
type ReplyTo struct {
	To   Addr
	Corr RequestID
}

// IsZero reports whether r is no request at all (the current message was sent
// with Send, or is a timer).
func (r ReplyTo) IsZero() bool { return r.Corr == 0 }

// Then is a continuation: it runs inside the requesting actor's turn with the
// reply, or with err set and reply nil when the request timed out or could not
// be delivered.
type Then func(ctx Context, reply any, err error)

// Context is what a handler can do. It is valid only during the call it was
// passed to; continuations receive a fresh one.
type Context interface {
	// Self is the address of the actor being run.
	Self() Addr
	// Sender is who sent the current message; zero for timers and messages
	// injected from outside.
	Sender() Addr
	// Now is the runtime's time in virtual time units: simulated time in the
	// simulator, scaled elapsed time in the live runtime.
	Now() float64
	// Rand is this actor's random source, seeded by the runtime.
	Rand() *rand.Rand

	// Send delivers msg to to, fire and forget.
	Send(to Addr, msg any)
	// Request sends msg to to and expects one reply within timeout virtual
	// time units (Forever: no limit). With then non-nil the reply runs then
	// inside this actor's turn; with then nil it arrives as a Response
	// message.
	Request(to Addr, msg any, timeout float64, then Then) RequestID
	// ReplyTo is the handle of the current message if it is a request.
	ReplyTo() ReplyTo
	// Reply answers the request r, now or in any later turn. Answering a zero
	// handle does nothing.
	Reply(r ReplyTo, msg any)

	// After delivers msg to this actor after d virtual time units.
	After(d float64, msg any) Timer
	// Cancel stops a pending After and reports whether it was still pending.
	Cancel(t Timer) bool

	// Spawn starts a new actor on this node and returns its address.
	Spawn(a Actor) Addr
	// Stop stops an actor (this one included): it receives Stopping, then
	// nothing more, and its watchers receive Down.
	Stop(a Addr)
	// Watch asks for a Down message when a stops or its node goes away. If a
	// is already gone, Down arrives at once.
	Watch(a Addr)
	// Unwatch cancels Watch.
	Unwatch(a Addr)
}

// Runtime is what the simulator and the live runtime both offer to code
// outside the actors (an environment setting up an episode, a CLI).
type Runtime interface {
	// Node is the name of the node this runtime hosts actors for.
	Node() string
	// Spawn starts an actor and returns its address.
	Spawn(a Actor) Addr
	// Send injects a message from outside (the sender is the zero Addr).
	Send(to Addr, msg any)
	// Stop stops an actor as Context.Stop does.
	Stop(a Addr)
	// Now is the runtime's current time in virtual time units.
	Now() float64
}

// Started is the first message every actor receives.
type Started struct{}

// Stopping is the last message an actor stopped by Stop receives. It may
// still send messages (to hand back work, say), but its timers and pending
// requests are discarded after this turn.
type Stopping struct{}

// Response carries the reply to a Request made with a nil continuation.
type Response struct {
	ID    RequestID
	Reply any
	Err   error
}

// Undeliverable tells an actor that a message it sent could not be handed to
// the transport (a remote node unreachable, say). Messages to a stopped local
// actor are dead letters instead: counted, not reported, as in Erlang.
type Undeliverable struct {
	To  Addr
	Msg any
	Err error
}

// DownReason says why a watched actor went away.
type DownReason uint8

const (
	// Stopped: stopped with Stop.
	Stopped DownReason = iota + 1
	// Crashed: its handler panicked.
	Crashed
	// NodeDown: its node failed or left the cluster.
	NodeDown
	// NoActor: there was no such actor when Watch was called.
	NoActor
)

func (r DownReason) String() string {
	switch r {
	case Stopped:
		return "stopped"
	case Crashed:
		return "crashed"
	case NodeDown:
		return "node down"
	case NoActor:
		return "no such actor"
	}
	return "DownReason(" + strconv.Itoa(int(r)) + ")"
}

// Down tells a watcher that Actor went away. Detail is free text (a panic
// value, a node failure's cause).
type Down struct {
	Actor  Addr
	Reason DownReason
	Detail string
}

// Errors a continuation can receive.
var (
	// ErrTimeout: no reply within the request's timeout.
	ErrTimeout = errors.New("actors: request timed out")
	// ErrNoActor: the request's target does not exist or has stopped.
	ErrNoActor = errors.New("actors: no such actor")
	// ErrUndeliverable: the transport could not carry the request.
	ErrUndeliverable = errors.New("actors: undeliverable")
)

// Envelope is a message in transit between two actors. Runtimes move
// envelopes; a transport encodes them to carry them across nodes.
type Envelope struct {
	From, To Addr
	Msg      any
	// Corr is nonzero for a request (Reply false) and for the reply to it
	// (Reply true).
	Corr  RequestID
	Reply bool
	// Err is set on a reply the runtime or the transport produced because
	// the request failed (for example ErrNoActor).
	Err error
}

// Stats counts what a runtime did. DeadLetters are messages to actors that
// had stopped; LateReplies are replies that arrived after their request timed
// out; Crashes are handlers that panicked; Lost are messages a simulated
// network lost and Refused those it refused (Sim.SetNetwork, Refusing).
type Stats struct {
	Delivered   uint64
	DeadLetters uint64
	LateReplies uint64
	Crashes     uint64
	Spawned     uint64
	Stopped     uint64
	Lost        uint64
	Refused     uint64
}

// crashDetail formats a recovered panic value for Down.Detail.
func crashDetail(v any) string { return fmt.Sprint(v) }
