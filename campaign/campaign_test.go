package campaign

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/marlon-go/marlon/faults"
)

func TestSeed003HasTheSeedsConfigurations(t *testing.T) {
	cs := Seed003()
	if len(cs) != 26 {
		t.Fatalf("%d configurations, want 26", len(cs))
	}
	per := map[string]int{}
	names := map[string]bool{}
	rates := map[float64]bool{}
	patterns := map[faults.Pattern]bool{}
	loads := map[Load]bool{}
	for _, c := range cs {
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if names[c.Name] {
			t.Fatalf("two configurations named %s", c.Name)
		}
		names[c.Name] = true
		per[c.Dimension]++
		if c.Jobs < 50 || c.Jobs > 500 || c.Agents < 5 || c.Agents > 20 {
			t.Errorf("%s: %d jobs on %d agents, outside 50-500 x 5-20", c.Name, c.Jobs, c.Agents)
		}
		if r := c.FailureRate(); r < 0.05 || r > 0.35 {
			t.Errorf("%s: failure rate %v outside 5-35%%", c.Name, r)
		}
		rates[c.FailureRate()] = true
		patterns[c.Faults.Pattern] = true
		loads[c.Load] = true
		if c.Dimension == HighLoad && (c.Burst != c.Jobs || c.Load != Burst) {
			t.Errorf("%s: a high-load configuration is one burst of all its jobs", c.Name)
		}
	}
	want := map[string]int{Scale: 12, FailureRate: 4, FailurePattern: 3, LoadPattern: 3, HighLoad: 4}
	if !reflect.DeepEqual(per, want) {
		t.Fatalf("configurations per dimension %v, want %v", per, want)
	}
	if len(patterns) != 3 || len(loads) != 3 || !rates[0.05] || !rates[0.35] {
		t.Fatalf("patterns %v, loads %v, rates %v", patterns, loads, rates)
	}
}

// stub is a Runner whose metrics are drawn from the seed: method "good"
// completes more than "bad", by an amount that varies a little; "same" is
// "good" exactly.
type stub struct {
	calls atomic.Int64
	fail  int64 // fail the nth call (0: never)
	mu    sync.Mutex
	seeds map[string][]uint64 // by config/rep: the seeds each method saw
}

func (s *stub) Methods() []string { return []string{"good", "bad", "same"} }

func (s *stub) Run(c Config, method string, seed uint64) (Outcome, error) {
	n := s.calls.Add(1)
	if s.fail > 0 && n == s.fail {
		return Outcome{}, errors.New("the machine went away")
	}
	s.mu.Lock()
	if s.seeds != nil {
		s.seeds[c.Name] = append(s.seeds[c.Name], seed)
	}
	s.mu.Unlock()
	r := rand.New(rand.NewPCG(seed, 1))
	base := 0.9 + 0.1*r.Float64()
	v := base
	if method == "bad" {
		v = base - 0.05 - 0.01*r.Float64()
	}
	return Outcome{Metrics: map[string]float64{"completion_rate": v, "jobs": float64(c.Jobs)}}, nil
}

func small() []Config {
	cs := Seed003()
	return []Config{cs[0], cs[12], cs[16]}
}

func TestRunRecordsSeedsAndComparesMethods(t *testing.T) {
	dir := t.TempDir()
	st := &stub{seeds: map[string][]uint64{}}
	var progress []int
	s, err := Run(st, Options{Configs: small(), Reps: 5, Seed: 9, Dir: dir, Workers: 2, Progress: func(done, total int, r Record) {
		if total != 45 {
			t.Errorf("total %d, want 45", total)
		}
		progress = append(progress, done)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(progress) != 45 || progress[44] != 45 || st.calls.Load() != 45 {
		t.Fatalf("progress %v after %d calls", progress, st.calls.Load())
	}
	// Every method saw the same five seeds per configuration, different
	// between repetitions and configurations.
	all := map[uint64]bool{}
	for _, c := range small() {
		seen := map[uint64]int{}
		for _, sd := range st.seeds[c.Name] {
			seen[sd]++
			all[sd] = true
		}
		if len(seen) != 5 {
			t.Fatalf("%s: %d distinct seeds, want 5", c.Name, len(seen))
		}
		for sd, n := range seen {
			if n != 3 || sd != RunSeed(9, c.Name, 1) && sd != RunSeed(9, c.Name, 2) && sd != RunSeed(9, c.Name, 3) && sd != RunSeed(9, c.Name, 4) && sd != RunSeed(9, c.Name, 5) {
				t.Fatalf("%s: seed %d run by %d methods, want 3 and a recorded RunSeed", c.Name, sd, n)
			}
		}
	}
	if len(all) != 15 {
		t.Fatalf("%d distinct seeds over 3 configurations x 5 repetitions", len(all))
	}
	// good beats bad significantly on every configuration; same equals good.
	for _, c := range small() {
		tt, ok := s.Test(c.Name, "completion_rate", "bad", "good")
		if !ok || !tt.Significant || tt.Diff.Mean > -0.05 || tt.Diff.High >= 0 {
			t.Fatalf("%s: bad vs good %+v, want significantly below by at least 0.05", c.Name, tt)
		}
		same, _ := s.Test(c.Name, "completion_rate", "good", "same")
		if same.P != 1 || same.Significant || same.T != nil {
			t.Fatalf("%s: identical methods tested %+v", c.Name, same)
		}
		cell, _ := s.Cell(c.Name, "good")
		if cell.N != 5 || cell.Metrics["jobs"].Mean != float64(c.Jobs) || cell.Metrics["jobs"].HalfWidth() != 0 {
			t.Fatalf("%s: cell %+v", c.Name, cell)
		}
	}
	var back Summary
	b, _ := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err := json.Unmarshal(b, &back); err != nil || len(back.Cells) != 9 || back.Missing != 0 {
		t.Fatalf("summary.json: %v, %d cells", err, len(back.Cells))
	}
	var sb strings.Builder
	s.WriteTable(&sb, []Column{{Title: "completion %", Metric: "completion_rate", Scale: 100, Digits: 1}})
	if !strings.Contains(sb.String(), "±") || strings.Count(sb.String(), "\n") != 10 {
		t.Fatalf("table:\n%s", sb.String())
	}
}

func TestKilledCampaignResumesWhereItStopped(t *testing.T) {
	want, err := Run(&stub{}, Options{Configs: small(), Reps: 3, Seed: 4, Dir: t.TempDir(), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The machine goes away at the 12th run: the runs before it are kept.
	if _, err := Run(&stub{fail: 12}, Options{Configs: small(), Reps: 3, Seed: 4, Dir: dir, Workers: 2}); err == nil || !strings.Contains(err.Error(), "went away") {
		t.Fatalf("got %v, want the run's error", err)
	}
	kept, err := ReadResults(filepath.Join(dir, ResultsFile), false)
	if err != nil || len(kept) < 10 || len(kept) > 12 {
		t.Fatalf("%d results kept after the failure (%v), want the 10 or 11 that completed", len(kept), err)
	}
	// And the process was killed while writing a line.
	f, _ := os.OpenFile(filepath.Join(dir, ResultsFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"config":"scale-50x5","method":"go`)
	f.Close()
	// Another campaign into the same directory is refused.
	if _, err := Run(&stub{}, Options{Configs: small(), Reps: 3, Seed: 5, Dir: dir}); !errors.Is(err, ErrOtherCampaign) {
		t.Fatalf("another seed into the same directory: %v", err)
	}
	again := &stub{}
	got, err := Run(again, Options{Configs: small(), Reps: 3, Seed: 4, Dir: dir, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if n := again.calls.Load(); n != int64(27-len(kept)) {
		t.Fatalf("the rerun ran %d runs, want the %d missing", n, 27-len(kept))
	}
	strip := func(s *Summary) string {
		b, _ := json.Marshal(struct {
			C []Cell
			T []Test
		}{s.Cells, s.Tests})
		return string(b)
	}
	if strip(got) != strip(want) {
		t.Fatal("the resumed campaign's summary differs from an uninterrupted one's")
	}
	// Nothing left to do: a third run runs nothing.
	third := &stub{}
	if _, err := Run(third, Options{Configs: small(), Reps: 3, Seed: 4, Dir: dir}); err != nil || third.calls.Load() != 0 {
		t.Fatalf("a finished campaign ran %d more (%v)", third.calls.Load(), err)
	}
}

func TestStatistics(t *testing.T) {
	s := Describe([]float64{1, 2, 3, 4, 5})
	// mean 3, sd sqrt(2.5), t(0.975, 4) = 2.7764
	if math.Abs(s.Mean-3) > 1e-12 || math.Abs(s.SD-math.Sqrt(2.5)) > 1e-12 || math.Abs(s.HalfWidth()-2.7764451*math.Sqrt(2.5)/math.Sqrt(5)) > 1e-6 {
		t.Fatalf("Describe: %+v", s)
	}
	// Differences 1..5: t = 3 / (sqrt(2.5)/sqrt(5)) = 4.2426, p = 0.013231.
	tv, p := PairedT([]float64{2, 4, 6, 8, 10}, []float64{1, 2, 3, 4, 5})
	if tv == nil || math.Abs(*tv-4.242641) > 1e-5 || math.Abs(p-0.013231) > 1e-5 {
		t.Fatalf("PairedT: t %v p %v", tv, p)
	}
	if _, p := PairedT([]float64{2, 3}, []float64{1, 2}); p != 0 {
		t.Fatalf("a constant nonzero difference: p %v, want 0", p)
	}
	if _, p := PairedT([]float64{1}, []float64{0}); p != 1 {
		t.Fatalf("one pair: p %v, want 1 (nothing to say)", p)
	}
	if got := Holm([]float64{0.01, 0.04, 0.03}); !reflect.DeepEqual(got, []float64{0.03, 0.06, 0.06}) {
		t.Fatalf("Holm: %v", got)
	}
}
