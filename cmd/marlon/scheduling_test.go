package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/marlon-go/marlon/faults"
)

func TestSchedulingCompare(t *testing.T) {
	code, out, errs := marlon(t, "scheduling", "--json", "--nodes", "4", "--gpu-nodes", "1", "--jobs", "30", "--episodes", "4", "--eval-episodes", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var reports []struct {
		Algorithm  string             `json:"algorithm"`
		Metrics    map[string]float64 `json:"metrics"`
		PerEpisode []map[string]any   `json:"per_episode"`
	}
	if err := json.Unmarshal([]byte(out), &reports); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	var bsld []float64
	for _, r := range reports {
		seen[r.Algorithm] = true
		bsld = append(bsld, r.Metrics["mean_bsld"])
		if len(r.PerEpisode) != 2 || r.Metrics["jobs"] != 30 {
			t.Errorf("%s: %d episodes, %v jobs", r.Algorithm, len(r.PerEpisode), r.Metrics["jobs"])
		}
		for _, m := range []string{"completion_rate", "availability", "mttr", "throughput", "mean_wait", "mean_bsld", "utilisation", "makespan"} {
			if _, ok := r.Metrics[m]; !ok {
				t.Errorf("%s: no %s", r.Algorithm, m)
			}
		}
	}
	for _, n := range []string{"fcfs", "easy", "bidding", "bidding-reserve", "qlearning", "pg", "random", "fixed:decline", "fixed:bid"} {
		if !seen[n] {
			t.Errorf("%s missing", n)
		}
	}
	if !sort.Float64sAreSorted(bsld) {
		t.Errorf("not sorted by bounded slowdown: %v", bsld)
	}
	code, out, _ = marlon(t, "scheduling", "--nodes", "4", "--gpu-nodes", "1", "--jobs", "30", "--episodes", "4", "--eval-episodes", "2")
	if code != 0 || !strings.Contains(out, "rank") || !strings.Contains(out, "learnt in 4 episodes") || !strings.Contains(out, "baseline of the learners' actions") {
		t.Fatalf("table:\n%s", out)
	}
}

func TestSchedulingOneAlgorithmWithCrashes(t *testing.T) {
	code, out, errs := marlon(t, "scheduling", "--algorithm", "easy", "--nodes", "4", "--gpu-nodes", "1", "--jobs", "40", "--eval-episodes", "2",
		"--crash", "0@300", "--crash", "2@600+300", "--gantt", "g.png")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"Node 0 fails at 300 s.", "Node 2 fails at 600 s (back 300 s later)", "node failures", "declared failed", "Wrote g.png."} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if st, err := os.Stat("g.png"); err != nil || st.Size() < 1000 {
		t.Errorf("gantt: %v", err)
	}
}

func TestSchedulingWithFaults(t *testing.T) {
	code, out, errs := marlon(t, "scheduling", "--algorithm", "bidding", "--nodes", "6", "--jobs", "60", "--eval-episodes", "2",
		"--faults", "heavy", "--fault-pattern", "cascading", "--strand-timeout", "100000", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Metrics    map[string]float64 `json:"metrics"`
		PerEpisode []struct {
			Faults *faults.Report `json:"faults"`
		} `json:"per_episode"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.PerEpisode) != 2 {
		t.Fatalf("%v\n%s", err, out)
	}
	f := r.PerEpisode[0].Faults
	// The plan's detector is the scenario's heartbeats (30 s x 3); with a
	// strand timeout longer than any outage, no job is lost.
	if f == nil || f.Crashes == 0 || f.Detect != 90 || f.Spec.Pattern != faults.Cascading || r.Metrics["lost"] != 0 {
		t.Fatalf("faults %+v, metrics %v", f, r.Metrics)
	}
	code, out, _ = marlon(t, "scheduling", "--algorithm", "easy", "--nodes", "6", "--jobs", "60", "--eval-episodes", "1", "--faults", "heavy")
	if code != 0 || !strings.Contains(out, "Faults heavy, pattern random") || !strings.Contains(out, "In the first evaluation episode:") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestSchedulingBadInput(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.swf")
	os.WriteFile(bad, []byte("; a header\n1 0 0 10 1 -1 -1 1 60 -1 1 1 1 1 1 1 -1 -1\n2 5 0 ten 1 -1 -1 1 60 -1 1 1 1 1 1 1 -1 -1\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--nodes", "0"}, "--nodes: must be between 1 and 10000, got 0"},
		{[]string{"--arrival", "lumpy"}, `--arrival: must be one of constant, burst, poisson, swf, got "lumpy"`},
		{[]string{"--offered-load", "0"}, "--offered-load: must be a number > 0"},
		{[]string{"--gpu-nodes", "12"}, "--gpu-nodes: must be between 0 and --nodes (8), got 12"},
		{[]string{"--crash", "1@x"}, "--crash: TIME must be a number"},
		{[]string{"--trace", "t.swf"}, "--trace: goes with --arrival swf"},
		{[]string{"--arrival", "swf", "--trace", bad}, "line 3, field 4 (run time): \"ten\" is not an integer"},
		{[]string{"--arrival", "swf", "--trace", "/no/such.swf"}, "--trace: open /no/such.swf"},
		{[]string{"--gantt", "g.png"}, "--gantt needs --algorithm"},
		{[]string{"--algorithm", "sjf"}, `--algorithm: unknown algorithm "sjf"`},
		{[]string{"--algorithm", "easy", "--save", "x"}, "--save, --load and --plot are for algorithms that learn"},
		{[]string{"--algorithm", "easy", "--actions", "bid"}, "--actions: easy acts in the environment's own action space"},
		{[]string{"--actions", "chunk"}, `--actions: unknown adapter "chunk"`},
		{[]string{"--env", "scheduling/v9"}, `--env: unknown "scheduling/v9"`},
		{[]string{"stray"}, `unexpected argument "stray"`},
		{[]string{"--faults", "severe"}, "--faults: must be one of none, light, medium, heavy, chaos"},
		{[]string{"--fault-pattern", "partition"}, "--fault-pattern: only with --faults"},
		{[]string{"--algorithm", "pg-beta"}, "--algorithm: pg-beta draws from an interval"},
		{[]string{"--faults", "light", "--fault-heartbeat", "3"}, "--fault-heartbeat: no such flag"},
	} {
		code, _, errs := marlon(t, append([]string{"scheduling"}, c.args...)...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, errs, c.want)
		}
	}
}

// The trace shipped with the package is what the command says made it.
func TestShippedTraceIsReproducible(t *testing.T) {
	shipped, err := os.ReadFile(filepath.Join("..", "..", "examples", "scheduling", "traces", "marlon-500.swf"))
	if err != nil {
		t.Fatal(err)
	}
	code, _, errs := marlon(t, "scheduling", "--arrival", "poisson", "--jobs", "500", "--offered-load", "0.85", "--seed", "2026", "--write-trace", "made.swf")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	made, err := os.ReadFile("made.swf")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(made, shipped) {
		t.Fatal("the shipped trace is not what its header's command writes")
	}
}

func TestSchedulingScenarioFile(t *testing.T) {
	code, out, _ := marlon(t, "scheduling", "--nodes", "3", "--gpu-nodes", "0", "--crash", "1@50+10", "--show-scenario")
	if code != 0 {
		t.Fatal(code)
	}
	os.WriteFile("s.json", []byte(out), 0o644)
	code, out2, errs := marlon(t, "scheduling", "--scenario", mustAbs(t, "s.json"), "--jobs", "7", "--show-scenario")
	if code != 0 || !strings.Contains(out2, `"nodes": 3`) || !strings.Contains(out2, `"jobs": 7`) || !strings.Contains(out2, `"node": 1`) {
		t.Fatalf("exit %d %s\n%s", code, errs, out2)
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
