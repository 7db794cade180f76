package learning_test

import (
	"testing"

	"github.com/marlon-go/marlon/algorithms/qlearning"
	"github.com/marlon-go/marlon/learning"
)

var nativeSchema = learning.NewSchema("native/v1", "pos", "other")

// halve is an adapter: the learner sees pos, and its action a is the
// agent's action a (of 2) — but Act reads the agent's own observation.
type halve struct{}

func (halve) Spec() learning.Spec {
	return learning.Spec{Observation: learning.NewSchemaOf("seen/v1", learning.Field{Name: "pos", Bins: []float64{0.5}}), Actions: learning.Discrete(2)}
}
func (h halve) Observe(o learning.Observation) learning.Observation {
	return learning.Observation{Schema: h.Spec().Observation, Values: []float64{o.Get("pos")}, Terminal: o.Terminal}
}
func (halve) Act(o learning.Observation, a learning.Action) learning.Action {
	if o.Get("other") > 100 { // never: but Act must be able to read the observation
		return 0
	}
	return a
}

// An adapted agent migrates with its inner agent's state and its own
// latest observation: the agent on the other side acts on it.
func TestAdaptedAgentMigrates(t *testing.T) {
	h := halve{}
	newPolicy := func() (learning.Policy, *qlearning.Policy) {
		q, err := qlearning.New(h.Spec(), qlearning.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		return learning.Adapt(q, h, learning.Discrete(2)), q
	}
	from, _ := newPolicy()
	a := from.NewAgent("a")
	a.InitAgent(learning.Observation{Schema: nativeSchema, Values: []float64{0.9, 1}})
	state, err := a.(learning.Migratable).MarshalAgent()
	if err != nil {
		t.Fatal(err)
	}
	to, _ := newPolicy()
	b := to.NewAgent("a")
	if err := b.(learning.Migratable).UnmarshalAgent(state); err != nil {
		t.Fatal(err)
	}
	if got, want := b.SampleAction(), a.SampleAction(); got != want {
		t.Fatalf("the migrated agent took %v, the original %v", got, want)
	}
	if err := b.(learning.Migratable).UnmarshalAgent([]byte(`{"inner":null,"schema":"x","fields":["a","a"],"values":[1,2]}`)); err == nil {
		t.Error("a repeated field was accepted")
	}
}
