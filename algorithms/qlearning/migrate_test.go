package qlearning

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/marlon-go/marlon/learning"
)

var _ learning.Migratable = (*agent)(nil)

// solo drives one agent for 12 steps of an episode drawn from seed, and
// moves it at step moveAt (if >= 0) with move, which returns the agent
// that continues; it returns the actions taken.
func solo(seed uint64, a learning.LearningAlgorithm, moveAt int, move func() learning.LearningAlgorithm) []learning.Action {
	rng := rand.New(rand.NewPCG(seed, 3))
	o := func(terminal bool) learning.Observation {
		return learning.Observation{Schema: schema, Values: []float64{rng.Float64(), rng.NormFloat64()}, Terminal: terminal}
	}
	var acts []learning.Action
	a.InitAgent(o(false))
	for t := range 12 {
		if t == moveAt {
			a = move()
		}
		act := a.SampleAction()
		acts = append(acts, act)
		a.Update(o(t == 11), float64(act)*rng.Float64())
	}
	return acts
}

// An agent moved mid-episode to a copy of its policy continues as it would
// have: the same actions, and the copy ends the episode with the table the
// original would have had.
func TestMigratedAgentContinuesExactly(t *testing.T) {
	for name, cfg := range distributedConfigs() {
		cfg.EpsilonStart, cfg.EpsilonEnd = 0.5, 0.5
		for _, at := range []int{1, 5, 11} {
			stay := newPolicy(t, cfg, 2)
			want := solo(4, stay.NewAgent("a"), -1, nil)
			stay.EndEpisode()
			wantModel, _ := stay.MarshalBinary()

			from, to := newPolicy(t, cfg, 2), newPolicy(t, cfg, 2)
			a := from.NewAgent("a")
			got := solo(4, a, at, func() learning.LearningAlgorithm {
				m, _ := from.MarshalBinary()
				if err := to.UnmarshalBinary(m); err != nil {
					t.Fatal(err)
				}
				state, err := a.(learning.Migratable).MarshalAgent()
				if err != nil {
					t.Fatal(err)
				}
				b := to.NewAgent("a")
				if err := b.(learning.Migratable).UnmarshalAgent(state); err != nil {
					t.Fatal(err)
				}
				return b
			})
			to.EndEpisode()
			gotModel, _ := to.MarshalBinary()
			if !slicesEqual(got, want) || !bytes.Equal(gotModel, wantModel) {
				t.Fatalf("%s, moved at step %d: actions %v, want %v; tables equal: %v", name, at, got, want, bytes.Equal(gotModel, wantModel))
			}
		}
	}
	if err := newPolicy(t, chainConfig(), 1).NewAgent("a").(learning.Migratable).UnmarshalAgent([]byte(`{"state":99,"action":0,"source":""}`)); err == nil {
		t.Error("a state out of range was accepted")
	}
}

func slicesEqual(a, b []learning.Action) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
