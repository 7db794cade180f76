package loadbalancing

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/marlon-go/marlon/actors"

	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/learning"
)

// fixed always asks for the same number of units.
type fixed struct{ n int }

func (f *fixed) InitAgent(learning.Observation)       {}
func (f *fixed) IsLearning() bool                     { return false }
func (f *fixed) SampleAction() learning.Action        { return learning.Action(f.n) }
func (f *fixed) Update(learning.Observation, float64) {}
func (f *fixed) ActionProbabilities() []float64       { return nil }
func (f *fixed) AgentJoined(learning.AgentID)         {}
func (f *fixed) AgentLeft(learning.AgentID)           {}
func fixedAgents(n int) env.Agents {
	return func(learning.AgentID) learning.LearningAlgorithm { return &fixed{n} }
}

// random asks for a random size each time, seeded, and checks the protocol
// of the LearningAlgorithm calls as it goes.
type random struct {
	r      *rand.Rand
	max    int
	inited bool
	ended  bool
	t      *testing.T
}

func (a *random) InitAgent(obs learning.Observation) {
	if a.inited {
		a.t.Error("InitAgent called twice")
	}
	a.inited = true
}
func (a *random) IsLearning() bool { return false }
func (a *random) SampleAction() learning.Action {
	if !a.inited || a.ended {
		a.t.Error("SampleAction before InitAgent or after the terminal Update")
	}
	return learning.Action(1 + a.r.IntN(a.max))
}
func (a *random) Update(obs learning.Observation, reward float64) {
	if a.ended {
		a.t.Error("Update after the terminal Update")
	}
	if reward > 0 {
		a.t.Errorf("reward %v > 0: rewards are minus idle time", reward)
	}
	a.ended = obs.Terminal
}
func (a *random) ActionProbabilities() []float64 { return nil }
func (a *random) AgentJoined(learning.AgentID)   {}
func (a *random) AgentLeft(learning.AgentID)     {}

func run(t *testing.T, sc Scenario, seed uint64, agents env.Agents) Result {
	t.Helper()
	e, err := New(sc, seed)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(seed, agents)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestOneWorkerWorkedByHand(t *testing.T) {
	sc := Scenario{Workers: 1, Speeds: []float64{1}, Job: 10, UnitTime: 1, CommTime: 1}
	// Chunks of 3: granted at 1, 5, 9, 13 (the last one 1 unit), each
	// taking its size in time units.
	res := run(t, sc, 1, fixedAgents(3))
	if res.Makespan != 14 || res.Chunks != 4 || res.Requests != 5 || res.IdleTime != 4 || res.UnitsDone != 10 {
		t.Fatalf("got makespan %v chunks %d requests %d idle %v units %d; want 14 4 5 4 10",
			res.Makespan, res.Chunks, res.Requests, res.IdleTime, res.UnitsDone)
	}
	if res.LowerBound != 11 { // (c*N + h*1*s)/s
		t.Fatalf("lower bound %v, want 11", res.LowerBound)
	}
	// Rewards are in units of the ideal time c*N/S = 10. The first choice is
	// at 0 and the job ends at 14: the return is -14/10 with RewardTime and
	// minus the idle time, -4/10, with RewardIdle.
	if math.Abs(res.Return+1.4) > 1e-12 {
		t.Fatalf("return %v with RewardTime, want -1.4", res.Return)
	}
	e, _ := New(sc, 1)
	e.Reward = RewardIdle
	if res, _ := e.Run(1, fixedAgents(3)); math.Abs(res.Return+0.4) > 1e-12 {
		t.Fatalf("return %v with RewardIdle, want -0.4", res.Return)
	}
	// Without an agent a worker asks for one unit at a time (the seed's
	// self-scheduling): 10 round trips of 1 + 1.
	if res := run(t, sc, 1, nil); res.Makespan != 20 || res.Chunks != 10 {
		t.Fatalf("self-scheduling: makespan %v chunks %d, want 20 and 10", res.Makespan, res.Chunks)
	}
}

func TestTwoWorkersWorkedByHand(t *testing.T) {
	// w0 (speed 2) is served 0-1, takes [0,4) until 3; w1 (speed 1) is served
	// 1-2, takes [4,8) until 6; w0 is served 3-4, takes [8,12) until 6.
	sc := Scenario{Workers: 2, Speeds: []float64{2, 1}, Job: 12, UnitTime: 1, CommTime: 1}
	res := run(t, sc, 1, fixedAgents(4))
	if res.Makespan != 6 || res.Chunks != 3 || res.Requests != 5 || res.IdleTime != 4 {
		t.Fatalf("got makespan %v chunks %d requests %d idle %v; want 6 3 5 4", res.Makespan, res.Chunks, res.Requests, res.IdleTime)
	}
	if want := 16.0 / 3; math.Abs(res.LowerBound-want) > 1e-12 { // (12 + 1*(1*2 + 2*1)) / 3
		t.Fatalf("lower bound %v, want %v", res.LowerBound, want)
	}
	if res.Workers[0].Units != 8 || res.Workers[1].Units != 4 {
		t.Fatalf("units per worker %d, %d; want 8, 4", res.Workers[0].Units, res.Workers[1].Units)
	}
	// Finishing times 6 and 6: balanced.
	if res.Imbalance != 0 {
		t.Fatalf("imbalance %v, want 0", res.Imbalance)
	}
}

func TestLastPartialChunkIsGranted(t *testing.T) {
	sc := Scenario{Workers: 3, Speeds: []float64{1, 2, 3}, Job: 1001, UnitTime: 1, CommTime: 0.5}
	res := run(t, sc, 1, fixedAgents(100)) // 1001 = 10*100 + 1
	if res.UnitsDone != 1001 || res.Chunks != 11 {
		t.Fatalf("units %d in %d chunks; want 1001 in 11", res.UnitsDone, res.Chunks)
	}
}

func TestLeavingWorkerHandsItsChunkBack(t *testing.T) {
	// Worker 0 takes the whole job at once and leaves half-way: the job is
	// handed back and worker 1 does it all.
	sc := Scenario{Workers: 2, Speeds: []float64{1, 1}, Job: 100, UnitTime: 1, CommTime: 1, Leaves: []Leave{{At: 50, Worker: 0}}}
	res := run(t, sc, 1, fixedAgents(100))
	if res.UnitsDone != 100 || res.Returned != 100 || res.Workers[0].Units != 0 || res.Workers[1].Units != 100 {
		t.Fatalf("done %d returned %d; units per worker %d %d", res.UnitsDone, res.Returned, res.Workers[0].Units, res.Workers[1].Units)
	}
	if !res.Workers[0].Left || res.Workers[0].LeftAt != 50 {
		t.Fatalf("worker 0 report %+v: should have left at 50", res.Workers[0])
	}
	// Worker 1 was parked from 1 until 50, then served 50-51: done at 151.
	if res.Makespan != 151 {
		t.Fatalf("makespan %v, want 151", res.Makespan)
	}
}

func TestWorkIsConservedUnderRandomJoinsAndLeaves(t *testing.T) {
	handedBack := 0
	for seed := uint64(1); seed <= 300; seed++ {
		r := rand.New(rand.NewPCG(seed, 99))
		sc := Scenario{
			Workers: 1 + r.IntN(8), SpeedMin: 1, SpeedMax: 5, Job: 1 + r.IntN(3000),
			UnitTime: 0.1 + r.Float64(), CommTime: r.Float64() * 2, Variability: r.Float64(),
		}
		for k := r.IntN(4); k > 0; k-- {
			sc.Joins = append(sc.Joins, Join{At: r.Float64() * 300, Count: 1 + r.IntN(3)})
		}
		total := sc.TotalWorkers()
		joins := sc.joinTimes()
		perm := r.Perm(total)
		for _, w := range perm[:r.IntN(total)] { // some leave, at least one stays
			sc.Leaves = append(sc.Leaves, Leave{At: joins[w] + r.Float64()*300, Worker: w})
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
		if res.Ratio < 1-1e-9 {
			t.Fatalf("seed %d: makespan %v below the lower bound %v", seed, res.Makespan, res.LowerBound)
		}
		for _, w := range res.Workers {
			if w.Units != res.LedgerUnits[w.ID] {
				t.Fatalf("seed %d: worker %d reports %d units, the ledger %d", seed, w.ID, w.Units, res.LedgerUnits[w.ID])
			}
			// The Master's grants, less what came back, are what the
			// worker says it did; it hands back one chunk at most.
			sum, back := 0, 0
			for _, k := range w.ChunkSizes {
				sum += k
			}
			if w.HandedBack > 0 {
				back = 1
			}
			if sum-w.HandedBack != w.Units || len(w.ChunkSizes)-back != w.Chunks || w.HandedBack > 0 && !w.Left {
				t.Fatalf("seed %d: worker %d granted %v, %d handed back; it reports %d units in %d chunks, left %v",
					seed, w.ID, w.ChunkSizes, w.HandedBack, w.Units, w.Chunks, w.Left)
			}
		}
		if res.Returned > 0 {
			handedBack++
		}
	}
	if handedBack < 50 {
		t.Fatalf("only %d of 300 episodes had a worker leave mid-chunk: the test exercises too little", handedBack)
	}
}

func TestSameSeedSameEpisode(t *testing.T) {
	sc := Default()
	sc.Joins = []Join{{At: 100, Count: 2}}
	sc.Leaves = []Leave{{At: 150, Worker: 3}}
	agents := func(id learning.AgentID) learning.LearningAlgorithm {
		return &random{r: rand.New(rand.NewPCG(5, uint64(len(id)))), max: 200, t: t}
	}
	encode := func(seed uint64) string {
		res := run(t, sc, seed, agents)
		b, _ := json.Marshal(struct {
			R Result
			H []ChunkRecord
		}{res, res.History})
		return string(b)
	}
	if a, b := encode(3), encode(3); a != b {
		t.Fatal("the same seed gave two different episodes")
	}
	if encode(3) == encode(4) {
		t.Fatal("seeds 3 and 4 gave the same episode")
	}
}

func TestBadScenariosNameTheField(t *testing.T) {
	ok := Default()
	cases := []struct {
		field string
		edit  func(*Scenario)
	}{
		{"workers", func(s *Scenario) { s.Workers = 0 }},
		{"workers", func(s *Scenario) { s.Workers = -3 }},
		{"speeds", func(s *Scenario) { s.Speeds = []float64{1, 2} }},
		{"speeds", func(s *Scenario) { s.Speeds = make([]float64, 8) }},
		{"speeds", func(s *Scenario) { s.SpeedMin, s.SpeedMax = 5, 1 }},
		{"speeds", func(s *Scenario) { s.SpeedMax = 2000 }},
		{"speeds", func(s *Scenario) { s.Workers, s.Speeds = 2, []float64{1e-300, 1} }},
		{"speeds", func(s *Scenario) { s.Workers, s.Speeds = 2, []float64{0.5, 600} }}, // each in range, 1200 times apart
		{"join", func(s *Scenario) { s.Joins = []Join{{At: 1, Count: 1, Speed: 5000}} }},
		{"join", func(s *Scenario) {
			s.Workers, s.Speeds, s.Joins = 2, []float64{1, 1}, []Join{{At: 1, Count: 1, Speed: 0.0005}}
		}},
		{"join", func(s *Scenario) {
			s.Workers, s.Speeds, s.Joins = 2, []float64{2, 2}, []Join{{At: 1, Count: 1, Speed: 0.001}}
		}}, // 2000 times apart
		{"job", func(s *Scenario) { s.Job = 0 }},
		{"unit-time", func(s *Scenario) { s.UnitTime = 0 }},
		{"unit-time", func(s *Scenario) { s.UnitTime = math.NaN() }},
		{"comm-time", func(s *Scenario) { s.CommTime = -1 }},
		{"variability", func(s *Scenario) { s.Variability = -0.1 }},
		{"join", func(s *Scenario) { s.Joins = []Join{{At: -1, Count: 1}} }},
		{"join", func(s *Scenario) { s.Joins = []Join{{At: 1, Count: 0}} }},
		{"leave", func(s *Scenario) { s.Leaves = []Leave{{At: 10, Worker: 8}} }},
		{"leave", func(s *Scenario) { s.Joins = []Join{{At: 100, Count: 1}}; s.Leaves = []Leave{{At: 50, Worker: 8}} }},
		{"leave", func(s *Scenario) { s.Leaves = []Leave{{At: 1, Worker: 1}, {At: 2, Worker: 1}} }},
		{"leave", func(s *Scenario) {
			s.Workers = 1
			s.Leaves = []Leave{{At: 1, Worker: 0}}
		}},
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("default scenario: %v", err)
	}
	wide := ok
	wide.Workers, wide.Speeds = 2, []float64{0.01, 10} // 1000 times apart: allowed
	if err := wide.Validate(); err != nil {
		t.Fatalf("speeds 1000 times apart: %v", err)
	}
	for _, c := range cases {
		sc := ok
		c.edit(&sc)
		err := sc.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%+v: got %v, want an error about --%s", sc, err, c.field)
		}
	}
}

func TestParseFlagValues(t *testing.T) {
	if l, lo, hi, err := ParseSpeeds("1-5"); err != nil || l != nil || lo != 1 || hi != 5 {
		t.Fatalf("1-5: %v %v %v %v", l, lo, hi, err)
	}
	if l, _, _, err := ParseSpeeds("1, 2.5,3"); err != nil || len(l) != 3 || l[1] != 2.5 {
		t.Fatalf("list: %v %v", l, err)
	}
	for _, bad := range []string{"", "0", "a,b", "5-1", "1,-2", "0-3"} {
		if _, _, _, err := ParseSpeeds(bad); err == nil {
			t.Errorf("ParseSpeeds(%q) accepted", bad)
		}
	}
	if j, err := ParseJoin("2@100:3.5"); err != nil || j != (Join{At: 100, Count: 2, Speed: 3.5}) {
		t.Fatalf("join: %+v %v", j, err)
	}
	if l, err := ParseLeave("3@200"); err != nil || l != (Leave{At: 200, Worker: 3}) {
		t.Fatalf("leave: %+v %v", l, err)
	}
	for _, bad := range []string{"2", "x@1", "2@-1", "0@5", "2@5:0"} {
		if _, err := ParseJoin(bad); err == nil {
			t.Errorf("ParseJoin(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"3", "-1@5", "1@x"} {
		if _, err := ParseLeave(bad); err == nil {
			t.Errorf("ParseLeave(%q) accepted", bad)
		}
	}
}

// firstSight records the first observation an agent is given.
type firstSight struct {
	fixed
	seen *[]learning.Observation
}

func (f *firstSight) InitAgent(obs learning.Observation) { *f.seen = append(*f.seen, obs.Clone()) }

func TestFirstDecisionSeesEveryWorkerThatAskedAtOnce(t *testing.T) {
	var seen []learning.Observation
	sc := Default()
	run(t, sc, 1, func(learning.AgentID) learning.LearningAlgorithm { return &firstSight{fixed{100}, &seen} })
	e, _ := New(sc, 1)
	sum := 0.0
	for _, s := range e.Speeds() {
		sum += s
	}
	for i, obs := range seen {
		if obs.Get(FieldWorkers) != 8 || obs.Get(FieldSpeedSum) != sum || obs.Get(FieldQueue) != float64(7-i) {
			t.Fatalf("decision %d saw %v workers, speed sum %v, %v queued; want 8, %v, %d",
				i, obs.Get(FieldWorkers), obs.Get(FieldSpeedSum), obs.Get(FieldQueue), sum, 7-i)
		}
	}
	if len(seen) != 8 {
		t.Fatalf("%d first decisions, want 8", len(seen))
	}
}

func TestSameActorsRunLive(t *testing.T) {
	sc := Default()
	sc.Job = 3000
	sc.Joins = []Join{{At: 20, Count: 1}}
	sc.Leaves = []Leave{{At: 40, Worker: 2}}
	e, err := New(sc, 1)
	if err != nil {
		t.Fatal(err)
	}
	rt := actors.NewLive(actors.LiveOptions{Scale: 100 * time.Microsecond, Seed: 1})
	defer rt.Close()
	out, err := env.RunLive(e, rt, 1, fixedAgents(40), 30*time.Second)
	if err != nil || !out.Done {
		t.Fatalf("done %v, err %v", out.Done, err)
	}
	res := out.Episode.(*Episode).Result()
	if res.UnitsDone != sc.Job || res.UnitsReported != sc.Job || res.Duplicates != 0 || res.Ratio < 1 {
		t.Fatalf("live: done %d reported %d duplicates %d ratio %v", res.UnitsDone, res.UnitsReported, res.Duplicates, res.Ratio)
	}
	if len(res.Workers) != 9 || !res.Workers[2].Left {
		t.Fatalf("live: %d worker reports, worker 2 left: %v", len(res.Workers), res.Workers[2].Left)
	}
}

// watcher records every observation an agent is given and asks for n units.
type watcher struct {
	fixed
	seen *[]learning.Observation
}

func (w *watcher) InitAgent(obs learning.Observation) { *w.seen = append(*w.seen, obs.Clone()) }
func (w *watcher) Update(obs learning.Observation, _ float64) {
	if !obs.Terminal {
		*w.seen = append(*w.seen, obs.Clone())
	}
}

func TestMasterEstimatesUnfinishedWork(t *testing.T) {
	// Two workers of speed 1, chunks of 30 of 100 units, h = 1. Worker 0 is
	// served at 0 (nothing handed out: U = 100) and works 1-31; worker 1 is
	// served at 1 (worker 0 has not started: U = 100) and works 2-32. At 31
	// worker 0 is served again: 40 in the pool, and worker 1 has 1 unit left
	// of its chunk: U = 41. At 32 worker 1 is served: 10 in the pool, worker
	// 0's new chunk of 30 granted this instant: U = 40.
	sc := Scenario{Workers: 2, Speeds: []float64{1, 1}, Job: 100, UnitTime: 1, CommTime: 1}
	var seen []learning.Observation
	run(t, sc, 1, func(learning.AgentID) learning.LearningAlgorithm { return &watcher{fixed{30}, &seen} })
	var got [][3]float64
	for _, o := range seen {
		got = append(got, [3]float64{o.Get(FieldTime), o.Get(FieldRemaining), o.Get(FieldUnfinished)})
	}
	want := [][3]float64{{0, 100, 100}, {1, 70, 100}, {31, 40, 41}, {32, 10, 40}}
	if len(got) < len(want) {
		t.Fatalf("decisions %v", got)
	}
	for i, w := range want {
		if got[i] != w {
			t.Fatalf("decision %d (time, remaining, unfinished) = %v, want %v; all %v", i, got[i], w, got)
		}
	}
}

func TestJoinersAreNumberedInTheOrderOfTheJoins(t *testing.T) {
	// Worker 1 joins at 50 and worker 2 at 10, as listed; worker 2 leaves
	// at 20, before worker 1 has joined.
	sc := Scenario{Workers: 1, Speeds: []float64{1}, Job: 200, UnitTime: 1, CommTime: 1,
		Joins:  []Join{{At: 50, Count: 1, Speed: 7}, {At: 10, Count: 1, Speed: 3}},
		Leaves: []Leave{{At: 20, Worker: 2}}}
	res := run(t, sc, 1, fixedAgents(5))
	if len(res.Workers) != 3 {
		t.Fatalf("%d worker reports, want 3", len(res.Workers))
	}
	for _, want := range []WorkerReport{{ID: 1, Speed: 7, Joined: 50}, {ID: 2, Speed: 3, Joined: 10, Left: true, LeftAt: 20}} {
		w := res.Workers[want.ID]
		if w.ID != want.ID || w.Speed != want.Speed || w.Joined != want.Joined || w.Left != want.Left || w.LeftAt != want.LeftAt {
			t.Errorf("worker %d: %+v; want speed %v, joined at %v, left %v at %v", want.ID, w, want.Speed, want.Joined, want.Left, want.LeftAt)
		}
	}
}

type deafFixed struct{ fixed }

func (deafFixed) UsesMembership() bool { return false }

func TestOnlyListeningWorkersAreToldOfTheOthers(t *testing.T) {
	sc := Default()
	sc.Joins = []Join{{At: 50, Count: 2}}
	sc.Leaves = []Leave{{At: 100, Worker: 3}}
	for _, c := range []struct {
		name         string
		agents       env.Agents
		joined, left int
	}{
		// The k-th worker to join is told of the k there and they of it:
		// 2*(0+1+...+9) Joined. The 9 others are told that worker 3 left
		// (at the end the workers stop together: the Left messages find
		// them gone).
		{"listening", fixedAgents(50), 2 * 45, 9},
		{"deaf", func(learning.AgentID) learning.LearningAlgorithm { return &deafFixed{fixed{50}} }, 0, 0},
		{"no agent", nil, 0, 0},
	} {
		e, err := New(sc, 1)
		if err != nil {
			t.Fatal(err)
		}
		sim := actors.NewSim(1)
		joined, left := 0, 0
		sim.SetTracer(func(ev actors.TraceEvent) {
			switch ev.Msg.(type) {
			case env.Joined:
				joined++
			case env.Left:
				left++
			}
		})
		ep, _ := e.Start(sim, 1, c.agents)
		sim.Run()
		if r := ep.(*Episode).Result(); r.UnitsDone != sc.Job {
			t.Fatalf("%s: %d units done", c.name, r.UnitsDone)
		}
		if joined != c.joined || left != c.left {
			t.Errorf("%s: %d Joined and %d Left delivered, want %d and %d", c.name, joined, left, c.joined, c.left)
		}
		if j, l := ep.(*Episode).AgentCounts(); j != 10 || l != 10 {
			t.Errorf("%s: %d joins and %d leaves on the roster, want 10 and 10", c.name, j, l)
		}
	}
}

// recount is the Master's state computed afresh from every worker, as the
// Master did before it kept its sums as it went: O(P) per service.
func recount(m *Master, now float64) MasterState {
	ws := make([]*workerState, 0, len(m.workers))
	for _, w := range m.workers {
		ws = append(ws, w)
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].id < ws[j].id })
	s := MasterState{Job: m.Job, Remaining: m.pool.Len(), Granted: m.acc.Chunks, CommTime: m.CommTime}
	for _, r := range m.queue {
		if !r.written {
			s.Queue++
		}
	}
	s.Unfinished = float64(s.Remaining)
	for _, w := range ws {
		if !w.live {
			continue
		}
		if c := w.out; c != nil {
			s.Unfinished += math.Max(0, float64(c.units)-(now-c.granted)*m.rate(w))
		}
		s.Workers++
		s.SpeedSum += w.speed
		if w.stats.N > 0 && w.stats.Mean > 0 {
			s.Measured++
			s.MuMean += w.stats.Mean
			s.SigmaMean += w.stats.Sd
			s.InvMuSum += 1 / w.stats.Mean
			s.DSum += w.stats.Sd * w.stats.Sd / w.stats.Mean
		}
	}
	if s.Measured > 0 {
		s.MuMean /= float64(s.Measured)
		s.SigmaMean /= float64(s.Measured)
	}
	return s
}

func TestMasterStateMatchesARecountOnRandomSchedules(t *testing.T) {
	checked := 0
	for seed := uint64(1); seed <= 120; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		sc := Scenario{
			Workers: 1 + r.IntN(30), SpeedMin: 1, SpeedMax: 1 + r.IntN(20), Job: 1 + r.IntN(5000),
			UnitTime: 0.01 + r.Float64()*3, CommTime: r.Float64(), Variability: r.Float64() * 2,
		}
		for k := r.IntN(5); k > 0; k-- {
			sc.Joins = append(sc.Joins, Join{At: r.Float64() * 200, Count: 1 + r.IntN(5)})
		}
		total := sc.TotalWorkers()
		joins := sc.joinTimes()
		for _, w := range r.Perm(total)[:r.IntN(total)] {
			sc.Leaves = append(sc.Leaves, Leave{At: joins[w] + r.Float64()*200, Worker: w})
		}
		e, err := New(sc, seed)
		if err != nil {
			t.Fatal(err)
		}
		e.onState = func(m *Master, got MasterState, now float64) {
			checked++
			want := recount(m, now)
			close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
			if got.Job != want.Job || got.Remaining != want.Remaining || got.Granted != want.Granted ||
				got.Queue != want.Queue || got.Workers != want.Workers || got.Measured != want.Measured ||
				got.CommTime != want.CommTime || !close(got.Unfinished, want.Unfinished) ||
				!close(got.SpeedSum, want.SpeedSum) || !close(got.MuMean, want.MuMean) ||
				!close(got.SigmaMean, want.SigmaMean) || !close(got.InvMuSum, want.InvMuSum) || !close(got.DSum, want.DSum) {
				t.Fatalf("seed %d at t=%v: the Master tells\n%+v\na recount gives\n%+v", seed, now, got, want)
			}
		}
		max := 1 + r.IntN(max(1, sc.Job/sc.Workers))
		agents := func(id learning.AgentID) learning.LearningAlgorithm {
			return &random{r: rand.New(rand.NewPCG(seed, uint64(len(id)))), max: max, t: t}
		}
		if res, err := e.Run(seed, agents); err != nil || res.UnitsDone != sc.Job {
			t.Fatalf("seed %d: %d units done, %v", seed, res.UnitsDone, err)
		}
	}
	if checked < 5000 {
		t.Fatalf("only %d states checked", checked)
	}
}
