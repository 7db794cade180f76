package loadbalancing

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

// The dynamics loadbalancing/v3 adds to v2, as in the DLS literature's
// perturbed systems: workers whose speed changes, on a schedule (Slow) or
// at random (Perturbation), a Master whose communication time changes
// (Latency, Perturbation), and workers that join and leave at random times
// drawn for each episode (RandomJoin, RandomLeave), which no agent can
// foresee. None of it is in an agent's observation ahead of time: a worker
// learns that it has slowed down by timing its chunks, and a change of the
// communication time when the Master serves it.

// Slow changes worker Worker's speed to Factor times its nominal speed from
// time At on (until its next Slow): "--slow 2@100:0.25" makes worker 2 run
// at a quarter of its speed from t = 100. A chunk in progress at At runs at
// the old speed until At and at the new one after.
type Slow struct {
	Worker int     `json:"worker"`
	At     float64 `json:"at"`
	Factor float64 `json:"factor"`
}

// Latency makes every service of the Master take Factor times the
// communication time from time At on (until the next Latency): a service
// takes the factor in force when it starts. "--latency 10@100 --latency
// 1@120" is a spike.
type Latency struct {
	At     float64 `json:"at"`
	Factor float64 `json:"factor"`
}

// Perturbation is a random process that multiplies every worker's speed
// (Target "speed"; each worker has its own draws) or the Master's
// communication time (Target "latency") by a factor that changes with time,
// drawn for each episode from its seed. Two models:
//
//   - "onoff": the factor is 1 for a time drawn from an exponential
//     distribution of mean Up, then Factor for a time of mean Down, then 1
//     again, and so on (availability: a worker shares its machine with
//     another job from time to time; a congested network);
//   - "walk": every Period the factor is multiplied by exp(Sigma*Z), Z
//     standard normal, and kept between Factor and 1 for a speed, between 1
//     and Factor for the latency (a drift).
//
// Both start at 1. On a worker they combine with its Slows by product, and
// on the Master with the Latency steps.
type Perturbation struct {
	Target string  `json:"target"`
	Model  string  `json:"model"`
	Up     float64 `json:"up,omitempty"`
	Down   float64 `json:"down,omitempty"`
	Period float64 `json:"period,omitempty"`
	Sigma  float64 `json:"sigma,omitempty"`
	Factor float64 `json:"factor"`
}

// RandomJoin adds Count workers, each at its own time drawn uniformly from
// [From, To] in every episode, of speed Speed (0: drawn like the starting
// workers, once for the environment). They are numbered after the
// scenario's Joins, in order.
type RandomJoin struct {
	Count int     `json:"count"`
	From  float64 `json:"from"`
	To    float64 `json:"to"`
	Speed float64 `json:"speed,omitempty"`
}

// RandomLeave makes Count of the starting workers leave, each at its own
// time drawn uniformly from [From, To]; which ones is drawn in every
// episode, among those that no Leave names.
type RandomLeave struct {
	Count int     `json:"count"`
	From  float64 `json:"from"`
	To    float64 `json:"to"`
}

// Perturbation targets and models.
const (
	TargetSpeed   = "speed"
	TargetLatency = "latency"
	ModelOnOff    = "onoff"
	ModelWalk     = "walk"
)

// minDuration is the shortest mean or period of a perturbation: changes
// much faster than a service are not a perturbation of the schedule but
// noise in the costs.
const minDuration = 0.01

// dynamicFlags names the v3 dynamics sc uses, by flag.
func (s Scenario) dynamicFlags() []string {
	var f []string
	for _, x := range []struct {
		name string
		used bool
	}{{"slow", len(s.Slows) > 0}, {"latency", len(s.Latencies) > 0}, {"perturb", len(s.Perturb) > 0},
		{"random-join", len(s.RandomJoins) > 0}, {"random-leave", len(s.RandomLeaves) > 0}} {
		if x.used {
			f = append(f, x.name)
		}
	}
	return f
}

// validateDynamics checks the v3 dynamics, given the number of workers
// that exist (joiners included).
func (s Scenario) validateDynamics(total int) error {
	for _, sl := range s.Slows {
		switch {
		case sl.Worker < 0 || sl.Worker >= total:
			return bad("slow", fmt.Sprintf("worker must be between 0 and %d (the workers that exist, joiners included)", total-1), sl.Worker)
		case !(sl.At >= 0) || !finite(sl.At):
			return bad("slow", "time must be a finite number >= 0", sl.At)
		case !(sl.Factor > 0) || sl.Factor > 1000:
			return bad("slow", "factor must be > 0 and at most 1000 (a fraction of the nominal speed)", sl.Factor)
		}
	}
	for _, l := range s.Latencies {
		switch {
		case !(l.At >= 0) || !finite(l.At):
			return bad("latency", "time must be a finite number >= 0", l.At)
		case !(l.Factor > 0) || l.Factor > 1e6:
			return bad("latency", "factor must be > 0 and at most 1e6 (a multiple of the communication time)", l.Factor)
		}
	}
	for _, p := range s.Perturb {
		if err := p.validate(); err != nil {
			return err
		}
	}
	for _, j := range s.RandomJoins {
		switch {
		case j.Count < 1:
			return bad("random-join", "count must be at least 1 (COUNT@FROM-TO[:SPEED])", j.Count)
		case !(j.From >= 0) || !finite(j.To) || j.To < j.From:
			return bad("random-join", "times must be 0 <= FROM <= TO, finite", fmt.Sprintf("%v-%v", j.From, j.To))
		case !(j.Speed >= 0) || !finite(j.Speed):
			return bad("random-join", "speed must be a finite number > 0, or omitted to draw it", j.Speed)
		}
	}
	left := map[int]bool{}
	for _, l := range s.Leaves {
		left[l.Worker] = true
	}
	free := 0 // starting workers no Leave names
	for i := 0; i < s.Workers; i++ {
		if !left[i] {
			free++
		}
	}
	n := 0
	for _, l := range s.RandomLeaves {
		switch {
		case l.Count < 1:
			return bad("random-leave", "count must be at least 1 (COUNT@FROM-TO)", l.Count)
		case !(l.From >= 0) || !finite(l.To) || l.To < l.From:
			return bad("random-leave", "times must be 0 <= FROM <= TO, finite", fmt.Sprintf("%v-%v", l.From, l.To))
		}
		n += l.Count
	}
	switch {
	case n > free:
		return bad("random-leave", fmt.Sprintf("can make at most the %d starting workers that no --leave names leave", free), n)
	case n > 0 && n+len(left) >= total:
		return bad("random-leave", "must leave at least one worker to finish the job", fmt.Sprintf("%d of %d workers leaving", n+len(left), total))
	}
	return nil
}

func (p Perturbation) validate() error {
	flag := func(allowed string, got any) error { return bad("perturb", allowed, got) }
	switch {
	case p.Target != TargetSpeed && p.Target != TargetLatency:
		return flag("target must be speed or latency (TARGET:MODEL:PARAMS)", p.Target)
	case p.Model == ModelOnOff:
		switch {
		case !(p.Up >= minDuration) || !finite(p.Up) || !(p.Down >= minDuration) || !finite(p.Down):
			return flag(fmt.Sprintf("onoff: UP and DOWN must be finite means >= %g", minDuration), fmt.Sprintf("%v,%v", p.Up, p.Down))
		case !(p.Factor > 0) || p.Factor > 1e6:
			return flag("onoff: FACTOR must be > 0 and at most 1e6", p.Factor)
		}
	case p.Model == ModelWalk:
		switch {
		case !(p.Period >= minDuration) || !finite(p.Period):
			return flag(fmt.Sprintf("walk: PERIOD must be a finite number >= %g", minDuration), p.Period)
		case !(p.Sigma >= 0) || p.Sigma > 10:
			return flag("walk: SIGMA must be between 0 and 10", p.Sigma)
		case p.Target == TargetSpeed && !(p.Factor > 0 && p.Factor <= 1):
			return flag("walk on a speed: FACTOR, the least factor, must be in (0, 1]", p.Factor)
		case p.Target == TargetLatency && !(p.Factor >= 1 && p.Factor <= 1e6):
			return flag("walk on the latency: FACTOR, the largest factor, must be in [1, 1e6]", p.Factor)
		}
	default:
		return flag("model must be onoff or walk (TARGET:MODEL:PARAMS)", p.Model)
	}
	return nil
}

// String writes p as the --perturb flag takes it.
func (p Perturbation) String() string {
	if p.Model == ModelWalk {
		return fmt.Sprintf("%s:%s:%g,%g,%g", p.Target, p.Model, p.Period, p.Sigma, p.Factor)
	}
	return fmt.Sprintf("%s:%s:%g,%g,%g", p.Target, p.Model, p.Up, p.Down, p.Factor)
}

// ParseSlow reads WORKER@TIME:FACTOR.
func ParseSlow(v string) (Slow, error) {
	const form = "must be WORKER@TIME:FACTOR, e.g. 2@100:0.25 (worker 2 at a quarter of its speed from t = 100)"
	w, rest, ok1 := strings.Cut(v, "@")
	at, f, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 {
		return Slow{}, bad("slow", form, v)
	}
	var s Slow
	var err1, err2, err3 error
	s.Worker, err1 = strconv.Atoi(w)
	s.At, err2 = strconv.ParseFloat(at, 64)
	s.Factor, err3 = strconv.ParseFloat(f, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return Slow{}, bad("slow", form, v)
	}
	return s, nil
}

// ParseLatency reads FACTOR@TIME.
func ParseLatency(v string) (Latency, error) {
	const form = "must be FACTOR@TIME, e.g. 5@100 (services take 5 times the communication time from t = 100)"
	f, at, ok := strings.Cut(v, "@")
	if !ok {
		return Latency{}, bad("latency", form, v)
	}
	var l Latency
	var err1, err2 error
	l.Factor, err1 = strconv.ParseFloat(f, 64)
	l.At, err2 = strconv.ParseFloat(at, 64)
	if err1 != nil || err2 != nil {
		return Latency{}, bad("latency", form, v)
	}
	return l, nil
}

// ParsePerturbation reads TARGET:MODEL:PARAMS: speed:onoff:UP,DOWN,FACTOR,
// speed:walk:PERIOD,SIGMA,MIN, latency:onoff:UP,DOWN,FACTOR or
// latency:walk:PERIOD,SIGMA,MAX.
func ParsePerturbation(v string) (Perturbation, error) {
	const form = "must be speed:onoff:UP,DOWN,FACTOR, speed:walk:PERIOD,SIGMA,MIN, latency:onoff:UP,DOWN,FACTOR or latency:walk:PERIOD,SIGMA,MAX"
	parts := strings.Split(v, ":")
	if len(parts) != 3 {
		return Perturbation{}, bad("perturb", form, v)
	}
	p := Perturbation{Target: parts[0], Model: parts[1]}
	var xs []float64
	for _, f := range strings.Split(parts[2], ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return Perturbation{}, bad("perturb", form, v)
		}
		xs = append(xs, x)
	}
	if len(xs) != 3 {
		return Perturbation{}, bad("perturb", form, v)
	}
	if p.Model == ModelWalk {
		p.Period, p.Sigma, p.Factor = xs[0], xs[1], xs[2]
	} else {
		p.Up, p.Down, p.Factor = xs[0], xs[1], xs[2]
	}
	return p, p.validate()
}

// parseWindow reads COUNT@FROM-TO[:SPEED].
func parseWindow(flag, v string, speed bool) (count int, from, to, sp float64, err error) {
	form := "must be COUNT@FROM-TO, e.g. 2@50-150"
	if speed {
		form = "must be COUNT@FROM-TO[:SPEED], e.g. 2@50-150 or 2@50-150:3"
	}
	c, rest, ok := strings.Cut(v, "@")
	if !ok {
		return 0, 0, 0, 0, bad(flag, form, v)
	}
	window, s, hasSpeed := strings.Cut(rest, ":")
	a, b, ok := strings.Cut(window, "-")
	if !ok || (hasSpeed && !speed) {
		return 0, 0, 0, 0, bad(flag, form, v)
	}
	var e1, e2, e3, e4 error
	count, e1 = strconv.Atoi(c)
	from, e2 = strconv.ParseFloat(a, 64)
	to, e3 = strconv.ParseFloat(b, 64)
	if hasSpeed {
		if sp, e4 = strconv.ParseFloat(s, 64); e4 == nil && !(sp > 0) {
			e4 = strconv.ErrRange
		}
	}
	if e1 != nil || e2 != nil || e3 != nil || e4 != nil {
		return 0, 0, 0, 0, bad(flag, form, v)
	}
	return count, from, to, sp, nil
}

// ParseRandomJoin reads COUNT@FROM-TO[:SPEED].
func ParseRandomJoin(v string) (RandomJoin, error) {
	c, from, to, sp, err := parseWindow("random-join", v, true)
	return RandomJoin{Count: c, From: from, To: to, Speed: sp}, err
}

// ParseRandomLeave reads COUNT@FROM-TO.
func ParseRandomLeave(v string) (RandomLeave, error) {
	c, from, to, _, err := parseWindow("random-leave", v, false)
	return RandomLeave{Count: c, From: from, To: to}, err
}

// Profile is a factor that changes with time, piecewise constant: a
// worker's availability (it works at its nominal speed times the factor)
// or the Master's latency (a service takes the communication time times
// the factor in force when it starts). It is the product of its sources
// (steps given in advance, random processes), computed as far as it is
// asked about: a random process has no end. The same sources and seed make
// the same profile, however far and in whatever order it is asked.
//
// A Profile is not safe for concurrent use: each actor, and the lower
// bound, makes its own.
type Profile struct {
	times   []float64 // times[0] = 0, ascending: when the factor changes
	factors []float64 // the factor from times[i] until times[i+1]
	srcs    []source
	pending []change // each source's next change
	cur     []float64
	ended   bool // no source changes any more
}

// source is a piecewise-constant factor, from 1 at time 0: its changes in
// order of time.
type source interface {
	next() (change, bool)
}

type change struct{ at, factor float64 }

// newProfile returns the product of srcs, or nil if there are none (a
// factor of 1 throughout).
func newProfile(srcs ...source) *Profile {
	if len(srcs) == 0 {
		return nil
	}
	p := &Profile{srcs: srcs, pending: make([]change, len(srcs)), cur: make([]float64, len(srcs))}
	for i, s := range srcs {
		p.cur[i] = 1
		if c, ok := s.next(); ok {
			p.pending[i] = c
		} else {
			p.pending[i].at = math.Inf(1)
		}
	}
	p.times, p.factors = []float64{0}, []float64{1}
	p.extend() // the changes at time 0, if any, and the first one after
	return p
}

// extend adds the next change, or marks the end.
func (p *Profile) extend() {
	for !p.ended {
		at := math.Inf(1)
		for _, c := range p.pending {
			at = math.Min(at, c.at)
		}
		if math.IsInf(at, 1) {
			p.ended = true
			return
		}
		for i, c := range p.pending {
			for c.at == at {
				p.cur[i] = c.factor
				var ok bool
				if c, ok = p.srcs[i].next(); !ok {
					c.at = math.Inf(1)
				}
				p.pending[i] = c
			}
		}
		f := 1.0
		for _, x := range p.cur {
			f *= x
		}
		last := len(p.times) - 1
		switch {
		case at <= p.times[last]: // at time 0: the starting factor
			p.factors[last] = f
		case f != p.factors[last]:
			p.times, p.factors = append(p.times, at), append(p.factors, f)
			return
		} // otherwise no change after all: on to the next
	}
}

// segment returns the index of the piece that holds t (>= 0), extending the
// profile past t.
func (p *Profile) segment(t float64) int {
	for !p.ended && p.times[len(p.times)-1] <= t {
		p.extend()
	}
	return sort.SearchFloat64s(p.times, math.Nextafter(t, math.Inf(1))) - 1
}

// At is the factor in force at time t >= 0.
func (p *Profile) At(t float64) float64 {
	if p == nil {
		return 1
	}
	return p.factors[p.segment(t)]
}

// Next is the first time after t at which the factor changes (+Inf: never).
func (p *Profile) Next(t float64) float64 {
	if p == nil {
		return math.Inf(1)
	}
	if i := p.segment(t) + 1; i < len(p.times) {
		return p.times[i]
	}
	return math.Inf(1)
}

// Finish is when a worker of nominal speed that starts work of the given
// size (cost times unit time) at t0 finishes it: the T at which the
// integral of speed times the factor from t0 reaches work.
func (p *Profile) Finish(t0, work, speed float64) float64 {
	if p == nil {
		return t0 + work/speed
	}
	t := t0
	for i := p.segment(t0); ; i++ {
		if i+1 == len(p.times) {
			p.extend()
		}
		rate := speed * p.factors[i]
		end := math.Inf(1)
		if i+1 < len(p.times) {
			end = p.times[i+1]
		}
		if done := rate * (end - t); done >= work {
			return t + work/rate
		} else {
			work -= done
		}
		t = end
	}
}

// steps is a source of changes given in advance: the factor becomes each
// change's from its time on.
type steps []change

func (s *steps) next() (change, bool) {
	if len(*s) == 0 {
		return change{}, false
	}
	c := (*s)[0]
	*s = (*s)[1:]
	return c, true
}

// onoff is the onoff model's process.
type onoff struct {
	r              *rand.Rand
	up, down, f, t float64
	off            bool
}

func (o *onoff) next() (change, bool) {
	mean, factor := o.up, o.f
	if o.off {
		mean, factor = o.down, 1
	}
	o.t += o.r.ExpFloat64() * mean
	o.off = !o.off
	return change{o.t, factor}, true
}

// walk is the walk model's process.
type walk struct {
	r                        *rand.Rand
	period, sigma, lo, hi, t float64
	f                        float64
}

func (w *walk) next() (change, bool) {
	w.t += w.period
	w.f = math.Min(w.hi, math.Max(w.lo, w.f*math.Exp(w.sigma*w.r.NormFloat64())))
	return change{w.t, w.f}, true
}

// process returns p's random process for the episode seeded with seed, on
// worker id (-1: the Master).
func (p Perturbation) process(seed uint64, id, k int) source {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d/%d", p.Target, id, k)
	r := rand.New(rand.NewPCG(seed, h.Sum64()))
	if p.Model == ModelWalk {
		lo, hi := p.Factor, 1.0
		if p.Target == TargetLatency {
			lo, hi = 1, p.Factor
		}
		return &walk{r: r, period: p.Period, sigma: p.Sigma, lo: lo, hi: hi, f: 1}
	}
	return &onoff{r: r, up: p.Up, down: p.Down, f: p.Factor}
}

// speedProfile is worker id's availability in the episode seeded with
// seed: its Slows, in order of time, and the speed perturbations. Nil if
// neither touches it.
func speedProfile(seed uint64, id int, slows []Slow, perturb []Perturbation) *Profile {
	var st steps
	for _, s := range slows {
		if s.Worker == id {
			st = append(st, change{s.At, s.Factor})
		}
	}
	sort.SliceStable(st, func(i, j int) bool { return st[i].at < st[j].at })
	var srcs []source
	if len(st) > 0 {
		srcs = append(srcs, &st)
	}
	for k, p := range perturb {
		if p.Target == TargetSpeed {
			srcs = append(srcs, p.process(seed, id, k))
		}
	}
	return newProfile(srcs...)
}

// latencyProfile is the Master's latency in the episode seeded with seed.
// Nil if the scenario does not change it.
func (s Scenario) latencyProfile(seed uint64) *Profile {
	var st steps
	for _, l := range s.Latencies {
		st = append(st, change{l.At, l.Factor})
	}
	sort.SliceStable(st, func(i, j int) bool { return st[i].at < st[j].at })
	var srcs []source
	if len(st) > 0 {
		srcs = append(srcs, &st)
	}
	for k, p := range s.Perturb {
		if p.Target == TargetLatency {
			srcs = append(srcs, p.process(seed, -1, k))
		}
	}
	return newProfile(srcs...)
}

// minLatency is a least factor of the Master's latency: every service
// takes at least CommTime times it. (The product of the least factor of
// each source, the steps' counting the 1 before the first.)
func (s Scenario) minLatency() float64 {
	f := 1.0
	for _, l := range s.Latencies {
		f = math.Min(f, l.Factor)
	}
	for _, p := range s.Perturb {
		if p.Target == TargetLatency && p.Model == ModelOnOff {
			f *= math.Min(1, p.Factor)
		} // a walk on the latency stays at 1 or above
	}
	return f
}

// schedule is one episode's arrivals and departures: when each worker
// joins (0 for the starting ones) and leaves (+Inf: it stays), the random
// ones drawn from the episode's seed.
type schedule struct {
	joins, leaves []float64
}

// schedule resolves the arrivals and departures of the episode seeded with
// seed.
func (s Scenario) schedule(seed uint64) schedule {
	sch := schedule{joins: s.joinTimes(), leaves: s.leaveTimes()}
	if len(s.RandomJoins) == 0 && len(s.RandomLeaves) == 0 {
		return sch
	}
	r := rand.New(rand.NewPCG(seed, 0x5c4ed01e))
	uniform := func(a, b float64) float64 { return a + (b-a)*r.Float64() }
	for _, j := range s.RandomJoins {
		for k := 0; k < j.Count; k++ {
			sch.joins = append(sch.joins, uniform(j.From, j.To))
			sch.leaves = append(sch.leaves, math.Inf(1))
		}
	}
	var free []int // starting workers no Leave names
	for i := 0; i < s.Workers; i++ {
		if math.IsInf(sch.leaves[i], 1) {
			free = append(free, i)
		}
	}
	for _, l := range s.RandomLeaves {
		for k := 0; k < l.Count; k++ {
			i := r.IntN(len(free))
			sch.leaves[free[i]] = uniform(l.From, l.To)
			free = append(free[:i], free[i+1:]...)
		}
	}
	return sch
}

// expectedTimes are every worker's arrival and departure times, the
// random joiners arriving at the start of their window and the random
// leavers staying: a schedule that does not depend on the episode, for
// estimates (the horizon fault plans are drawn for).
func (s Scenario) expectedTimes() (joins, leaves []float64) {
	joins, leaves = s.joinTimes(), s.leaveTimes()
	for _, j := range s.RandomJoins {
		for k := 0; k < j.Count; k++ {
			joins, leaves = append(joins, j.From), append(leaves, math.Inf(1))
		}
	}
	return joins, leaves
}

// randomJoiners is the number of workers RandomJoins add.
func (s Scenario) randomJoiners() int {
	n := 0
	for _, j := range s.RandomJoins {
		n += j.Count
	}
	return n
}
