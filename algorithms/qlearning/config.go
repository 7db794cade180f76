package qlearning

import (
	"fmt"
	"math"
	"sort"
)

// Bins cuts one observation field into len(Edges)+1 bins: a value below
// Edges[0] is in bin 0, a value v with Edges[i-1] <= v < Edges[i] in bin i,
// and a value at or above the last edge in the last bin. NaN falls in the
// last bin.
type Bins struct {
	Field string    `json:"field"`
	Edges []float64 `json:"edges"`
}

// bin is the bin v falls in.
func (b Bins) bin(v float64) int {
	return sort.Search(len(b.Edges), func(i int) bool { return v < b.Edges[i] })
}

// Discretizer maps an observation onto a state: the bins of the listed
// fields, combined into one mixed-radix index (the first field varies
// slowest). Fields not listed are ignored. An empty Discretizer has a single
// state, which makes the agent a multi-armed bandit.
type Discretizer []Bins

// States is the number of states: the product of the fields' bin counts.
func (d Discretizer) States() int {
	n := 1
	for _, b := range d {
		n *= len(b.Edges) + 1
	}
	return n
}

// Fields are the names of the discretised fields, in order.
func (d Discretizer) Fields() []string {
	f := make([]string, len(d))
	for i, b := range d {
		f[i] = b.Field
	}
	return f
}

// MaxStates bounds Discretizer.States: a larger table cannot be learnt.
const MaxStates = 1 << 31

func (d Discretizer) validate() error {
	seen := map[string]bool{}
	states := 1
	for i, b := range d {
		switch {
		case b.Field == "":
			return fmt.Errorf("qlearning: Discretizer[%d].Field is empty, want a field of the observation", i)
		case seen[b.Field]:
			return fmt.Errorf("qlearning: Discretizer[%d].Field %q repeats an earlier field, want each field once", i, b.Field)
		case len(b.Edges) == 0:
			return fmt.Errorf("qlearning: Discretizer[%d] (%s) has no Edges, want at least one", i, b.Field)
		}
		seen[b.Field] = true
		for j, e := range b.Edges {
			if math.IsNaN(e) || math.IsInf(e, 0) || (j > 0 && e <= b.Edges[j-1]) {
				return fmt.Errorf("qlearning: Discretizer[%d] (%s) Edges %v, want finite, strictly increasing values", i, b.Field, b.Edges)
			}
		}
		states *= len(b.Edges) + 1
		if states > MaxStates {
			return fmt.Errorf("qlearning: Discretizer has more than %d states (MaxStates), want fewer fields or edges", MaxStates)
		}
	}
	return nil
}

// Decay is the shape of the exploration schedule.
type Decay string

// The exploration schedules: epsilon goes from EpsilonStart to EpsilonEnd
// over DecayEpisodes episodes, in equal steps (Linear) or by a constant
// factor per episode (Exponential), and stays at EpsilonEnd afterwards.
const (
	Linear      Decay = "linear"
	Exponential Decay = "exponential"
)

// Config says how a Policy learns. DefaultConfig gives the defaults; the
// Discretizer is the environment adapter's to fill in.
type Config struct {
	// Discretizer maps observations onto states (default: empty, one state).
	Discretizer Discretizer
	// Alpha is the learning rate, 0 < Alpha <= 1 (default 0.1).
	Alpha float64
	// SampleAverage makes the learning rate of a state-action pair
	// max(Alpha, 1/n) for its n-th update (default false: Alpha
	// throughout). Early estimates then average the targets seen rather
	// than chase the latest one, which matters when many agents share one
	// outcome and a single sample says little; Alpha is the floor that keeps
	// later estimates moving.
	SampleAverage bool
	// Gamma is the discount factor, 0 <= Gamma <= 1 (default 0.99).
	Gamma float64
	// EpsilonStart and EpsilonEnd bound the exploration rate, the
	// probability of a uniformly random action while learning:
	// 0 <= EpsilonEnd <= EpsilonStart <= 1 (defaults 1 and 0.05), and
	// EpsilonEnd > 0 for an Exponential decay.
	EpsilonStart, EpsilonEnd float64
	// DecayEpisodes is the number of learning episodes (counted by
	// EndEpisode) over which epsilon decays, >= 0 (default 200; 0: epsilon
	// is EpsilonEnd from the start).
	DecayEpisodes int
	// Decay is Linear (default) or Exponential.
	Decay Decay
	// Explorers is how many of the Policy's agents explore in an episode,
	// taking turns from one episode to the next; the others act greedily
	// and still learn (default 0: every agent explores). Agents that share
	// a policy also share an outcome: when they all explore at once, each
	// one's returns mostly measure the others' random moves; one explorer
	// at a time makes a difference in the outcome its own.
	Explorers int
	// InitialQ is the value of every state-action pair not yet updated
	// (default 0). An optimistic value, above any return the environment
	// pays, makes greedy agents try every action.
	InitialQ float64
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{Alpha: 0.1, Gamma: 0.99, EpsilonStart: 1, EpsilonEnd: 0.05, DecayEpisodes: 200, Decay: Linear}
}

// Validate reports the first field out of its allowed range.
func (c Config) Validate() error {
	switch {
	case !(c.Alpha > 0 && c.Alpha <= 1):
		return fmt.Errorf("qlearning: Alpha = %v, want 0 < Alpha <= 1", c.Alpha)
	case !(c.Gamma >= 0 && c.Gamma <= 1):
		return fmt.Errorf("qlearning: Gamma = %v, want 0 <= Gamma <= 1", c.Gamma)
	case !(c.EpsilonStart >= 0 && c.EpsilonStart <= 1):
		return fmt.Errorf("qlearning: EpsilonStart = %v, want 0 <= EpsilonStart <= 1", c.EpsilonStart)
	case !(c.EpsilonEnd >= 0 && c.EpsilonEnd <= c.EpsilonStart):
		return fmt.Errorf("qlearning: EpsilonEnd = %v, want 0 <= EpsilonEnd <= EpsilonStart (%v)", c.EpsilonEnd, c.EpsilonStart)
	case c.Explorers < 0:
		return fmt.Errorf("qlearning: Explorers = %d, want >= 0", c.Explorers)
	case c.DecayEpisodes < 0:
		return fmt.Errorf("qlearning: DecayEpisodes = %d, want >= 0", c.DecayEpisodes)
	case c.Decay != Linear && c.Decay != Exponential:
		return fmt.Errorf("qlearning: Decay = %q, want %q or %q", c.Decay, Linear, Exponential)
	case c.Decay == Exponential && c.EpsilonEnd == 0:
		return fmt.Errorf("qlearning: EpsilonEnd = 0 with an exponential Decay, want 0 < EpsilonEnd <= EpsilonStart")
	case math.IsNaN(c.InitialQ) || math.IsInf(c.InitialQ, 0):
		return fmt.Errorf("qlearning: InitialQ = %v, want a finite value", c.InitialQ)
	}
	return c.Discretizer.validate()
}

// Epsilon is the exploration rate after the given number of learning
// episodes.
func (c Config) Epsilon(episodes int) float64 {
	if episodes >= c.DecayEpisodes {
		return c.EpsilonEnd
	}
	f := float64(episodes) / float64(c.DecayEpisodes)
	if c.Decay == Exponential {
		return c.EpsilonStart * math.Pow(c.EpsilonEnd/c.EpsilonStart, f)
	}
	return c.EpsilonStart + (c.EpsilonEnd-c.EpsilonStart)*f
}
