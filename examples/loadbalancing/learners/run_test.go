package learners

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/learning"
)

func small() Named {
	sc := loadbalancing.Default()
	sc.Job = 3000
	return Named{Name: "small", Scenario: sc}
}

func TestTrainingTheLearnersIsReproducible(t *testing.T) {
	e, err := loadbalancing.New(small().Scenario, 1)
	if err != nil {
		t.Fatal(err)
	}
	tr := Training{Episodes: 30, EvalEvery: 10, EvalEpisodes: 2, Select: "ratio"}
	for _, name := range Learners() {
		run := func(seed uint64) (Outcome, []byte) {
			var log bytes.Buffer
			o, err := Run(e, name, Options{Seed: seed, Training: tr, Log: &log})
			if err != nil {
				t.Fatal(err)
			}
			return o, log.Bytes()
		}
		a, logA := run(3)
		b, logB := run(3)
		if !reflect.DeepEqual(a.Curve, b.Curve) || !bytes.Equal(logA, logB) || !reflect.DeepEqual(a.Mean, b.Mean) {
			t.Fatalf("%s: the same seed gave two different training runs", name)
		}
		if c, _ := run(4); reflect.DeepEqual(a.Curve.Train, c.Curve.Train) {
			t.Fatalf("%s: seeds 3 and 4 gave the same training", name)
		}
		if len(a.Results) != 2 || a.Results[0].UnitsDone != 3000 || a.Results[0].Algorithm != name {
			t.Fatalf("%s: evaluation results %+v", name, a.Results)
		}
	}
}

func TestEveryAlgorithmIsMeasuredOnTheSameEpisodes(t *testing.T) {
	tr := Training{Episodes: 10, EvalEvery: 5, EvalEpisodes: 3, Select: "ratio"}
	row, outs, err := Compare(small(), Names(), Options{Seed: 2, Training: tr})
	if err != nil {
		t.Fatal(err)
	}
	want := []uint64{learning.EvalSeed(2, 0), learning.EvalSeed(2, 1), learning.EvalSeed(2, 2)}
	for _, name := range Names() {
		o := outs[name]
		var seeds []uint64
		for _, r := range o.Results {
			seeds = append(seeds, r.Seed)
		}
		if !reflect.DeepEqual(seeds, want) {
			t.Fatalf("%s ran on seeds %v, want %v", name, seeds, want)
		}
		if len(o.Results[0].History) == 0 || o.Results[1].History != nil || o.Results[2].History != nil {
			t.Fatalf("%s: the first evaluation episode keeps its chunks' history (for its Gantt chart), the others none", name)
		}
		if o.Results[0].LowerBound != outs["ss"].Results[0].LowerBound {
			t.Fatalf("%s: another lower bound: not the same episodes", name)
		}
	}
	best, ratio := row.Best()
	for _, name := range Classical() {
		if row.Ratios[name] < ratio {
			t.Fatalf("best classical %s (%v), but %s has %v", best, ratio, name, row.Ratios[name])
		}
	}
	if IsLearner(best) || len(row.TrainSeconds) != len(Learners()) {
		t.Fatalf("row %+v", row)
	}
}

func TestCheckpointOfAnIndependentTeam(t *testing.T) {
	e, _ := loadbalancing.New(small().Scenario, 1)
	tr := Training{Episodes: 5, EvalEpisodes: 1}
	o, err := Run(e, QLearning, Options{Seed: 1, Training: tr, Independent: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := o.Checkpoint(e)
	if err != nil {
		t.Fatal(err)
	}
	if c.Shared || len(c.Policies) != 8 {
		t.Fatalf("independent checkpoint: shared %v, %d policies", c.Shared, len(c.Policies))
	}
	// It loads into the same workers, not into more.
	if _, err := Run(e, QLearning, Options{Seed: 1, Training: Training{EvalEpisodes: 1}, Independent: true, Load: c}); err != nil {
		t.Fatal(err)
	}
	sc := small().Scenario
	sc.Workers = 9
	more, _ := loadbalancing.New(sc, 1)
	if _, err := Run(more, QLearning, Options{Seed: 1, Training: Training{EvalEpisodes: 1}, Independent: true, Load: c}); err == nil {
		t.Fatal("an independent checkpoint of 8 workers loaded into 9")
	}
}
