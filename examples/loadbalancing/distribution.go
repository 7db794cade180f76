package loadbalancing

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Distribution is a named distribution of scenarios: each episode of an
// environment made with NewDistribution draws its own scenario from it,
// with the episode's seed (the workers, their speeds, the job, the
// communication time, the costs' variability and, on v3, the
// perturbations and the random joins and leaves). A policy trained on
// such an environment has seen many scenarios and none twice; the
// scenarios it is then evaluated on (the report's suite, or any given with
// flags) are not among them, almost surely: the draws are continuous.
//
// Times of the dynamics are drawn as fractions of the scenario's ideal
// time c*N/S (the job's work over the workers' total speed), so that they
// fall within the run whatever its length.
type Distribution struct {
	Name  string `json:"name"`
	About string `json:"about"`
	// Workers is the range of starting workers, drawn log-uniformly (as
	// many scenarios with 4 to 8 workers as with 32 to 64).
	Workers [2]int `json:"workers"`
	// SpeedMin and SpeedMax bound every worker's speed, an integer drawn
	// uniformly.
	SpeedMin int `json:"speed_min"`
	SpeedMax int `json:"speed_max"`
	// Job is drawn log-uniformly from its range, and at least 100 units
	// per worker; Variability uniformly; the unit time is 1.
	Job         [2]int     `json:"job"`
	Variability [2]float64 `json:"variability"`
	// Overhead is the range of the communication time's weight, drawn
	// log-uniformly: one round of requests (P services of h) over the
	// ideal time c*N/S. The communication time h follows: drawn as it is,
	// from a range of its own, it would make scenarios where serving every
	// worker once takes longer than the whole job, where every schedule is
	// far above the lower bound and nothing is learnt.
	Overhead [2]float64 `json:"overhead"`
	// Each of the v3 dynamics is in an episode's scenario with its
	// probability, independently: slowdowns of a quarter of the workers at
	// most (Slow), random perturbations of the speeds (on-off or a walk,
	// Perturb), latency spikes (Latency), random joins of up to half as
	// many workers again (Join), random leaves of a quarter of them at
	// most (Leave).
	Slow    float64 `json:"p_slow"`
	Perturb float64 `json:"p_perturb"`
	Latency float64 `json:"p_latency"`
	Join    float64 `json:"p_join"`
	Leave   float64 `json:"p_leave"`
}

// Distributions are the named distributions, the training one first.
func Distributions() []Distribution {
	mixed := Distribution{
		Name:    "mixed",
		About:   "4-64 workers of speeds 1-5, 2,000-50,000 units (100 per worker at least), a round of requests 0.5%-25% of the ideal time, variability 0-0.5; each of slowdowns, speed perturbations, latency spikes, random joins and random leaves in 35% of the episodes",
		Workers: [2]int{4, 64}, SpeedMin: 1, SpeedMax: 5, Job: [2]int{2000, 50000},
		Overhead: [2]float64{0.005, 0.25}, Variability: [2]float64{0, 0.5},
		Slow: 0.35, Perturb: 0.35, Latency: 0.35, Join: 0.35, Leave: 0.35,
	}
	static := mixed
	static.Name, static.About = "static", "mixed's workers, jobs and communication times, without dynamics (runs on v1 and v2 too)"
	static.Slow, static.Perturb, static.Latency, static.Join, static.Leave = 0, 0, 0, 0, 0
	return []Distribution{mixed, static}
}

// DistributionNamed returns the named distribution; the error names those
// there are.
func DistributionNamed(name string) (Distribution, error) {
	var names []string
	for _, d := range Distributions() {
		if d.Name == name {
			return d, nil
		}
		names = append(names, d.Name)
	}
	return Distribution{}, bad("distribution", "must be one of "+strings.Join(names, ", "), name)
}

// dynamic reports whether d draws any of the v3 dynamics.
func (d Distribution) dynamic() bool {
	return d.Slow > 0 || d.Perturb > 0 || d.Latency > 0 || d.Join > 0 || d.Leave > 0
}

// maxJoiners is the most workers a scenario of d has joining.
func (d Distribution) maxJoiners() int {
	if d.Join == 0 {
		return 0
	}
	return max(1, d.Workers[1]/2)
}

// Sample is the scenario of the episode seeded with seed.
func (d Distribution) Sample(seed uint64) Scenario {
	r := rand.New(rand.NewPCG(seed, 0xd157))
	logUniform := func(lo, hi float64) float64 { return math.Exp(math.Log(lo) + r.Float64()*(math.Log(hi)-math.Log(lo))) }
	uniform := func(lo, hi float64) float64 { return lo + r.Float64()*(hi-lo) }
	speed := func() float64 { return float64(d.SpeedMin + r.IntN(d.SpeedMax-d.SpeedMin+1)) }
	sc := Scenario{
		Workers:  int(math.Round(logUniform(float64(d.Workers[0]), float64(d.Workers[1])))),
		SpeedMin: d.SpeedMin, SpeedMax: d.SpeedMax,
		Job:      int(math.Round(logUniform(float64(d.Job[0]), float64(d.Job[1])))),
		UnitTime: 1, Variability: uniform(d.Variability[0], d.Variability[1]),
	}
	sc.Job = max(sc.Job, 100*sc.Workers)
	total := 0.0
	for range sc.Workers {
		s := speed()
		sc.Speeds = append(sc.Speeds, s)
		total += s
	}
	ideal := float64(sc.Job) / total
	sc.CommTime = logUniform(d.Overhead[0], d.Overhead[1]) * ideal / float64(sc.Workers)
	at := func(lo, hi float64) float64 { return uniform(lo, hi) * ideal }
	upTo := func(n int) int { return 1 + r.IntN(max(1, n)) }
	// The draws below are made whether or not a kind is in, so that one
	// kind's presence does not shift the others' draws.
	slows, onoff, latency, joins, leaves := r.Float64() < d.Slow, r.Float64() < d.Perturb, r.Float64() < d.Latency, r.Float64() < d.Join, r.Float64() < d.Leave
	if n := upTo(sc.Workers / 4); slows {
		for _, w := range r.Perm(sc.Workers)[:n] {
			sc.Slows = append(sc.Slows, Slow{Worker: w, At: at(0.05, 0.6), Factor: uniform(0.2, 0.7)})
		}
	}
	if onoff {
		if r.IntN(2) == 0 {
			sc.Perturb = append(sc.Perturb, Perturbation{Target: TargetSpeed, Model: ModelOnOff, Up: at(0.2, 0.6), Down: at(0.05, 0.3), Factor: uniform(0.2, 0.6)})
		} else {
			sc.Perturb = append(sc.Perturb, Perturbation{Target: TargetSpeed, Model: ModelWalk, Period: at(0.05, 0.2), Sigma: uniform(0.2, 0.5), Factor: 0.1})
		}
	}
	if latency {
		sc.Perturb = append(sc.Perturb, Perturbation{Target: TargetLatency, Model: ModelOnOff, Up: at(0.1, 0.4), Down: at(0.02, 0.1), Factor: uniform(3, 20)})
	}
	if n := upTo(sc.Workers / 2); joins {
		from := at(0.05, 0.3)
		sc.RandomJoins = []RandomJoin{{Count: n, From: from, To: from + at(0.05, 0.3), Speed: speed()}}
	}
	if n := upTo(sc.Workers / 4); leaves && sc.Workers > 1 {
		from := at(0.05, 0.3)
		sc.RandomLeaves = []RandomLeave{{Count: min(n, sc.Workers-1), From: from, To: from + at(0.05, 0.3)}}
	}
	for i := range sc.Perturb { // keep the draws within the flags' limits
		p := &sc.Perturb[i]
		p.Up, p.Down, p.Period = math.Max(p.Up, minDuration), math.Max(p.Down, minDuration), math.Max(p.Period, minDuration)
	}
	return sc
}

// NewDistribution returns an environment at the given version of the
// dynamics whose episodes each draw their scenario from d, with the
// episode's seed. Its agents are those of the largest scenario d draws;
// their native action space goes up to its largest job, and the Spec's
// coefficient of variation (ParamCV, for FSC) is the middle of d's range.
// Scenario returns that largest scenario.
func NewDistribution(version string, d Distribution) (*Environment, error) {
	if d.dynamic() && !perturbs(version) {
		return nil, bad("distribution", fmt.Sprintf("%s draws v3's dynamics: use --env %s/v3", d.Name, Family), version)
	}
	largest := Scenario{
		Workers: d.Workers[1] + d.maxJoiners(), SpeedMin: d.SpeedMin, SpeedMax: d.SpeedMax, Job: max(d.Job[1], 100*d.Workers[1]),
		UnitTime: 1, CommTime: 1, Variability: (d.Variability[0] + d.Variability[1]) / 2,
	}
	e, err := NewVersion(version, largest, 0)
	if err != nil {
		return nil, fmt.Errorf("distribution %s: %w", d.Name, err)
	}
	e.dist = &d
	return e, nil
}

// Distribution is the distribution e draws its episodes' scenarios from,
// or nil if it runs one scenario.
func (e *Environment) Distribution() *Distribution { return e.dist }

// draw is the environment of the episode seeded with seed, for an
// environment made with NewDistribution.
func (e *Environment) draw(seed uint64) (*Environment, error) {
	sub, err := NewVersion(e.version, e.dist.Sample(seed), seed)
	if err != nil {
		return nil, fmt.Errorf("distribution %s, episode %d: %w", e.dist.Name, seed, err)
	}
	sub.Reward, sub.OfferTimeout, sub.StartBy = e.Reward, e.OfferTimeout, e.StartBy
	return sub, nil
}
