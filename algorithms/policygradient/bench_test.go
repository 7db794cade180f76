package policygradient

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/marlon-go/marlon/learning"
)

// benchPolicy is a policy of the default shape for 10 inputs and 8 actions,
// with 8 agents.
func benchPolicy(b *testing.B) (*Policy, []learning.LearningAlgorithm, learning.Observation) {
	fields := make([]string, 10)
	for i := range fields {
		fields[i] = fmt.Sprint("f", i)
	}
	s := learning.NewSchema("bench/v1", fields...)
	p, err := New(learning.Spec{Observation: s, Actions: learning.Discrete(8), Seed: 1}, DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	agents := make([]learning.LearningAlgorithm, 8)
	for i := range agents {
		agents[i] = p.NewAgent(learning.AgentID(fmt.Sprint("agent-", i)))
	}
	return p, agents, learning.Observation{Schema: s, Values: make([]float64, 10)}
}

// play gives each agent steps decisions on random observations.
func play(agents []learning.LearningAlgorithm, o learning.Observation, steps int, rng *rand.Rand) {
	for _, a := range agents {
		for i := range o.Values {
			o.Values[i] = rng.Float64()
		}
		a.InitAgent(o)
		for t := range steps {
			a.SampleAction()
			for i := range o.Values {
				o.Values[i] = rng.Float64()
			}
			o.Terminal = t == steps-1
			a.Update(o, rng.NormFloat64())
		}
		o.Terminal = false
	}
}

// BenchmarkEndEpisode is one update on 8 agents' 100 decisions each.
func BenchmarkEndEpisode(b *testing.B) {
	p, agents, o := benchPolicy(b)
	rng := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		b.StopTimer()
		p.BeginEpisode()
		play(agents, o, 100, rng)
		b.StartTimer()
		p.EndEpisode()
	}
}

// BenchmarkSampleAction is one decision of a learning agent, recorded.
func BenchmarkSampleAction(b *testing.B) {
	p, agents, o := benchPolicy(b)
	a := agents[0]
	a.InitAgent(o)
	for i := 0; b.Loop(); i++ {
		if i%1000 == 0 {
			p.BeginEpisode() // keep the recorded experience small
		}
		a.SampleAction()
		a.Update(o, 1)
	}
}

// BenchmarkTrainingRun is 300 episodes of 8 agents with 100 decisions each
// on random observations: the learning cost of a full training run.
func BenchmarkTrainingRun(b *testing.B) {
	for b.Loop() {
		p, agents, o := benchPolicy(b)
		rng := rand.New(rand.NewPCG(1, 2))
		for range 300 {
			p.BeginEpisode()
			play(agents, o, 100, rng)
			p.EndEpisode()
		}
	}
}
