package schednet

import (
	"github.com/marlon-go/marlon/env/hosting"
	"github.com/marlon-go/marlon/examples/scheduling"
	"github.com/marlon-go/marlon/transport"
)

func init() {
	transport.Register[scheduling.Register]("scheduling.Register")
	transport.Register[scheduling.Registered]("scheduling.Registered")
	transport.Register[scheduling.Heartbeat]("scheduling.Heartbeat")
	transport.Register[scheduling.HeartbeatAck]("scheduling.HeartbeatAck")
	transport.Register[scheduling.Fenced]("scheduling.Fenced")
	transport.Register[scheduling.CallForBids]("scheduling.CallForBids")
	transport.Register[scheduling.Offer]("scheduling.Offer")
	transport.Register[scheduling.Assign]("scheduling.Assign")
	transport.Register[scheduling.Accepted]("scheduling.Accepted")
	transport.Register[scheduling.Refused]("scheduling.Refused")
	transport.Register[scheduling.Completed]("scheduling.Completed")
	transport.Register[scheduling.Abort]("scheduling.Abort")
	transport.Register[scheduling.EpisodeOver]("scheduling.EpisodeOver")
	transport.Register[scheduling.AgentReport]("scheduling.AgentReport")
	// Not scheduling.AgentDown: only the director, on the auctioneer's
	// node, may declare an agent gone.
}

// Kind is the environment's name for env/hosting: hosting nodes serve it,
// masters' placers look for it.
const Kind = "scheduling"

// HostKind is the transport kind of the host actor a hosting node
// registers.
var HostKind = hosting.HostKind(Kind)

// SlotSpeed is the speed of every scheduling slot: a slot holds any
// compute node's agent, whose capacity comes with the placement.
const SlotSpeed = 1

// beginArgs is the payload of a run's begin (JSON): what every hosting
// node needs to make the policy its agents will share.
type beginArgs struct {
	Algorithm string
	// Central: a central discipline places the jobs; the agents bid for
	// nothing and need no policy.
	Central    bool
	Checkpoint []byte
	Scenario   scheduling.Scenario
	Seed       uint64
}

// placeArgs are a placement's arguments (JSON): the agent to start.
type placeArgs struct {
	Spec scheduling.AgentSpec
}
