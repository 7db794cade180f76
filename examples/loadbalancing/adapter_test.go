package loadbalancing

import (
	"math"
	"strings"
	"testing"

	"github.com/marlon-go/marlon/learning"
)

// observation builds a worker's observation from named values.
func observation(vals map[string]float64) learning.Observation {
	v := make([]float64, Schema.Len())
	for k, x := range vals {
		v[Schema.Index(k)] = x
	}
	return learning.Observation{Schema: Schema, Values: v}
}

func TestAdapterFeaturesAndUnits(t *testing.T) {
	a, err := NewAdapter([]Choice{{FairShare, 0.5}, {FairShare, 1}, {PoolShare, 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	// 4 workers, speeds summing to 8; this one has speed 4, so it is twice
	// the mean (2). U = 1000 of N = 4000 is unfinished, of which R = 800 is
	// not handed out: its share is 1000*2/4 = 500.
	obs := observation(map[string]float64{
		FieldJob: 4000, FieldRemaining: 800, FieldUnfinished: 1000, FieldWorkers: 4, FieldSpeed: 4, FieldSpeedSum: 8,
		FieldGranted: 6, FieldQueue: 2, FieldCommTime: 1, FieldUnitTime: 1,
	})
	if u := a.Units(obs, 0); u != 250 {
		t.Fatalf("factor 0.5: %d units, want 250", u)
	}
	if u := a.Units(obs, 1); u != 500 {
		t.Fatalf("factor 1: %d units, want 500", u)
	}
	if u := a.Units(obs, 2); u != 100 { // factoring: 800/(2*4)
		t.Fatalf("half the pool's share: %d units, want 100", u)
	}
	f := a.Features(obs)
	// unfinished work time c*U/S = 125, one round of requests P*h = 4:
	// slack = log10(1 + 31.25)/3.
	want := []float64{0.25, 0.8, 2, 0.5, 0.5, math.Log10(32.25) / 3}
	for i, w := range want {
		if math.Abs(f.Values[i]-w) > 1e-12 {
			t.Fatalf("feature %s = %v, want %v", Features.Fields()[i], f.Values[i], w)
		}
	}
	// Once every live worker is measured, the relative speed comes from
	// times per unit: this worker takes 0.25 per unit, the 4 take on
	// average 1/(8/4) = 0.5: it is twice as fast, and its share 500.
	obs.Values[Schema.Index(FieldMu)] = 0.25
	obs.Values[Schema.Index(FieldMeasured)] = 4
	obs.Values[Schema.Index(FieldInvMuSum)] = 8
	if got := a.Features(obs).Values[2]; got != 2 {
		t.Fatalf("measured relative speed %v, want 2", got)
	}
	// Measured 1.6 times as fast as the average: the share follows.
	obs.Values[Schema.Index(FieldInvMuSum)] = 10
	if got, u := a.Features(obs).Values[2], a.Units(obs, 1); got != 1.6 || u != 400 {
		t.Fatalf("measured relative speed %v and share %d, want 1.6 and 400", got, u)
	}
	// While some are not measured yet, the nominal speeds decide: a mean
	// over the measured alone would compare this worker with whichever
	// others happen to have finished a chunk (here, just itself: 1).
	obs.Values[Schema.Index(FieldMeasured)] = 1
	obs.Values[Schema.Index(FieldInvMuSum)] = 4
	if got, u := a.Features(obs).Values[2], a.Units(obs, 1); got != 2 || u != 500 {
		t.Fatalf("partly measured: relative speed %v and share %d, want the nominal 2 and 500", got, u)
	}
	// Never less than 1 unit, never more than what is left.
	obs.Values[Schema.Index(FieldRemaining)] = 3
	obs.Values[Schema.Index(FieldUnfinished)] = 3
	if u := a.Units(obs, 0); u != 1 {
		t.Fatalf("tiny share: %d units, want 1", u)
	}
	big, _ := NewAdapter([]Choice{{FairShare, 100}})
	if u := big.Units(obs, 0); u != 3 {
		t.Fatalf("huge factor: %d units, want the 3 left", u)
	}
	for _, bad := range [][]Choice{{}, {{FairShare, 0}}, {{PoolShare, -1}}, {{FairShare, math.Inf(1)}}, {{Base(7), 1}}} {
		if _, err := NewAdapter(bad); err == nil {
			t.Errorf("NewAdapter(%v) accepted", bad)
		}
	}
}

// uniform is a learner that picks choice 1 and spreads its probabilities.
type uniform struct{ n int }

func (u *uniform) InitAgent(learning.Observation)       {}
func (u *uniform) IsLearning() bool                     { return true }
func (u *uniform) SampleAction() learning.Action        { return 1 }
func (u *uniform) Update(learning.Observation, float64) {}
func (u *uniform) ActionProbabilities() []float64 {
	p := make([]float64, u.n)
	for i := range p {
		p[i] = 1 / float64(u.n)
	}
	return p
}
func (u *uniform) AgentJoined(learning.AgentID) {}
func (u *uniform) AgentLeft(learning.AgentID)   {}

type uniformPolicy struct{ n int }

func (p uniformPolicy) Name() string                                         { return "uniform" }
func (p uniformPolicy) NewAgent(learning.AgentID) learning.LearningAlgorithm { return &uniform{p.n} }

func TestAdaptedLearnerDrivesAnEpisode(t *testing.T) {
	e, err := New(Default(), 1)
	if err != nil {
		t.Fatal(err)
	}
	ad, err := e.Adapter("")
	if err != nil {
		t.Fatal(err)
	}
	a := ad.(Adapter)
	p := learning.Adapt(uniformPolicy{len(a.Choices)}, a, e.Spec(AgentID(0)).Actions)
	var probs []float64
	res, err := e.Run(1, func(id learning.AgentID) learning.LearningAlgorithm {
		g := p.NewAgent(id)
		return probe{g, &probs}
	})
	if err != nil || res.UnitsDone != 10000 {
		t.Fatalf("units %d, err %v", res.UnitsDone, err)
	}
	sum := 0.0
	for _, x := range probs {
		sum += x
	}
	if len(probs) != 10000 || math.Abs(sum-1) > 1e-12 {
		t.Fatalf("probabilities over %d unit counts sum to %v", len(probs), sum)
	}
	if _, ok := learning.As[learning.Model](p); ok {
		t.Fatal("the adapted policy claims a model its learner does not have")
	}
	if _, err := e.Adapter("nonsense"); err == nil || !strings.Contains(err.Error(), "share") {
		t.Fatalf("an unknown adapter must be refused naming the ones offered, got %v", err)
	}
}

// probe records the adapted agent's probabilities at its last choice.
type probe struct {
	learning.LearningAlgorithm
	probs *[]float64
}

func (p probe) SampleAction() learning.Action {
	a := p.LearningAlgorithm.SampleAction()
	*p.probs = p.LearningAlgorithm.ActionProbabilities()
	return a
}
