package scheduling

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/examples/scheduling/swf"
	"github.com/marlon-go/marlon/learning"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(b)) }

// One node of 16 cores, two jobs of 16 cores submitted at 0: the first
// runs 0..100, the second waits, runs 100..150.
//
//	bounded slowdowns 100/100 = 1 and 150/50 = 3: mean 2, largest 3;
//	waits 0 and 100: mean 50; utilisation (16*100 + 16*50) / (16*150) = 1;
//	throughput 2 jobs in 150 s = 48 jobs/h; the cost, the integral of
//	1/100 over 0..100 and 1/50 over 0..150, is 1 + 3 = 4: per job, the
//	mean bounded slowdown, and minus the agents' return.
func TestMetricsWorkedByHand(t *testing.T) {
	sc := Default()
	sc.Nodes, sc.GPUNodes = 1, 0
	e, err := New(sc)
	if err != nil {
		t.Fatal(err)
	}
	e.Jobs = func(uint64) []Job {
		return []Job{
			{ID: 0, Run: 100, Requested: 100, Needs: Resources{Cores: 16, Memory: 1024}},
			{ID: 1, Run: 50, Requested: 60, Needs: Resources{Cores: 16, Memory: 1024}},
		}
	}
	p := HeuristicPolicy()
	r, err := e.Run(1, func(id learning.AgentID) learning.LearningAlgorithm { return p.NewAgent(id) })
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string][2]float64{
		"mean_bsld": {r.MeanBSLD, 2}, "max_bsld": {r.MaxBSLD, 3}, "mean_wait": {r.MeanWait, 50}, "utilisation": {r.Utilisation, 1},
		"throughput": {r.Throughput, 48}, "makespan": {r.Makespan, 150}, "completion_rate": {r.CompletionRate, 1}, "availability": {r.Availability, 1},
		"cost": {r.Ledger.Cost, 4}, "return": {r.Return, -2},
	} {
		if !near(c[0], c[1]) {
			t.Errorf("%s = %v, want %v", name, c[0], c[1])
		}
	}
}

// Two nodes of 16 cores; job 0 (run 200) on node 0, job 1 (run 100) on
// node 1. Node 1 is killed at 55 (its last heartbeat at 50), declared
// failed at the first sweep more than 3 heartbeats (30 s) later, at 90,
// and restarted at 150: job 1 runs again there, 150..250.
//
//	MTTR: from the kill, 55, to 150: 95;
//	availability: node 0 up 0..250, node 1 0..55 and 150..250, by cores:
//	  (250 + 55 + 100) / 500 = 0.81;
//	bounded slowdowns 1 and 250/100 = 2.5: mean 1.75; waits 0 and 150;
//	lost work: job 1's first run, 0..90, on 16 cores: 1440 core-s;
//	utilisation (16*200 + 16*100) / (32*250) = 0.6.
func TestFailureMetricsWorkedByHand(t *testing.T) {
	sc := Default()
	sc.Nodes, sc.GPUNodes, sc.Heartbeat = 2, 0, 10
	sc.Crashes = []Crash{{Node: 1, At: 55, Down: 95}}
	e, err := New(sc)
	if err != nil {
		t.Fatal(err)
	}
	e.Jobs = func(uint64) []Job {
		return []Job{
			{ID: 0, Run: 200, Requested: 300, Needs: Resources{Cores: 16, Memory: 1024}},
			{ID: 1, Run: 100, Requested: 300, Needs: Resources{Cores: 16, Memory: 1024}},
		}
	}
	r, err := e.Run(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Ledger.Failures; len(f) != 1 || f[0].Node != 1 || f[0].LastSeen != 50 || f[0].Detected != 90 || f[0].Recovered != 150 {
		t.Fatalf("failures %+v", f)
	}
	for name, c := range map[string][2]float64{
		"mttr": {r.MTTR, 95}, "availability": {r.Availability, 0.81}, "mean_bsld": {r.MeanBSLD, 1.75}, "mean_wait": {r.MeanWait, 75},
		"lost_work": {r.LostWork, 1440}, "utilisation": {r.Utilisation, 0.6}, "makespan": {r.Makespan, 250},
		"failures": {float64(r.Failures), 1}, "restarts": {float64(r.Restarts), 1}, "rescheduled": {float64(r.Counters.Rescheduled), 1},
	} {
		if !near(c[0], c[1]) {
			t.Errorf("%s = %v, want %v", name, c[0], c[1])
		}
	}
}

func TestSyntheticWorkload(t *testing.T) {
	sc := Default()
	sc.Jobs = 5000
	for _, arrival := range []string{Constant, Burst, Poisson} {
		sc.Arrival = arrival
		jobs := sc.Synthetic(3)
		if len(jobs) != sc.Jobs {
			t.Fatalf("%s: %d jobs", arrival, len(jobs))
		}
		area, gpu := 0.0, 0
		for i, j := range jobs {
			c := j.Needs
			switch {
			case j.ID != i || (i > 0 && j.Submit < jobs[i-1].Submit):
				t.Fatalf("%s: job %d out of order: %+v", arrival, i, j)
			case c.Cores < 1 || c.Cores > sc.NodeCores || c.Cores&(c.Cores-1) != 0:
				t.Fatalf("%s: job %d needs %d cores: a power of two up to %d", arrival, i, c.Cores, sc.NodeCores)
			case c.Memory < c.Cores*1024 || c.Memory > sc.NodeMemory*1024 || c.Memory%1024 != 0:
				t.Fatalf("%s: job %d needs %d MB", arrival, i, c.Memory)
			case c.GPUs < 0 || c.GPUs > sc.NodeGPUs/2:
				t.Fatalf("%s: job %d needs %d GPUs", arrival, i, c.GPUs)
			case j.Run < MinRun || j.Run > MaxRun || j.Requested < j.Run || math.Mod(j.Requested, 60) != 0 || j.Requested > 3*j.Run+60:
				t.Fatalf("%s: job %d runs %v of %v requested", arrival, i, j.Run, j.Requested)
			}
			area += j.Run * float64(c.Cores)
			if c.GPUs > 0 {
				gpu++
			}
		}
		span := jobs[len(jobs)-1].Submit
		if arrival == Burst {
			span += float64(sc.Burst) * span / float64(len(jobs)-sc.Burst) // the last burst's share
		}
		load := area / (span * float64(sc.Nodes*sc.NodeCores))
		if math.Abs(load-sc.Load) > 0.1 || math.Abs(float64(gpu)/float64(len(jobs))-sc.GPUShare) > 0.03 {
			t.Errorf("%s: offered load %.3f (want %g), GPU share %.3f (want %g)", arrival, load, sc.Load, float64(gpu)/float64(len(jobs)), sc.GPUShare)
		}
		if arrival == Constant && !near(jobs[2].Submit-jobs[1].Submit, jobs[1].Submit-jobs[0].Submit) {
			t.Errorf("constant gaps %v, %v", jobs[1].Submit-jobs[0].Submit, jobs[2].Submit-jobs[1].Submit)
		}
		if arrival == Burst && (jobs[sc.Burst-1].Submit != jobs[0].Submit || jobs[sc.Burst].Submit == jobs[0].Submit) {
			t.Errorf("bursts of %d: submits %v, %v, %v", sc.Burst, jobs[0].Submit, jobs[sc.Burst-1].Submit, jobs[sc.Burst].Submit)
		}
	}
}

// SWF lines written by hand, and the jobs they become.
func TestTraceJobs(t *testing.T) {
	l, err := swf.Read(strings.NewReader(`; a hand-made log
1 100 5 50 4 -1 -1 8 60 1024 1 1 1 1 1 1 -1 -1
2 130 -1 90 4 -1 2048 -1 60 -1 1 1 1 1 1 1 -1 -1
3 140 -1 -1 4 -1 -1 4 60 -1 5 1 1 1 1 1 -1 -1
4 150 -1 30 -1 -1 -1 -1 -1 -1 1 1 1 1 1 1 -1 -1
5 160 -1 30 2 -1 -1 -1 -1 -1 1 1 1 1 1 1 -1 -1
`))
	if err != nil {
		t.Fatal(err)
	}
	jobs, skipped := TraceJobs(l)
	want := []Job{
		// requested processors (8, not the 4 allocated); 1024 KB per processor: 8 MB.
		{ID: 0, Submit: 100, Run: 50, Requested: 60, Needs: Resources{Cores: 8, Memory: 8}},
		// allocated processors; used memory 2048 KB per processor: 8 MB; run capped at the 60 requested.
		{ID: 1, Submit: 130, Run: 60, Requested: 60, Needs: Resources{Cores: 4, Memory: 8}},
		// no memory known: 1 GB per core; no requested time: the run time.
		{ID: 2, Submit: 160, Run: 30, Requested: 30, Needs: Resources{Cores: 2, Memory: 2048}},
	}
	if skipped != 2 || len(jobs) != len(want) {
		t.Fatalf("%d jobs, %d skipped: %+v", len(jobs), skipped, jobs)
	}
	for i := range want {
		if jobs[i] != want[i] {
			t.Errorf("job %d: %+v, want %+v", i, jobs[i], want[i])
		}
	}
	w := window(jobs, 2, 1)
	if len(w) != 2 || w[0].Submit != 0 || w[0].ID != 0 || w[1].ID != 1 || w[1].Submit != (jobs[1].Submit-jobs[0].Submit) && w[1].Submit != (jobs[2].Submit-jobs[1].Submit) {
		t.Errorf("window %+v", w)
	}
	if got := window(jobs, 10, 1); len(got) != 3 {
		t.Errorf("a window longer than the trace: %d jobs", len(got))
	}
}

func TestShippedTraceReplays(t *testing.T) {
	l, err := ShippedTrace()
	if err != nil {
		t.Fatal(err)
	}
	jobs, skipped := TraceJobs(l)
	if len(jobs) != 500 || skipped != 0 {
		t.Fatalf("%d jobs, %d skipped", len(jobs), skipped)
	}
	sc := Default()
	sc.Arrival, sc.Jobs = SWF, 50
	e, err := New(sc)
	if err != nil {
		t.Fatal(err)
	}
	a, b := e.Workload(1), e.Workload(2)
	if len(a) != 50 || a[0].Submit != 0 || a[0].Run == b[0].Run && a[1].Run == b[1].Run && a[2].Run == b[2].Run {
		t.Errorf("windows of seeds 1 and 2 start with the same jobs, or not at 0: %+v %+v", a[:3], b[:3])
	}
	r, err := e.Run(1, nil)
	if err != nil || r.Completed != 50 {
		t.Fatalf("%v, %d completed", err, r.Completed)
	}
}

func TestValidateNamesTheFlag(t *testing.T) {
	for _, c := range []struct {
		change func(*Scenario)
		flag   string
	}{
		{func(s *Scenario) { s.Nodes = 0 }, "nodes"},
		{func(s *Scenario) { s.GPUNodes = 9 }, "gpu-nodes"},
		{func(s *Scenario) { s.NodeGPUs = 0 }, "node-gpus"},
		{func(s *Scenario) { s.Arrival = "lumpy" }, "arrival"},
		{func(s *Scenario) { s.Load = math.NaN() }, "offered-load"},
		{func(s *Scenario) { s.Burst = 0 }, "burst"},
		{func(s *Scenario) { s.GPUShare = 1.5 }, "gpu-share"},
		{func(s *Scenario) { s.Trace = "x.swf" }, "trace"},
		{func(s *Scenario) { s.Heartbeat = math.Inf(1) }, "heartbeat"},
		{func(s *Scenario) { s.MissedHeartbeats = 0 }, "missed-heartbeats"},
		{func(s *Scenario) { s.Timeout = 0 }, "timeout"},
		{func(s *Scenario) { s.Window = 0 }, "window"},
		{func(s *Scenario) { s.StrandTimeout = -1 }, "strand-timeout"},
		{func(s *Scenario) { s.Crashes = []Crash{{Node: 8}} }, "crash"},
	} {
		sc := Default()
		c.change(&sc)
		var fe *FieldError
		if err := sc.Validate(); !errors.As(err, &fe) || fe.Field != c.flag || !strings.HasPrefix(err.Error(), "--"+c.flag+": ") {
			t.Errorf("%s: got %v", c.flag, err)
		}
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("the default: %v", err)
	}
	for in, want := range map[string]Crash{"2@30": {Node: 2, At: 30}, "0@1.5+60": {Node: 0, At: 1.5, Down: 60}} {
		if c, err := ParseCrash(in); err != nil || c != want {
			t.Errorf("ParseCrash(%q) = %+v, %v", in, c, err)
		}
	}
	for _, in := range []string{"2", "x@3", "1@y", "1@2+0", "1@2+z"} {
		if _, err := ParseCrash(in); err == nil || !strings.HasPrefix(err.Error(), "--crash: ") {
			t.Errorf("ParseCrash(%q): %v", in, err)
		}
	}
}

// A node's own EASY test: 8 cores, 4 free; running a 2-core job to 10 and
// a 2-core job to 20. A head needing 6 cores can start here at 10 with
// nothing to spare.
func TestNodeDelaysHead(t *testing.T) {
	n := &ResourceAgent{Capacity: Resources{Cores: 8}, free: Resources{Cores: 4}, running: map[uint64]*attemptRun{
		1: {job: Job{Needs: Resources{Cores: 2}}, ends: 10},
		2: {job: Job{Needs: Resources{Cores: 2}}, ends: 20},
	}, order: []uint64{1, 2}}
	for _, c := range []struct {
		job   JobInfo
		head  Resources
		delay bool
	}{
		{JobInfo{Needs: cores(2), Requested: 50}, cores(6), true},   // runs past 10 on cores the head needs
		{JobInfo{Needs: cores(2), Requested: 8}, cores(6), false},   // ends by 10
		{JobInfo{Needs: cores(2), Requested: 10}, cores(6), false},  // ends at 10, just in time
		{JobInfo{Needs: cores(2), Requested: 50}, cores(4), true},   // the head fits now on the 4 free cores, none to spare
		{JobInfo{Needs: cores(1), Requested: 50}, cores(3), false},  // the head fits now and leaves a core: room for this one
		{JobInfo{Needs: cores(2), Requested: 50}, cores(16), false}, // this node can never hold that head
	} {
		if got := n.delaysHead(0, c.job, c.head); got != c.delay {
			t.Errorf("job %+v, head %v: delays %v, want %v", c.job, c.head, got, c.delay)
		}
	}
}

func TestAdapterFeatures(t *testing.T) {
	c := CallForBids{
		Job:    JobInfo{Needs: Resources{Cores: 4, Memory: 8 * 1024}, Requested: 4000, Wait: 30},
		Queue:  QueueInfo{Length: 6, Position: 2, HeadWait: 500, HeadRequested: 1000, MeanRequested: 1000, GPUJobs: 3, LiveNodes: 3},
		Record: Record{Completed: 3, Lost: 1},
	}
	n := nodeView{capacity: Resources{Cores: 16, Memory: 64 * 1024, GPUs: 4}, free: Resources{Cores: 8, Memory: 16 * 1024, GPUs: 4}, running: 2, delaysHead: true}
	obs := observe(c, n, 0.5)
	f := Adapter{}.Observe(obs)
	want := map[string]float64{
		FeatScore: 0.5, FeatFit: (4.0/8 + 8.0/16 + 0) / 3, FeatLoad: 0.75, FeatGPUSpare: 1, FeatGPUDemand: 0.5,
		FeatLength: (2 + 4) / 8.0, FeatPressure: 0.5, FeatHead: 0, FeatStarving: 0.25, FeatReliability: 4.0 / 6, FeatIdle: 0, FeatDelaysHead: 1,
	}
	for name, v := range want {
		if got := f.Get(name); !near(got, v) {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	if len(f.Mask) != 2 || !f.Mask[Decline] || !f.Mask[Bid] {
		t.Errorf("mask %v: a busy node may decline", f.Mask)
	}
	n.running = 0
	if m := observe(c, n, 0.5).Mask; m[Decline] || !m[Bid] {
		t.Errorf("mask %v: an idle node may not decline", m)
	}
	// The terminal observation has no job: features stay finite.
	for i, v := range (Adapter{}).Observe(terminal()).Values {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1 {
			t.Errorf("terminal feature %s = %v", Features.Fields()[i], v)
		}
	}
}

// Episodes end outside the simulator too, with every node on the
// runtime's one node (no crashes there).
func TestRunsOnLiveRuntime(t *testing.T) {
	sc := Default()
	sc.Jobs, sc.Arrival, sc.Load = 30, Constant, 2
	e, _ := New(sc)
	e.Jobs = func(uint64) []Job {
		jobs := sc.Synthetic(1)
		for i := range jobs { // a short run: a thousandth of the time
			jobs[i].Submit, jobs[i].Run, jobs[i].Requested = jobs[i].Submit/1000, jobs[i].Run/1000, jobs[i].Requested/1000
		}
		return jobs
	}
	rt := actors.NewLive(actors.LiveOptions{Scale: 1e6})
	defer rt.Close()
	ep, err := e.StartEpisode(rt, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-ep.Done()
	if r := ep.Result(); r.Completed != 30 {
		t.Fatalf("%d of 30 completed", r.Completed)
	}
	if err := ep.KillNode("node-1"); err == nil {
		t.Error("KillNode outside the simulator: no error")
	}
}
