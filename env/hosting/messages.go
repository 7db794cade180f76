package hosting

import (
	"errors"
	"fmt"
	"time"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/transport"
)

func init() {
	// The roster's messages, which every environment's agents send and
	// receive across nodes.
	transport.Register[env.Join]("env.Join")
	transport.Register[env.Joined]("env.Joined")
	transport.Register[env.Left]("env.Left")
	transport.Register[env.Moved]("env.Moved")

	transport.Register[capacityQuery]("hosting.capacityQuery")
	transport.Register[capacity]("hosting.capacity")
	transport.Register[begin]("hosting.begin")
	transport.Register[Place]("hosting.Place")
	transport.Register[answer]("hosting.answer")
}

// The protocol between the placer (on the master's node) and a host actor
// (one per run on every hosting node):
//
//  1. the placer asks the node's spawner for a host of the run's kind,
//     with hostArgs; the host watches the placer and ends with it;
//  2. capacityQuery: the host answers capacity, its node's free slots;
//  3. begin: the host makes what the node needs for the run (its
//     RunFactory, from the payload) and answers;
//  4. Place, once per actor: the host starts the actor in a free slot of
//     its speed and answers with its address.
//
// Every request but the first is answered with capacity or answer; Err set
// means it failed.

// hostArgs are the arguments of a host's SpawnRequest.
type hostArgs struct {
	// Owner is the placer: the host ends when it does.
	Owner actors.Addr
	// Scale is the run's virtual time unit (the master's runtime scale).
	Scale time.Duration
}

type capacityQuery struct{}

// capacity lists the speeds of a node's free slots.
type capacity struct {
	Speeds []float64
}

// begin asks a host to prepare the run on its node.
type begin struct {
	Payload []byte
}

// Place asks the placer (from an actor of the master's node, as a request)
// to start an actor in a free slot of speed Speed (0: in any free slot), on
// node Node if it is set (to move an actor there, say), and the placer asks
// a host the same. Args are the environment's, for the node's Run.Actor. At
// is the episode's time when it was sent, to set the actor's clock by: the
// sender's ctx.Now().
type Place struct {
	Speed float64
	Node  string
	Args  []byte
	At    float64
}

// answer is the reply to begin and Place: the actor's address and the
// speed of the slot it took for Place, or what went wrong.
type answer struct {
	Actor actors.Addr
	Speed float64
	Err   string
}

// Placement interprets the reply to a Place request in a continuation: the
// placed actor's address, or why it was not placed.
func Placement(reply any, err error) (actors.Addr, error) {
	a, err := replied(reply, err)
	return a.Actor, err
}

func replied(reply any, err error) (answer, error) {
	a, ok := reply.(answer)
	switch {
	case err != nil:
	case !ok:
		err = fmt.Errorf("hosting: unexpected reply %T", reply)
	case a.Err != "":
		err = errors.New(a.Err)
	}
	return a, err
}
