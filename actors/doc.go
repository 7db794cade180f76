// Package actors is the actor runtime the environments are built from.
//
// An actor is private state plus a message handler (Actor.Receive). It
// changes only its own state and acts on the world only through its Context:
// send a message, make a request whose reply runs a continuation inside a
// later turn of the same actor (or arrives as a Response message), answer a
// request now or keep the ReplyTo handle and answer in a later turn, set and
// cancel timers, spawn and stop actors, and watch actors so as to receive Down
// when they stop or their node goes away. A handler never blocks and never
// reads the wall clock: the runtime decides what time it is.
//
// Two runtimes run the same actor code:
//
//   - Sim, a discrete-event simulator: virtual time, one goroutine, a heap of
//     events ordered by (time, sequence), random sources seeded from one seed.
//     The same seed gives the same run to the bit.
//   - Live: one goroutine and unbounded mailbox per actor and real timers, a
//     virtual time unit mapped to a real duration by a scale factor. Addresses
//     name a node and an actor; envelopes for other nodes go to a Remote (the
//     transport package implements it over NATS), so actor code does not change
//     when its peers move to other machines.
//
// Speed, measured by BenchmarkRuntimes (go test ./actors -run '^$' -bench
// Runtimes) and by `marlon bench`, which report messages per second through
// each runtime and the ratios to a raw Go channel hop measured in the same
// run; see README.md for the figures on the reference machine.
//
// This package depends on the standard library only. It must not depend on
// environments, learning or transports.
package actors
