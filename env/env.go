// Package env is the frame every environment fits: an environment is a set of
// actors plus agents attached to some of them; an episode starts the actors
// in a runtime with a seed, runs until the environment says it is done (or a
// time limit) and reports its metrics.
//
// As in PettingZoo, an environment names every agent that may take part
// (PossibleAgents) and gives each its observation schema and action space
// (Spec); the live agents are those whose actors have joined the Roster and
// not yet gone. Agents join and leave during an episode, and the live agents'
// LearningAlgorithms that use membership are told (AgentJoined, AgentLeft;
// see learning.MembershipUser): telling P listening agents of each other is
// P^2 messages by the nature of the contract, whereas an agent that does not
// listen costs the Roster O(1) per join and leave.
//
// An environment's name carries the version of its dynamics
// ("loadbalancing/v1"): any change of what happens in an episode makes a new
// version, the old ones stay runnable by name, and a checkpoint records the
// version it was trained on.
//
// Run and Compare make algorithms by name from the learning registry, train
// the learners and measure every algorithm on the same evaluation episodes,
// for any environment.
//
// This package depends on actors and learning. It must not depend on any
// particular environment, algorithm or transport.
package env

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/learning"
)

// Environment builds episodes.
type Environment interface {
	// Name identifies the environment and the version of its dynamics
	// ("loadbalancing/v1"); learning.Family(Name()) is its family.
	Name() string
	// PossibleAgents names every agent that may take part in an episode.
	PossibleAgents() []learning.AgentID
	// Spec is agent id's observation schema and action space (Seed unset).
	// Agents that share a policy must have the same Spec.
	Spec(id learning.AgentID) learning.Spec
	// Start spawns one episode's actors into rt. Randomness in the episode
	// (the environment's own draws, not the actors') comes from seed.
	Start(rt actors.Runtime, seed uint64, agents Agents) (Episode, error)
}

// Adaptable is implemented by environments that offer generic learners
// views of their agents (learning.Adapter): features that carry over between
// scenarios, and a small action space.
type Adaptable interface {
	// Adapters names the views offered, the default first.
	Adapters() []string
	// Adapter returns the named view ("": the default). The error names the
	// views offered.
	Adapter(name string) (learning.Adapter, error)
}

// Agents says which LearningAlgorithm drives an agent; nil means the agent's
// actor runs without one. It is called once per agent per episode.
type Agents func(id learning.AgentID) learning.LearningAlgorithm

// Episode is one run of an environment. Its methods may be called from
// outside the actors while the runtime runs, so an implementation guards
// what the actors report to it.
type Episode interface {
	// Done is closed when the environment has reached its end.
	Done() <-chan struct{}
	// Metrics reports what the episode measured so far, by name.
	Metrics() Metrics
}

// Trimmer is implemented by an Episode that can let go, once it has run, of
// what only a detailed view of it needs (a record per step, say), keeping
// its metrics and its summary. Run keeps the first evaluation episode whole
// and trims the others: ten episodes' records, each linear in the episode's
// length, would otherwise be most of a long run's memory.
type Trimmer interface {
	Trim()
}

// Ending implements Episode.Done: an episode embeds it and calls End once
// it has reached its end. The zero Ending is ready to use.
type Ending struct {
	once sync.Once
	mu   sync.Mutex
	ch   chan struct{}
}

func (e *Ending) channel() chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ch == nil {
		e.ch = make(chan struct{})
	}
	return e.ch
}

// Done is closed once End has been called.
func (e *Ending) Done() <-chan struct{} { return e.channel() }

// End closes Done; calls after the first do nothing.
func (e *Ending) End() { e.once.Do(func() { close(e.channel()) }) }

// Ended reports whether End has been called.
func (e *Ending) Ended() bool { return IsDone(e) }

// IsDone reports whether ep has reached its end, without waiting.
func IsDone(ep interface{ Done() <-chan struct{} }) bool {
	select {
	case <-ep.Done():
		return true
	default:
		return false
	}
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
	return runSim(e, seed, agents, limit, nil)
}

// tickEvents is how many events a simulated episode runs between two calls
// of RunOptions.OnTick: about a hundredth of a second.
const tickEvents = 1 << 16

// runSim is RunSim, calling tick with the virtual time every tickEvents
// events (tick nil: never).
func runSim(e Environment, seed uint64, agents Agents, limit float64, tick func(at float64)) (Outcome, error) {
	if limit <= 0 {
		limit = math.Inf(1)
	}
	sim := actors.NewSim(seed)
	ep, err := e.Start(sim, seed, agents)
	if err != nil {
		return Outcome{}, err
	}
	ended := ep.Done()
	done := IsDone(ep)
	if !done {
		events := 0
		done = sim.RunUntil(limit, func() bool {
			if events++; tick != nil && events%tickEvents == 0 {
				tick(sim.Now())
			}
			select {
			case <-ended:
				return true
			default:
				return false
			}
		})
	}
	out := Outcome{Episode: ep, Metrics: ep.Metrics(), Done: done, Time: sim.Now(), Stats: sim.Stats()}
	if c := sim.Crashes(); len(c) > 0 {
		return out, fmt.Errorf("%w: %v at t=%v: %s\n%s", ErrCrashed, c[0].Actor, c[0].At, c[0].Value, c[0].Stack)
	}
	return out, nil
}

// RunLive runs one episode of e on the live runtime rt until it is done,
// timeout (real time) passes or an actor crashes. The runtime is left
// running: the caller closes it.
func RunLive(e Environment, rt *actors.Live, seed uint64, agents Agents, timeout time.Duration) (Outcome, error) {
	ep, err := e.Start(rt, seed, agents)
	if err != nil {
		return Outcome{}, err
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	done := false
	select {
	case <-ep.Done():
		done = true
	case <-deadline.C:
	case <-rt.Crashed():
	}
	out := Outcome{Episode: ep, Metrics: ep.Metrics(), Done: done, Time: rt.Now(), Stats: rt.Stats()}
	if c := rt.Crashes(); len(c) > 0 {
		return out, fmt.Errorf("%w: %v at t=%v: %s\n%s", ErrCrashed, c[0].Actor, c[0].At, c[0].Value, c[0].Stack)
	}
	return out, nil
}

// FieldError is a value of an environment's scenario (or of anything a user
// writes down) out of its range. Field names it as the user gave it: the CLI
// flag without its dashes, which is also the scenario file's key with '_'
// for '-'. Every environment reports bad input with it, so that a command
// can tell bad input (exit status 2) from a failure, and the message names
// the field and what it allows.
type FieldError struct {
	Field   string
	Allowed string
	Got     string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("--%s: %s, got %s", e.Field, e.Allowed, e.Got)
}

// Bad returns the FieldError of field: allowed says what it allows, got is
// what was given.
func Bad(field, allowed string, got any) error {
	return &FieldError{Field: field, Allowed: allowed, Got: fmt.Sprint(got)}
}
