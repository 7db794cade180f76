package lbnet

import (
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/env/hosting"
	lb "github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/learning"
	"github.com/marlon-go/marlon/transport"
)

// PolicySpec is what a node needs to make the policy of a run's workers; it
// travels in the run's begin payload (JSON).
type PolicySpec struct {
	// Algorithm names the policy.
	Algorithm string
	// Actions names the action space a generic learner sees the workers
	// through (env.RunOptions.Actions; "": the default).
	Actions string `json:",omitempty"`
	// Version is the version of the dynamics (loadbalancing.Versions).
	Version string
	// Scenario is the run's, and Seed seeds the policy.
	Scenario lb.Scenario
	Seed     uint64
	// Checkpoint, unless nil, is what the policy is restored from (a
	// learning.Checkpoint as written by its Write).
	Checkpoint []byte `json:",omitempty"`
}

// PolicyFactory makes the policy that the workers of a run on one node
// share.
type PolicyFactory func(PolicySpec) (learning.Policy, error)

// HostConfig configures Serve.
type HostConfig struct {
	// Speeds are the node's worker slots: it hosts at most len(Speeds)
	// workers at once, each in a slot of its speed.
	Speeds []float64
	// Spare is how many more workers it can take that move here from
	// other nodes (Migration): slots not offered to runs for workers of
	// their own. A worker that moves keeps its speed.
	Spare int
	// NewPolicy makes a run's policy.
	NewPolicy PolicyFactory
	// Logger receives what the host does; default: discarded.
	Logger *slog.Logger
}

// Host is a node's room for load-balancing workers, shared by the runs of
// every master that uses the node.
type Host = hosting.Host

// Serve makes node host load-balancing workers for the masters that ask
// (hosting.Serve with the load-balancing kind) and returns the host. Call it
// in the node's transport.Config.Setup.
func Serve(node *transport.Node, cfg HostConfig) *Host {
	rt := node.Runtime()
	return hosting.Serve(node, hosting.HostConfig{Kind: Kind, Speeds: cfg.Speeds, Reserved: make([]float64, cfg.Spare), Logger: cfg.Logger,
		NewRun: func(payload []byte) (hosting.Run, error) {
			var b PolicySpec
			if err := json.Unmarshal(payload, &b); err != nil {
				return nil, fmt.Errorf("lbnet: begin: %w", err)
			}
			p, err := cfg.NewPolicy(b)
			if err != nil {
				return nil, err
			}
			return &run{rt: rt, policy: hosting.NewNodePolicy(p)}, nil
		}})
}

// run is a load-balancing run on a hosting node: the policy its workers
// share, and their unit costs.
type run struct {
	rt      *actors.Live
	policy  *hosting.NodePolicy
	costs   *lb.Costs
	costsOf costsKey // what costs was drawn for
}

type costsKey struct {
	job         int
	variability float64
	seed        uint64
}

// Actor makes the worker a placement asks for, with an agent of the run's
// policy; its report goes to the director by message.
func (r *run) Actor(args []byte, speed float64) (actors.Actor, error) {
	var a placeArgs
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, fmt.Errorf("lbnet: placement: %w", err)
	}
	s := a.Spec
	if key := (costsKey{s.Job, s.Variability, s.Seed}); r.costs == nil || key != r.costsOf {
		r.costs, r.costsOf = s.Costs(), key
	}
	id := lb.AgentID(s.ID)
	agent := env.Attach(id, r.policy.NewAgent(id))
	report := func(rep lb.WorkerReport) { r.rt.Send(s.Reports, rep) }
	if a.State != nil { // a worker that migrates here
		return lb.ResumeWorker(*a.State, agent, report)
	}
	return s.Worker(r.costs, agent, report), nil
}

func (r *run) End() { r.policy.EndEpisode() }
