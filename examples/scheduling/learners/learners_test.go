package learners

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/examples/scheduling"
	"github.com/marlon-go/marlon/learning"
)

func small(t *testing.T) *scheduling.Environment {
	t.Helper()
	sc := scheduling.Default()
	sc.Nodes, sc.GPUNodes, sc.Jobs = 4, 1, 40
	e, err := scheduling.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEveryAlgorithmIsRegistered(t *testing.T) {
	names := Names()
	for _, want := range []string{FCFS, EASY, Bidding, Reserve, QLearning, PolicyGradient, "random", "fixed:decline", "fixed:bid"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s missing from %v", want, names)
		}
	}
	for _, n := range []string{QLearning, PolicyGradient} {
		if a, err := learning.Lookup(scheduling.Family, n); err != nil || !a.Learns || a.Native {
			t.Errorf("%s: %+v, %v: want a generic learner", n, a, err)
		}
	}
}

// The heuristic is a fixed choice of the learners' action space.
func TestBiddingIsFixedBid(t *testing.T) {
	e := small(t)
	opts := env.RunOptions{Seed: 3, EvalEpisodes: 3}
	rs, err := env.Compare(e, []string{Bidding, "fixed:bid"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs[1:] {
		for _, m := range []string{"mean_bsld", "mean_wait", "makespan", "bids"} {
			if r.Mean[m] != rs[0].Mean[m] {
				t.Errorf("%s: %s %v, bidding %v", r.Algorithm, m, r.Mean[m], rs[0].Mean[m])
			}
		}
	}
}

// The learners train on the environment, save and load their models, and
// the loaded models act as the trained ones did.
func TestLearnersTrainAndReload(t *testing.T) {
	e := small(t)
	for _, name := range []string{QLearning, PolicyGradient} {
		opts := env.RunOptions{Seed: 2, Episodes: 6, EvalEvery: 3, EvalEpisodes: 2, Select: "mean_bsld"}
		r, err := env.Run(e, name, opts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(r.Curve.Train) != 6 || r.Mean["completed"] != 40 || r.Mean["mean_bsld"] < 1 {
			t.Fatalf("%s: %d training episodes, means %v", name, len(r.Curve.Train), r.Mean)
		}
		if r.Mean["return"] >= 0 {
			t.Errorf("%s: return %v: the agents were never rewarded", name, r.Mean["return"])
		}
		c, err := r.Checkpoint(e)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), name+".ckpt")
		if err := c.Save(path); err != nil {
			t.Fatal(err)
		}
		loaded, err := learning.LoadCheckpoint(path)
		if err != nil {
			t.Fatal(err)
		}
		if loaded.Environment != "scheduling/v1" {
			t.Errorf("checkpoint of %q", loaded.Environment)
		}
		opts.Episodes, opts.Load = 0, loaded
		again, err := env.Run(e, name, opts)
		if err != nil {
			t.Fatal(err)
		}
		if again.Mean["mean_bsld"] != r.Mean["mean_bsld"] {
			t.Errorf("%s: the reloaded models give %v, the trained ones %v", name, again.Mean["mean_bsld"], r.Mean["mean_bsld"])
		}
	}
}

// The central disciplines run through the registry, and the agents of a
// central algorithm are not asked to bid.
func TestCentralAlgorithmsHoldNoAuctions(t *testing.T) {
	e := small(t)
	rs, err := env.Compare(e, []string{FCFS, EASY, Reserve}, env.RunOptions{Seed: 1, EvalEpisodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Mean["completion_rate"] != 1 {
			t.Errorf("%s completed %v", r.Algorithm, r.Mean["completion_rate"])
		}
		if central := r.Algorithm != Reserve; central != (r.Mean["calls"] == 0) {
			t.Errorf("%s: %v calls for bids", r.Algorithm, r.Mean["calls"])
		}
	}
}
