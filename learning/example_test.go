package learning_test

import (
	"fmt"

	"github.com/marlon-go/marlon/learning"
)

// An environment describes what its agents see (a schema) and what they
// may do (an action space); an observation may forbid some actions (a mask).
func ExampleObservation() {
	schema := learning.NewSchemaOf("queue/v1",
		learning.Field{Name: "load", About: "the fraction of the queue in use", Low: 0, High: 1},
		learning.Field{Name: "waiting", About: "jobs waiting"},
	)
	space := learning.ActionSpace{N: 3, Start: 1, Labels: []string{"small", "medium", "large"}}
	obs := learning.Observation{Schema: schema, Values: []float64{0.75, 4}, Mask: []bool{true, true, false}}
	fmt.Println("load:", obs.Get("load"), "waiting:", obs.Get("waiting"))
	for i := range space.N {
		a := space.Action(i)
		fmt.Printf("action %d (%s) allowed: %v\n", a, space.Label(a), obs.Allowed(space.Index(a)))
	}
	fmt.Println(schema.Require("load", "deadline"))
	// Output:
	// load: 0.75 waiting: 4
	// action 1 (small) allowed: true
	// action 2 (medium) allowed: true
	// action 3 (large) allowed: false
	// observation schema "queue/v1" lacks field(s) deadline (it has load, waiting)
}

// first is a tiny policy: every agent takes the first allowed action.
type first struct{ space learning.ActionSpace }

func (p first) Name() string { return "first" }
func (p first) NewAgent(learning.AgentID) learning.LearningAlgorithm {
	return &firstAgent{space: p.space}
}

type firstAgent struct {
	space learning.ActionSpace
	obs   learning.Observation
}

func (a *firstAgent) InitAgent(obs learning.Observation)         { a.obs = obs }
func (a *firstAgent) Update(obs learning.Observation, _ float64) { a.obs = obs }
func (a *firstAgent) IsLearning() bool                           { return false }
func (a *firstAgent) AgentJoined(learning.AgentID)               {}
func (a *firstAgent) AgentLeft(learning.AgentID)                 {}
func (a *firstAgent) SampleAction() learning.Action              { return a.space.Action(a.index()) }
func (a *firstAgent) ActionProbabilities() []float64 {
	p := make([]float64, a.space.N)
	p[a.index()] = 1
	return p
}

func (a *firstAgent) index() int {
	for i := range a.space.N {
		if a.obs.Allowed(i) {
			return i
		}
	}
	return 0
}

// An algorithm is registered once, by name, for every environment (or for
// one family with RegisterFor); environments, the CLI and notebooks then
// make it by name. A team maps the agents onto policies: here all share one.
func ExampleRegister() {
	learning.Register(learning.Algorithm{
		Name: "first-allowed", About: "the first action the mask allows",
		New: func(spec learning.Spec) (learning.Policy, error) { return first{spec.Actions}, nil },
	})
	alg, err := learning.Lookup("any-environment", "first-allowed")
	if err != nil {
		panic(err)
	}
	schema := learning.NewSchema("example/v1", "x")
	policy, _ := alg.New(learning.Spec{Observation: schema, Actions: learning.Discrete(4)})
	team := learning.NewSharedTeam(policy)
	agent := team.Agent("agent-1")
	agent.InitAgent(learning.Observation{Schema: schema, Values: []float64{0}, Mask: []bool{false, false, true, true}})
	fmt.Println(alg.Name, "chooses", agent.SampleAction(), "with probabilities", agent.ActionProbabilities())
	fmt.Println("agent-1 and agent-2 share policy", team.PolicyName("agent-1"), team.PolicyName("agent-2"))
	_, err = learning.Lookup("any-environment", "no-such")
	fmt.Println(err != nil)
	// Output:
	// first-allowed chooses 2 with probabilities [0 0 1 0]
	// agent-1 and agent-2 share policy shared shared
	// true
}
