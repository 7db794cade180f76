// Package env is the frame every environment fits: an environment is a set of
// actors plus agents attached to some of them; an episode starts the actors
// in a runtime with a seed, runs until the environment says it is done (or a
// time limit) and reports its metrics.
//
// As in PettingZoo, an environment names every agent that may take part
// (PossibleAgents); the live agents are those whose actors have joined the
// Roster and not yet gone. Agents join and leave during an episode, and every
// live agent's LearningAlgorithm is told (AgentJoined, AgentLeft).
//
// This package depends on actors and learning. It must not depend on any
// particular environment, algorithm or transport.
package env

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/learning"
)

// Environment builds episodes.
type Environment interface {
	// Name identifies the environment ("loadbalancing").
	Name() string
	// PossibleAgents names every agent that may take part in an episode.
	PossibleAgents() []learning.AgentID
	// Observation is the schema of the agents' observations.
	Observation() *learning.Schema
	// Actions is the agents' action space.
	Actions() learning.ActionSpace
	// Start spawns one episode's actors into rt. Randomness in the episode
	// (the environment's own draws, not the actors') comes from seed.
	Start(rt actors.Runtime, seed uint64, agents Agents) (Episode, error)
}

// Agents says which LearningAlgorithm drives an agent; nil means the agent's
// actor runs without one. It is called once per agent per episode.
type Agents func(id learning.AgentID) learning.LearningAlgorithm

// Episode is one run of an environment. Its methods may be called from
// outside the actors while the runtime runs, so an implementation guards
// what the actors report to it.
type Episode interface {
	// Done reports whether the environment has reached its end.
	Done() bool
	// Metrics reports what the episode measured so far, by name.
	Metrics() Metrics
}

// Metrics are an episode's measurements by name (makespan, ratio, ...).
type Metrics map[string]float64

// Names returns the metric names in sorted order.
func (m Metrics) Names() []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Outcome is what RunSim reports about one simulated episode.
type Outcome struct {
	Episode Episode
	Metrics Metrics
	// Done is false when the episode hit the time limit first.
	Done bool
	// Time is the virtual time at which the run stopped.
	Time  float64
	Stats actors.Stats
}

// ErrCrashed is returned (wrapped) by RunSim when an actor's handler
// panicked: in an environment that is a bug, not an outcome.
var ErrCrashed = errors.New("env: an actor crashed")

// RunSim runs one episode of e in a fresh simulator seeded with seed, until the
// episode is done or virtual time limit passes (limit <= 0: no limit).
func RunSim(e Environment, seed uint64, agents Agents, limit float64) (Outcome, error) {
	if limit <= 0 {
		limit = math.Inf(1)
	}
	sim := actors.NewSim(seed)
	ep, err := e.Start(sim, seed, agents)
	if err != nil {
		return Outcome{}, err
	}
	done := ep.Done()
	if !done {
		done = sim.RunUntil(limit, ep.Done)
	}
	out := Outcome{Episode: ep, Metrics: ep.Metrics(), Done: done, Time: sim.Now(), Stats: sim.Stats()}
	if c := sim.Crashes(); len(c) > 0 {
		return out, fmt.Errorf("%w: %v at t=%v: %s\n%s", ErrCrashed, c[0].Actor, c[0].At, c[0].Value, c[0].Stack)
	}
	return out, nil
}

// RunLive runs one episode of e on the live runtime rt until it is done or
// timeout (real time) passes; it polls Done every millisecond. The runtime
// is left running: the caller closes it.
func RunLive(e Environment, rt *actors.Live, seed uint64, agents Agents, timeout time.Duration) (Outcome, error) {
	ep, err := e.Start(rt, seed, agents)
	if err != nil {
		return Outcome{}, err
	}
	deadline := time.Now().Add(timeout)
	done := ep.Done()
	for !done && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
		done = ep.Done()
	}
	out := Outcome{Episode: ep, Metrics: ep.Metrics(), Done: done, Time: rt.Now(), Stats: rt.Stats()}
	if c := rt.Crashes(); len(c) > 0 {
		return out, fmt.Errorf("%w: %v at t=%v: %s\n%s", ErrCrashed, c[0].Actor, c[0].At, c[0].Value, c[0].Stack)
	}
	return out, nil
}
