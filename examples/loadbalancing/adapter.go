package loadbalancing

import (
	"errors"
	"fmt"
	"math"

	"github.com/marlon-go/marlon/learning"
)

// Feature fields a generic learner sees of a worker. They carry over between
// job sizes, worker counts and time scales: fractions and ratios, not unit
// counts or times.
const (
	FeatUnfinished = "unfinished" // U/N: the fraction of the job not yet done (U: the Master's estimate)
	FeatPool       = "pool"       // R/U: the fraction of that not yet handed out
	FeatSpeed      = "speed"      // this worker's speed relative to the live workers' mean (measured once it can, nominal before)
	FeatRound      = "round"      // chunks handed out / workers, capped at 3, over 3: how far into the schedule
	FeatQueue      = "queue"      // requests waiting at the Master / workers, capped at 1: congestion
	FeatSlack      = "slack"      // log10(1 + unfinished work time / one round of requests), over 3, capped at 1: how much overhead the rest can absorb
)

// Features is the observation schema generic learners see through Adapter.
var Features = learning.NewSchema("loadbalancing-features/v1", FeatUnfinished, FeatPool, FeatSpeed, FeatRound, FeatQueue, FeatSlack)

// DefaultFactors are the choices a generic learner has: the chunk as a
// multiple of the worker's speed-weighted share of the unfinished work.
var DefaultFactors = []float64{0.5, 0.75, 0.9, 1, 1.1, 1.25}

// QBins are bin edges over Features that make a small table for tabular
// learners: 8 x 2 x 3 x 2 x 2 = 192 states.
func QBins() map[string][]float64 {
	return map[string][]float64{
		FeatUnfinished: {0.01, 0.03, 0.07, 0.15, 0.3, 0.5, 0.75},
		FeatPool:       {0.5},
		FeatSpeed:      {0.7, 1.3},
		FeatRound:      {0.34},
		FeatQueue:      {0.01},
	}
}

// Adapter lets a generic learner with a small discrete action space drive
// the workers, as a gym ActionWrapper and ObservationWrapper would. The
// learner sees Features; its choice k asks for
//
//	ceil(Factors[k] * U * w / P) units (at most R)
//
// where U is the unfinished work (not handed out, or handed out and not yet
// processed), R the work not handed out, P the live workers and w the
// worker's relative speed. Factor 1 takes the worker's fair share of what is
// left to do, enough to keep it busy until the ideal end if everyone does
// the same; smaller factors hedge against variance and leave work for
// balancing at the end. The action space carries over between job sizes
// and worker counts.
type Adapter struct {
	Factors []float64
}

// NewAdapter returns an adapter with factors (nil: DefaultFactors).
func NewAdapter(factors []float64) (Adapter, error) {
	if factors == nil {
		factors = DefaultFactors
	}
	if len(factors) == 0 {
		return Adapter{}, errors.New("factors: need at least one")
	}
	for _, f := range factors {
		if !(f > 0) || math.IsInf(f, 0) {
			return Adapter{}, fmt.Errorf("factors: must be finite numbers > 0, got %v", f)
		}
	}
	return Adapter{Factors: append([]float64(nil), factors...)}, nil
}

// Spec is what the learner is made for: Features in, len(Factors) choices out.
func (a Adapter) Spec(seed uint64) learning.Spec {
	labels := make([]string, len(a.Factors))
	for i, f := range a.Factors {
		labels[i] = fmt.Sprintf("%g x share", f)
	}
	return learning.Spec{Observation: Features, Actions: learning.ActionSpace{N: len(a.Factors), Labels: labels}, Seed: seed}
}

var (
	iRemaining = Schema.Index(FieldRemaining)
	iUnfinish  = Schema.Index(FieldUnfinished)
	iJob       = Schema.Index(FieldJob)
	iWorkers   = Schema.Index(FieldWorkers)
	iGranted   = Schema.Index(FieldGranted)
	iQueue     = Schema.Index(FieldQueue)
	iComm      = Schema.Index(FieldCommTime)
	iUnitTime  = Schema.Index(FieldUnitTime)
	iSpeed     = Schema.Index(FieldSpeed)
	iSpeedSum  = Schema.Index(FieldSpeedSum)
	iMu        = Schema.Index(FieldMu)
	iMeasured  = Schema.Index(FieldMeasured)
	iInvMuSum  = Schema.Index(FieldInvMuSum)
)

// relativeSpeed is the worker's speed over the live workers' mean: from
// measured times per unit when it and the others have them, else nominal.
func relativeSpeed(v []float64) float64 {
	if mu, m, inv := v[iMu], v[iMeasured], v[iInvMuSum]; mu > 0 && m > 0 && inv > 0 {
		return (1 / mu) / (inv / m)
	}
	if p, s := v[iWorkers], v[iSpeedSum]; p > 0 && s > 0 {
		return v[iSpeed] * p / s
	}
	return 1
}

// Features maps a worker's observation to the learner's.
func (a Adapter) Features(obs learning.Observation) learning.Observation {
	v := obs.Values
	r, u, n, p := v[iRemaining], unfinished(v), v[iJob], math.Max(v[iWorkers], 1)
	f := make([]float64, Features.Len())
	if n > 0 {
		f[0] = u / n
	}
	if u > 0 {
		f[1] = r / u
	}
	f[2] = relativeSpeed(v)
	f[3] = math.Min(v[iGranted]/p, 3) / 3
	f[4] = math.Min(v[iQueue]/p, 1)
	f[5] = 1
	if h, s := v[iComm], v[iSpeedSum]; h > 0 && s > 0 {
		rounds := (v[iUnitTime] * u / s) / (p * h)
		f[5] = math.Min(math.Log10(1+rounds)/3, 1)
	}
	return learning.Observation{Schema: Features, Values: f, Terminal: obs.Terminal}
}

// Units is the number of units choice k asks for, given the worker's
// observation.
func (a Adapter) Units(obs learning.Observation, k int) int {
	v := obs.Values
	r, p := v[iRemaining], math.Max(v[iWorkers], 1)
	x := math.Ceil(a.Factors[k]*unfinished(v)*relativeSpeed(v)/p - 1e-9)
	return int(math.Max(1, math.Min(x, math.Max(r, 1))))
}

// unfinished is the Master's estimate of the work not yet done, at least
// what it has not handed out.
func unfinished(v []float64) float64 { return math.Max(v[iUnfinish], v[iRemaining]) }

// Policy wraps a learner's policy so that its agents drive workers. The
// wrapper passes episodes, learning mode and model saving through to inner.
func (a Adapter) Policy(inner learning.Policy) learning.Policy {
	return &adaptedPolicy{inner: inner, a: a}
}

type adaptedPolicy struct {
	inner learning.Policy
	a     Adapter
}

func (p *adaptedPolicy) Name() string { return p.inner.Name() }

func (p *adaptedPolicy) NewAgent(id learning.AgentID) learning.LearningAlgorithm {
	return &adaptedAgent{inner: p.inner.NewAgent(id), a: p.a}
}

func (p *adaptedPolicy) BeginEpisode() {
	if e, ok := p.inner.(learning.Episodic); ok {
		e.BeginEpisode()
	}
}

func (p *adaptedPolicy) EndEpisode() {
	if e, ok := p.inner.(learning.Episodic); ok {
		e.EndEpisode()
	}
}

func (p *adaptedPolicy) SetLearning(on bool) {
	if t, ok := p.inner.(learning.Trainable); ok {
		t.SetLearning(on)
	}
}

func (p *adaptedPolicy) MarshalBinary() ([]byte, error) {
	if m, ok := p.inner.(learning.Model); ok {
		return m.MarshalBinary()
	}
	return nil, fmt.Errorf("%s has no model to save", p.inner.Name())
}

func (p *adaptedPolicy) UnmarshalBinary(b []byte) error {
	if m, ok := p.inner.(learning.Model); ok {
		return m.UnmarshalBinary(b)
	}
	return fmt.Errorf("%s has no model to load", p.inner.Name())
}

type adaptedAgent struct {
	inner learning.LearningAlgorithm
	a     Adapter
	last  learning.Observation
}

func (g *adaptedAgent) InitAgent(obs learning.Observation) {
	g.last = obs
	g.inner.InitAgent(g.a.Features(obs))
}

func (g *adaptedAgent) IsLearning() bool { return g.inner.IsLearning() }

func (g *adaptedAgent) SampleAction() learning.Action {
	return learning.Action(g.a.Units(g.last, int(g.inner.SampleAction())))
}

func (g *adaptedAgent) Update(obs learning.Observation, reward float64) {
	g.last = obs
	g.inner.Update(g.a.Features(obs), reward)
}

// ActionProbabilities spreads the learner's distribution over its choices
// onto the unit counts they ask for (index units-1).
func (g *adaptedAgent) ActionProbabilities() []float64 {
	probs := g.inner.ActionProbabilities()
	out := make([]float64, int(g.last.Values[iJob]))
	for k, pk := range probs {
		if u := g.a.Units(g.last, k); u-1 < len(out) {
			out[u-1] += pk
		}
	}
	return out
}

func (g *adaptedAgent) AgentJoined(id learning.AgentID) { g.inner.AgentJoined(id) }
func (g *adaptedAgent) AgentLeft(id learning.AgentID)   { g.inner.AgentLeft(id) }
