package loadbalancing

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/marlon-go/marlon/faults"
	"github.com/marlon-go/marlon/learning"
)

func TestProfileStepsAndTheWorkTheyAllow(t *testing.T) {
	st := steps{{10, 0.5}, {30, 2}}
	p := newProfile(&st)
	for _, c := range []struct{ t, f, next float64 }{{0, 1, 10}, {9.99, 1, 10}, {10, 0.5, 30}, {29, 0.5, 30}, {30, 2, math.Inf(1)}, {1e9, 2, math.Inf(1)}} {
		if f, n := p.At(c.t), p.Next(c.t); f != c.f || n != c.next {
			t.Errorf("at %v: factor %v, next change %v; want %v, %v", c.t, f, n, c.f, c.next)
		}
	}
	// Speed 2: 20 of work by 10, then 1 per unit of time until 30, then 4.
	for _, c := range []struct{ t0, work, want float64 }{{0, 10, 5}, {0, 20, 10}, {0, 30, 20}, {0, 40, 30}, {0, 48, 32}, {5, 10, 10}, {12, 8, 20}, {35, 4, 36}} {
		if got := p.Finish(c.t0, c.work, 2); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("work %v from %v at speed 2: done at %v, want %v", c.work, c.t0, got, c.want)
		}
	}
	// A step at 0 sets the starting factor; a step to the same factor
	// changes nothing.
	st2 := steps{{0, 0.25}, {5, 0.25}, {8, 1}}
	q := newProfile(&st2)
	if q.At(0) != 0.25 || q.Next(0) != 8 || q.At(8) != 1 {
		t.Fatalf("steps from 0: at 0 %v, next %v, at 8 %v", q.At(0), q.Next(0), q.At(8))
	}
	// Products: the factors multiply, and a nil profile is 1 throughout.
	a, b := steps{{2, 0.5}}, steps{{4, 3}}
	if r := newProfile(&a, &b); r.At(1) != 1 || r.At(3) != 0.5 || r.At(5) != 1.5 {
		t.Fatalf("product: %v %v %v", r.At(1), r.At(3), r.At(5))
	}
	var none *Profile
	if none.At(7) != 1 || none.Finish(3, 10, 2) != 8 || !math.IsInf(none.Next(0), 1) || newProfile() != nil {
		t.Fatal("a nil profile is a factor of 1")
	}
}

func TestRandomProfilesAreReproducibleAndStayInBounds(t *testing.T) {
	on := Perturbation{Target: TargetSpeed, Model: ModelOnOff, Up: 30, Down: 10, Factor: 0.2}
	walk := Perturbation{Target: TargetLatency, Model: ModelWalk, Period: 5, Sigma: 0.5, Factor: 3}
	// Asked in another order, or further, the same profile.
	p1, p2 := speedProfile(7, 2, nil, []Perturbation{on}), speedProfile(7, 2, nil, []Perturbation{on})
	p2.At(5000)
	for _, x := range []float64{4000, 10, 2500, 0, 333} {
		if p1.At(x) != p2.At(x) || p1.Next(x) != p2.Next(x) {
			t.Fatalf("at %v: %v/%v and %v/%v", x, p1.At(x), p1.Next(x), p2.At(x), p2.Next(x))
		}
	}
	if other := speedProfile(7, 3, nil, []Perturbation{on}); other.Next(0) == p1.Next(0) {
		t.Fatal("two workers drew the same perturbation")
	}
	// On-off: 1 or Factor, off for a share Down/(Up+Down) of the time.
	off, total := 0.0, 0.0
	for x := 0.0; x < 1e5; {
		n := math.Min(p1.Next(x), 1e5)
		switch f := p1.At(x); f {
		case 0.2:
			off += n - x
		case 1:
		default:
			t.Fatalf("on-off factor %v", f)
		}
		total += n - x
		x = n
	}
	if share := off / total; math.Abs(share-0.25) > 0.02 {
		t.Fatalf("off %.3f of the time, want about 0.25", share)
	}
	// A walk of the latency stays in [1, Factor], changing every Period.
	sc := Scenario{Perturb: []Perturbation{walk}}
	lp := sc.latencyProfile(1)
	moved := false
	for x := 0.0; x < 2000; x += 5 {
		f := lp.At(x)
		if f < 1 || f > 3 {
			t.Fatalf("latency factor %v at %v, outside [1, 3]", f, x)
		}
		if n := lp.Next(x); n != math.Inf(1) && math.Mod(n, 5) != 0 {
			t.Fatalf("a change at %v, not at a multiple of the period", n)
		}
		moved = moved || f > 1
	}
	if !moved || sc.minLatency() != 1 {
		t.Fatalf("the walk never moved (%v) or its least factor is %v", moved, sc.minLatency())
	}
}

// recorder takes a fixed number of units and records what it observed.
type recorder struct {
	fixed
	seen *[]learning.Observation
}

func (r *recorder) InitAgent(obs learning.Observation) { *r.seen = append(*r.seen, obs.Clone()) }
func (r *recorder) Update(obs learning.Observation, _ float64) {
	*r.seen = append(*r.seen, obs.Clone())
}

func TestSlowdownAppliesAtItsTime(t *testing.T) {
	// One worker of speed 2 takes the whole job (100 units of cost 1) at
	// t = 1; from t = 11 it runs at a quarter of its speed: 20 units done
	// by then, the other 80 at 0.5 take 160. Done at 171, which is also
	// the lower bound (one worker, served at once).
	sc := Scenario{Workers: 1, Speeds: []float64{2}, Job: 100, UnitTime: 1, CommTime: 1, Slows: []Slow{{Worker: 0, At: 11, Factor: 0.25}}}
	var seen []learning.Observation
	res := run(t, sc, 1, func(learning.AgentID) learning.LearningAlgorithm { return &recorder{fixed{100}, &seen} })
	if res.Makespan != 171 || res.LowerBound != 171 {
		t.Fatalf("makespan %v, lower bound %v; want 171 and 171", res.Makespan, res.LowerBound)
	}
	// The worker measured what happened: 170 time units for 100 units.
	last := seen[len(seen)-1]
	if mu := last.Get(FieldMu); math.Abs(mu-1.7) > 1e-12 {
		t.Fatalf("measured time per unit %v, want 1.7", mu)
	}
	if mu := last.Get(FieldLastMu); math.Abs(mu-1.7) > 1e-12 {
		t.Fatalf("last chunk's time per unit %v, want 1.7", mu)
	}
	// The same on v1 or v2 is refused, naming the flag and the version.
	for _, v := range []string{"v1", "v2"} {
		_, err := NewVersion(v, sc, 1)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "slow" || !strings.Contains(err.Error(), "v3") {
			t.Fatalf("%s with a slowdown: %v", v, err)
		}
	}
	// Chunks of 10 (5 time units each at speed 2): granted at 1, done at
	// 6; granted at 7, 8 units done by 11 and 2 at speed 0.5: done at 15;
	// granted at 16, all at 0.5: done at 36.
	res = run(t, sc, 1, fixedAgents(10))
	var done []float64
	for _, c := range res.History[:3] {
		done = append(done, c.Done)
	}
	if !reflect.DeepEqual(done, []float64{6, 15, 36}) {
		t.Fatalf("the first chunks were done at %v, want [6 15 36]", done)
	}
}

func TestLatencyAppliesAtItsTime(t *testing.T) {
	// One worker of speed 1, chunks of 10 units, services of 1 until 25
	// and of 5 after: granted at 1, 12, 23 (services at 0, 11, 22), then
	// the service at 33 takes 5: granted at 38, done at 48.
	sc := Scenario{Workers: 1, Speeds: []float64{1}, Job: 40, UnitTime: 1, CommTime: 1, Latencies: []Latency{{At: 25, Factor: 5}}}
	var seen []learning.Observation
	res := run(t, sc, 1, func(learning.AgentID) learning.LearningAlgorithm { return &recorder{fixed{10}, &seen} })
	var granted []float64
	for _, c := range res.History {
		granted = append(granted, c.Granted)
	}
	if !reflect.DeepEqual(granted, []float64{1, 12, 23, 38}) || res.Makespan != 48 {
		t.Fatalf("granted at %v, makespan %v; want [1 12 23 38] and 48", granted, res.Makespan)
	}
	// The agent is told the communication time of the service that serves
	// it: 1 until the one at 33.
	var comm []float64
	for _, o := range seen[:4] {
		comm = append(comm, o.Get(FieldCommTime))
	}
	if !reflect.DeepEqual(comm, []float64{1, 1, 1, 5}) {
		t.Fatalf("observed communication times %v, want [1 1 1 5]", comm)
	}
}

func TestRandomJoinsAndLeavesAreDrawnPerEpisode(t *testing.T) {
	sc := Default()
	sc.Job = 2000
	sc.RandomJoins = []RandomJoin{{Count: 2, From: 20, To: 60}}
	sc.RandomLeaves = []RandomLeave{{Count: 3, From: 10, To: 50}}
	sc.Leaves = []Leave{{At: 5, Worker: 0}}
	if n := sc.TotalWorkers(); n != 10 {
		t.Fatalf("%d workers, want 10", n)
	}
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 8; seed++ {
		res := run(t, sc, seed, fixedAgents(30))
		again := run(t, sc, seed, fixedAgents(30))
		if !reflect.DeepEqual(res.Workers, again.Workers) {
			t.Fatalf("seed %d: two different episodes", seed)
		}
		left, key := 0, ""
		for _, w := range res.Workers {
			switch {
			case w.ID >= 8 && (w.Joined < 20 || w.Joined > 60):
				t.Fatalf("seed %d: random joiner %d joined at %v, outside [20, 60]", seed, w.ID, w.Joined)
			case w.ID >= 8 && w.Left:
				t.Fatalf("seed %d: a random joiner left", seed)
			case w.ID == 0 && w.LeftAt != 5:
				t.Fatalf("seed %d: worker 0 left at %v, want 5 (its --leave)", seed, w.LeftAt)
			case w.ID > 0 && w.Left:
				left++
				if w.LeftAt < 10 || w.LeftAt > 50 {
					t.Fatalf("seed %d: worker %d left at %v, outside [10, 50]", seed, w.ID, w.LeftAt)
				}
				key += string(rune('0' + w.ID))
			}
			if w.ID >= 8 {
				key += "@" + string(rune('0'+int(w.Joined)/10))
			}
		}
		if left != 3 || len(res.Workers) != 10 || res.UnitsDone != 2000 {
			t.Fatalf("seed %d: %d random leaves of %d workers, %d units", seed, left, len(res.Workers), res.UnitsDone)
		}
		seen[key] = true
	}
	if len(seen) < 4 {
		t.Fatalf("8 episodes drew only %d schedules: the draws do not depend on the episode", len(seen))
	}
}

func TestV3WithoutItsDynamicsIsV1AndV2(t *testing.T) {
	sc := Default()
	sc.Job = 3000
	sc.Joins = []Join{{At: 50, Count: 2}}
	sc.Leaves = []Leave{{At: 80, Worker: 2}}
	agents := func(id learning.AgentID) learning.LearningAlgorithm {
		return &random{r: rand.New(rand.NewPCG(5, uint64(len(id)))), max: 300, t: t}
	}
	var results []Result
	for _, v := range Versions() {
		e, _ := NewVersion(v, sc, 4)
		r, err := e.Run(4, agents)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, r)
		want := Schema
		if perturbs(v) {
			want = SchemaV3
		}
		if e.Spec(AgentID(0)).Observation != want {
			t.Fatalf("%s observes %s", v, e.Spec(AgentID(0)).Observation.Name())
		}
	}
	for i, r := range results[1:] {
		if !reflect.DeepEqual(results[0].History, r.History) || results[0].Makespan != r.Makespan || results[0].LowerBound != r.LowerBound {
			t.Fatalf("v1 and %s differ on a scenario without perturbations: makespans %v and %v", Versions()[i+1], results[0].Makespan, r.Makespan)
		}
	}
}

func TestWorkIsConservedUnderRandomPerturbations(t *testing.T) {
	slowed := 0
	for seed := uint64(1); seed <= 200; seed++ {
		r := rand.New(rand.NewPCG(seed, 77))
		sc := Scenario{
			Workers: 1 + r.IntN(8), SpeedMin: 1, SpeedMax: 5, Job: 1 + r.IntN(3000),
			UnitTime: 0.1 + r.Float64(), CommTime: r.Float64() * 2, Variability: r.Float64(),
		}
		if r.IntN(2) == 0 {
			sc.Joins = []Join{{At: r.Float64() * 200, Count: 1 + r.IntN(3)}}
		}
		if r.IntN(2) == 0 {
			sc.RandomJoins = []RandomJoin{{Count: 1 + r.IntN(2), From: r.Float64() * 50, To: 50 + r.Float64()*200}}
		}
		total := sc.TotalWorkers()
		for k := r.IntN(4); k > 0; k-- {
			sc.Slows = append(sc.Slows, Slow{Worker: r.IntN(total), At: r.Float64() * 300, Factor: 0.05 + r.Float64()*2})
		}
		for k := r.IntN(3); k > 0; k-- {
			sc.Latencies = append(sc.Latencies, Latency{At: r.Float64() * 300, Factor: 0.2 + r.Float64()*10})
		}
		switch r.IntN(4) {
		case 0:
			sc.Perturb = append(sc.Perturb, Perturbation{Target: TargetSpeed, Model: ModelOnOff, Up: 1 + r.Float64()*100, Down: 1 + r.Float64()*50, Factor: 0.05 + r.Float64()})
		case 1:
			sc.Perturb = append(sc.Perturb, Perturbation{Target: TargetSpeed, Model: ModelWalk, Period: 1 + r.Float64()*30, Sigma: r.Float64(), Factor: 0.1})
		case 2:
			sc.Perturb = append(sc.Perturb, Perturbation{Target: TargetLatency, Model: ModelOnOff, Up: 5 + r.Float64()*50, Down: 1 + r.Float64()*20, Factor: 1 + r.Float64()*20})
		}
		fixed := total - sc.randomJoiners()
		joins := sc.joinTimes()
		for _, w := range r.Perm(fixed)[:r.IntN(fixed)] {
			sc.Leaves = append(sc.Leaves, Leave{At: joins[w] + r.Float64()*300, Worker: w})
		}
		if free := sc.Workers - len(sc.Leaves); free > 1 && r.IntN(2) == 0 && len(sc.Leaves)+1 < total {
			sc.RandomLeaves = []RandomLeave{{Count: 1, From: 0, To: 200}}
			for _, l := range sc.Leaves {
				if l.Worker >= sc.Workers {
					sc.RandomLeaves = nil // keep it simple: leaves among the starting workers only
				}
			}
		}
		if err := sc.Validate(); err != nil {
			continue // a draw that leaves nobody to finish
		}
		max := 1 + r.IntN(sc.Job)
		agents := func(id learning.AgentID) learning.LearningAlgorithm {
			return &random{r: rand.New(rand.NewPCG(seed, uint64(len(id)))), max: max, t: t}
		}
		res := run(t, sc, seed, agents)
		granted := 0
		for _, c := range res.History {
			granted += c.Units
		}
		if res.UnitsDone != sc.Job || res.UnitsReported != sc.Job || res.Duplicates != 0 || granted != sc.Job+res.Returned {
			t.Fatalf("seed %d %+v: done %d reported %d duplicates %d granted %d returned %d",
				seed, sc, res.UnitsDone, res.UnitsReported, res.Duplicates, granted, res.Returned)
		}
		if err := res.CheckLedger(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if res.Ratio < 1-1e-9 {
			t.Fatalf("seed %d %+v: makespan %v below the lower bound %v", seed, sc, res.Makespan, res.LowerBound)
		}
		if len(sc.Slows) > 0 || len(sc.Perturb) > 0 {
			slowed++
		}
	}
	if slowed < 100 {
		t.Fatalf("only %d of 200 episodes were perturbed", slowed)
	}
}

func TestLowerBoundVaryingIsBelowEveryTechniqueLike(t *testing.T) {
	// Constant profiles give LowerBound exactly; a worker slowed to half
	// its speed from 0 counts as one of half the speed.
	inf := math.Inf(1)
	speeds, joins, leaves := []float64{1, 3, 2}, []float64{0, 0, 5}, []float64{inf, 40, inf}
	half := steps{{0, 0.5}}
	if a, b := LowerBound(speeds, joins, leaves, 2, 100), LowerBoundVarying(speeds, []*Profile{nil, nil, nil}, joins, leaves, 2, 100); a != b {
		t.Fatalf("no profiles: %v and %v", a, b)
	}
	if a, b := LowerBound([]float64{1, 1.5, 2}, joins, leaves, 2, 100), LowerBoundVarying(speeds, []*Profile{nil, newProfile(&half), nil}, joins, leaves, 2, 100); math.Abs(a-b) > 1e-12 {
		t.Fatalf("half speed throughout: %v and %v", a, b)
	}
	// Workers that speed up late: 1 worker of speed 1 from h = 1 doing 10
	// until 11, then at speed 3: 30 more by 21.
	late := steps{{11, 3}}
	if got := LowerBoundVarying([]float64{1}, []*Profile{newProfile(&late)}, []float64{0}, []float64{inf}, 1, 40); got != 21 {
		t.Fatalf("speed-up: %v, want 21", got)
	}
	// A worker that leaves while others' perturbations go on for ever:
	// the bound is still found (and +Inf once nobody is left).
	onoff := Perturbation{Target: TargetSpeed, Model: ModelOnOff, Up: 5, Down: 5, Factor: 0.5}
	p := []*Profile{speedProfile(1, 0, nil, []Perturbation{onoff})}
	if got := LowerBoundVarying([]float64{1}, p, []float64{0}, []float64{20}, 1, 1000); !math.IsInf(got, 1) {
		t.Fatalf("nobody left: %v, want +Inf", got)
	}
}

func TestParseDynamics(t *testing.T) {
	if s, err := ParseSlow("2@100:0.25"); err != nil || s != (Slow{Worker: 2, At: 100, Factor: 0.25}) {
		t.Fatalf("slow: %+v %v", s, err)
	}
	if l, err := ParseLatency("5@100"); err != nil || l != (Latency{At: 100, Factor: 5}) {
		t.Fatalf("latency: %+v %v", l, err)
	}
	if p, err := ParsePerturbation("speed:onoff:100,30,0.25"); err != nil || p != (Perturbation{Target: "speed", Model: "onoff", Up: 100, Down: 30, Factor: 0.25}) {
		t.Fatalf("perturb: %+v %v", p, err)
	}
	if p, err := ParsePerturbation("latency:walk:10,0.3,4"); err != nil || p.String() != "latency:walk:10,0.3,4" {
		t.Fatalf("perturb: %+v %v", p, err)
	}
	if j, err := ParseRandomJoin("2@50-150:3"); err != nil || j != (RandomJoin{Count: 2, From: 50, To: 150, Speed: 3}) {
		t.Fatalf("random join: %+v %v", j, err)
	}
	if l, err := ParseRandomLeave("1@0-200"); err != nil || l != (RandomLeave{Count: 1, From: 0, To: 200}) {
		t.Fatalf("random leave: %+v %v", l, err)
	}
	for _, bad := range []string{"2@100", "x@1:1", "2:100@1"} {
		if _, err := ParseSlow(bad); err == nil {
			t.Errorf("ParseSlow(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"speed:onoff:1,2", "disk:onoff:1,2,3", "speed:jump:1,2,3", "speed:walk:10,0.3,2", "latency:walk:10,0.3,0.5", "speed:onoff:0,1,0.5"} {
		if _, err := ParsePerturbation(bad); err == nil {
			t.Errorf("ParsePerturbation(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"2@50", "2@150-50x", "x@1-2", "2@1-2:0"} {
		if _, err := ParseRandomJoin(bad); err == nil {
			t.Errorf("ParseRandomJoin(%q) accepted", bad)
		}
	}
	if _, err := ParseRandomLeave("1@1-2:3"); err == nil {
		t.Error("a random leave takes no speed")
	}
	// Out of range in a scenario: the flag is named.
	for _, c := range []struct {
		field string
		edit  func(*Scenario)
	}{
		{"slow", func(s *Scenario) { s.Slows = []Slow{{Worker: 8, At: 1, Factor: 0.5}} }},
		{"slow", func(s *Scenario) { s.Slows = []Slow{{Worker: 1, At: 1, Factor: 0}} }},
		{"latency", func(s *Scenario) { s.Latencies = []Latency{{At: -1, Factor: 2}} }},
		{"random-join", func(s *Scenario) { s.RandomJoins = []RandomJoin{{Count: 1, From: 5, To: 2}} }},
		{"random-leave", func(s *Scenario) { s.RandomLeaves = []RandomLeave{{Count: 8, From: 0, To: 2}} }},
		{"random-leave", func(s *Scenario) {
			s.Leaves = []Leave{{At: 1, Worker: 0}}
			s.RandomLeaves = []RandomLeave{{Count: 8, From: 0, To: 2}}
		}},
		{"leave", func(s *Scenario) {
			s.RandomJoins = []RandomJoin{{Count: 1, From: 0, To: 2}}
			s.Leaves = []Leave{{At: 5, Worker: 8}} // a random joiner: when it joins is not known
		}},
	} {
		sc := Default()
		c.edit(&sc)
		var fe *FieldError
		if err := sc.Validate(); !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%+v: got %v, want an error about --%s", sc, err, c.field)
		}
	}
}

// Faults (v2) and perturbations (v3) together: work is still conserved,
// the reports agree with the ledger, and no ratio falls below 1.
func TestWorkIsConservedUnderFaultsAndPerturbations(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		r := rand.New(rand.NewPCG(seed, 78))
		sc := Default()
		sc.Job, sc.Workers = 500+r.IntN(3000), 2+r.IntN(8)
		sc.Faults = faults.Spec{Intensity: []faults.Intensity{faults.Light, faults.Medium, faults.Chaos}[r.IntN(3)]}
		sc.Slows = []Slow{{Worker: r.IntN(sc.Workers), At: r.Float64() * 100, Factor: 0.1 + r.Float64()}}
		sc.Perturb = []Perturbation{{Target: TargetLatency, Model: ModelOnOff, Up: 20, Down: 5, Factor: 1 + r.Float64()*10},
			{Target: TargetSpeed, Model: ModelWalk, Period: 10 + r.Float64()*50, Sigma: r.Float64(), Factor: 0.2}}
		sc.RandomJoins = []RandomJoin{{Count: 1 + r.IntN(3), From: 0, To: 100}}
		if sc.Workers > 2 {
			sc.RandomLeaves = []RandomLeave{{Count: 1, From: 0, To: 150}}
		}
		e, err := NewVersion("v3", sc, seed)
		if err != nil {
			t.Fatal(err)
		}
		agents := func(id learning.AgentID) learning.LearningAlgorithm {
			return &random{r: rand.New(rand.NewPCG(seed, uint64(len(id)))), max: 300, t: t}
		}
		res, err := e.Run(seed, agents)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if res.UnitsDone != sc.Job || res.Duplicates != 0 || res.Faults == nil {
			t.Fatalf("seed %d: done %d of %d, duplicates %d, faults %v", seed, res.UnitsDone, sc.Job, res.Duplicates, res.Faults)
		}
		if err := res.CheckLedger(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if res.Ratio < 1-1e-9 {
			t.Fatalf("seed %d: ratio %v below 1", seed, res.Ratio)
		}
	}
}

// On v4 a worker's return is minus the makespan from its first offer over
// the ideal time it was first told, whatever joins later: here, for the
// starting workers, the nominal work over their own speeds; their first
// offers come one service apart from t = 0. On v3 the unit follows the
// join, and the same episode's returns are smaller.
func TestV4FixesTheRewardUnit(t *testing.T) {
	sc := Default()
	sc.Job, sc.Speeds = 3000, []float64{1, 2, 3, 4, 5, 1, 2, 3}
	sc.Joins = []Join{{At: 50, Count: 4, Speed: 5}}
	agents := func(id learning.AgentID) learning.LearningAlgorithm {
		return &random{r: rand.New(rand.NewPCG(5, uint64(len(id)))), max: 60, t: t}
	}
	ideal := sc.UnitTime * float64(sc.Job) / 21 // the starting workers' speeds sum to 21
	for _, v := range []string{"v3", "v4"} {
		e, err := NewVersion(v, sc, 4)
		if err != nil {
			t.Fatal(err)
		}
		r, err := e.Run(4, agents)
		if err != nil {
			t.Fatal(err)
		}
		fixed := 0
		for _, w := range r.Workers {
			// The time of its first offer, if the unit was fixed.
			if first := r.Makespan + w.Return*ideal; w.Joined == 0 && first >= -1e-9 && first <= float64(sc.Workers)*sc.CommTime+1e-9 {
				fixed++
			}
		}
		if want := map[string]int{"v3": 0, "v4": 8}[v]; fixed != want {
			t.Errorf("%s: %d of the 8 starting workers have a return of minus the makespan from their first offer over the starting ideal time, want %d", v, fixed, want)
		}
	}
}
