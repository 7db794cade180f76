package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/marlon-go/marlon/examples/scheduling"
	"github.com/marlon-go/marlon/examples/scheduling/schednet"
	"github.com/marlon-go/marlon/examples/scheduling/swf"
)

// schedLiveReport is what the tests read of marlon scheduling --live --json.
type schedLiveReport struct {
	Algorithm string             `json:"algorithm"`
	Metrics   map[string]float64 `json:"metrics"`
	Training  *training          `json:"training"`
	Live      struct {
		Nodes        []struct{ Name string }  `json:"nodes"`
		NodesLeft    []string                 `json:"nodes_left"`
		Placed       []scheduling.PlacedAgent `json:"placed"`
		Jobs         []scheduling.JobRecord   `json:"jobs"`
		Failures     []scheduling.Failure     `json:"failures"`
		AgentReports []scheduling.AgentReport `json:"agent_reports"`
		Reports      int                      `json:"reports"`
		Problems     []string                 `json:"problems"`
		Simulated    map[string]float64       `json:"simulated"`
		Error        string                   `json:"error"`
	} `json:"live"`
}

// writeTrace writes a workload of n jobs as SWF to a file of dir: job i
// submitted at i*gap s, running run + (37 i mod spread) s, on 2^(i mod 4)
// cores with 1 GB each.
func writeTrace(t *testing.T, dir string, n int, gap, run, spread float64) string {
	t.Helper()
	jobs := make([]scheduling.Job, n)
	for i := range jobs {
		r := run + float64((37*i)%int(spread))
		c := 1 << (i % 4)
		jobs[i] = scheduling.Job{ID: i, Submit: float64(i) * gap, Run: r, Requested: 2 * r, Needs: scheduling.Resources{Cores: c, Memory: c * 1024}}
	}
	path := filepath.Join(dir, "trace.swf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := swf.Write(f, scheduling.ToSWF(jobs, []string{"Note: a test's"})); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkJobsOnce asserts what every live run must show: every job
// completed, exactly once by the ledger (one completed run, its last), and
// the agents' reports agreeing with it.
func checkJobsOnce(t *testing.T, r schedLiveReport, jobs int) {
	t.Helper()
	if len(r.Live.Jobs) != jobs || r.Metrics["completed"] != float64(jobs) || len(r.Live.Problems) != 0 {
		t.Fatalf("%d job records, %v completed of %d; problems %q", len(r.Live.Jobs), r.Metrics["completed"], jobs, r.Live.Problems)
	}
	credited := map[uint64]int{} // completing attempt -> job
	for _, j := range r.Live.Jobs {
		n := 0
		for _, run := range j.Runs {
			if run.Outcome == "completed" {
				n++
			}
		}
		if j.State != "completed" || n != 1 || j.Runs[len(j.Runs)-1].Outcome != "completed" {
			t.Fatalf("job %d: %s, runs %+v", j.ID, j.State, j.Runs)
		}
		credited[j.Runs[len(j.Runs)-1].Attempt] = j.ID
	}
	// Each completion an agent reports is its job's completing one, or a
	// stale one the ledger refused; none is reported twice.
	seen := map[uint64]bool{}
	for _, rep := range r.Live.AgentReports {
		for _, c := range rep.Completed {
			if seen[c.Attempt] {
				t.Fatalf("attempt %d reported twice", c.Attempt)
			}
			seen[c.Attempt] = true
			if id, ok := credited[c.Attempt]; ok && id != c.Job {
				t.Fatalf("node %d reports attempt %d of job %d; the ledger credits it to job %d", rep.Node, c.Attempt, c.Job, id)
			}
		}
	}
}

func schedLiveJSON(t *testing.T, args ...string) schedLiveReport {
	t.Helper()
	code, out, errs := marlon(t, append([]string{"scheduling", "--live", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errs)
	}
	var r schedLiveReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return r
}

// A live run in one process: the agents on a node of this process, through
// an embedded NATS server, with a heuristic, a central discipline and a
// learner trained in the simulator (then loaded from its checkpoint).
func TestSchedulingLiveInOneProcess(t *testing.T) {
	dir := t.TempDir()
	trace := writeTrace(t, dir, 30, 5, 20, 60)
	base := []string{"--arrival", "swf", "--trace", trace, "--nodes", "3", "--gpu-nodes", "0", "--time-scale", "1ms"}
	r := schedLiveJSON(t, append(base, "--algorithm", "bidding")...)
	checkJobsOnce(t, r, 30)
	if len(r.Live.Placed) != 3 || r.Live.Reports != 3 || r.Live.Nodes[0].Name != schednet.LocalCompute || r.Metrics["bids"] == 0 {
		t.Fatalf("placed %+v, %d reports, nodes %+v, %v bids", r.Live.Placed, r.Live.Reports, r.Live.Nodes, r.Metrics["bids"])
	}
	// The same episode in the simulator: the same jobs, about the same
	// schedule (the live one is late by message latencies).
	if sim := r.Live.Simulated; sim == nil || sim["completed"] != 30 || r.Metrics["makespan"] < sim["makespan"]-1 {
		t.Fatalf("simulated %v, live makespan %v", sim, r.Metrics["makespan"])
	}

	r = schedLiveJSON(t, append(base, "--algorithm", "easy")...)
	checkJobsOnce(t, r, 30)
	if r.Metrics["calls"] != 0 || r.Metrics["rounds"] == 0 {
		t.Fatalf("easy: %v calls for bids, %v rounds: the auctioneer places the jobs", r.Metrics["calls"], r.Metrics["rounds"])
	}

	ckpt := filepath.Join(dir, "q.ckpt")
	r = schedLiveJSON(t, append(base, "--algorithm", "qlearning", "--episodes", "4", "--eval-episodes", "1", "--save", ckpt)...)
	checkJobsOnce(t, r, 30)
	if r.Training == nil || r.Training.Episodes != 4 || r.Training.Checkpoint != ckpt {
		t.Fatalf("training %+v", r.Training)
	}
	r = schedLiveJSON(t, append(base, "--algorithm", "qlearning", "--load", ckpt, "--episodes", "0")...)
	checkJobsOnce(t, r, 30)
	if r.Training == nil || r.Training.Loaded != ckpt || r.Metrics["return"] >= 0 {
		t.Fatalf("loaded %+v, return %v: the agents' returns", r.Training, r.Metrics["return"])
	}
	if code, _, errs := marlon(t, append([]string{"scheduling", "--live", "--algorithm", "pg", "--load", ckpt, "--episodes", "0"}, base...)...); code != 1 || !strings.Contains(errs, "qlearning") {
		t.Fatalf("pg from a qlearning checkpoint: exit %d %s", code, errs)
	}
}

func TestSchedulingLiveRefusesBadFlags(t *testing.T) {
	cases := map[string][]string{
		"--nats":                        {"--nats", "nats://x:4222"},
		"--time-scale":                  {"--time-scale", "1ms"},
		"--wait":                        {"--wait", "1m"},
		"--transport-heartbeat":         {"--transport-heartbeat", "1s"},
		"--algorithm":                   {"--live"},
		"--compare":                     {"--live", "--compare"},
		"--independent":                 {"--live", "--algorithm", "pg", "--independent"},
		"--gantt":                       {"--live", "--algorithm", "easy", "--gantt", "g.png"},
		"--faults":                      {"--live", "--algorithm", "easy", "--faults", "medium"},
		"--crash":                       {"--live", "--algorithm", "easy", "--crash", "1@100"},
		"--key":                         {"--live", "--algorithm", "easy", "--key", "k"},
		"--time-scale ":                 {"--live", "--algorithm", "easy", "--time-scale", "100us"},
		"--timeout":                     {"--live", "--algorithm", "easy", "--timeout", "0.5"},
		"--wait ":                       {"--live", "--algorithm", "easy", "--wait", "0s"},
		"--transport-missed-heartbeats": {"--live", "--algorithm", "easy", "--transport-missed-heartbeats", "0"},
		"--trusted":                     {"--live", "--algorithm", "easy", "--nats", "nats://x:4222", "--key", "k"},
		"--nodes":                       {"--live", "--algorithm", "easy", "--nodes", "0"},
	}
	for flag, args := range cases {
		code, out, errs := marlon(t, append([]string{"scheduling"}, args...)...)
		if code != 2 || out != "" || !strings.Contains(errs, strings.TrimSpace(flag)) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 naming %s", args, code, errs, strings.TrimSpace(flag))
		}
	}
	if code, _, errs := marlon(t, "node", "--compute-nodes", "-1"); code != 2 || !strings.Contains(errs, "--compute-nodes") {
		t.Errorf("node --compute-nodes -1: exit %d %s", code, errs)
	}
}
