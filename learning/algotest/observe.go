package algotest

import (
	"math/rand/v2"

	"github.com/marlon-go/marlon/learning"
)

// Specs are the suite's own Specs for generic algorithms: fields with bounds
// and suggested bins (for tabular learners), an action space of six; an
// unbounded field and an action space that starts at 5, not 0; and a
// single action.
func Specs() []learning.Spec {
	return []learning.Spec{
		{
			Observation: learning.NewSchemaOf("algotest-bounded/v1",
				learning.Field{Name: "a", About: "a fraction", Low: 0, High: 1, Bins: []float64{0.25, 0.5, 0.75}},
				learning.Field{Name: "b", About: "a signed value", Low: -1, High: 1, Bins: []float64{0}},
				learning.Field{Name: "c", About: "a larger value", Low: 0, High: 10},
			),
			Actions: learning.ActionSpace{N: 6, Labels: []string{"a0", "a1", "a2", "a3", "a4", "a5"}},
		},
		{
			Observation: learning.NewSchemaOf("algotest-offset/v1",
				learning.Field{Name: "x", About: "an unbounded value"},
				learning.Field{Name: "y", About: "a fraction", Low: 0, High: 1, Bins: []float64{0.5}},
			),
			Actions: learning.ActionSpace{N: 3, Start: 5},
		},
		{
			Observation: learning.NewSchemaOf("algotest-single/v1",
				learning.Field{Name: "z", About: "a fraction", Low: 0, High: 1},
			),
			Actions: learning.Discrete(1),
		},
	}
}

// Random draws an observation of spec's schema: each field uniform within
// its bounds (Field.Low, High), or normal with standard deviation 2 if it
// has none; half of the time with a mask that allows each action with
// probability 1/2 (and at least one).
func Random(spec learning.Spec, rng *rand.Rand) learning.Observation {
	s := spec.Observation
	obs := learning.Observation{Schema: s, Values: make([]float64, s.Len())}
	for i, name := range s.Fields() {
		f, _ := s.Describe(name)
		if f.High > f.Low {
			obs.Values[i] = f.Low + (f.High-f.Low)*rng.Float64()
		} else {
			obs.Values[i] = 2 * rng.NormFloat64()
		}
	}
	if rng.IntN(2) == 0 {
		obs.Mask = RandomMask(spec.Actions.N, rng)
	}
	return obs
}

// RandomMask allows each of n actions with probability 1/2, and at least
// one.
func RandomMask(n int, rng *rand.Rand) []bool {
	m := make([]bool, n)
	any := false
	for i := range m {
		m[i] = rng.IntN(2) == 0
		any = any || m[i]
	}
	if !any {
		m[rng.IntN(n)] = true
	}
	return m
}

// From draws uniformly among recorded observations (recorded from an
// environment's episodes, say: env/envtest.Observations). It panics if there
// are none.
func From(recorded []learning.Observation) func(learning.Spec, *rand.Rand) learning.Observation {
	if len(recorded) == 0 {
		panic("algotest: From needs at least one observation")
	}
	return func(_ learning.Spec, rng *rand.Rand) learning.Observation {
		return recorded[rng.IntN(len(recorded))].Clone()
	}
}
