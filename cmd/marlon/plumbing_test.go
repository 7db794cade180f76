package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// marlonHere runs the command in the current directory (that of the last
// marlon call), for runs that follow one another.
func marlonHere(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestOutputsAreCheckedBeforeAnyWork(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "old.jsonl")
	os.WriteFile(existing, []byte("a log\n"), 0o644)
	missing := filepath.Join(dir, "no", "such", "dir")
	cases := map[string][]string{
		"--plot":   {"--algorithm", "qlearning", "--plot", filepath.Join(dir, "f.txt")},
		"--plot ":  {"--algorithm", "qlearning", "--plot", filepath.Join(missing, "c.png")},
		"--gantt":  {"--algorithm", "fac2", "--gantt", filepath.Join(dir, "g.txt")},
		"--gantt ": {"--algorithm", "fac2", "--gantt", filepath.Join(missing, "g.png")},
		"--save":   {"--algorithm", "qlearning", "--save", filepath.Join(missing, "x.ckpt")},
		"--save ":  {"--algorithm", "qlearning", "--save", dir},
		"--log":    {"--algorithm", "qlearning", "--log", filepath.Join(missing, "x.jsonl")},
		"--log ":   {"--algorithm", "qlearning", "--log", existing},
		"--log  ":  {"--log", filepath.Join(dir, "new.jsonl")}, // several learners: each has a log of its own
	}
	for flag, args := range cases {
		// 100,000 training episodes: minutes, were the check after them.
		code, out, errs := marlon(t, append([]string{"loadbalancing", "--episodes", "100000"}, args...)...)
		if code != 2 || out != "" || !strings.HasPrefix(errs, "marlon: "+strings.TrimSpace(flag)+":") || strings.Contains(errs, ".checkpoint-") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 naming %s", args, code, errs, strings.TrimSpace(flag))
		}
		if _, err := os.Stat(runsDir); err == nil {
			t.Errorf("%v: a run started (%s/ made) before the outputs were checked", args, runsDir)
		}
	}
	if b, _ := os.ReadFile(existing); string(b) != "a log\n" {
		t.Fatalf("an existing log was touched: %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "f.txt")); err == nil {
		t.Fatal("a figure in no format was created")
	}
}

func TestTheREADMEsRunsKeepTheirLogs(t *testing.T) {
	// --save, then --load it: the second run's log goes elsewhere, and
	// neither lands in the current directory.
	code, out, errs := marlon(t, "loadbalancing", "--algorithm", "qlearning", "--episodes", "30", "--eval-episodes", "2", "--save", "q.ckpt", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var first, second struct {
		Training struct {
			CurveLog   string `json:"curve_log"`
			Checkpoint string `json:"checkpoint"`
		} `json:"training"`
	}
	json.Unmarshal([]byte(out), &first)
	log1 := first.Training.CurveLog
	before, err := os.ReadFile(log1)
	if err != nil || !strings.HasPrefix(log1, runsDir+string(filepath.Separator)+"loadbalancing-qlearning-seed1-") || filepath.Base(log1) != "train.jsonl" {
		t.Fatalf("the first run's log %q: %v", log1, err)
	}
	code, out, errs = marlonHere(t, "loadbalancing", "--algorithm", "qlearning", "--load", "q.ckpt", "--episodes", "0", "--eval-episodes", "2", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	json.Unmarshal([]byte(out), &second)
	log2 := second.Training.CurveLog
	after, _ := os.ReadFile(log1)
	if log2 == "" || log2 == log1 || !bytes.Equal(before, after) {
		t.Fatalf("second log %q, first %q: the first changed %v", log2, log1, !bytes.Equal(before, after))
	}
	if _, err := os.Stat(log2); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(".")
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".jsonl") {
			t.Errorf("%s littered the current directory", e.Name())
		}
	}
	// The table prints where the log went; --compare gives each learner a
	// directory of its own, named in the JSON.
	code, out, _ = marlon(t, "loadbalancing", "--algorithm", "pg", "--episodes", "5", "--eval-episodes", "1")
	if code != 0 || !strings.Contains(out, "training log") || !strings.Contains(out, filepath.Join(runsDir, "loadbalancing-pg-seed1-")) {
		t.Fatalf("the table does not say where the log went:\n%s", out)
	}
	code, out, _ = marlon(t, "loadbalancing", "--compare", "--episodes", "5", "--eval-episodes", "1", "--json")
	var reports []struct {
		Algorithm string `json:"algorithm"`
		Training  *struct {
			CurveLog string `json:"curve_log"`
		} `json:"training"`
	}
	if err := json.Unmarshal([]byte(out), &reports); code != 0 || err != nil {
		t.Fatalf("exit %d, %v", code, err)
	}
	logs := map[string]bool{}
	for _, r := range reports {
		if r.Training != nil {
			if _, err := os.Stat(r.Training.CurveLog); err != nil || logs[filepath.Dir(r.Training.CurveLog)] {
				t.Fatalf("%s: log %q: %v, or a directory shared", r.Algorithm, r.Training.CurveLog, err)
			}
			logs[filepath.Dir(r.Training.CurveLog)] = true
		}
	}
	if len(logs) < 2 {
		t.Fatalf("learners' logs %v", logs)
	}
}

// interruptAfter makes the command's interrupt come once the training log
// in runs/ holds n lines, as a user's Ctrl-C would.
func interruptAfter(t *testing.T, n int) {
	t.Helper()
	saved := onInterrupt
	t.Cleanup(func() { onInterrupt = saved })
	onInterrupt = func() (<-chan struct{}, func()) {
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(stop)
			for {
				logs, _ := filepath.Glob(filepath.Join(runsDir, "*", "train.jsonl"))
				for _, l := range logs {
					if b, _ := os.ReadFile(l); bytes.Count(b, []byte("\n")) >= n {
						return
					}
				}
				select {
				case <-done:
					return
				case <-time.After(time.Millisecond):
				}
			}
		}()
		return stop, func() { close(done) }
	}
}

func TestInterruptedTrainingSavesALoadableCheckpointAndPrintsTheSummary(t *testing.T) {
	interruptAfter(t, 40)
	code, out, errs := marlon(t, "loadbalancing", "--algorithm", "qlearning", "--episodes", "100000", "--eval-episodes", "2")
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitInterrupted, out, errs)
	}
	if !strings.Contains(out, "interrupted after") || !strings.Contains(out, "makespan") || !strings.Contains(out, "checkpoint") {
		t.Fatalf("no summary of what was trained:\n%s", out)
	}
	ckpts, _ := filepath.Glob(filepath.Join(runsDir, "*", "checkpoint.ckpt"))
	if len(ckpts) != 1 || !strings.Contains(errs, ckpts[0]) {
		t.Fatalf("checkpoints %v; stderr %s", ckpts, errs)
	}
	ckpt, _ := filepath.Abs(ckpts[0])
	onInterrupt = func() (<-chan struct{}, func()) { return nil, func() {} }
	if code, _, errs := marlon(t, "loadbalancing", "--algorithm", "qlearning", "--load", ckpt, "--episodes", "0", "--eval-episodes", "1"); code != 0 {
		t.Fatalf("the interrupted run's checkpoint does not load: exit %d %s", code, errs)
	}

	// With --save, and in a comparison: the learner interrupted is saved
	// there and measured; the algorithms after it are not run.
	interruptAfter(t, 20)
	save := filepath.Join(t.TempDir(), "q.ckpt")
	code, out, errs = marlon(t, "loadbalancing", "--algorithm", "pg", "--episodes", "100000", "--eval-episodes", "2", "--save", save, "--json")
	var r struct {
		Training struct {
			Episodes    int    `json:"episodes"`
			Interrupted bool   `json:"interrupted"`
			Checkpoint  string `json:"checkpoint"`
		} `json:"training"`
	}
	if err := json.Unmarshal([]byte(out), &r); code != exitInterrupted || err != nil || !r.Training.Interrupted || r.Training.Checkpoint != save || r.Training.Episodes < 1 || r.Training.Episodes >= 100000 {
		t.Fatalf("exit %d, %+v, %v\n%s", code, r, err, errs)
	}
	if _, err := os.Stat(save); err != nil {
		t.Fatal(err)
	}
}

func TestInterruptingACompareKeepsWhatRan(t *testing.T) {
	interruptAfter(t, 30)
	// The first learner in the registry's order is interrupted; the
	// algorithms before it ran, those after it do not.
	code, out, errs := marlon(t, "loadbalancing", "--compare", "--episodes", "100000", "--eval-episodes", "1", "--json")
	var reports []map[string]any
	if err := json.Unmarshal([]byte(out), &reports); code != exitInterrupted || err != nil || len(reports) < 2 {
		t.Fatalf("exit %d, %d reports, %v\n%s", code, len(reports), err, errs)
	}
	ran := map[string]bool{}
	for _, r := range reports {
		ran[r["algorithm"].(string)] = true
	}
	if !ran["static"] || !ran["qlearning"] || ran["pg"] {
		t.Fatalf("ran %v: want the classical techniques and qlearning (interrupted), not pg", ran)
	}
	if !strings.Contains(errs, "not run: ") {
		t.Fatalf("stderr does not say what was not run:\n%s", errs)
	}
}

func TestInterruptInAProcess(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "loadbalancing", "--algorithm", "qlearning", "--episodes", "100000", "--eval-episodes", "2", "--save", "q.ckpt")
	var out, errb buffer
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		logs, _ := filepath.Glob(filepath.Join(dir, runsDir, "*", "train.jsonl"))
		if len(logs) == 1 {
			if b, _ := os.ReadFile(logs[0]); bytes.Count(b, []byte("\n")) >= 50 {
				break
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no training after a minute: %s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInterrupted {
		t.Fatalf("after SIGINT: %v, want exit %d\n%s", err, exitInterrupted, errb.String())
	}
	if !strings.Contains(out.String(), "interrupted after") || !strings.Contains(out.String(), "q.ckpt") {
		t.Fatalf("no summary:\n%s", out.String())
	}
	load := exec.Command(bin, "loadbalancing", "--algorithm", "qlearning", "--load", "q.ckpt", "--episodes", "0", "--eval-episodes", "1")
	load.Dir = dir
	if b, err := load.CombinedOutput(); err != nil {
		t.Fatalf("the checkpoint saved at the interrupt does not load: %v\n%s", err, b)
	}
}

func TestProgressIsDrawnOnATerminalAndLoggedOtherwise(t *testing.T) {
	clock := time.Unix(0, 0)
	saved := progressClock
	progressClock = func() time.Time { return clock }
	defer func() { progressClock = saved }()
	var b bytes.Buffer
	p := newProgress(&b, "running", 100, true)
	for k := 0; k < 100; k++ {
		clock = clock.Add(time.Second) // a second an episode
		p.step("pg")
	}
	p.finish()
	// Not a terminal: a line after 2 s, then every 10 s.
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 10 || !strings.HasPrefix(lines[0], "running: 2 of 100 episodes (2%), 2s, about 1m38s left; pg") {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	// A run of a second prints nothing.
	b.Reset()
	p = newProgress(&b, "running", 10, true)
	for k := 0; k < 10; k++ {
		clock = clock.Add(100 * time.Millisecond)
		p.step("x")
	}
	if p.finish(); b.Len() != 0 {
		t.Fatalf("a second's run printed %q", b.String())
	}
}

func TestScenarioFilesDefaultWhatTheyOmitAndNameWhatIsWrong(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sc.json")
	write := func(s string) { os.WriteFile(path, []byte(s), 0o644) }
	write(`{"workers": 4}`)
	code, out, errs := marlon(t, "loadbalancing", "--scenario", path, "--algorithm", "fac2", "--eval-episodes", "1", "--json")
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || r["job"] != 10000.0 || len(r["workers"].([]any)) != 4 {
		t.Fatalf(`{"workers": 4}: exit %d %s %v`, code, errs, r["job"])
	}
	for file, want := range map[string]string{
		`{"workers": 4}{"workers": 5}`:              `line 1: more after the scenario's JSON object`,
		"{\"workers\": 4}\n\n]":                     `line 3: more after the scenario's JSON object`,
		`{"workers": "4"}`:                          `"workers" (the --workers flag) wants a whole number, got string`,
		`{"job": 0}`:                                `"job" (the --job flag): must be at least 1 unit, got 0`,
		`{"unit_time": 0}`:                          `"unit_time" (the --unit-time flag): must be a finite number > 0`,
		`{"speeds": [1e-300, 1, 1, 1, 1, 1, 1, 1]}`: `"speeds" (the --speeds flag): must all be between 0.001 and 1000`,
		`{"joins": [{"at": "x", "count": 1}]}`:      `"joins.at" (the --join flag) wants a number, got string`,
		`{"leaves": [{"at": 1, "worker": 99}]}`:     `"leaves" (the --leave flag): worker must be between 0 and 7`,
		`{"typo": 1}`:                               `unknown field "typo"; the fields are workers, speeds`,
		`{"workers": 4,`:                            `the JSON object is cut short`,
		``:                                          `empty`,
	} {
		write(file)
		code, out, errs := marlon(t, "loadbalancing", "--scenario", path, "--algorithm", "fac2")
		if code != 2 || out != "" || !strings.Contains(errs, "--scenario "+path) || !strings.Contains(errs, want) {
			t.Errorf("%s: exit %d, %q; want exit 2 and %q", file, code, errs, want)
		}
	}
	// A flag given overrides the file, and is named as a flag.
	write(`{"job": 0}`)
	if code, _, errs := marlon(t, "loadbalancing", "--scenario", path, "--job", "0"); code != 2 || !strings.HasPrefix(errs, "marlon: --job: ") {
		t.Errorf("--job 0 over a file: exit %d %q", code, errs)
	}
}

func TestValuesThatMakeResultsMeaninglessAreRefusedOrReported(t *testing.T) {
	for flag, args := range map[string][]string{
		"--speeds":     {"--workers", "2", "--speeds", "1e-300,1"},
		"--speeds ":    {"--workers", "2", "--speeds", "0.5,600"},
		"--episodes":   {"--algorithm", "pg", "--episodes", "100001"},
		"--time-scale": {"--live", "--algorithm", "gss", "--time-scale", "1us"},
		"--gantt":      {"--algorithm", "gss", "--workers", "501", "--gantt", "g.png"},
	} {
		code, out, errs := marlon(t, append([]string{"loadbalancing"}, args...)...)
		if code != 2 || out != "" || !strings.HasPrefix(errs, "marlon: "+strings.TrimSpace(flag)+": ") || !strings.Contains(errs, ": ") {
			t.Errorf("%v: exit %d, %q", args, code, errs)
		}
	}
	// A join after the end is reported, in the table and the JSON.
	code, out, _ := marlon(t, "loadbalancing", "--algorithm", "fac2", "--join", "2@1e9", "--leave", "1@5e8", "--eval-episodes", "2")
	if code != 0 || !strings.Contains(out, "The 2 worker(s) due to join at 1e+09 never joined") || !strings.Contains(out, "Worker 1, due to leave at 5e+08, never left") {
		t.Fatalf("a join after the end:\n%s", out)
	}
	code, out, _ = marlon(t, "loadbalancing", "--algorithm", "fac2", "--join", "2@1e9", "--join", "1@10", "--eval-episodes", "2", "--json")
	var r struct {
		NeverJoined []struct {
			At    float64 `json:"at"`
			Count int     `json:"count"`
		} `json:"never_joined"`
		Workers []any `json:"workers"`
	}
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || len(r.NeverJoined) != 1 || r.NeverJoined[0].At != 1e9 || len(r.Workers) != 9 {
		t.Fatalf("never joined %+v, %d workers, %v", r.NeverJoined, len(r.Workers), err)
	}
	code, out, _ = marlon(t, "loadbalancing", "--compare", "--episodes", "3", "--eval-episodes", "1", "--join", "2@1e9")
	if code != 0 || !strings.Contains(out, "never joined: every evaluation episode of every algorithm ended first") {
		t.Fatalf("compare, a join after the end:\n%s", out)
	}
}

func TestTheWorkerTableAndTheGanttSayWhichEpisodeTheyShow(t *testing.T) {
	gantt := filepath.Join(t.TempDir(), "g.svg")
	code, out, errs := marlon(t, "loadbalancing", "--algorithm", "fac2", "--seed", "7", "--eval-episodes", "3", "--leave", "2@100", "--gantt", gantt)
	if code != 0 {
		t.Fatal(errs)
	}
	if !strings.Contains(out, "By worker, in evaluation episode 1 of 3 (makespan ") || !strings.Contains(out, "the figures above are means over all 3") {
		t.Fatalf("the worker table does not say which episode:\n%s", out)
	}
	b, _ := os.ReadFile(gantt)
	if !strings.Contains(string(b), "fac2, seed 7, evaluation episode 1 of 3: makespan") {
		t.Fatalf("the Gantt chart's title does not give the seed and the episode")
	}
	// The JSON's workers are the first episode's; the other episodes keep
	// their figures only.
	code, out, _ = marlon(t, "loadbalancing", "--algorithm", "fac2", "--eval-episodes", "3", "--json")
	var r struct {
		WorkersEpisode int `json:"workers_episode"`
		Workers        []any
		PerEpisode     []map[string]any `json:"per_episode"`
	}
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || r.WorkersEpisode != 1 || len(r.Workers) != 8 || len(r.PerEpisode) != 3 || r.PerEpisode[1]["workers"] != nil || r.PerEpisode[1]["makespan"] == nil {
		t.Fatalf("workers from episode %d, %d workers, per episode %v, %v", r.WorkersEpisode, len(r.Workers), r.PerEpisode, err)
	}
}

func TestEveryEnvironmentCommandGetsThePlumbing(t *testing.T) {
	// The scheduling command's scenario files and figures go through the
	// same checks as load balancing's.
	path := filepath.Join(t.TempDir(), "sc.json")
	os.WriteFile(path, []byte(`{"nodes": 4}`), 0o644)
	if code, out, errs := marlon(t, "scheduling", "--scenario", path, "--show-scenario"); code != 0 || !strings.Contains(out, `"nodes": 4`) || !strings.Contains(out, `"jobs": 200`) {
		t.Fatalf(`{"nodes": 4}: exit %d %s%s`, code, out, errs)
	}
	for file, want := range map[string]string{
		`{"nodes": 0}`:                    `"nodes" (the --nodes flag): must be between 1 and 10000`,
		`{"crashes": [{"node": "a"}]}`:    `"crashes.node" (the --crash flag) wants a whole number`,
		`{"nodes": 4} {"nodes": 5}`:       `more after the scenario's JSON object`,
		`{"offered_load": 0, "jobs": 10}`: `"offered_load" (the --offered-load flag)`,
	} {
		os.WriteFile(path, []byte(file), 0o644)
		if code, _, errs := marlon(t, "scheduling", "--scenario", path); code != 2 || !strings.Contains(errs, want) {
			t.Errorf("%s: exit %d %q, want %q", file, code, errs, want)
		}
	}
	if code, _, errs := marlon(t, "scheduling", "--algorithm", "easy", "--gantt", "g.txt"); code != 2 || !strings.HasPrefix(errs, "marlon: --gantt: ") {
		t.Errorf("a Gantt chart in no format: exit %d %q", code, errs)
	}
}

func TestALongEpisodeShowsProgress(t *testing.T) {
	clock := time.Unix(0, 0)
	saved := progressClock
	progressClock = func() time.Time { clock = clock.Add(time.Second); return clock } // every reading a second later
	defer func() { progressClock = saved }()
	// One episode of SS on 300,000 units: a million events, no episode
	// ended before the end.
	code, _, errs := marlon(t, "loadbalancing", "--algorithm", "ss", "--job", "300000", "--eval-episodes", "1")
	if code != 0 || !strings.Contains(errs, "running: 0 of 1 episodes (0%)") || !strings.Contains(errs, "ss, an episode at t = ") {
		t.Fatalf("exit %d, no progress within the episode:\n%s", code, errs)
	}
}
