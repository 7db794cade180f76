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

// Features is the observation schema generic learners see through Adapter,
// with the bins of QBins for tabular learners.
var Features = learning.NewSchemaOf("loadbalancing-features/v1",
	learning.Field{Name: FeatUnfinished, About: "fraction of the job not yet done", Low: 0, High: 1, Bins: QBins()[FeatUnfinished]},
	learning.Field{Name: FeatPool, About: "fraction of the unfinished work not yet handed out", Low: 0, High: 1},
	learning.Field{Name: FeatSpeed, About: "the worker's speed over the live workers' mean", Bins: QBins()[FeatSpeed]},
	learning.Field{Name: FeatRound, About: "chunks handed out per worker, capped at 3, over 3", Low: 0, High: 1, Bins: QBins()[FeatRound]},
	learning.Field{Name: FeatQueue, About: "requests waiting at the Master per worker, capped at 1", Low: 0, High: 1},
	learning.Field{Name: FeatSlack, About: "log10(1 + unfinished work time / one round of requests) / 3, capped at 1", Low: 0, High: 1},
)

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

// String is the choice's label in the learners' action space: "share-0.75"
// for 0.75 times the fair share, "pool-0.5" for half the pool's
// per-worker share (the baseline that always takes it is
// "fixed:share-0.75").
func (c Choice) String() string {
	if c.Of == PoolShare {
		return fmt.Sprintf("pool-%g", c.Factor)
	}
	return fmt.Sprintf("share-%g", c.Factor)
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

var _ learning.Adapter = Adapter{}

// Spec implements learning.Adapter: Features in, one action per choice.
func (a Adapter) Spec() learning.Spec {
	labels := make([]string, len(a.Choices))
	for i, c := range a.Choices {
		labels[i] = c.String()
	}
	return learning.Spec{Observation: Features, Actions: learning.ActionSpace{N: len(a.Choices), Labels: labels}}
}

// Observe implements learning.Adapter: the worker's Features.
func (a Adapter) Observe(obs learning.Observation) learning.Observation { return a.Features(obs) }

// Act implements learning.Adapter: the units choice k asks for.
func (a Adapter) Act(obs learning.Observation, k learning.Action) learning.Action {
	return learning.Action(a.Units(obs, int(k)))
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
