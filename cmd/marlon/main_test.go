package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/marlon-go/marlon/actors/actorbench"
	"github.com/marlon-go/marlon/coordination/coordbench"
	"github.com/marlon-go/marlon/examples/loadbalancing/learners"
	"github.com/marlon-go/marlon/faults"
	"github.com/marlon-go/marlon/transport"
)

// marlon runs the command in a fresh working directory (learners write
// their training logs there).
func marlon(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Chdir(t.TempDir())
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCompareRunsEveryTechniqueOnTheSameScenario(t *testing.T) {
	code, out, errs := marlon(t, "loadbalancing", "--compare", "--json", "--episodes", "40", "--eval-episodes", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var reports []map[string]any
	if err := json.Unmarshal([]byte(out), &reports); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out)
	}
	if len(reports) != len(learners.Names()) || len(reports) < 13 {
		t.Fatalf("%d algorithms compared, want all %d", len(reports), len(learners.Names()))
	}
	seen := map[string]bool{}
	var makespans []float64
	for _, r := range reports {
		seen[r["algorithm"].(string)] = true
		if r["ratio"].(float64) < 1 || r["units_done"].(float64) != r["job"].(float64) || r["lower_bound"] != reports[0]["lower_bound"] {
			t.Errorf("%v: ratio %v, units %v of %v, lower bound %v", r["algorithm"], r["ratio"], r["units_done"], r["job"], r["lower_bound"])
		}
		makespans = append(makespans, r["makespan"].(float64))
	}
	if !sort.Float64sAreSorted(makespans) {
		t.Errorf("not sorted by makespan: %v", makespans)
	}
	for _, name := range []string{"static", "ss", "fsc", "mfsc", "gss", "tss", "fac2", "wf", "awf-b", "awf-c", "af", "qlearning", "pg"} {
		if !seen[name] {
			t.Errorf("%s missing from the comparison", name)
		}
	}
	// The table says the same.
	code, out, _ = marlon(t, "loadbalancing", "--compare", "--episodes", "20", "--eval-episodes", "2")
	if code != 0 || !strings.Contains(out, "rank") || strings.Count(out, "\n") < 14 || !strings.Contains(out, "learnt in 20 episodes") || !strings.Contains(out, "Learning gain over the best fixed choice (fixed:share-") {
		t.Fatalf("table:\n%s", out)
	}
}

func TestOneAlgorithmAsJSON(t *testing.T) {
	code, out, errs := marlon(t, "loadbalancing", "--algorithm", "fac2", "--workers", "4", "--speeds", "1,2,3,4", "--job", "2000",
		"--join", "1@20:2", "--leave", "0@50", "--eval-episodes", "3", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"algorithm", "seed", "makespan", "lower_bound", "ratio", "idle_time", "requests", "units_done", "job"} {
		if _, ok := r[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if r["algorithm"] != "fac2" || r["units_done"] != 2000.0 || len(r["per_episode"].([]any)) != 3 || len(r["workers"].([]any)) != 5 {
		t.Fatalf("%v", out)
	}
}

func TestJSONChunkSizesFollowTheTechniquesFormula(t *testing.T) {
	// mFSC on the default scenario (N = 10000, P = 8): T = 1250, every
	// chunk int(0.55 + T ln 2/ln T) = 122, but the last, 10000 - 81*122 =
	// 118 units.
	code, out, errs := marlon(t, "loadbalancing", "--algorithm", "mfsc", "--eval-episodes", "1", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Workers []struct {
			ID         int   `json:"id"`
			Units      int   `json:"units"`
			Chunks     int   `json:"chunks"`
			ChunkSizes []int `json:"chunk_sizes"`
		} `json:"workers"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	full, last, total := 0, 0, 0
	for _, w := range r.Workers {
		sum := 0
		for _, k := range w.ChunkSizes {
			switch k {
			case 122:
				full++
			case 118:
				last++
			default:
				t.Errorf("worker %d: a chunk of %d units (sizes %v): mFSC's chunk is 122", w.ID, k, w.ChunkSizes)
			}
			sum += k
		}
		if sum != w.Units || len(w.ChunkSizes) != w.Chunks {
			t.Errorf("worker %d: sizes %v add up to %d in %d chunks; it reports %d units in %d", w.ID, w.ChunkSizes, sum, len(w.ChunkSizes), w.Units, w.Chunks)
		}
		total += sum
	}
	if len(r.Workers) != 8 || full != 81 || last != 1 || total != 10000 {
		t.Fatalf("%d workers, %d chunks of 122 and %d of 118, %d units; want 8, 81, 1, 10000", len(r.Workers), full, last, total)
	}
}

func TestBadInputExitsNonZeroNamingTheFlag(t *testing.T) {
	cases := map[string][]string{
		"--workers":                 {"--workers", "0"},
		"--workers ":                {"--workers", "-2"},
		"--speeds":                  {"--speeds", "1,2"},
		"--speeds ":                 {"--speeds", "fast"},
		"--algorithm":               {"--algorithm", "nope"},
		"--leave":                   {"--leave", "12@100"},
		"--leave ":                  {"--leave", "3"},
		"--join":                    {"--join", "x@1"},
		"--episodes":                {"--episodes", "-1"},
		"--eval-episodes":           {"--eval-episodes", "0"},
		"--plot":                    {"--algorithm", "gss", "--plot", "x.png"},
		"--save":                    {"--save", "x.ckpt"},
		"--job":                     {"--job", "0"},
		"--comm-time":               {"--comm-time", "-1"},
		"--unit-time":               {"--unit-time", "0"},
		"--variability":             {"--variability", "-1"},
		"--env":                     {"--env", "loadbalancing/v0"},
		"--actions":                 {"--algorithm", "pg", "--actions", "nope"},
		"--actions ":                {"--algorithm", "gss", "--actions", "share"},
		"--gantt":                   {"--gantt", "g.png"},
		"--faults":                  {"--faults", "severe"},
		"--faults ":                 {"--faults", "medium", "--env", "loadbalancing/v1"},
		"--faults  ":                {"--faults", "medium", "--live", "--algorithm", "gss"},
		"--fault-pattern":           {"--faults", "light", "--fault-pattern", "zigzag"},
		"--fault-pattern ":          {"--fault-pattern", "cascading"}, // without --faults
		"--fault-kinds":             {"--faults", "light", "--fault-kinds", "crash,meteor"},
		"--fault-targets":           {"--faults", "light", "--fault-targets", "2"},
		"--fault-severity":          {"--faults", "light", "--fault-severity", "5"},
		"--fault-heartbeat":         {"--faults", "light", "--fault-heartbeat", "0"},
		"--fault-missed-heartbeats": {"--faults", "light", "--fault-missed-heartbeats", "0"},

		"--slow":         {"--env", "loadbalancing/v2", "--slow", "2@100:0.25"},
		"--slow ":        {"--slow", "2@100"},
		"--perturb":      {"--perturb", "speed:jump:1,2,3"},
		"--latency":      {"--latency", "0@5"},
		"--random-join":  {"--random-join", "2@50"},
		"--random-leave": {"--random-leave", "8@0-10"},
		"--distribution": {"--distribution", "nope"},
		"--workers  ":    {"--distribution", "mixed", "--workers", "4"},
		"--slow  ":       {"--env", "loadbalancing/v1", "--slow", "2@100:0.25"},
	}
	for flag, args := range cases {
		code, out, errs := marlon(t, append([]string{"loadbalancing"}, args...)...)
		if code != 2 || out != "" || !strings.Contains(errs, strings.TrimSpace(flag)) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 naming %s", args, code, errs, flag)
		}
	}
	if code, _, errs := marlon(t, "nonsense"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: exit %d %q", code, errs)
	}
}

func TestFaultsInTheOutput(t *testing.T) {
	args := []string{"loadbalancing", "--algorithm", "fac2", "--job", "3000", "--eval-episodes", "2", "--faults", "heavy", "--fault-pattern", "partition"}
	code, out, errs := marlon(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		UnitsDone  int `json:"units_done"`
		Faults     faults.Report
		PerEpisode []struct {
			Faults *faults.Report
		} `json:"per_episode"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.UnitsDone != 3000 || len(r.PerEpisode) != 2 || r.PerEpisode[1].Faults == nil {
		t.Fatalf("%s", out)
	}
	parts := 0
	for _, e := range r.Faults.Timeline {
		if e.What == "partition" {
			parts++
		}
	}
	if parts != 3 || r.Faults.Spec.Pattern != faults.PartitionPattern {
		t.Fatalf("heavy partitions: %d in the timeline %+v, want 3", parts, r.Faults.Timeline)
	}
	code, out, _ = marlon(t, args...)
	if code != 0 || !strings.Contains(out, "Faults heavy, pattern partition") || !strings.Contains(out, "declared down") {
		t.Fatalf("table output:\n%s", out)
	}
}

func TestHelpShowsExamples(t *testing.T) {
	code, out, errs := marlon(t, "loadbalancing", "--help")
	if code != 0 || errs != "" || !strings.Contains(out, "Examples:") || !strings.Contains(out, "--compare") || !strings.Contains(out, "-workers int") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if code, out, _ := marlon(t, "help"); code != 0 || !strings.Contains(out, "loadbalancing") {
		t.Fatalf("help: %d %s", code, out)
	}
}

func TestEveryCommandsHelpGoesToStdout(t *testing.T) {
	for _, c := range commands() {
		for _, h := range []string{"--help", "-h"} {
			code, out, errs := marlon(t, c.name, h)
			if code != 0 || errs != "" || !strings.Contains(out, "Usage: marlon "+c.name) {
				t.Errorf("%s %s: exit %d, stdout %d bytes, stderr %q; want the help on stdout, exit 0", c.name, h, code, len(out), errs)
			}
		}
	}
}

func TestABadFlagValueGetsOneLineNamingTheFlag(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"loadbalancing", "--workers", "abc"}, `--workers: wants a whole number, got "abc"`},
		{[]string{"loadbalancing", "--comm-time", "x"}, `--comm-time: wants a number, got "x"`},
		{[]string{"loadbalancing", "--seed", "-1"}, `--seed: wants a whole number, 0 or more, got "-1"`},
		{[]string{"loadbalancing", "--json=maybe"}, `--json: wants true or false, got "maybe"`},
		{[]string{"loadbalancing", "--time-scale", "3"}, `--time-scale: wants a duration with its unit`},
		{[]string{"loadbalancing", "--job", "99999999999999999999"}, `--job: wants a whole number, got "99999999999999999999", which is out of range`},
		{[]string{"loadbalancing", "--seed"}, `--seed: needs a value: a whole number, 0 or more`},
		{[]string{"loadbalancing", "--worker", "3"}, `--worker: no such flag (did you mean --workers?`},
		{[]string{"loadbalancing", "stray"}, `unexpected argument "stray"`},
		{[]string{"report", "--seeds", "many"}, `--seeds: wants a whole number, got "many"`},
		{[]string{"bench", "--messages", "1e"}, `--messages: wants a whole number`},
		{[]string{"keys", "--nope"}, `--nope: no such flag`},
	}
	for _, c := range cases {
		code, out, errs := marlon(t, c.args...)
		if code != 2 || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line with %q", c.args, code, errs, c.want)
		}
	}
}

func TestScenarioFileRoundTripAndOverride(t *testing.T) {
	code, out, _ := marlon(t, "loadbalancing", "--workers", "3", "--speeds", "1,2,3", "--job", "500", "--leave", "1@10", "--show-scenario")
	if code != 0 {
		t.Fatal(out)
	}
	path := filepath.Join(t.TempDir(), "sc.json")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := marlon(t, "loadbalancing", "--scenario", path, "--job", "800", "--algorithm", "gss", "--json")
	if code != 0 {
		t.Fatal(errs)
	}
	var r map[string]any
	json.Unmarshal([]byte(out), &r)
	if r["job"] != 800.0 || len(r["workers"].([]any)) != 3 || r["speeds"].([]any)[2] != 3.0 {
		t.Fatalf("file scenario with --job override: %s", out)
	}
	os.WriteFile(path, []byte(`{"workers": 2, "typo": 1}`), 0o644)
	if code, _, errs := marlon(t, "loadbalancing", "--scenario", path); code != 2 || !strings.Contains(errs, "typo") {
		t.Fatalf("unknown field: exit %d %s", code, errs)
	}
}

func TestBenchReportsRatios(t *testing.T) {
	code, out, errs := marlon(t, "bench", "--messages", "2000", "--transport-messages", "2000", "--transport-requests", "20", "--coordination-cas", "20", "--json")
	if code != 0 {
		t.Fatal(errs)
	}
	var r struct {
		actorbench.Result
		Transport    []transport.BenchResult `json:"transport"`
		Coordination *coordbench.Result      `json:"coordination"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if !(r.SimPerSec > 0 && r.LivePerSec > 0 && r.ChanPerSec > 0 && r.LiveCostChan > 0) {
		t.Fatalf("%v", out)
	}
	if len(r.Transport) != 2 || r.Transport[0].Auth != "session" || r.Transport[1].Auth != "sign-frames" {
		t.Fatalf("transport: %v", out)
	}
	for _, b := range r.Transport {
		if !(b.ThroughputRatio > 0 && b.LatencyRatio > 0 && b.RemotePerSec > 0 && b.RawRequestMicros > 0) {
			t.Fatalf("transport %s: %+v", b.Auth, b)
		}
	}
	if c := r.Coordination; c == nil || !(c.StoreCASRatio > 0 && c.VarCASRatio > 0 && c.MeanFailoverTTLs > 0) || len(c.Barriers) != 2 || c.Barriers[1].Parties != 10 {
		t.Fatalf("coordination: %v", out)
	}
	code, out, _ = marlon(t, "bench", "--messages", "2000", "--transport=false", "--coordination=false")
	if code != 0 || strings.Contains(out, "transport") || strings.Contains(out, "coordination") || !strings.Contains(out, "live runtime") {
		t.Fatalf("--transport=false --coordination=false:\n%s", out)
	}
	for flag, args := range map[string][]string{
		"--coordination-replicas": {"bench", "--coordination-replicas", "2"},
		"--coordination-cas":      {"bench", "--coordination-cas", "1"},
	} {
		if code, _, errs := marlon(t, args...); code != 2 || !strings.Contains(errs, flag) {
			t.Errorf("%v: exit %d, %s", args, code, errs)
		}
	}
}

func TestBenchScale(t *testing.T) {
	code, out, errs := marlon(t, "bench", "--messages", "2000", "--transport=false", "--coordination=false", "--scale", "--scale-workers", "4,16", "--scale-units", "1000,5000", "--scale-rounds", "2", "--json")
	if code != 0 {
		t.Fatal(errs)
	}
	var r struct {
		Scale []scalePoint `json:"scale"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		series         string
		workers, units int
	}{{"workers", 4, 400}, {"workers", 16, 1600}, {"units", 64, 1000}, {"units", 64, 5000}}
	if len(r.Scale) != len(want) {
		t.Fatalf("scale points %+v", r.Scale)
	}
	for i, w := range want {
		p := r.Scale[i]
		if p.Series != w.series || p.Workers != w.workers || p.Units != w.units || p.Rounds != 2 || !(p.Seconds > 0) || p.Chunks < 1 || p.Events < uint64(p.Chunks) {
			t.Fatalf("point %d: %+v, want %+v", i, p, w)
		}
		if (i == 0 || i == 2) && (p.TimeRatio != 1 || p.MemoryRatio != 1) {
			t.Fatalf("the first size of a series is its own baseline: %+v", p)
		}
	}
	code, out, _ = marlon(t, "bench", "--messages", "2000", "--transport=false", "--coordination=false", "--scale", "--scale-workers", "4", "--scale-units", "1000")
	if code != 0 || !strings.Contains(out, "µs/worker") || !strings.Contains(out, "ns/unit") {
		t.Fatalf("scale table:\n%s", out)
	}
	if code, _, errs := marlon(t, "bench", "--scale", "--scale-workers", "4,0"); code != 2 || !strings.Contains(errs, "--scale-workers") {
		t.Fatalf("a bad size: exit %d %s", code, errs)
	}
	if code, _, errs := marlon(t, "bench", "--scale", "--scale-rounds", "0"); code != 2 || !strings.Contains(errs, "--scale-rounds") {
		t.Fatalf("a bad number of rounds: exit %d %s", code, errs)
	}
}

func TestTrainSaveLoadAndFigures(t *testing.T) {
	dir := t.TempDir()
	ckpt, logf := filepath.Join(dir, "q.ckpt"), filepath.Join(dir, "q.jsonl")
	gantt, curve := filepath.Join(dir, "g.png"), filepath.Join(dir, "c.png")
	code, out, errs := marlon(t, "loadbalancing", "--algorithm", "qlearning", "--episodes", "60", "--eval-episodes", "3",
		"--save", ckpt, "--log", logf, "--plot", curve, "--gantt", gantt, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var trained map[string]any
	if err := json.Unmarshal([]byte(out), &trained); err != nil {
		t.Fatal(err)
	}
	tr := trained["training"].(map[string]any)
	if tr["episodes"] != 60.0 || tr["curve_log"] != logf || tr["checkpoint"] != ckpt || tr["shared"] != true {
		t.Fatalf("training %v", tr)
	}
	// 60 training episodes; validations of 3 episodes after 25, 50 and (the
	// last models) 60; the final evaluation's 3.
	lines, _ := os.ReadFile(logf)
	if n := strings.Count(string(lines), "\n"); n != 60+3*3+3 {
		t.Fatalf("%d lines in the training log, want 72", n)
	}
	for _, f := range []string{ckpt, gantt, curve} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Fatalf("%s not written: %v", f, err)
		}
	}
	// The checkpoint, evaluated without training, acts exactly as trained.
	code, out, errs = marlon(t, "loadbalancing", "--algorithm", "qlearning", "--load", ckpt, "--episodes", "0", "--eval-episodes", "3", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var loaded map[string]any
	json.Unmarshal([]byte(out), &loaded)
	if loaded["makespan"] != trained["makespan"] || loaded["requests"] != trained["requests"] {
		t.Fatalf("loaded checkpoint: makespan %v requests %v, trained: %v %v", loaded["makespan"], loaded["requests"], trained["makespan"], trained["requests"])
	}
	// Shared policies load into another number of workers.
	if code, _, errs := marlon(t, "loadbalancing", "--algorithm", "qlearning", "--load", ckpt, "--episodes", "0", "--workers", "12", "--eval-episodes", "1"); code != 0 {
		t.Fatalf("12 workers: exit %d: %s", code, errs)
	}
	// A checkpoint of another algorithm, or a damaged one, is refused.
	if code, _, errs := marlon(t, "loadbalancing", "--algorithm", "pg", "--load", ckpt); code != 1 || !strings.Contains(errs, "trained with qlearning") {
		t.Fatalf("pg from a qlearning checkpoint: exit %d %s", code, errs)
	}
	b, _ := os.ReadFile(ckpt)
	os.WriteFile(ckpt, b[:len(b)/2], 0o644)
	if code, _, errs := marlon(t, "loadbalancing", "--algorithm", "qlearning", "--load", ckpt); code != 1 || !strings.Contains(errs, "--load") || !strings.Contains(errs, "corrupt") {
		t.Fatalf("damaged checkpoint: exit %d %s", code, errs)
	}
}

// A policy trained once on a distribution of scenarios is used, as it is,
// on scenarios it never saw: --load FILE --episodes 0.
func TestTrainOnADistributionThenLoadOnAScenario(t *testing.T) {
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "mixed.ckpt")
	code, out, errs := marlon(t, "loadbalancing", "--distribution", "mixed", "--algorithm", "pg", "--episodes", "20", "--eval-episodes", "2", "--save", ckpt)
	if code != 0 || !strings.Contains(out, "distribution mixed") {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	for _, args := range [][]string{
		{"--workers", "5", "--job", "3000", "--slow", "1@50:0.3"},
		{"--workers", "20", "--job", "4000", "--random-join", "3@20-60", "--comm-time", "2"},
	} {
		code, out, errs := marlon(t, append([]string{"loadbalancing", "--algorithm", "pg", "--load", ckpt, "--episodes", "0", "--eval-episodes", "2", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		var r map[string]any
		json.Unmarshal([]byte(out), &r)
		if r["ratio"].(float64) < 1 || r["units_done"] != r["job"] {
			t.Fatalf("%v: %v", args, out)
		}
	}
	// v1 refuses it: the checkpoint records the version it was trained on.
	if code, _, errs := marlon(t, "loadbalancing", "--env", "loadbalancing/v1", "--algorithm", "pg", "--load", ckpt, "--episodes", "0"); code == 0 || !strings.Contains(errs, "v4") {
		t.Fatalf("a v4 checkpoint on v1: exit %d %s", code, errs)
	}
}

func TestReportOnTheSuite(t *testing.T) {
	code, out, errs := marlon(t, "report", "--scenarios", "slowdown", "--learners", "qlearning/share,qlearning/technique",
		"--episodes", "10", "--eval-episodes", "2", "--distribution-episodes", "5", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Rows    []learners.SuiteRow   `json:"rows"`
		Summary []learners.SummaryRow `json:"summary"`
		Targets []learners.Target     `json:"targets"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Rows) != 1 || len(r.Rows[0].Learners) != 2 || len(r.Summary) != 2 {
		t.Fatalf("%+v", r)
	}
	tech := r.Rows[0].Learners[1]
	if tech.BestFixed != "fixed:"+r.Rows[0].BestClassical || tech.BestFixedRatio != r.Rows[0].BestClassicalRatio || tech.General == 0 {
		t.Fatalf("technique selection's best fixed choice is the best classical technique: %+v, %+v", tech, r.Rows[0])
	}
	whats := map[string]int{}
	for _, tg := range r.Targets {
		whats[tg.What]++
	}
	if whats["classical"] != 1 || whats["gain"] != 1 || whats["general"] != 2 {
		t.Fatalf("targets %+v", r.Targets)
	}
	code, out, _ = marlon(t, "report", "--scenarios", "default", "--learners", "qlearning/share", "--episodes", "5", "--eval-episodes", "1", "--distribution", "none")
	if code != 0 || !strings.Contains(out, "learning gain") || !strings.Contains(out, "share-") || strings.Contains(out, "trained on") {
		t.Fatalf("table:\n%s", out)
	}
	for _, bad := range [][]string{{"--learners", "gss/share"}, {"--learners", "pg/nope"}, {"--distribution", "x"}, {"--scenarios", "x"}} {
		if code, _, errs := marlon(t, append([]string{"report"}, bad...)...); code != 2 || !strings.Contains(errs, strings.TrimPrefix(bad[0], "--")) {
			t.Errorf("%v: exit %d %s", bad, code, errs)
		}
	}
}

// Ctrl-C during the report: the rows done so far are printed (each one was
// on stderr as it was done), the row in progress is dropped, exit 130.
func TestReportInterrupted(t *testing.T) {
	saved := onInterrupt
	t.Cleanup(func() { onInterrupt = saved })
	stop := make(chan struct{})
	onInterrupt = func() (<-chan struct{}, func()) { return stop, func() {} }
	// Interrupt once the first row is on stderr.
	var w stopWriter
	w.stop, w.at = stop, "report: row 1 of 2"
	code := run([]string{"report", "--scenarios", "default,slowdown", "--learners", "qlearning/share", "--episodes", "5", "--eval-episodes", "1", "--distribution", "none"}, &w.out, &w)
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d: %s", code, exitInterrupted, w.String())
	}
	out := w.out.String()
	rowOf := func(sc string) bool {
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, sc) {
				return true
			}
		}
		return false
	}
	if !strings.Contains(out, "Interrupted: 1 of 2 rows") || !rowOf("default") || rowOf("slowdown") {
		t.Fatalf("report:\n%s", out)
	}
	if !strings.Contains(w.String(), "report: row 1 of 2, default seed 1: qlearning/share") || !strings.Contains(w.String(), "interrupted: 1 of 2 rows") {
		t.Fatalf("stderr:\n%s", w.String())
	}
	for _, bad := range [][]string{{"--episodes", "100001"}, {"--seeds", "101"}, {"--distribution-episodes", "100001"}} {
		if code, _, errs := marlon(t, append([]string{"report"}, bad...)...); code != 2 || !strings.Contains(errs, bad[0]) {
			t.Errorf("%v: exit %d %s", bad, code, errs)
		}
	}
}

// stopWriter is a stderr that closes stop once it has been written at.
type stopWriter struct {
	bytes.Buffer
	out    bytes.Buffer
	at     string
	stop   chan struct{}
	closed bool
}

func (w *stopWriter) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if !w.closed && strings.Contains(w.Buffer.String(), w.at) {
		w.closed = true
		close(w.stop)
	}
	return n, err
}

func TestProgressBarOutlivesAShortTotal(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0) // a character device: drawn as on a terminal
	if err != nil {
		t.Skip(err)
	}
	defer null.Close()
	p := newProgress(null, "x", 1, true)
	if !p.on {
		t.Skip("the null device is not a character device here")
	}
	p.step("a")
	p.step("b") // one more than the total: once a panic in strings.Repeat
	p.finish()
}
