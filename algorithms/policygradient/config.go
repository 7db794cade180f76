package policygradient

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
)

// Input is one value the networks see: observation field Field, mapped to
// (value - Offset) / Scale.
type Input struct {
	Field  string  `json:"field"`
	Offset float64 `json:"offset"`
	Scale  float64 `json:"scale"`
}

// Activation is the hidden layers' nonlinearity.
type Activation string

// The activations.
const (
	Tanh Activation = "tanh"
	ReLU Activation = "relu"
)

func (a Activation) apply(h []float64) {
	for i, v := range h {
		if a == Tanh {
			h[i] = math.Tanh(v)
		} else {
			h[i] = max(v, 0)
		}
	}
}

func (a Activation) expr(h *G.Node) *G.Node {
	if a == Tanh {
		return G.Must(G.Tanh(h))
	}
	return G.Must(G.Rectify(h))
}

// Config says how a Policy learns. DefaultConfig gives the defaults.
type Config struct {
	// Inputs are the values the networks see, in order (default, when
	// empty: every field of the observation, as it is). Environment adapters that
	// already give features in about [0, 1] need no more; others scale them
	// here. Each Field must be in the observation, once, and each Scale > 0.
	Inputs []Input
	// Hidden are the sizes of the hidden layers of both networks, each >= 1
	// (default [32]; none: linear networks).
	Hidden []int
	// Activation of the hidden layers: Tanh (default) or ReLU.
	Activation Activation
	// Gamma is the discount factor of the returns, 0 <= Gamma <= 1
	// (default 0.99).
	Gamma float64
	// Lambda weighs the advantages, GAE(Lambda): 1 is REINFORCE with the
	// value baseline (the discounted return minus V), 0 the one-step
	// actor-critic advantage r + Gamma*V(s') - V(s), in between an
	// exponential blend; 0 <= Lambda <= 1 (default 1). Below 1, credit for
	// an outcome flows back through the value estimates, step by step.
	Lambda float64
	// PolicyLR and ValueLR are Adam's learning rates for the policy and the
	// value network, each in (0, 1] (defaults 0.01).
	PolicyLR, ValueLR float64
	// Entropy is the weight of the entropy bonus, >= 0 (default 0.01).
	Entropy float64
	// MaxGradNorm clips each network's gradient to this global L2 norm
	// before Adam sees it, >= 0 (default 0.5; 0: no clipping).
	MaxGradNorm float64
	// Coordinated makes the Policy's agents draw their actions with common
	// random numbers (default false: each agent with its own source). The
	// k-th action of every agent in an episode is argmax_a(logit_a + g_a)
	// with the same Gumbel noise g, drawn from the seed, the episode's number
	// and k: a draw from the softmax, so that each agent still follows the
	// policy, but agents in like states at like points of their episodes
	// take like actions. An episode then tries a change of the policy on
	// all of them at once, as parameter sharing applies it. Independent
	// draws measure what one agent's deviation does instead, and that is
	// often nothing where the agents share an outcome that the last of them
	// decides (a makespan): one agent doing better or worse alone does not
	// move it. The gradient is REINFORCE's all the same: where agents'
	// states coincide it is that of their one shared draw, once per agent.
	Coordinated bool
	// Head is how the policy network makes a distribution over the
	// actions: HeadSoftmax (default, "") or HeadBeta, a continuous head
	// for an ordered action space (see HeadBeta).
	Head string
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{Hidden: []int{32}, Activation: Tanh, Gamma: 0.99, Lambda: 1, PolicyLR: 0.01, ValueLR: 0.01, Entropy: 0.01, MaxGradNorm: 0.5}
}

// Validate reports the first field out of its allowed range. Whether the
// Inputs are in the observation is checked by New.
func (c Config) Validate() error {
	seen := map[string]bool{}
	for i, in := range c.Inputs {
		switch {
		case in.Field == "":
			return fmt.Errorf("policygradient: Inputs[%d].Field is empty, want a field of the observation", i)
		case seen[in.Field]:
			return fmt.Errorf("policygradient: Inputs[%d].Field %q repeats an earlier input, want each field once", i, in.Field)
		case !finite(in.Offset):
			return fmt.Errorf("policygradient: Inputs[%d] (%s) Offset = %v, want a finite value", i, in.Field, in.Offset)
		case !(in.Scale > 0) || math.IsInf(in.Scale, 0):
			return fmt.Errorf("policygradient: Inputs[%d] (%s) Scale = %v, want a finite Scale > 0", i, in.Field, in.Scale)
		}
		seen[in.Field] = true
	}
	for i, h := range c.Hidden {
		if h < 1 {
			return fmt.Errorf("policygradient: Hidden[%d] = %d, want >= 1", i, h)
		}
	}
	switch {
	case c.Activation != Tanh && c.Activation != ReLU:
		return fmt.Errorf("policygradient: Activation = %q, want %q or %q", c.Activation, Tanh, ReLU)
	case !(c.Gamma >= 0 && c.Gamma <= 1):
		return fmt.Errorf("policygradient: Gamma = %v, want 0 <= Gamma <= 1", c.Gamma)
	case !(c.Lambda >= 0 && c.Lambda <= 1):
		return fmt.Errorf("policygradient: Lambda = %v, want 0 <= Lambda <= 1", c.Lambda)
	case !(c.PolicyLR > 0 && c.PolicyLR <= 1):
		return fmt.Errorf("policygradient: PolicyLR = %v, want 0 < PolicyLR <= 1", c.PolicyLR)
	case !(c.ValueLR > 0 && c.ValueLR <= 1):
		return fmt.Errorf("policygradient: ValueLR = %v, want 0 < ValueLR <= 1", c.ValueLR)
	case !(c.Entropy >= 0) || math.IsInf(c.Entropy, 0):
		return fmt.Errorf("policygradient: Entropy = %v, want a finite Entropy >= 0", c.Entropy)
	case !(c.MaxGradNorm >= 0) || math.IsInf(c.MaxGradNorm, 0):
		return fmt.Errorf("policygradient: MaxGradNorm = %v, want a finite MaxGradNorm >= 0", c.MaxGradNorm)
	case c.Head != "" && c.Head != HeadSoftmax && c.Head != HeadBeta:
		return fmt.Errorf("policygradient: Head = %q, want %q or %q", c.Head, HeadSoftmax, HeadBeta)
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
