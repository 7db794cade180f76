package lbnet

import (
	"time"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
	lb "github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/transport"
)

func init() {
	transport.Register[lb.ChunkRequest]("loadbalancing.ChunkRequest")
	transport.Register[lb.WaitNotice]("loadbalancing.WaitNotice")
	transport.Register[lb.Offer]("loadbalancing.Offer")
	transport.Register[lb.Take]("loadbalancing.Take")
	transport.Register[lb.Grant]("loadbalancing.Grant")
	transport.Register[lb.Finished]("loadbalancing.Finished")
	transport.Register[lb.Dismiss]("loadbalancing.Dismiss")
	transport.Register[lb.WrittenOff]("loadbalancing.WrittenOff")
	transport.Register[lb.WorkerReport]("loadbalancing.WorkerReport")
	transport.Register[env.Join]("env.Join")
	transport.Register[env.Joined]("env.Joined")
	transport.Register[env.Left]("env.Left")

	transport.Register[capacityQuery]("lbnet.capacityQuery")
	transport.Register[capacity]("lbnet.capacity")
	transport.Register[begin]("lbnet.begin")
	transport.Register[placeWorker]("lbnet.placeWorker")
	transport.Register[answer]("lbnet.answer")
}

// The protocol between the placer (on the master's node) and a host actor
// (one per run on every hosting node):
//
//  1. the placer asks the node's spawner for a HostKind actor, with
//     hostArgs; the host watches the placer and ends with it;
//  2. capacityQuery: the host answers capacity, its node's free slots;
//  3. begin: the host makes the policy its workers will share and answers;
//  4. placeWorker, once per worker: the host spawns the worker in a free
//     slot of its speed and answers with its address.
//
// Every request but the first is answered with capacity or answer; Err set
// means it failed.

// hostArgs are the arguments of a host's SpawnRequest (JSON).
type hostArgs struct {
	// Owner is the placer: the host ends when it does.
	Owner actors.Addr
	// Scale is the run's virtual time unit (the master's runtime scale).
	Scale time.Duration
}

type capacityQuery struct{}

// capacity lists the speeds of a node's free worker slots.
type capacity struct {
	Speeds []float64
}

// begin asks a host to make the policy of the run's workers on its node.
type begin struct {
	Algorithm  string
	Checkpoint []byte
	Scenario   lb.Scenario
	Seed       uint64
}

// placeWorker asks a host to start a worker. At is the episode's time when
// the director sent it, to set the worker's clock by.
type placeWorker struct {
	Spec lb.WorkerSpec
	At   float64
}

// answer is the reply to begin and placeWorker: the worker's address for
// placeWorker, or what went wrong.
type answer struct {
	Worker actors.Addr
	Err    string
}
