package schednet

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/env/hosting"
	"github.com/marlon-go/marlon/examples/scheduling"
	"github.com/marlon-go/marlon/learning"
	"github.com/marlon-go/marlon/transport"
)

// PolicyFactory makes the policy that the resource agents of a run on one
// node share: algorithm by name, for the run's scenario, seeded, and
// restored from checkpoint (a learning.Checkpoint as written by its Write)
// unless that is nil. The scenario's workload is left out (a synthetic
// one stands in for a trace, whose file is the master's): a policy depends
// on the cluster, not on the jobs.
type PolicyFactory func(algorithm string, sc scheduling.Scenario, seed uint64, checkpoint []byte) (learning.Policy, error)

// HostConfig configures Serve.
type HostConfig struct {
	// Slots is how many compute nodes' resource agents the node hosts at
	// most at once.
	Slots int
	// NewPolicy makes a run's policy.
	NewPolicy PolicyFactory
	// Logger receives what the host does; default: discarded.
	Logger *slog.Logger
}

// Host is a node's room for resource agents, shared by the runs of every
// master that uses the node.
type Host = hosting.Host

// Serve makes node host scheduling resource agents for the masters that
// ask (hosting.Serve with the scheduling kind) and returns the host. Call
// it in the node's transport.Config.Setup.
func Serve(node *transport.Node, cfg HostConfig) *Host {
	speeds := make([]float64, cfg.Slots)
	for i := range speeds {
		speeds[i] = SlotSpeed
	}
	return hosting.Serve(node, hosting.HostConfig{Kind: Kind, Speeds: speeds, Logger: cfg.Logger,
		NewRun: func(payload []byte) (hosting.Run, error) {
			var b beginArgs
			if err := json.Unmarshal(payload, &b); err != nil {
				return nil, fmt.Errorf("schednet: begin: %w", err)
			}
			if b.Central {
				return &run{}, nil
			}
			sc := b.Scenario
			if sc.Arrival == scheduling.SWF {
				sc.Arrival, sc.Trace = scheduling.Poisson, ""
			}
			if err := sc.Validate(); err != nil {
				return nil, fmt.Errorf("schednet: begin: %w", err)
			}
			p, err := cfg.NewPolicy(b.Algorithm, sc, b.Seed, b.Checkpoint)
			if err != nil {
				return nil, err
			}
			return &run{policy: hosting.NewNodePolicy(p)}, nil
		}})
}

// run is a scheduling run on a hosting node: the policy its agents share
// (nil: none, a central discipline places the jobs).
type run struct {
	policy *hosting.NodePolicy
}

// Actor makes the resource agent a placement asks for, with a learning
// agent of the run's policy.
func (r *run) Actor(args []byte, _ float64) (actors.Actor, error) {
	var a placeArgs
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, fmt.Errorf("schednet: placement: %w", err)
	}
	s := a.Spec
	switch {
	case s.Index < 0 || s.Index > 1<<20 || !s.Capacity.Valid() || s.Jobs < 0:
		return nil, fmt.Errorf("schednet: placement of node %d of capacity %v for %d jobs: out of range", s.Index, s.Capacity, s.Jobs)
	case !(s.Heartbeat > 0) || math.IsInf(s.Heartbeat, 0):
		return nil, fmt.Errorf("schednet: placement of node %d: heartbeat %v, want a finite number > 0", s.Index, s.Heartbeat)
	case s.Auctioneer.IsZero() || s.Reports.IsZero():
		return nil, errors.New("schednet: placement without an auctioneer or a director")
	}
	var agent *env.Agent
	if r.policy != nil {
		id := scheduling.AgentID(s.Index)
		agent = env.Attach(id, r.policy.NewAgent(id))
	}
	return s.Agent(agent), nil
}

func (r *run) End() {
	if r.policy != nil {
		r.policy.EndEpisode()
	}
}
