package loadbalancing

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/marlon-go/marlon/env"

	"github.com/marlon-go/marlon/faults"
)

// Scenario is a load-balancing problem: a job, a Master and the workers that
// share the job out, with who joins and leaves when. All times are in virtual
// time units. The JSON field names match the CLI flags.
type Scenario struct {
	// Workers is the number of workers at the start.
	Workers int `json:"workers"`
	// Speeds gives each starting worker's speed (units per unit time at unit
	// time 1). Empty: speeds are drawn uniformly from the integers
	// SpeedMin..SpeedMax with the scenario seed, as in the Marlon seed.
	Speeds   []float64 `json:"speeds,omitempty"`
	SpeedMin int       `json:"speed_min,omitempty"`
	SpeedMax int       `json:"speed_max,omitempty"`
	// Job is the number of work units.
	Job int `json:"job"`
	// UnitTime is c, the time one unit takes at speed 1 (on average: see
	// Variability).
	UnitTime float64 `json:"unit_time"`
	// CommTime is h, the time the Master takes to serve one request; it
	// serves one at a time.
	CommTime float64 `json:"comm_time"`
	// Variability is the coefficient of variation of a unit's cost; costs
	// are gamma-distributed with mean 1 and drawn per episode from its seed.
	Variability float64 `json:"variability"`
	// Joins and Leaves change the set of workers during an episode.
	Joins  []Join  `json:"joins,omitempty"`
	Leaves []Leave `json:"leaves,omitempty"`
	// Faults are injected into every episode (version v2): each episode
	// draws its own plan from its seed. The zero value injects none.
	Faults faults.Spec `json:"faults,omitzero"`

	// The dynamics of loadbalancing/v3 (perturb.go); v1 and v2 refuse a
	// scenario that has any.
	Slows        []Slow         `json:"slows,omitempty"`
	Latencies    []Latency      `json:"latencies,omitempty"`
	Perturb      []Perturbation `json:"perturb,omitempty"`
	RandomJoins  []RandomJoin   `json:"random_joins,omitempty"`
	RandomLeaves []RandomLeave  `json:"random_leaves,omitempty"`
}

// Join adds Count workers at time At, of speed Speed (0: drawn like the
// starting workers). Joined workers are numbered after the starting ones, in
// the order of their joins.
type Join struct {
	At    float64 `json:"at"`
	Count int     `json:"count"`
	Speed float64 `json:"speed,omitempty"`
}

// Leave removes worker Worker (numbered from 0) at time At. A worker that
// leaves in the middle of a chunk hands the whole chunk back.
type Leave struct {
	At     float64 `json:"at"`
	Worker int     `json:"worker"`
}

// Default is the scenario the README's main command runs: 8 workers of
// speeds drawn from 1..5, 10,000 units of cost varying by 30%, and a
// communication time that makes self-scheduling (one unit per request)
// about twenty times slower than the lower bound.
func Default() Scenario {
	return Scenario{Workers: 8, SpeedMin: 1, SpeedMax: 5, Job: 10000, UnitTime: 1, CommTime: 1, Variability: 0.3}
}

// FieldError is a value out of range, naming its field as the CLI flag
// (env.FieldError, which every environment reports bad input with).
type FieldError = env.FieldError

func bad(field, allowed string, got any) error { return env.Bad(field, allowed, got) }

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Validate checks every field and returns the first value out of range.
func (s Scenario) Validate() error {
	switch {
	case s.Workers < 1:
		return bad("workers", "must be at least 1", s.Workers)
	case s.Workers > 100000:
		return bad("workers", "must be at most 100000", s.Workers)
	case len(s.Speeds) != 0 && len(s.Speeds) != s.Workers:
		return bad("speeds", fmt.Sprintf("must list one speed per worker (%d)", s.Workers), fmt.Sprintf("%d speeds", len(s.Speeds)))
	case s.Job < 1:
		return bad("job", "must be at least 1 unit", s.Job)
	case s.Job > 100_000_000:
		return bad("job", "must be at most 100000000 units", s.Job)
	case !(s.UnitTime > 0) || !finite(s.UnitTime):
		return bad("unit-time", "must be a finite number > 0", s.UnitTime)
	case !(s.CommTime >= 0) || !finite(s.CommTime):
		return bad("comm-time", "must be a finite number >= 0", s.CommTime)
	case !(s.Variability >= 0) || s.Variability > 10:
		return bad("variability", "must be between 0 and 10", s.Variability)
	}
	for _, v := range s.Speeds {
		if !(v > 0) || !finite(v) {
			return bad("speeds", "must all be finite numbers > 0", v)
		}
		if v < MinSpeed || v > MaxSpeed {
			return bad("speeds", fmt.Sprintf("must all be between %g and %g (speeds are relative; --unit-time sets the scale)", MinSpeed, MaxSpeed), v)
		}
	}
	if len(s.Speeds) == 0 || s.drawsSpeeds() {
		if s.SpeedMin < 1 || s.SpeedMax < s.SpeedMin || s.SpeedMax > MaxSpeed {
			return bad("speeds", fmt.Sprintf("range must be MIN-MAX with 1 <= MIN <= MAX <= %g", MaxSpeed), fmt.Sprintf("%d-%d", s.SpeedMin, s.SpeedMax))
		}
	}
	total := s.Workers
	for _, j := range s.Joins {
		switch {
		case j.Count < 1:
			return bad("join", "count must be at least 1 (COUNT@TIME[:SPEED])", j.Count)
		case !(j.At >= 0) || !finite(j.At):
			return bad("join", "time must be a finite number >= 0", j.At)
		case !(j.Speed >= 0) || !finite(j.Speed):
			return bad("join", "speed must be a finite number > 0, or omitted to draw it", j.Speed)
		case j.Speed != 0 && (j.Speed < MinSpeed || j.Speed > MaxSpeed):
			return bad("join", fmt.Sprintf("speed must be between %g and %g, as every speed", MinSpeed, MaxSpeed), j.Speed)
		}
		total += j.Count
	}
	fixed := total // the workers whose arrival is known in advance
	total += s.randomJoiners()
	if total > 100000 {
		return bad("join", "must keep the total number of workers at most 100000", total)
	}
	if lo, hi := s.speedRange(); hi > MaxSpeedRatio*lo {
		field := "speeds"
		if slices.ContainsFunc(s.Joins, func(j Join) bool { return j.Speed == lo || j.Speed == hi }) {
			field = "join" // a joiner's speed makes the spread
		}
		return bad(field, fmt.Sprintf("the fastest worker must be at most %g times as fast as the slowest: one slower than that decides the makespan with any chunk it gets, and the results measure nothing else", MaxSpeedRatio), fmt.Sprintf("%g times (%g to %g)", hi/lo, lo, hi))
	}
	joined := s.joinTimes()
	gone := map[int]bool{}
	for _, l := range s.Leaves {
		switch {
		case l.Worker < 0 || l.Worker >= fixed:
			which := "the workers that exist, joiners included"
			if fixed < total {
				which += ", random joiners not"
			}
			return bad("leave", fmt.Sprintf("worker must be between 0 and %d (%s)", fixed-1, which), l.Worker)
		case !(l.At >= 0) || !finite(l.At):
			return bad("leave", "time must be a finite number >= 0", l.At)
		case l.At < joined[l.Worker]:
			return bad("leave", fmt.Sprintf("worker %d joins at %v and cannot leave before", l.Worker, joined[l.Worker]), l.At)
		case gone[l.Worker]:
			return bad("leave", "each worker can leave once", fmt.Sprintf("worker %d twice", l.Worker))
		}
		gone[l.Worker] = true
	}
	if len(gone) == total {
		return bad("leave", "must leave at least one worker to finish the job", fmt.Sprintf("all %d workers leaving", total))
	}
	if err := s.Faults.Validate(); err != nil {
		return err
	}
	return s.validateDynamics(total)
}

// The bounds of speeds: a speed is relative (UnitTime sets the scale), so
// a spread wider than this between workers is no longer a cluster of
// unequal machines but one machine that the others wait for.
const (
	MinSpeed      = 1e-3
	MaxSpeed      = 1e3
	MaxSpeedRatio = 1e3
)

// speedRange is the slowest and the fastest speed a worker can have.
func (s Scenario) speedRange() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	see := func(v float64) { lo, hi = min(lo, v), max(hi, v) }
	for _, v := range s.Speeds {
		see(v)
	}
	if len(s.Speeds) == 0 || s.drawsSpeeds() {
		see(float64(s.SpeedMin))
		see(float64(s.SpeedMax))
	}
	for _, j := range s.Joins {
		if j.Speed != 0 {
			see(j.Speed)
		}
	}
	for _, j := range s.RandomJoins {
		if j.Speed != 0 {
			see(j.Speed)
		}
	}
	return lo, hi
}

// drawsSpeeds reports whether any joiner's speed is drawn from the range.
func (s Scenario) drawsSpeeds() bool {
	for _, j := range s.Joins {
		if j.Speed == 0 {
			return true
		}
	}
	for _, j := range s.RandomJoins {
		if j.Speed == 0 {
			return true
		}
	}
	return false
}

// TotalWorkers is the number of workers that take part, joiners included.
func (s Scenario) TotalWorkers() int {
	n := s.Workers + s.randomJoiners()
	for _, j := range s.Joins {
		n += j.Count
	}
	return n
}

// joinTimes is the arrival time of each worker but the random joiners (0
// for the starting workers).
func (s Scenario) joinTimes() []float64 {
	t := make([]float64, s.Workers, s.TotalWorkers())
	for _, j := range s.Joins {
		for k := 0; k < j.Count; k++ {
			t = append(t, j.At)
		}
	}
	return t
}

// leaveTimes is the departure time of each worker but the random joiners
// (+Inf if it stays).
func (s Scenario) leaveTimes() []float64 {
	t := make([]float64, s.TotalWorkers()-s.randomJoiners())
	for i := range t {
		t[i] = math.Inf(1)
	}
	for _, l := range s.Leaves {
		t[l.Worker] = l.At
	}
	return t
}

// ResolveSpeeds returns every worker's speed, joiners included, drawing the
// unspecified ones from seed.
func (s Scenario) ResolveSpeeds(seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 0x5eed5)) // speeds have their own stream
	draw := func() float64 { return float64(s.SpeedMin + r.IntN(s.SpeedMax-s.SpeedMin+1)) }
	speeds := make([]float64, 0, s.TotalWorkers())
	for i := 0; i < s.Workers; i++ {
		if len(s.Speeds) > 0 {
			speeds = append(speeds, s.Speeds[i])
		} else {
			speeds = append(speeds, draw())
		}
	}
	for _, j := range s.Joins {
		for k := 0; k < j.Count; k++ {
			if j.Speed > 0 {
				speeds = append(speeds, j.Speed)
			} else {
				speeds = append(speeds, draw())
			}
		}
	}
	for _, j := range s.RandomJoins {
		for k := 0; k < j.Count; k++ {
			if j.Speed > 0 {
				speeds = append(speeds, j.Speed)
			} else {
				speeds = append(speeds, draw())
			}
		}
	}
	return speeds
}

// ParseSpeeds reads "1,2,3.5" (one speed per worker) or "1-5" (a range to
// draw integers from).
func ParseSpeeds(v string) (list []float64, min, max int, err error) {
	v = strings.TrimSpace(v)
	if a, b, ok := strings.Cut(v, "-"); ok && !strings.Contains(v, ",") {
		lo, err1 := strconv.Atoi(strings.TrimSpace(a))
		hi, err2 := strconv.Atoi(strings.TrimSpace(b))
		if err1 != nil || err2 != nil || lo < 1 || hi < lo {
			return nil, 0, 0, bad("speeds", "range must be MIN-MAX with integers 1 <= MIN <= MAX", v)
		}
		return nil, lo, hi, nil
	}
	for _, f := range strings.Split(v, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(x > 0) || !finite(x) {
			return nil, 0, 0, bad("speeds", "must be a comma-separated list of numbers > 0, or a range MIN-MAX", v)
		}
		list = append(list, x)
	}
	return list, 0, 0, nil
}

// ParseJoin reads COUNT@TIME or COUNT@TIME:SPEED.
func ParseJoin(v string) (Join, error) {
	cnt, rest, ok := strings.Cut(v, "@")
	if !ok {
		return Join{}, bad("join", "must be COUNT@TIME or COUNT@TIME:SPEED, e.g. 2@100", v)
	}
	at, sp, hasSpeed := strings.Cut(rest, ":")
	j := Join{}
	var err error
	if j.Count, err = strconv.Atoi(cnt); err != nil || j.Count < 1 {
		return Join{}, bad("join", "COUNT must be an integer >= 1 (COUNT@TIME[:SPEED])", v)
	}
	if j.At, err = strconv.ParseFloat(at, 64); err != nil || !(j.At >= 0) || !finite(j.At) {
		return Join{}, bad("join", "TIME must be a number >= 0 (COUNT@TIME[:SPEED])", v)
	}
	if hasSpeed {
		if j.Speed, err = strconv.ParseFloat(sp, 64); err != nil || !(j.Speed > 0) || !finite(j.Speed) {
			return Join{}, bad("join", "SPEED must be a number > 0 (COUNT@TIME[:SPEED])", v)
		}
	}
	return j, nil
}

// ParseLeave reads WORKER@TIME.
func ParseLeave(v string) (Leave, error) {
	w, at, ok := strings.Cut(v, "@")
	if !ok {
		return Leave{}, bad("leave", "must be WORKER@TIME, e.g. 3@200 (workers are numbered from 0)", v)
	}
	l := Leave{}
	var err error
	if l.Worker, err = strconv.Atoi(w); err != nil || l.Worker < 0 {
		return Leave{}, bad("leave", "WORKER must be an integer >= 0 (WORKER@TIME)", v)
	}
	if l.At, err = strconv.ParseFloat(at, 64); err != nil || !(l.At >= 0) || !finite(l.At) {
		return Leave{}, bad("leave", "TIME must be a number >= 0 (WORKER@TIME)", v)
	}
	return l, nil
}
