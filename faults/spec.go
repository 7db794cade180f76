package faults

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/marlon-go/marlon/env"
)

// Kind is a kind of fault.
type Kind string

const (
	// Crash stops a node's actors; the node restarts empty after the
	// fault's Duration (0: it stays down).
	Crash Kind = "crash"
	// Partition cuts the fault's nodes off from the rest for Duration.
	Partition Kind = "partition"
	// Delay makes messages to or from the nodes take Delay longer.
	Delay Kind = "delay"
	// Loss loses each transmission to or from the nodes with probability
	// Rate (the transport sends it again after the RTO).
	Loss Kind = "loss"
	// Corrupt corrupts each transmission to or from the nodes with
	// probability Rate (the receiver rejects it, the sender sends it again).
	Corrupt Kind = "corrupt"
	// Byzantine makes the fault's agents lie (Mode) for Duration.
	Byzantine Kind = "byzantine"
)

// Kinds lists every kind of fault.
func Kinds() []Kind { return []Kind{Crash, Partition, Delay, Loss, Corrupt, Byzantine} }

// DefaultKinds are the kinds the random pattern draws from when a Spec
// names none: every kind that needs no agents.
func DefaultKinds() []Kind { return []Kind{Crash, Partition, Delay, Loss, Corrupt} }

// Intensity names a preset Level, as in the seed.
type Intensity string

const (
	None   Intensity = "none"
	Light  Intensity = "light"
	Medium Intensity = "medium"
	Heavy  Intensity = "heavy"
	Chaos  Intensity = "chaos"
)

// Intensities lists the intensities, mildest first.
func Intensities() []Intensity { return []Intensity{None, Light, Medium, Heavy, Chaos} }

// Level is how many faults a plan has, how many nodes each hits and how
// severe they are.
type Level struct {
	// Faults is the number of incidents: in the random pattern each is
	// Targets' share of the nodes failing independently, in the cascading
	// pattern one cascade, in the partition pattern one partition.
	Faults int `json:"faults"`
	// Targets is the share of the nodes (or agents) an incident hits: the
	// nearest whole number of them, at least one.
	Targets float64 `json:"targets"`
	// Severity, 1 (low) to 4 (critical), sets what Severe gives.
	Severity int `json:"severity"`
}

// Level is the preset of the intensity: light 1 fault on 20% of the nodes
// at severity 1, medium 2 on 30% at 2, heavy 3 on 40% at 3, chaos 5 on 60%
// at 4 (none: no fault).
func (i Intensity) Level() (Level, error) {
	switch i {
	case None:
		return Level{}, nil
	case Light:
		return Level{Faults: 1, Targets: 0.2, Severity: 1}, nil
	case Medium:
		return Level{Faults: 2, Targets: 0.3, Severity: 2}, nil
	case Heavy:
		return Level{Faults: 3, Targets: 0.4, Severity: 3}, nil
	case Chaos:
		return Level{Faults: 5, Targets: 0.6, Severity: 4}, nil
	}
	return Level{}, fmt.Errorf("unknown intensity %q; one of %s", i, joinNames(Intensities()))
}

// Severity says how bad a fault of a severity level is.
type Severity struct {
	// Outage is how long a crashed node stays down, a partition or a
	// degraded link lasts, or an agent lies, as a share of the horizon
	// (each fault draws 0.5 to 1.5 times it).
	Outage float64 `json:"outage"`
	// Delay is the extra time a delayed message takes, in heartbeats.
	Delay float64 `json:"delay"`
	// Rate is the probability that a transmission is lost or corrupted.
	Rate float64 `json:"rate"`
	// Cascade is the probability that a node related to a crashed one
	// crashes soon after.
	Cascade float64 `json:"cascade"`
}

// Severe returns the figures of severity level s (1 to 4).
func Severe(s int) Severity {
	table := []Severity{
		{Outage: 0.05, Delay: 0.5, Rate: 0.05, Cascade: 0.2},
		{Outage: 0.10, Delay: 1, Rate: 0.10, Cascade: 0.35},
		{Outage: 0.20, Delay: 2, Rate: 0.20, Cascade: 0.5},
		{Outage: 0.30, Delay: 4, Rate: 0.40, Cascade: 0.7},
	}
	return table[min(max(s, 1), len(table))-1]
}

// Pattern is how a plan's faults relate to each other.
type Pattern string

const (
	// Random: independent faults, each of a kind drawn from the Spec's
	// Kinds, on a node (or agent) drawn at random, at a time drawn at
	// random.
	Random Pattern = "random"
	// Cascading: crashes that set off crashes of related nodes.
	Cascading Pattern = "cascading"
	// PartitionPattern: sets of nodes cut off from the rest, one after
	// another.
	PartitionPattern Pattern = "partition"
)

// Patterns lists the patterns.
func Patterns() []Pattern { return []Pattern{Random, Cascading, PartitionPattern} }

// Spec says what faults to inject. The zero Spec injects none. JSON field
// names match the CLI flags where there are any.
type Spec struct {
	// Intensity is the preset (none, light, medium, heavy, chaos).
	Intensity Intensity `json:"intensity"`
	// Pattern is random (the default), cascading or partition.
	Pattern Pattern `json:"pattern,omitempty"`
	// Faults, Targets and Severity override the intensity's Level when
	// set; Targets is, for instance, a campaign's failure rate.
	Faults   int     `json:"faults,omitempty"`
	Targets  float64 `json:"targets,omitempty"`
	Severity int     `json:"severity,omitempty"`
	// Kinds are the kinds the random pattern draws from (default
	// DefaultKinds; byzantine needs Targets.Agents).
	Kinds []Kind `json:"kinds,omitempty"`
	// Heartbeat and Missed are the failure detector's, as the transport's
	// Config.Heartbeat and MissedHeartbeats, in virtual time units: a node
	// silent for Heartbeat*Missed is declared down, and a transmission not
	// acknowledged is sent again after Heartbeat. Defaults 1 and 3.
	Heartbeat float64 `json:"heartbeat,omitempty"`
	Missed    int     `json:"missed_heartbeats,omitempty"`
}

// Active reports whether s injects anything.
func (s Spec) Active() bool {
	if s.Intensity == "" || s.Intensity == None {
		return s.Faults > 0
	}
	return true
}

// Resolved returns s with its defaults filled in and the intensity's
// level applied where s does not override it.
func (s Spec) Resolved() (Spec, error) {
	if err := s.Validate(); err != nil {
		return s, err
	}
	if s.Intensity == "" {
		s.Intensity = None
	}
	lv, _ := s.Intensity.Level()
	if s.Faults == 0 {
		s.Faults = lv.Faults
	}
	if s.Targets == 0 {
		s.Targets = lv.Targets
	}
	if s.Severity == 0 {
		s.Severity = max(lv.Severity, 1)
	}
	if s.Targets == 0 {
		s.Targets = 0.2
	}
	if s.Pattern == "" {
		s.Pattern = Random
	}
	if len(s.Kinds) == 0 {
		s.Kinds = DefaultKinds()
	}
	if s.Heartbeat == 0 {
		s.Heartbeat = 1
	}
	if s.Missed == 0 {
		s.Missed = 3
	}
	return s, nil
}

// Detection is the time after which a silent node is declared down.
func (s Spec) Detection() float64 {
	r, _ := s.Resolved()
	return r.Heartbeat * float64(r.Missed)
}

// FieldError is a value out of range, naming its field as the CLI flag
// (env.FieldError, which every environment reports bad input with).
type FieldError = env.FieldError

func bad(field, allowed string, got any) error { return env.Bad(field, allowed, got) }

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Validate returns the first value out of range, naming its field as the
// CLI flag (faults, fault-pattern, ...).
func (s Spec) Validate() error {
	if s.Intensity != "" {
		if _, err := s.Intensity.Level(); err != nil {
			return bad("faults", "must be one of "+joinNames(Intensities()), s.Intensity)
		}
	}
	switch {
	case s.Pattern != "" && !slices.Contains(Patterns(), s.Pattern):
		return bad("fault-pattern", "must be one of "+joinNames(Patterns()), s.Pattern)
	case s.Faults < 0 || s.Faults > 1000:
		return bad("fault-count", "must be between 0 and 1000", s.Faults)
	case !(s.Targets >= 0 && s.Targets <= 1):
		return bad("fault-targets", "must be a share between 0 and 1", s.Targets)
	case s.Severity < 0 || s.Severity > 4:
		return bad("fault-severity", "must be between 1 (low) and 4 (critical), or 0 for the intensity's", s.Severity)
	case !(s.Heartbeat >= 0) || !finite(s.Heartbeat):
		return bad("fault-heartbeat", "must be a finite number > 0 (0: the default, 1)", s.Heartbeat)
	case s.Missed < 0 || s.Missed > 1000:
		return bad("fault-missed-heartbeats", "must be between 1 and 1000 (0: the default, 3)", s.Missed)
	}
	for _, k := range s.Kinds {
		if !slices.Contains(Kinds(), k) {
			return bad("fault-kinds", "must be among "+joinNames(Kinds()), k)
		}
	}
	return nil
}

// ParseKinds reads a comma-separated list of kinds ("crash,delay").
func ParseKinds(v string) ([]Kind, error) {
	var out []Kind
	for _, f := range strings.Split(v, ",") {
		k := Kind(strings.TrimSpace(f))
		if !slices.Contains(Kinds(), k) {
			return nil, bad("fault-kinds", "must be a comma-separated list of "+joinNames(Kinds()), v)
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

func joinNames[T ~string](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}
