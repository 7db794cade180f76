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
	// Discretizer maps observations onto states (default, when empty: the
	// bins the observation schema suggests, SchemaBins; with none, a single
	// state, which makes the agents multi-armed bandits).
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
	// Lambda blends the one-step target with the return that actually
	// followed, as Peng and Williams' Q(lambda) seen forwards; 0 <= Lambda
	// <= 1 (default 0). At 0 each update is the one-step target, applied as
	// soon as the reward comes. Above 0 an agent's updates wait for the end
	// of its episode (its terminal observation, EndEpisode or its next
	// InitAgent) and the target of its step t is, backwards from its last
	// step T,
	//
	//	G_t = r_t + Gamma*((1-Lambda)*max_a Q(s_t+1, a) + Lambda*G_t+1)
	//
	// where G_T+1 is replaced by max_a Q(s_T+1, a), or 0 if s_T+1 is
	// terminal. At 1 the target is the return itself (Monte Carlo): no
	// estimate is bootstrapped. That suits states that do not tell the whole
	// story (coarse bins, other agents' moves): bootstrapping takes a max
	// over estimates that aliasing and noise make uncertain, which biases
	// them upwards, and more so along paths with more decisions.
	Lambda float64
	// FirstVisit, with Lambda above 0, updates each state-action pair at
	// most once per agent's episode, towards the target of its first visit
	// (first-visit Monte Carlo at Lambda 1); default false, every visit.
	// Where an action makes the agent decide again sooner (a job declined
	// is offered again at the next round), every-visit averages weight the
	// episodes by how often the pair recurs in them, and so by how badly
	// they went; first visits weight every episode alike.
	FirstVisit bool
	// EpsilonStart and EpsilonEnd bound the exploration rate, the
	// probability of a uniformly random action while learning (with
	// Coordinated, the probability that a state explores in an episode):
	// 0 <= EpsilonEnd <= EpsilonStart <= 1 (defaults 1 and 0.05), and
	// EpsilonEnd > 0 for an Exponential decay.
	EpsilonStart, EpsilonEnd float64
	// DecayEpisodes is the number of learning episodes (counted by
	// EndEpisode) over which epsilon decays, >= 0 (default 200; 0: epsilon
	// is EpsilonEnd from the start).
	DecayEpisodes int
	// Decay is Linear (default) or Exponential.
	Decay Decay
	// Coordinated makes the Policy's agents explore together (default
	// false: each draws for itself at each decision). In each learning
	// episode a state explores with probability epsilon, and then every
	// agent in it takes the same uniformly random action, drawn once for the
	// episode from the seed, the episode's number and the state; in the
	// other states the agents act greedily. A change of the shared table
	// changes every agent in that state at once, and this measures what
	// such a change does. Deviations agent by agent measure something else,
	// often nothing, where the agents share an outcome that the last of
	// them decides (a makespan): one agent doing better or worse alone
	// while the others keep to the table does not move it.
	Coordinated bool
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
	case !(c.Lambda >= 0 && c.Lambda <= 1):
		return fmt.Errorf("qlearning: Lambda = %v, want 0 <= Lambda <= 1", c.Lambda)
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
