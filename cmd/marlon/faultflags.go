package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/marlon-go/marlon/faults"
)

// faultFlags are the flags of a fault spec (faults.Spec), for the commands
// that inject faults in the simulator.
type faultFlags struct {
	intensity, pattern, kinds string
	targets                   float64
	count, severity           int
	heartbeat                 float64
	missed                    int
}

// register adds the flags to fs; with detector false, not the failure
// detector's (an environment whose own heartbeats are the detector).
func (f *faultFlags) register(fs *flag.FlagSet, detector bool) {
	fs.StringVar(&f.intensity, "faults", "none", "inject faults into every episode: "+names(faults.Intensities())+" (each episode draws its own plan from its seed)")
	fs.StringVar(&f.pattern, "fault-pattern", "random", "how faults relate: "+names(faults.Patterns()))
	fs.StringVar(&f.kinds, "fault-kinds", "", "kinds the random pattern draws from, comma-separated: "+names(faults.Kinds())+" (default all but byzantine)")
	fs.Float64Var(&f.targets, "fault-targets", 0, "share of the nodes each incident hits, 0 to 1 (a failure rate; default the intensity's)")
	fs.IntVar(&f.count, "fault-count", 0, "number of incidents (default the intensity's)")
	fs.IntVar(&f.severity, "fault-severity", 0, "severity 1 (low) to 4 (critical): how long outages last, how slow and lossy links get (default the intensity's)")
	if detector {
		fs.Float64Var(&f.heartbeat, "fault-heartbeat", 1, "the simulated failure detector's heartbeat interval, in time units; also the retransmission timeout")
		fs.IntVar(&f.missed, "fault-missed-heartbeats", 3, "a simulated node silent for this many heartbeats is declared down")
	}
}

// flagNames are the fault flags' names.
var faultFlagNames = []string{"faults", "fault-pattern", "fault-kinds", "fault-targets", "fault-count", "fault-severity", "fault-heartbeat", "fault-missed-heartbeats"}

// apply sets the fields of s whose flags were given (the flags' defaults
// are the zero Spec's) and validates s.
func (f *faultFlags) apply(set map[string]bool, s *faults.Spec) error {
	given := func(name string) bool { return set[name] }
	if given("faults") {
		s.Intensity = faults.Intensity(f.intensity)
	}
	if given("fault-pattern") {
		s.Pattern = faults.Pattern(f.pattern)
	}
	if set["fault-kinds"] {
		k, err := faults.ParseKinds(f.kinds)
		if err != nil {
			return usageError{err}
		}
		s.Kinds = k
	}
	if given("fault-targets") {
		s.Targets = f.targets
	}
	if given("fault-count") {
		s.Faults = f.count
	}
	if given("fault-severity") {
		s.Severity = f.severity
	}
	if given("fault-heartbeat") {
		s.Heartbeat = f.heartbeat
		if !(f.heartbeat > 0) {
			return usageError{fmt.Errorf("--fault-heartbeat: must be a number > 0, got %v", f.heartbeat)}
		}
	}
	if given("fault-missed-heartbeats") {
		s.Missed = f.missed
		if f.missed < 1 {
			return usageError{fmt.Errorf("--fault-missed-heartbeats: must be at least 1, got %d", f.missed)}
		}
	}
	if err := s.Validate(); err != nil {
		return usageError{err}
	}
	if !s.Active() {
		for _, n := range faultFlagNames[1:] {
			if set[n] {
				return usageError{fmt.Errorf("--%s: only with --faults (light, medium, heavy or chaos)", n)}
			}
		}
	}
	return nil
}

func names[T ~string](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}
