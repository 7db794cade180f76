package learning

import (
	"strings"
	"testing"
)

func TestSchemaLooksUpAndRequiresFields(t *testing.T) {
	s := NewSchema("t/v1", "a", "b", "c")
	if s.Index("b") != 1 || s.Index("z") != -1 || s.Len() != 3 {
		t.Fatalf("index b=%d z=%d len=%d", s.Index("b"), s.Index("z"), s.Len())
	}
	if err := s.Require("a", "c"); err != nil {
		t.Fatal(err)
	}
	err := s.Require("z", "a", "y")
	if err == nil || !strings.Contains(err.Error(), "y, z") || !strings.Contains(err.Error(), `"t/v1"`) {
		t.Fatalf("Require must name the schema and the missing fields, got %v", err)
	}
	o := Observation{Schema: s, Values: []float64{1, 2, 3}}
	c := o.Clone()
	c.Values[0] = 9
	if o.Get("a") != 1 || c.Get("a") != 9 {
		t.Fatal("Clone shares values")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Get of an unknown field must panic")
		}
	}()
	o.Get("z")
}

func TestSchemaRejectsDuplicateFields(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a repeated field must panic")
		}
	}()
	NewSchema("t", "a", "a")
}

func TestActionSpaceWithStart(t *testing.T) {
	s := ActionSpace{N: 10, Start: 1, Labels: []string{"one"}}
	if !s.Contains(1) || !s.Contains(10) || s.Contains(0) || s.Contains(11) {
		t.Fatal("Contains")
	}
	if s.Index(4) != 3 || s.Action(3) != 4 || s.Label(1) != "one" || s.Label(2) != "2" {
		t.Fatal("Index/Action/Label")
	}
}

type plainAlg struct{ LearningAlgorithm }

type saysAlg struct {
	LearningAlgorithm
	uses bool
}

func (a saysAlg) UsesMembership() bool { return a.uses }

func TestUsesMembershipDefaultsToTheContract(t *testing.T) {
	if !UsesMembership(plainAlg{}) {
		t.Error("an algorithm that does not say must be told of joins and leaves")
	}
	if UsesMembership(saysAlg{uses: false}) || !UsesMembership(saysAlg{uses: true}) {
		t.Error("an algorithm that says must be taken at its word")
	}
	// Through an adapter, as the learner says.
	for _, c := range []struct {
		inner Policy
		uses  bool
	}{{newBandit(2, 1), true}, {deafPolicy{newBandit(2, 1)}, false}} {
		a := Adapt(c.inner, twoToFive{}, ActionSpace{N: 5, Start: 1}).NewAgent("w")
		if UsesMembership(a) != c.uses {
			t.Errorf("adapted %T: UsesMembership %v, want %v", c.inner, !c.uses, c.uses)
		}
	}
}

// deafPolicy makes agents that say they ignore membership.
type deafPolicy struct{ *bandit }

func (p deafPolicy) NewAgent(id AgentID) LearningAlgorithm {
	return saysAlg{p.bandit.NewAgent(id), false}
}
