package campaign

import (
	"fmt"
	"slices"

	"github.com/marlon-go/marlon/faults"
)

// Load is how jobs arrive.
type Load string

const (
	// Constant: evenly spaced arrivals.
	Constant Load = "constant"
	// Burst: jobs arrive in bursts (Config.Burst jobs at once).
	Burst Load = "burst"
	// Poisson: exponentially distributed gaps.
	Poisson Load = "poisson"
)

// Loads lists the arrival patterns.
func Loads() []Load { return []Load{Constant, Burst, Poisson} }

// The seed's five dimensions.
const (
	Scale          = "scale"
	FailureRate    = "failure-rate"
	FailurePattern = "failure-pattern"
	LoadPattern    = "load"
	HighLoad       = "high-load"
)

// Dimensions lists the dimensions in the seed's order.
func Dimensions() []string {
	return []string{Scale, FailureRate, FailurePattern, LoadPattern, HighLoad}
}

// Config is one configuration of a campaign: a workload, a cluster and the
// faults injected into it. A Runner turns it into episodes of an
// environment.
type Config struct {
	// Name identifies the configuration ("scale-50x5"); a campaign's names
	// are distinct.
	Name string `json:"name"`
	// Dimension is the dimension the configuration varies (Dimensions).
	Dimension string `json:"dimension"`
	// Jobs is the number of jobs; Agents the number of resource agents
	// (nodes).
	Jobs   int `json:"jobs"`
	Agents int `json:"agents"`
	// Load is how the jobs arrive; Burst how many arrive at once in a
	// burst (0: the runner's default).
	Load  Load `json:"load"`
	Burst int  `json:"burst,omitempty"`
	// Faults is injected into every episode. FailureRate, the share of the
	// nodes that fail, is Faults.Targets.
	Faults faults.Spec `json:"faults"`
}

// FailureRate is the share of the nodes the configuration's faults hit.
func (c Config) FailureRate() float64 { return c.Faults.Targets }

// failures is the fault spec of the seed's configurations: one incident of
// the pattern, hitting rate of the nodes, at medium severity; crashes in
// the random pattern.
func failures(rate float64, p faults.Pattern) faults.Spec {
	s := faults.Spec{Intensity: faults.Medium, Pattern: p, Faults: 1, Targets: rate}
	if p == faults.Random {
		s.Kinds = []faults.Kind{faults.Crash}
	}
	return s
}

// Seed003 is the evaluation campaign of the resilient-scheduling seed: 26
// configurations over five dimensions.
//
//   - scale (12): 50, 100, 250 and 500 jobs on 5, 10 and 20 agents; 10% of
//     the nodes fail at random, constant load;
//   - failure rate (4): 5%, 15%, 25% and 35% of 15 nodes fail at random,
//     200 jobs;
//   - failure pattern (3): random, cascading and partition failures of 20%
//     of 20 nodes, 300 jobs;
//   - load (3): constant, burst and Poisson arrivals of 400 jobs on 20
//     agents, 15% failing at random;
//   - high load (4): bursts of 50, 100, 200 and 400 jobs arriving at once on
//     20 agents, 10% failing at random.
//
// The seed's code uses 25 agents in the load dimension; the issue bounds
// agents to 5-20, so 20 here. Every fault is at medium severity (crashed
// nodes stay down 5% to 15% of the expected episode, then restart).
func Seed003() []Config {
	var out []Config
	for _, jobs := range []int{50, 100, 250, 500} {
		for _, agents := range []int{5, 10, 20} {
			out = append(out, Config{Name: fmt.Sprintf("scale-%dx%d", jobs, agents), Dimension: Scale,
				Jobs: jobs, Agents: agents, Load: Constant, Faults: failures(0.1, faults.Random)})
		}
	}
	for _, rate := range []float64{0.05, 0.15, 0.25, 0.35} {
		out = append(out, Config{Name: fmt.Sprintf("failure-%.0f%%", 100*rate), Dimension: FailureRate,
			Jobs: 200, Agents: 15, Load: Constant, Faults: failures(rate, faults.Random)})
	}
	for _, p := range faults.Patterns() {
		out = append(out, Config{Name: "pattern-" + string(p), Dimension: FailurePattern,
			Jobs: 300, Agents: 20, Load: Constant, Faults: failures(0.2, p)})
	}
	for _, l := range Loads() {
		out = append(out, Config{Name: "load-" + string(l), Dimension: LoadPattern,
			Jobs: 400, Agents: 20, Load: l, Faults: failures(0.15, faults.Random)})
	}
	for _, b := range []int{50, 100, 200, 400} {
		out = append(out, Config{Name: fmt.Sprintf("burst-%d", b), Dimension: HighLoad,
			Jobs: b, Agents: 20, Load: Burst, Burst: b, Faults: failures(0.1, faults.Random)})
	}
	return out
}

// Validate checks a configuration.
func (c Config) Validate() error {
	switch {
	case c.Name == "":
		return fmt.Errorf("campaign: a configuration has no name")
	case c.Jobs < 1:
		return fmt.Errorf("campaign: configuration %s: jobs must be at least 1, got %d", c.Name, c.Jobs)
	case c.Agents < 1:
		return fmt.Errorf("campaign: configuration %s: agents must be at least 1, got %d", c.Name, c.Agents)
	case !slices.Contains(Loads(), c.Load):
		return fmt.Errorf("campaign: configuration %s: load must be one of constant, burst, poisson, got %q", c.Name, c.Load)
	case c.Burst < 0:
		return fmt.Errorf("campaign: configuration %s: burst must be >= 0, got %d", c.Name, c.Burst)
	}
	if err := c.Faults.Validate(); err != nil {
		return fmt.Errorf("campaign: configuration %s: %w", c.Name, err)
	}
	return nil
}
