package learners

import (
	"math"
	"testing"
)

func TestSuiteSummaryAndTargets(t *testing.T) {
	s := Suite{
		Scenarios: []Named{{Name: "a"}, {Name: "b", Dynamic: true}},
		Learners:  []string{"x/share", "y/technique"},
		Rows: []SuiteRow{
			{Scenario: "a", Seed: 1, BestClassical: "tss", BestClassicalRatio: 1.04, Learners: []LearnerRow{
				{Learner: "x/share", Ratio: 1.02, BestFixed: "fixed:share-1", BestFixedRatio: 1.01, Random: 1.1, General: 1.03},
				{Learner: "y/technique", Ratio: 1.05, BestFixed: "fixed:tss", BestFixedRatio: 1.04, Random: 1.5},
			}},
			{Scenario: "a", Seed: 2, BestClassical: "gss", BestClassicalRatio: 1.06, Learners: []LearnerRow{
				{Learner: "x/share", Ratio: 1.04, BestFixed: "fixed:share-1", BestFixedRatio: 1.03, Random: 1.1, General: 1.05},
				{Learner: "y/technique", Ratio: 1.07, BestFixed: "fixed:gss", BestFixedRatio: 1.06, Random: 1.5},
			}},
			{Scenario: "b", Seed: 1, BestClassical: "af", BestClassicalRatio: 1.10, Learners: []LearnerRow{
				{Learner: "x/share", Ratio: 1.05, BestFixed: "fixed:pool-0.5", BestFixedRatio: 1.10, Random: 1.3, General: 1.30},
				{Learner: "y/technique", Ratio: 1.08, BestFixed: "fixed:af", BestFixedRatio: 1.10, Random: 1.6},
			}},
		},
	}
	sum := s.Summary()
	if len(sum) != 4 {
		t.Fatalf("%d summary rows", len(sum))
	}
	xa := sum[0]
	if xa.Learner != "x/share" || math.Abs(xa.Ratio-1.03) > 1e-12 || xa.Min != 1.02 || xa.Max != 1.04 || math.Abs(xa.BestFixedRatio-1.02) > 1e-12 ||
		xa.BestFixed != "fixed:share-1" || math.Abs(xa.Classical-1.05) > 1e-12 || math.Abs(xa.General-1.04) > 1e-12 {
		t.Fatalf("x on a: %+v", xa)
	}
	if g := sum[2].GainShare(); math.Abs(g-0.05/1.10) > 1e-12 {
		t.Fatalf("gain share %v", g)
	}
	met := map[string]bool{}
	for _, tg := range s.Targets() {
		met[tg.Scenario+"/"+tg.What+"/"+tg.Learner] = tg.Met
	}
	want := map[string]bool{
		"a/classical/x/share": true,  // 1.03 <= 1.05
		"b/classical/x/share": true,  // 1.05 <= 1.10
		"b/gain/x/share":      true,  // 4.5% of makespan
		"a/general/x/share":   true,  // 1.04 <= 1.05 * 1.03
		"b/general/x/share":   false, // 1.30 > 1.05 * 1.05
	}
	for k, v := range want {
		if got, ok := met[k]; !ok || got != v {
			t.Errorf("target %s: met %v (present %v), want %v", k, got, ok, v)
		}
	}
	if len(met) != len(want) {
		t.Errorf("targets %v", met)
	}
}

// A suite stopped after its first row returns that row, reported as it was
// done; one stopped while a learner trains drops the row in progress.
func TestRunSuiteStops(t *testing.T) {
	scenarios := SuiteScenarios()[:2]
	ls := []Learner{{QLearning, "share"}}
	tr := DefaultTraining()
	tr.Episodes, tr.EvalEpisodes, tr.EvalEvery = 2, 1, 1
	run := func(stopAt func(rows int, what string) bool) (Suite, int) {
		stop := make(chan struct{})
		rows := 0
		closed := false
		maybeStop := func(what string) {
			if !closed && stopAt(rows, what) {
				close(stop)
				closed = true
			}
		}
		s, err := RunSuite(scenarios, ls, SuiteOptions{Seeds: []uint64{1}, Training: tr, Stop: stop,
			OnEpisode: maybeStop, OnRow: func(SuiteRow) { rows++; maybeStop("") }})
		if err != nil {
			t.Fatal(err)
		}
		return s, rows
	}
	s, rows := run(func(int, string) bool { return false })
	if s.Stopped || len(s.Rows) != 2 || rows != 2 {
		t.Fatalf("not stopped: stopped %v, %d rows, %d reported", s.Stopped, len(s.Rows), rows)
	}
	s, rows = run(func(rows int, _ string) bool { return rows == 1 })
	if !s.Stopped || len(s.Rows) != 1 || rows != 1 || s.Rows[0].Scenario != scenarios[0].Name {
		t.Fatalf("stopped after a row: stopped %v, rows %+v, %d reported", s.Stopped, s.Rows, rows)
	}
	s, rows = run(func(_ int, what string) bool { return what == scenarios[0].Name+" "+ls[0].String() })
	if !s.Stopped || len(s.Rows) != 0 || rows != 0 {
		t.Fatalf("stopped in training: stopped %v, rows %+v, %d reported", s.Stopped, s.Rows, rows)
	}
}
