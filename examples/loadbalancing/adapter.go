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
	FeatSpeed      = "speed"      // this worker's speed relative to the live workers' mean (measured once all of them are, nominal before)
	FeatRound      = "round"      // chunks handed out / workers, capped at 3, over 3: how far into the schedule
	FeatQueue      = "queue"      // requests waiting at the Master / workers, capped at 1: congestion
	FeatSlack      = "slack"      // log10(1 + unfinished work time / one round of requests), over 3, capped at 1: how much overhead the rest can absorb
)

// Features is the observation schema generic learners see through Adapter.
var Features = learning.NewSchema("loadbalancing-features/v1", FeatUnfinished, FeatPool, FeatSpeed, FeatRound, FeatQueue, FeatSlack)

// Base is what a Choice takes a multiple of.
type Base int

const (
	// FairShare is the worker's fair share of the unfinished work, U*w/P: taking
	// 1 of it keeps the worker busy until the ideal end if everyone does.
	FairShare Base = iota
	// PoolShare is the per-worker share of the work not handed out, R/P, whatever
	// the worker's speed: half of it is factoring's chunk, small enough that
	// a worker that leaves hands little back.
	PoolShare
)

// Choice is one action of a generic learner: Factor times Of.
type Choice struct {
	Of     Base
	Factor float64
}

func (c Choice) String() string {
	if c.Of == PoolShare {
		return fmt.Sprintf("%g x pool/P", c.Factor)
	}
	return fmt.Sprintf("%g x share", c.Factor)
}

// DefaultChoices are factoring's chunk and fractions of the fair share up
// to 1. None is more than the fair share: a worker that takes more
// finishes after the ideal end, which nothing later can repair, whereas
// one that takes less leaves work that others can still pick up. Offering
// more only adds cliffs to the learners' landscape (when all take 1.1 of
// their share, the last ones find the pool empty and wait idle while the
// others work 10% past the ideal end), and coordination traps: once some
// take too much, one worker taking its share alone changes nothing.
var DefaultChoices = []Choice{{PoolShare, 0.5}, {FairShare, 0.5}, {FairShare, 0.75}, {FairShare, 0.9}, {FairShare, 1}}

// QBins are bin edges over Features that make a small table for tabular
// learners: 6 x 3 x 2 = 36 states.
func QBins() map[string][]float64 {
	return map[string][]float64{
		FeatUnfinished: {0.05, 0.15, 0.3, 0.5, 0.75},
		FeatSpeed:      {0.8, 1.25},
		FeatRound:      {0.34},
	}
}

// Adapter lets a generic learner with a small discrete action space drive
// the workers, as a gym ActionWrapper and ObservationWrapper would. The
// learner sees Features; its choice k asks for
//
//	ceil(Factor * U * w / P) units for a FairShare choice,
//	ceil(Factor * R / P) units for a PoolShare choice (at most R either way),
//
// where U is the unfinished work (not handed out, or handed out and not yet
// processed), R the work not handed out, P the live workers and w the
// worker's relative speed (the Features' speed). A FairShare factor of 1
// keeps the worker busy until the ideal end if everyone does the same;
// smaller factors hedge against variance and leave work for balancing at
// the end; PoolShare 0.5, factoring's chunk, hedges against workers leaving. Like the rules of the classical
// techniques, the choices carry over between job sizes and worker counts;
// the learner's part is to choose among them by state.
type Adapter struct {
	Choices []Choice
}

// NewAdapter returns an adapter offering choices (nil: DefaultChoices).
func NewAdapter(choices []Choice) (Adapter, error) {
	if choices == nil {
		choices = DefaultChoices
	}
	if len(choices) == 0 {
		return Adapter{}, errors.New("choices: need at least one")
	}
	for _, c := range choices {
		if !(c.Factor > 0) || math.IsInf(c.Factor, 0) || (c.Of != FairShare && c.Of != PoolShare) {
			return Adapter{}, fmt.Errorf("choices: factors must be finite numbers > 0 of FairShare or PoolShare, got %v", c)
		}
	}
	return Adapter{Choices: append([]Choice(nil), choices...)}, nil
}

// Spec is what the learner is made for: Features in, one action per choice.
func (a Adapter) Spec(seed uint64) learning.Spec {
	labels := make([]string, len(a.Choices))
	for i, c := range a.Choices {
		labels[i] = c.String()
	}
	return learning.Spec{Observation: Features, Actions: learning.ActionSpace{N: len(a.Choices), Labels: labels}, Seed: seed}
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
// measured times per unit once every live worker has them, else nominal.
// A mean over the measured workers alone would compare the worker with
// whichever of the others happen to have finished a chunk (early on, with
// itself: every worker would look average).
func relativeSpeed(v []float64) float64 {
	if mu, m, inv := v[iMu], v[iMeasured], v[iInvMuSum]; mu > 0 && m > 0 && m >= v[iWorkers] && inv > 0 {
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
	c := a.Choices[k]
	base := unfinished(v) * relativeSpeed(v) / p
	if c.Of == PoolShare {
		base = r / p
	}
	x := math.Ceil(c.Factor*base - 1e-9)
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
