package loadbalancing

import (
	"errors"
	"fmt"
	"math"
	"sync"

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
	FeatPace       = "pace"       // loadbalancing/v3: this worker's speed on its last chunk over its nominal speed, capped at 2, over 2 (0.5: as nominal, and before its first chunk)
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

// FeaturesV3 are the features of loadbalancing/v3's adapters: Features,
// and the worker's pace, which tells it that it has slowed down (or sped
// up) before its measured mean shows it.
var FeaturesV3 = learning.NewSchemaOf("loadbalancing-features/v3", append(describe(Features),
	learning.Field{Name: FeatPace, About: "the worker's speed on its last chunk over its nominal speed, capped at 2, over 2 (0.5 before its first chunk)", Low: 0, High: 1, Bins: QBins()[FeatPace]},
)...)

// describe lists s's fields' descriptions.
func describe(s *learning.Schema) []learning.Field {
	var out []learning.Field
	for _, f := range s.Fields() {
		d, _ := s.Describe(f)
		out = append(out, d)
	}
	return out
}

// FeaturesOf is the feature schema of the adapters of a version of the
// dynamics.
func FeaturesOf(version string) *learning.Schema {
	if !perturbs(version) {
		return Features
	}
	return FeaturesV3
}

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
// learners: 6 x 3 x 2 = 36 states; over FeaturesV3, twice as many (slowed
// to below 80% of the nominal speed, or not).
func QBins() map[string][]float64 {
	return map[string][]float64{
		FeatUnfinished: {0.05, 0.15, 0.3, 0.5, 0.75},
		FeatSpeed:      {0.8, 1.25},
		FeatRound:      {0.34},
		FeatPace:       {0.4},
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
	// Schema is the features the learner sees: Features (nil) or
	// FeaturesV3.
	Schema *learning.Schema
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
	return learning.Spec{Observation: a.schema(), Actions: learning.ActionSpace{N: len(a.Choices), Labels: labels}}
}

func (a Adapter) schema() *learning.Schema {
	if a.Schema == nil {
		return Features
	}
	return a.Schema
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
	return features(obs, a.schema())
}

// ObserveFeatures maps a worker's observation onto schema, Features or
// FeaturesV3: what every adapter of this package shows a learner, for
// adapters made elsewhere (RegisterAdapter).
func ObserveFeatures(obs learning.Observation, schema *learning.Schema) learning.Observation {
	return features(obs, schema)
}

func features(obs learning.Observation, schema *learning.Schema) learning.Observation {
	v := obs.Values
	r, u, n, p := v[iRemaining], unfinished(v), v[iJob], math.Max(v[iWorkers], 1)
	f := make([]float64, schema.Len())
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
	if schema == FeaturesV3 {
		f[6] = 0.5
		if last := lastMu(obs); last > 0 && v[iSpeed] > 0 {
			f[6] = math.Min(v[iUnitTime]/(v[iSpeed]*last), 2) / 2
		}
	}
	return learning.Observation{Schema: schema, Values: f, Terminal: obs.Terminal}
}

// lastMu is the worker's time per unit on its last chunk, if its
// observation has it (0: none).
func lastMu(obs learning.Observation) float64 {
	if i := obs.Schema.Index(FieldLastMu); i >= 0 {
		return obs.Values[i]
	}
	return 0
}

// Units is the number of units choice k asks for, given the worker's
// observation.
func (a Adapter) Units(obs learning.Observation, k int) int {
	c := a.Choices[k]
	return share(obs.Values, c.Factor, c.Of)
}

// unfinished is the Master's estimate of the work not yet done, at least
// what it has not handed out.
func unfinished(v []float64) float64 { return math.Max(v[iUnfinish], v[iRemaining]) }

// FractionAdapter lets a generic learner choose each chunk as a fraction
// of the worker's fair share of the unfinished work, on a fine, ordered
// scale: a continuous choice, quantised. Its actions 0..Steps-1 stand, in
// order, for the Steps equal parts of the interval [0, 1] of the fraction
// x (action i for [i/Steps, (i+1)/Steps)), and action i asks for
//
//	ceil((i+1)/Steps * U * w / P) units (at least 1, at most R),
//
// the right end of its part (so that the largest is the whole fair share,
// Adapter's share-1), with U, w, P and R as for Adapter. A learner with a
// continuous head draws x in [0, 1] and takes the action of its part
// (policygradient's Beta head); any discrete learner can use it as it is.
// The Spec says so: its Params give the interval (learning.ParamLow and
// learning.ParamHigh) and its labels the fractions ("frac-0.05").
type FractionAdapter struct {
	Steps int
	// Schema is the features the learner sees: Features (nil) or
	// FeaturesV3.
	Schema *learning.Schema
}

// DefaultSteps is the number of fractions FractionAdapter offers by
// default: steps of 5% of the fair share.
const DefaultSteps = 20

var _ learning.Adapter = FractionAdapter{}

// Spec implements learning.Adapter.
func (a FractionAdapter) Spec() learning.Spec {
	labels := make([]string, a.Steps)
	for i := range labels {
		labels[i] = fmt.Sprintf("frac-%g", a.fraction(i))
	}
	return learning.Spec{
		Observation: a.schema(), Actions: learning.ActionSpace{N: a.Steps, Labels: labels},
		Params: map[string]float64{learning.ParamLow: 0, learning.ParamHigh: 1},
	}
}

func (a FractionAdapter) schema() *learning.Schema {
	if a.Schema == nil {
		return Features
	}
	return a.Schema
}

// fraction is the fraction of the fair share action i asks for, the right
// end of its part, rounded to 12 digits so that labels read well.
func (a FractionAdapter) fraction(i int) float64 {
	return math.Round(float64(i+1)/float64(a.Steps)*1e12) / 1e12
}

// Observe implements learning.Adapter: the worker's features.
func (a FractionAdapter) Observe(obs learning.Observation) learning.Observation {
	return features(obs, a.schema())
}

// Act implements learning.Adapter: the units action k asks for.
func (a FractionAdapter) Act(obs learning.Observation, k learning.Action) learning.Action {
	return learning.Action(share(obs.Values, a.fraction(int(k)), FairShare))
}

// share is ceil(factor * base) units, at least 1 and at most what is left
// to hand out (at least 1).
func share(v []float64, factor float64, of Base) int {
	r, p := v[iRemaining], math.Max(v[iWorkers], 1)
	base := unfinished(v) * relativeSpeed(v) / p
	if of == PoolShare {
		base = r / p
	}
	x := math.Ceil(factor*base - 1e-9)
	return int(math.Max(1, math.Min(x, math.Max(r, 1))))
}

// An AdapterMaker makes a view of e's workers for generic learners.
type AdapterMaker func(e *Environment) (learning.Adapter, error)

var adapters struct {
	mu    sync.RWMutex
	names []string
	about map[string]string
	make  map[string]AdapterMaker
}

// RegisterAdapter offers another adapter by name in every Environment, after
// the built-in ones (Adapters): how a package that holds algorithms, which
// this one must not depend on, offers an action space made of them (the
// learners package offers "technique", the classical techniques as
// actions). It panics if the name is taken: registration happens once, in
// an init.
func RegisterAdapter(name, about string, make AdapterMaker) {
	adapters.mu.Lock()
	defer adapters.mu.Unlock()
	if name == "" || name == ChoicesAdapter || name == FractionName || adapters.make[name] != nil {
		panic(fmt.Sprintf("loadbalancing: adapter %q registered twice", name))
	}
	if adapters.make == nil {
		adapters.about, adapters.make = map[string]string{}, map[string]AdapterMaker{}
	}
	adapters.names = append(adapters.names, name)
	adapters.about[name], adapters.make[name] = about, make
}

// AdapterAbout says in a line what the named adapter offers.
func AdapterAbout(name string) string {
	switch name {
	case "", ChoicesAdapter:
		return "five choices: 0.5, 0.75, 0.9 or 1 times the worker's fair share of the unfinished work, or factoring's half of the pool's share"
	case FractionName:
		return fmt.Sprintf("a fraction of the fair share, in %d ordered steps of %g (for a continuous head)", DefaultSteps, 1.0/DefaultSteps)
	}
	adapters.mu.RLock()
	defer adapters.mu.RUnlock()
	return adapters.about[name]
}
