package learning

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func panics(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = r.(string)
		}
	}()
	f()
	return ""
}

func TestRegistryFamiliesOverrideGenericAlgorithmsByName(t *testing.T) {
	mk := func(name string) func(Spec) (Policy, error) {
		return func(s Spec) (Policy, error) { b := newBandit(s.Actions.N, s.Seed); b.name = name; return b, nil }
	}
	Register(Algorithm{Name: "regtest-generic", Learns: true, New: mk("generic")})
	Register(Algorithm{Name: "regtest-both", Learns: true, New: mk("generic both")})
	RegisterFor("regtestfam", Algorithm{Name: "regtest-native", Native: true, New: mk("native")})
	RegisterFor("regtestfam", Algorithm{Name: "regtest-both", Learns: true, New: mk("tuned both")})

	names := AlgorithmNames("regtestfam")
	// The family's own first, in registration order, then the generic ones it does not override.
	iNative, iBoth, iGeneric := slices.Index(names, "regtest-native"), slices.Index(names, "regtest-both"), slices.Index(names, "regtest-generic")
	if iNative != 0 || iBoth != 1 || iGeneric < 2 || strings.Count(strings.Join(names, " "), "regtest-both") != 1 {
		t.Fatalf("algorithms of the family: %v", names)
	}
	a, err := Lookup("regtestfam", "regtest-both")
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := a.New(Spec{Actions: Discrete(2)}); p.Name() != "tuned both" {
		t.Fatalf("the family's own registration must win, got %s", p.Name())
	}
	if a, _ := Lookup("otherfam", "regtest-both"); a.Native || a.Name != "regtest-both" {
		t.Fatalf("another family gets the generic one: %+v", a)
	}
	if _, err := Lookup("otherfam", "regtest-native"); err == nil || !strings.Contains(err.Error(), "regtest-generic") {
		t.Fatalf("an algorithm of another family must be unknown, with the known ones named: %v", err)
	}
	if msg := panics(func() { RegisterFor("regtestfam", Algorithm{Name: "regtest-native", New: mk("x")}) }); !strings.Contains(msg, "twice") {
		t.Fatalf("a second registration under the same name must panic, got %q", msg)
	}
	if msg := panics(func() { Register(Algorithm{Name: "bad name", New: mk("x")}) }); msg == "" {
		t.Fatal("a name with a space must be refused")
	}
	if msg := panics(func() { RegisterFor("fam/v1", Algorithm{Name: "x", New: mk("x")}) }); !strings.Contains(msg, "without its version") {
		t.Fatalf("a family with a version must be refused, got %q", msg)
	}
	if Family("loadbalancing/v2") != "loadbalancing" || Family("plain") != "plain" {
		t.Fatal("Family drops the version")
	}
}

// twoToFive adapts a two-action learner onto actions 1..5: action 0 is 1,
// action 1 is the observation's value x, and the learner sees 10x.
type twoToFive struct{}

var tenX = NewSchema("tenx/v1", "y")

func (twoToFive) Spec() Spec { return Spec{Observation: tenX, Actions: Discrete(2)} }
func (twoToFive) Observe(o Observation) Observation {
	return Observation{Schema: tenX, Values: []float64{10 * o.Values[0]}, Terminal: o.Terminal, Mask: []bool{true, o.Values[0] > 1}}
}
func (twoToFive) Act(o Observation, a Action) Action {
	if a == 0 {
		return 1
	}
	return Action(o.Values[0])
}

// spy records what its agent is given.
type spy struct {
	bandit
	seen []Observation
}

func (s *spy) NewAgent(AgentID) LearningAlgorithm { return &spyAgent{banditAgent{b: &s.bandit}, s} }

type spyAgent struct {
	banditAgent
	s *spy
}

func (a *spyAgent) InitAgent(o Observation) { a.s.seen = append(a.s.seen, o) }
func (a *spyAgent) Update(o Observation, r float64) {
	a.s.seen = append(a.s.seen, o)
	a.banditAgent.Update(o, r)
}
func (a *spyAgent) ActionProbabilities() []float64 { return []float64{0.25, 0.75} }
func (a *spyAgent) SampleAction() Action           { return 1 }

func TestAdaptTranslatesObservationsActionsAndProbabilities(t *testing.T) {
	inner := &spy{bandit: *newBandit(2, 1)}
	native := ActionSpace{N: 5, Start: 1}
	p := Adapt(inner, twoToFive{}, native)
	if p.Name() != "bandit" {
		t.Fatalf("name %s", p.Name())
	}
	x := NewSchema("x/v1", "x")
	a := p.NewAgent("w")
	a.InitAgent(Observation{Schema: x, Values: []float64{4}})
	if got := a.SampleAction(); got != 4 {
		t.Fatalf("the learner's action 1 on x = 4 must be 4, got %v", got)
	}
	probs := a.ActionProbabilities()
	if len(probs) != 5 || probs[native.Index(1)] != 0.25 || probs[native.Index(4)] != 0.75 {
		t.Fatalf("probabilities over the native space: %v", probs)
	}
	a.Update(Observation{Schema: x, Values: []float64{1}, Terminal: true}, 2)
	if len(inner.seen) != 2 || inner.seen[0].Values[0] != 40 || inner.seen[1].Values[0] != 10 || !inner.seen[1].Terminal || inner.seen[1].Mask[1] {
		t.Fatalf("the learner saw %+v", inner.seen)
	}
	// The learner's optional interfaces are found through the wrapper.
	if m, ok := As[Model](p); !ok || m != Model(&inner.bandit) && m != Model(inner) {
		t.Fatal("As must find the learner's Model through the adapter")
	}
	if _, ok := As[Episodic](p); ok {
		t.Fatal("As found an Episodic the learner does not implement")
	}
	team := NewSharedTeam(p)
	team.SetLearning(false)
	if inner.learning {
		t.Fatal("the team's SetLearning must reach the adapted learner")
	}
}

func TestTeamMapsAgentsOntoPoliciesByKind(t *testing.T) {
	made := 0
	kind := func(id AgentID) string { return strings.SplitN(string(id), "-", 2)[0] }
	team, err := NewTeam([]AgentID{"big-1", "big-2", "small-1"}, kind, func(name string) (Policy, error) {
		made++
		return newBandit(3, uint64(made)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if made != 2 || !slices.Equal(team.Policies(), []string{"big", "small"}) || team.Shared() {
		t.Fatalf("made %d policies %v", made, team.Policies())
	}
	team.Agent("small-9") // a new agent of a known kind
	team.Agent("tiny-1")  // of a new kind: a new policy
	if made != 3 || team.PolicyName("big-2") != "big" {
		t.Fatalf("made %d policies %v", made, team.Policies())
	}
	if _, err := NewTeam([]AgentID{"a"}, kind, func(string) (Policy, error) { return nil, errors.New("no") }); err == nil {
		t.Fatal("a policy that cannot be made must fail the team")
	}
}

func TestSchemaDescribesFieldsAndMasksAllow(t *testing.T) {
	s := NewSchemaOf("d/v1", Field{Name: "a", Low: 0, High: 1, Bins: []float64{0.5}}, Field{Name: "b"})
	if f, ok := s.Describe("a"); !ok || f.High != 1 || len(f.Bins) != 1 {
		t.Fatalf("describe a: %+v", f)
	}
	if _, ok := s.Describe("zz"); ok {
		t.Fatal("no such field")
	}
	if msg := panics(func() { NewSchemaOf("d", Field{Name: "a", Bins: []float64{1, 1}}) }); msg == "" {
		t.Fatal("bins that do not increase must be refused")
	}
	if msg := panics(func() { NewSchemaOf("d", Field{Name: "a", Bins: []float64{math.NaN()}}) }); msg == "" {
		t.Fatal("NaN bins must be refused")
	}
	o := Observation{Mask: []bool{true, false}}
	if !o.Allowed(0) || o.Allowed(1) || o.Allowed(2) || !(Observation{}).Allowed(7) {
		t.Fatal("Allowed: the mask's entries, nothing beyond it, everything without one")
	}
	c := o.Clone()
	c.Mask[0] = false
	if !o.Mask[0] {
		t.Fatal("Clone shares the mask")
	}
	if (Spec{Observation: s, Actions: Discrete(2)}).Same(Spec{Observation: s, Actions: Discrete(3)}) {
		t.Fatal("Same: other action spaces")
	}
}

func TestRunnableExpandsParametricAndLeavesOutWhatDoesNotFit(t *testing.T) {
	mk := func(s Spec) (Policy, error) { return newBandit(s.Actions.N, 1), nil }
	RegisterFor("runfam", Algorithm{Name: "native", Native: true, New: mk})
	RegisterFor("runfam", Algorithm{Name: "wide", New: mk, Accepts: func(s Spec) error {
		if s.Actions.N < 3 {
			return errors.New("too few actions")
		}
		return nil
	}})
	RegisterFor("runfam", Algorithm{Name: "each", NewWith: func(string, Spec) (Policy, error) { return newBandit(2, 1), nil },
		Params: func(s Spec) []string { return []string{"a", "b"} }})
	got := Runnable("runfam", Spec{Actions: Discrete(2)})
	if len(got) < 3 || got[0] != "native" || got[1] != "each:a" || got[2] != "each:b" || slices.Contains(got, "wide") {
		t.Fatalf("runnable with two actions: %v", got)
	}
	if got := Runnable("runfam", Spec{Actions: Discrete(3)}); !slices.Contains(got, "wide") {
		t.Fatalf("runnable with three actions: %v", got)
	}
}
