package lbnet

import (
	"github.com/marlon-go/marlon/env/hosting"
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
	// Migration.
	transport.Register[lb.Migrate]("loadbalancing.Migrate")
	transport.Register[lb.Adopt]("loadbalancing.Adopt")
	transport.Register[lb.Adopted]("loadbalancing.Adopted")
	transport.Register[lb.Moved]("loadbalancing.Moved")
	transport.Register[lb.Release]("loadbalancing.Release")
}

// Kind is the environment's name for env/hosting: hosting nodes serve it,
// masters' placers look for it.
const Kind = "loadbalancing"

// HostKind is the transport kind of the host actor a hosting node
// registers.
var HostKind = hosting.HostKind(Kind)

// placeArgs are a placement's arguments (JSON): the worker to start, or,
// with State, the worker to start again where a migration takes it.
type placeArgs struct {
	Spec  lb.WorkerSpec
	State *lb.WorkerState `json:",omitempty"`
}
