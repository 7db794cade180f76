package scheduling

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/learning"
)

// links is a network model for the tests: messages between two nodes are
// delayed by a draw in [0, maxDelay), and lost while either end is cut
// off.
type links struct {
	sim      *actors.Sim
	rng      *rand.Rand
	maxDelay float64
	cuts     []cut
}

type cut struct {
	node     string
	from, to float64
}

func (l *links) Link(from, to string, _ any) (float64, bool) {
	now := l.sim.Now()
	for _, c := range l.cuts {
		if now >= c.from && now < c.to && (from == c.node || to == c.node) {
			return 0, true
		}
	}
	if l.maxDelay > 0 {
		return l.rng.Float64() * l.maxDelay, false
	}
	return 0, false
}

// assigns records, from the simulator's trace, what the auctioneer's
// ledger is checked against: every Assign a node received (the attempts
// each job was given, and to whom), and every report of a finished
// attempt that reached the auctioneer (when, and from whom).
type assigns struct {
	auctioneer actors.Addr
	given      map[int][]uint64       // job -> attempts
	to         map[uint64]actors.Addr // attempt -> the agent it was given to
	reports    map[uint64][]report    // attempt -> its reports
}

type report struct {
	at   float64
	from actors.Addr
}

func newAssigns() *assigns {
	return &assigns{given: map[int][]uint64{}, to: map[uint64]actors.Addr{}, reports: map[uint64][]report{}}
}

func (a *assigns) trace(ev actors.TraceEvent) {
	switch m := ev.Msg.(type) {
	case Assign:
		a.given[m.Job.ID] = append(a.given[m.Job.ID], m.Attempt)
		a.to[m.Attempt] = ev.To
	case Completed:
		if ev.To == a.auctioneer {
			a.reports[m.Attempt] = append(a.reports[m.Attempt], report{ev.At, ev.From})
		}
	case Heartbeat:
		if ev.To == a.auctioneer {
			for _, at := range m.Done {
				a.reports[at] = append(a.reports[at], report{ev.At, ev.From})
			}
		}
	}
}

// checkLedger checks an ended episode against the trace: every job
// settled once; a completed job completed by one run, of the last attempt
// any node was given for it (so no node the auctioneer had given up on
// completed it), whose report reached the auctioneer, from the node it
// was given to, when the ledger says the job completed; no job lost.
func checkLedger(t *testing.T, what string, l Ledger, jobs int, tr *assigns) {
	t.Helper()
	if len(l.Jobs) != jobs {
		t.Fatalf("%s: the ledger has %d jobs, want %d", what, len(l.Jobs), jobs)
	}
	for _, j := range l.Jobs {
		if j.State != "completed" {
			t.Fatalf("%s: job %d is %s (%s), want completed", what, j.ID, j.State, j.Reason)
		}
		var done []Run
		for _, r := range j.Runs {
			if r.Outcome == "completed" {
				done = append(done, r)
			}
		}
		if len(done) != 1 {
			t.Fatalf("%s: job %d completed %d times: %+v", what, j.ID, len(done), j.Runs)
		}
		d := done[0]
		for _, at := range tr.given[j.ID] {
			if at > d.Attempt {
				t.Fatalf("%s: job %d completed by attempt %d on node %d, but attempt %d was given to a node since: %+v", what, j.ID, d.Attempt, d.Node, at, j.Runs)
			}
		}
		reported := false
		for _, r := range tr.reports[d.Attempt] {
			reported = reported || (r.at == j.End && r.from == tr.to[d.Attempt])
		}
		if !reported {
			t.Fatalf("%s: job %d completed at %v by attempt %d, given to %v, but no report of it from there reached the auctioneer then: %+v", what, j.ID, j.End, d.Attempt, tr.to[d.Attempt], tr.reports[d.Attempt])
		}
		if d.Node != j.Node || d.End != j.End {
			t.Fatalf("%s: job %d: record %+v does not agree with its run %+v", what, j.ID, j, d)
		}
	}
}

// faultyScenario is a small cluster for the fault tests: 4 nodes, one
// with GPUs, and a strand timeout longer than any outage the tests make,
// so that no job may be lost.
func faultyScenario() Scenario {
	sc := Default()
	sc.Nodes, sc.GPUNodes, sc.Jobs, sc.Load = 4, 1, 40, 1
	sc.StrandTimeout = 5000
	return sc
}

// randomFaults schedules, on every node, a run of non-overlapping faults
// from rng: crashes (KillNode, then RestartNode after 30 to 400 s),
// partitions (every link of the node cut for 30 to 400 s: the node lives
// on, is declared failed, and comes back a zombie) and reboots
// (RestartNode of a running node); and delays every message by up to
// maxDelay (above the protocol's 1 s timeout, answers time out).
func randomFaults(rng *rand.Rand, maxDelay float64, log *strings.Builder) func(rt actors.Runtime, ep *Episode) error {
	return func(rt actors.Runtime, ep *Episode) error {
		sim := rt.(*actors.Sim)
		l := &links{sim: sim, rng: rand.New(rand.NewPCG(rng.Uint64(), 1)), maxDelay: maxDelay}
		for _, node := range ep.Nodes() {
			for t := rng.Float64() * 600; t < 6000; {
				d := 30 + rng.Float64()*370
				switch rng.IntN(3) {
				case 0:
					ep.At(t, func() { ep.KillNode(node) })
					ep.At(t+d, func() { ep.RestartNode(node) })
					fmt.Fprintf(log, "crash %s %.0f+%.0f; ", node, t, d)
				case 1:
					l.cuts = append(l.cuts, cut{node, t, t + d})
					fmt.Fprintf(log, "cut %s %.0f+%.0f; ", node, t, d)
				case 2:
					ep.At(t, func() { ep.RestartNode(node) })
					d = 0
					fmt.Fprintf(log, "reboot %s %.0f; ", node, t)
				}
				t += d + 200 + rng.Float64()*1500
			}
		}
		sim.SetNetwork(l)
		return nil
	}
}

// runFaulty runs one episode of e with agents on its own simulator, with
// a tracer, until it ends.
func runFaulty(t *testing.T, e *Environment, seed uint64, agents env.Agents, tr *assigns) *Episode {
	t.Helper()
	sim := actors.NewSim(seed)
	sim.SetTracer(tr.trace)
	ep, err := e.StartEpisode(sim, seed, agents)
	if err != nil {
		t.Fatal(err)
	}
	tr.auctioneer = ep.Auctioneer()
	if !sim.RunUntil(1e6, func() bool { return ep.Ended() }) {
		t.Fatalf("seed %d: the episode did not end by t = 1e6 (%d events pending); ledger %+v", seed, sim.Pending(), ep.Ledger().Counters)
	}
	if c := sim.Crashes(); len(c) > 0 {
		t.Fatalf("seed %d: %v crashed: %s\n%s", seed, c[0].Actor, c[0].Value, c[0].Stack)
	}
	return ep
}

func policyAgents(p learning.Policy) env.Agents {
	return func(id learning.AgentID) learning.LearningAlgorithm { return p.NewAgent(id) }
}

var faultSeeds = flag.Int("fault-seeds", 20, "seeds per algorithm of the random-fault property test (more by hand: -fault-seeds 1000)")

// No job is lost or completed twice, whatever crashes, restarts,
// partitions and slow links do, by auction or by a central discipline:
// over many seeds, with faults done directly on the simulator.
func TestNoJobLostOrRunTwiceUnderRandomFaults(t *testing.T) {
	seeds := *faultSeeds
	if testing.Short() {
		seeds = min(seeds, 8)
	}
	var total Counters
	failures, restarts := 0, 0
	for _, alg := range []struct {
		name   string
		agents env.Agents
	}{{"bidding", nil}, {"bidding-reserve", policyAgents(ReservePolicy())}, {"easy", policyAgents(CentralPolicy(EASY{}))}} {
		for s := 1; s <= seeds; s++ {
			seed := uint64(s)
			rng := rand.New(rand.NewPCG(seed, 99))
			var log strings.Builder
			e, err := New(faultyScenario())
			if err != nil {
				t.Fatal(err)
			}
			e.OnStart = randomFaults(rng, []float64{0, 0.5, 2}[s%3], &log)
			given := newAssigns()
			ep := runFaulty(t, e, seed, alg.agents, given)
			l := ep.Ledger()
			checkLedger(t, fmt.Sprintf("%s seed %d (%s)", alg.name, seed, log.String()), l, e.Scenario().Jobs, given)
			c := l.Counters
			total.StaleCompletions += c.StaleCompletions
			total.StaleMessages += c.StaleMessages
			total.AssignFailures += c.AssignFailures
			total.Rescheduled += c.Rescheduled
			total.Unanswered += c.Unanswered
			failures += len(l.Failures)
			restarts += ep.Result().Restarts
		}
	}
	// The faults must have exercised what the test is about.
	t.Logf("over every run: %d failures, %d restarts, %+v", failures, restarts, total)
	if failures == 0 || restarts == 0 || total.Rescheduled == 0 || total.StaleCompletions == 0 || total.StaleMessages == 0 || total.AssignFailures == 0 || total.Unanswered == 0 {
		t.Fatalf("the faults did not exercise the protocol: %d failures, %d restarts, %+v", failures, restarts, total)
	}
}

// A node cut off long enough is declared failed and its job given to
// another; when the cut heals, the node reports the job done (it finished
// it while cut off), and that completion is refused: the job completes
// once, on the other node. The node is fenced and registers again.
func TestFencedNodeCannotCompleteRescheduledJob(t *testing.T) {
	sc := faultyScenario()
	sc.Nodes, sc.GPUNodes, sc.Heartbeat = 2, 0, 10
	e, err := New(sc)
	if err != nil {
		t.Fatal(err)
	}
	e.Jobs = func(uint64) []Job {
		return []Job{
			{ID: 0, Submit: 0, Run: 200, Requested: 300, Needs: Resources{Cores: 16, Memory: 1024}},
			{ID: 1, Submit: 500, Run: 10, Requested: 60, Needs: Resources{Cores: 1, Memory: 1024}},
		}
	}
	var l *links
	e.OnStart = func(rt actors.Runtime, ep *Episode) error {
		l = &links{sim: rt.(*actors.Sim), cuts: []cut{{"node-0", 100, 400}}}
		rt.(*actors.Sim).SetNetwork(l)
		return nil
	}
	given := newAssigns()
	ep := runFaulty(t, e, 1, nil, given)
	led := ep.Ledger()
	checkLedger(t, "cut node", led, 2, given)
	j := led.Jobs[0]
	if len(j.Runs) != 2 || j.Runs[0].Node != 0 || j.Runs[0].Outcome != "lost" || j.Runs[1].Node != 1 || j.Node != 1 {
		t.Fatalf("job 0 ran %+v, want a run lost on node 0 then the completed run on node 1", j.Runs)
	}
	if j.Requeues != 1 {
		t.Errorf("job 0 requeued %d times, want 1", j.Requeues)
	}
	if c := led.Counters; c.StaleCompletions != 1 || c.StaleMessages < 1 {
		t.Errorf("counters %+v: want the cut node's completion refused once, as stale", c)
	}
	if len(led.Failures) != 1 || led.Failures[0].Node != 0 || led.Failures[0].Detected < 130 || led.Failures[0].Detected > 141 {
		t.Errorf("failures %+v: want node 0 declared failed 3 heartbeats (30 s) after its last, at 130 to 140", led.Failures)
	}
	var node0 []Registration
	for _, r := range led.Registrations {
		if r.Node == 0 {
			node0 = append(node0, r)
		}
	}
	if len(node0) != 2 || node0[1].At < 400 {
		t.Errorf("node 0 registered %+v: want again after the cut healed at 400, fenced", node0)
	}
	res := ep.Result()
	if res.MTTR <= 0 || res.Unrecovered != 0 || res.Availability >= 1 || res.Availability <= 0.5 {
		t.Errorf("result %+v: want a recovery time, and availability below 1", res.Metrics())
	}
}

// Jobs that only the killed GPU node could hold are lost once it has been
// down StrandTimeout, and say so; the others complete.
func TestJobsLostOnlyWhenEveryCapableNodeIsDown(t *testing.T) {
	sc := faultyScenario()
	sc.Nodes, sc.GPUNodes, sc.StrandTimeout = 3, 1, 600
	sc.Crashes = []Crash{{Node: 0, At: 0}} // never back
	e, err := New(sc)
	if err != nil {
		t.Fatal(err)
	}
	e.Jobs = func(uint64) []Job {
		return []Job{
			{ID: 0, Submit: 10, Run: 100, Requested: 200, Needs: Resources{Cores: 2, Memory: 1024, GPUs: 1}},
			{ID: 1, Submit: 20, Run: 100, Requested: 200, Needs: Resources{Cores: 2, Memory: 1024}},
			{ID: 2, Submit: 2000, Run: 100, Requested: 200, Needs: Resources{Cores: 2, Memory: 1024, GPUs: 2}},
		}
	}
	ep := runFaulty(t, e, 3, nil, newAssigns())
	r := ep.Result()
	if r.Completed != 1 || r.Lost != 2 || r.CompletionRate != 1.0/3 {
		t.Fatalf("completed %d, lost %d, rate %v: want job 1 completed, the GPU jobs lost", r.Completed, r.Lost, r.CompletionRate)
	}
	for _, j := range r.LostJobs {
		if j.State != "lost" || !strings.Contains(j.Reason, "(node-0) was down") {
			t.Errorf("job %d: %s, %q: want lost, every capable node (node-0) down", j.ID, j.State, j.Reason)
		}
	}
	// Job 0 arrives while node 0 is still registered (the failure is seen
	// 90 to 120 s after the kill): stranded from then, lost 600 s later.
	if j := r.LostJobs[1]; j.ID != 2 || j.End != 0 || !strings.Contains(j.Reason, "from 2000.0 to 2600.0") {
		t.Errorf("job 2: %q, want stranded from its arrival at 2000 to 2600", j.Reason)
	}
}

// A job bigger than every node is refused when it arrives, with the
// reason, and the episode still ends.
func TestJobBiggerThanTheClusterIsRefused(t *testing.T) {
	sc := faultyScenario()
	e, _ := New(sc)
	e.Jobs = func(uint64) []Job {
		return []Job{{ID: 7, Run: 10, Requested: 60, Needs: Resources{Cores: 64, Memory: 1024}}, {ID: 8, Submit: 1, Run: 10, Requested: 60, Needs: Resources{Cores: 1}}}
	}
	r, err := e.Run(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Refused != 1 || r.Completed != 1 || len(r.LostJobs) != 1 || !strings.Contains(r.LostJobs[0].Reason, "no node of the cluster") {
		t.Fatalf("%+v", r)
	}
}

// The same seed gives the same run, message for message; another seed
// another; faults included.
func TestSameSeedSameEventTrace(t *testing.T) {
	trace := func(seed uint64, agents env.Agents) []string {
		sc := faultyScenario()
		sc.Jobs = 20
		e, err := New(sc)
		if err != nil {
			t.Fatal(err)
		}
		e.OnStart = randomFaults(rand.New(rand.NewPCG(seed, 7)), 2, &strings.Builder{})
		sim := actors.NewSim(seed)
		var out []string
		sim.SetTracer(func(ev actors.TraceEvent) {
			out = append(out, fmt.Sprintf("%v %d %v>%v %T%+v", ev.At, ev.Seq, ev.From, ev.To, ev.Msg, ev.Msg))
		})
		ep, err := e.StartEpisode(sim, seed, agents)
		if err != nil {
			t.Fatal(err)
		}
		sim.RunUntil(1e6, func() bool { return ep.Ended() })
		return out
	}
	random := func() env.Agents {
		p := randomPolicy{seed: 5}
		return func(id learning.AgentID) learning.LearningAlgorithm { return p.NewAgent(id) }
	}
	a, b := trace(4, random()), trace(4, random())
	if len(a) < 500 {
		t.Fatalf("only %d events", len(a))
	}
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			t.Fatalf("event %d differs:\n%s\n%s", i, a[i], b[min(i, len(b)-1)])
		}
	}
	if len(a) != len(b) {
		t.Fatalf("%d events, then %d", len(a), len(b))
	}
	c := trace(5, random())
	same := len(a) == len(c)
	for i := 0; same && i < len(a); i++ {
		same = a[i] == c[i]
	}
	if same {
		t.Fatal("seeds 4 and 5 gave the same trace")
	}
}

// randomPolicy bids at random among the allowed levels, from its own seed
// (the baseline package's would do, but this package must not depend on
// algorithms).
type randomPolicy struct{ seed uint64 }

func (p randomPolicy) Name() string { return "random" }
func (p randomPolicy) NewAgent(id learning.AgentID) learning.LearningAlgorithm {
	return &randomAgent{rng: rand.New(rand.NewPCG(p.seed, uint64(len(id))*7919+uint64(id[len(id)-1])))}
}

type randomAgent struct {
	rng  *rand.Rand
	mask []bool
}

func (a *randomAgent) InitAgent(obs learning.Observation)         { a.mask = obs.Mask }
func (a *randomAgent) Update(obs learning.Observation, _ float64) { a.mask = obs.Mask }
func (a *randomAgent) IsLearning() bool                           { return false }
func (a *randomAgent) AgentJoined(learning.AgentID)               {}
func (a *randomAgent) AgentLeft(learning.AgentID)                 {}
func (a *randomAgent) ActionProbabilities() []float64             { return nil }
func (a *randomAgent) SampleAction() learning.Action {
	for {
		if l := a.rng.IntN(len(Levels)); a.mask[l] {
			return learning.Action(l)
		}
	}
}
