package schedcampaign

import (
	"path/filepath"
	"testing"

	"github.com/marlon-go/marlon/campaign"
	"github.com/marlon-go/marlon/examples/scheduling/learners"
	"github.com/marlon-go/marlon/faults"
)

func TestScenarioOfEachConfiguration(t *testing.T) {
	for _, c := range campaign.Seed003() {
		sc := Scenario(c)
		if err := sc.Validate(); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if sc.Nodes != c.Agents || sc.Jobs != c.Jobs || sc.Arrival != string(c.Load) || sc.Faults.Targets != c.FailureRate() || sc.Faults.Pattern != c.Faults.Pattern {
			t.Fatalf("%s: scenario %+v", c.Name, sc)
		}
		if c.Burst > 0 && sc.Burst != c.Burst {
			t.Fatalf("%s: burst %d, want %d", c.Name, sc.Burst, c.Burst)
		}
	}
	if _, err := New(Options{Methods: []string{"bidding", "nope"}}); err == nil {
		t.Fatal("an unknown method was accepted")
	}
}

// A short campaign on the scheduling environment: every method meets the
// same jobs and faults on a repetition, no job is lost, and a learner is
// trained once.
func TestShortCampaign(t *testing.T) {
	cs := campaign.Seed003()
	var configs []campaign.Config
	for _, c := range cs {
		if c.Name == "pattern-partition" || c.Name == "burst-50" {
			c.Jobs = min(c.Jobs, 60)
			configs = append(configs, c)
		}
	}
	r, err := New(Options{Methods: []string{learners.Bidding, learners.EASY, learners.QLearning, "fixed:bid"}, Seed: 3,
		Training: learners.Training{Episodes: 4, EvalEvery: 2, EvalEpisodes: 1, Select: "mean_bsld"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "c")
	s, err := campaign.Run(r, campaign.Options{Configs: configs, Reps: 2, Seed: 5, Dir: dir, Workers: 2, Tested: []string{"completion_rate", "mean_bsld"}})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := campaign.ReadResults(filepath.Join(dir, campaign.ResultsFile), false)
	if err != nil || len(recs) != 16 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	plans := map[string]string{} // config/rep -> the faults every method met
	for _, rec := range recs {
		if rec.Faults == nil || rec.Metrics["lost"] != 0 || rec.Metrics["completion_rate"] != 1 {
			t.Fatalf("%s %s #%d: faults %v, metrics %v", rec.Config, rec.Method, rec.Rep, rec.Faults, rec.Metrics)
		}
		var planned []faults.Event
		for _, ev := range rec.Faults.Timeline {
			if ev.What == "crash" || ev.What == "partition" {
				planned = append(planned, ev)
			}
		}
		key := rec.Config + "/" + string(rune('0'+rec.Rep))
		got := ""
		for _, ev := range planned {
			got += ev.What + ":" + ev.Nodes[0] + ";"
		}
		if want, ok := plans[key]; ok && want != got {
			t.Fatalf("%s: methods met different faults: %q and %q", key, want, got)
		}
		plans[key] = got
	}
	if _, res, _ := r.Trained(learners.QLearning); res.Curve == nil || len(res.Curve.Train) != 4 {
		t.Fatalf("the learner was not trained as asked: %+v", res.Curve)
	}
	if cell, ok := s.Cell("burst-50", learners.EASY); !ok || cell.N != 2 || cell.Metrics["availability"].Mean <= 0 {
		t.Fatalf("cell %+v", cell)
	}
}
