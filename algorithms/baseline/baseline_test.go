package baseline

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/marlon-go/marlon/learning"
)

var schema = learning.NewSchema("b/v1", "x")

func spec() learning.Spec {
	return learning.Spec{Observation: schema, Actions: learning.ActionSpace{N: 4, Start: 1, Labels: []string{"small", "", "big one", "huge"}}, Seed: 3}
}

func obs(mask []bool) learning.Observation {
	return learning.Observation{Schema: schema, Values: []float64{0}, Mask: mask}
}

func TestRandomIsUniformOverTheAllowedActions(t *testing.T) {
	p, err := NewRandom(spec())
	if err != nil {
		t.Fatal(err)
	}
	for _, mask := range [][]bool{nil, {true, false, true, true}} {
		a := p.NewAgent("w")
		a.InitAgent(obs(mask))
		counts := map[learning.Action]int{}
		const n = 40000
		for range n {
			counts[a.SampleAction()]++
		}
		probs := a.ActionProbabilities()
		allowedN := 4
		if mask != nil {
			allowedN = 3
		}
		for i, q := range probs {
			act := learning.Action(i + 1)
			if mask != nil && !mask[i] {
				if q != 0 || counts[act] != 0 {
					t.Fatalf("masked action %v: probability %v, drawn %d times", act, q, counts[act])
				}
				continue
			}
			// Within 5 standard deviations of n/allowed.
			want := float64(n) / float64(allowedN)
			if q != 1/float64(allowedN) || math.Abs(float64(counts[act])-want) > 5*math.Sqrt(want) {
				t.Fatalf("mask %v action %v: probability %v, drawn %d times of %d", mask, act, q, counts[act], n)
			}
		}
	}
	// Reproducible by seed and agent; another agent draws otherwise.
	a, b, c := p.NewAgent("w"), p.NewAgent("w"), p.NewAgent("v")
	var sa, sb, sc []learning.Action
	for _, x := range []learning.LearningAlgorithm{a, b, c} {
		x.InitAgent(obs(nil))
	}
	for range 20 {
		sa, sb, sc = append(sa, a.SampleAction()), append(sb, b.SampleAction()), append(sc, c.SampleAction())
	}
	if !slices.Equal(sa, sb) || slices.Equal(sa, sc) {
		t.Fatal("draws must depend on the seed and the agent only")
	}
}

func TestFixedTakesItsActionOrTheLowestAllowed(t *testing.T) {
	for param, want := range map[string]learning.Action{"small": 1, "1": 2, "huge": 4, "big one": 3, "2": 3} {
		p, err := NewFixed(param, spec())
		if err != nil {
			t.Fatalf("%s: %v", param, err)
		}
		a := p.NewAgent("w")
		a.InitAgent(obs(nil))
		if got := a.SampleAction(); got != want {
			t.Fatalf("fixed:%s took %v, want %v", param, got, want)
		}
		if probs := a.ActionProbabilities(); probs[want-1] != 1 {
			t.Fatalf("fixed:%s probabilities %v", param, probs)
		}
	}
	p, _ := NewFixed("huge", spec())
	a := p.NewAgent("w")
	a.InitAgent(obs([]bool{false, true, true, false}))
	if got := a.SampleAction(); got != 2 {
		t.Fatalf("with its action masked, fixed must take the lowest allowed, got %v", got)
	}
	if _, err := NewFixed("tiny", spec()); err == nil || !strings.Contains(err.Error(), "small, 1, 2, huge") {
		t.Fatalf("an unknown action must be refused naming the actions: %v", err)
	}
}

func TestRegisteredAsBaselinesWithAnInstancePerAction(t *testing.T) {
	fixed, err := learning.Lookup("anyfamily", "fixed")
	if err != nil || !fixed.Baseline || !fixed.Parametric() {
		t.Fatalf("fixed: %+v %v", fixed, err)
	}
	// Labels that do not make a name are named by index.
	if got := fixed.Instances(spec()); !slices.Equal(got, []string{"fixed:small", "fixed:1", "fixed:2", "fixed:huge"}) {
		t.Fatalf("instances %v", got)
	}
	inst, err := learning.Lookup("anyfamily", "fixed:huge")
	if err != nil || inst.Name != "fixed:huge" || !inst.Baseline {
		t.Fatalf("instance %+v %v", inst, err)
	}
	if p, err := inst.New(spec()); err != nil || p.Name() != "fixed:huge" {
		t.Fatalf("made %v %v", p, err)
	}
	if r, err := learning.Lookup("anyfamily", "random"); err != nil || !r.Baseline || r.Learns {
		t.Fatalf("random: %+v %v", r, err)
	}
}
