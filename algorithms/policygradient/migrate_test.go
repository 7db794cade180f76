package policygradient

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/marlon-go/marlon/learning"
)

var _ learning.Migratable = (*agent)(nil)

// An agent moved mid-episode to a copy of its policy continues as it would
// have: the same actions, and the copy's gradient step at the end of the
// episode gives the networks the original would have had.
func TestMigratedAgentContinuesExactly(t *testing.T) {
	solo := func(a learning.LearningAlgorithm, moveAt int, move func() learning.LearningAlgorithm) []learning.Action {
		rng := rand.New(rand.NewPCG(4, 3))
		var acts []learning.Action
		a.InitAgent(obs(rng.Float64(), rng.NormFloat64(), false))
		for t := range 12 {
			if t == moveAt {
				a = move()
			}
			act := a.SampleAction()
			acts = append(acts, act)
			a.Update(obs(rng.Float64(), rng.NormFloat64(), t == 11), float64(act)*rng.Float64())
		}
		return acts
	}
	for _, coordinated := range []bool{false, true} {
		cfg := testConfig()
		cfg.Gamma, cfg.Coordinated = 0.9, coordinated
		for _, at := range []int{1, 6, 11} {
			stay := newPolicy(t, cfg, 2)
			want := solo(stay.NewAgent("a"), -1, nil)
			stay.EndEpisode()
			wantModel, _ := stay.MarshalBinary()

			from, to := newPolicy(t, cfg, 2), newPolicy(t, cfg, 2)
			a := from.NewAgent("a")
			got := solo(a, at, func() learning.LearningAlgorithm {
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
			if !slices.Equal(got, want) || !bytes.Equal(gotModel, wantModel) {
				t.Fatalf("coordinated %v, moved at step %d: actions %v, want %v; networks equal: %v", coordinated, at, got, want, bytes.Equal(gotModel, wantModel))
			}
		}
	}
	if err := newPolicy(t, testConfig(), 1).NewAgent("a").(learning.Migratable).UnmarshalAgent([]byte(`{"x":[1],"seen":true,"draws":0,"start":0,"source":""}`)); err == nil {
		t.Error("a state of the wrong input size was accepted")
	}
}
