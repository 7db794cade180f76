package main

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/marlon-go/marlon/campaign"
)

// stubRunner stands for an environment: its metrics are drawn from the
// seed, "best" above "worst".
type stubRunner struct {
	methods []string
	calls   *atomic.Int64
	failAt  int64
}

func (s stubRunner) Methods() []string { return s.methods }

func (s stubRunner) Run(c campaign.Config, method string, seed uint64) (campaign.Outcome, error) {
	if n := s.calls.Add(1); n == s.failAt {
		return campaign.Outcome{}, errors.New("killed")
	}
	v := 0.9 + 0.1*rand.New(rand.NewPCG(seed, 0)).Float64()
	if method == "worst" {
		v -= 0.2
	}
	return campaign.Outcome{Metrics: map[string]float64{"completion_rate": v}}, nil
}

// withStubCampaign registers a stub environment for campaigns.
func withStubCampaign(t *testing.T, failAt int64) *atomic.Int64 {
	calls := &atomic.Int64{}
	saved := campaignEnvs
	t.Cleanup(func() { campaignEnvs = saved })
	all := []string{"best", "worst"}
	campaignEnvs = []campaignEnv{{
		name: "stub", methods: all,
		runner: func(methods []string, seed uint64, _ int) (campaign.Runner, error) {
			if methods == nil {
				methods = all
			}
			return stubRunner{methods: methods, calls: calls, failAt: failAt}, nil
		},
		columns: []campaign.Column{{Title: "completion %", Metric: "completion_rate", Scale: 100, Digits: 1}},
		tested:  []string{"completion_rate"},
		pairs:   [][2]string{{"best", "worst"}},
		plots:   []campaign.Column{{Title: "completion rate (%)", Metric: "completion_rate", Scale: 100}},
	}}
	return calls
}

func TestShortCampaign(t *testing.T) {
	calls := withStubCampaign(t, 0)
	dir := filepath.Join(t.TempDir(), "c")
	md := filepath.Join(t.TempDir(), "c.md")
	code, out, errs := marlon(t, "campaign", "--configs", "pattern-random,load", "--reps", "3", "--out", dir, "--markdown", md)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"4 configurations x 3 repetitions x 2 methods", "load-poisson", "±", "best vs worst, completion_rate: higher on 4", "plots/completion_rate.png"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if calls.Load() != 24 {
		t.Fatalf("%d runs, want 24", calls.Load())
	}
	for _, f := range []string{campaign.ManifestFile, campaign.ResultsFile, campaign.SummaryFile, "plots/completion_rate.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if b, err := os.ReadFile(md); err != nil || !strings.Contains(string(b), "| pattern-random | best | 3 |") {
		t.Fatalf("markdown: %v\n%s", err, b)
	}
	// Run again: nothing to do, the same summary, as JSON.
	code, out, _ = marlon(t, "campaign", "--configs", "pattern-random,load", "--reps", "3", "--out", dir, "--json")
	var s campaign.Summary
	if code != 0 || json.Unmarshal([]byte(out), &s) != nil || len(s.Cells) != 8 || calls.Load() != 24 {
		t.Fatalf("rerun: exit %d, %d runs in all, %s", code, calls.Load(), out)
	}
}

func TestKilledCampaignResumes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	args := []string{"campaign", "--configs", "failure-rate", "--reps", "2", "--out", dir, "--workers", "1"}
	withStubCampaign(t, 7)
	if code, _, errs := marlon(t, args...); code != 1 || !strings.Contains(errs, "killed") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	calls := withStubCampaign(t, 0)
	if code, _, errs := marlon(t, args...); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if calls.Load() != 16-6 {
		t.Fatalf("the resumed campaign ran %d runs, want the 10 not recorded", calls.Load())
	}
	recs, err := campaign.ReadResults(filepath.Join(dir, campaign.ResultsFile), false)
	if err != nil || len(recs) != 16 {
		t.Fatalf("%d records (%v), want 16", len(recs), err)
	}
	// Another seed into the same directory is refused, naming --out.
	if code, _, errs := marlon(t, append(args, "--seed", "2")...); code != 2 || !strings.Contains(errs, "--out") {
		t.Fatalf("another campaign into the same directory: exit %d %s", code, errs)
	}
}

func TestCampaignBadFlags(t *testing.T) {
	withStubCampaign(t, 0)
	for flag, args := range map[string][]string{
		"--reps":           {"--reps", "0"},
		"--configs":        {"--configs", "scale,nope"},
		"--methods":        {"--methods", "best,nope"},
		"--workers":        {"--workers", "-1"},
		"--env":            {"--env", "nope"},
		"--out":            {"--out", " "},
		"--train-episodes": {"--train-episodes", "-1"},
	} {
		code, out, errs := marlon(t, append([]string{"campaign"}, args...)...)
		if code != 2 || out != "" || !strings.Contains(errs, flag) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 naming %s", args, code, errs, flag)
		}
	}
}

// A short campaign on the scheduling environment, learners and all.
func TestShortSchedulingCampaign(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	code, out, errs := marlon(t, "campaign", "--env", "scheduling", "--configs", "burst-50", "--reps", "2",
		"--methods", "bidding,easy,fcfs,qlearning", "--train-episodes", "4", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"1 configurations x 2 repetitions x 4 methods", "burst-50", "qlearning vs easy, mean_bsld", "plots/mean_bsld.png"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, campaign.ManifestFile))
	if !strings.Contains(string(b), `"train_episodes": "4"`) {
		t.Fatalf("the manifest does not record the training: %s", b)
	}
}
