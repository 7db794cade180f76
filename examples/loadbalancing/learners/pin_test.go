package learners

import (
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/examples/loadbalancing"
)

var updatePin = flag.Bool("update-v1", false, "rewrite testdata/v1.json from this build (only when loadbalancing/v1's dynamics are meant to change, which they are not)")

// pinned is one run of the v1 pin: an algorithm on a scenario, evaluated on
// the evaluation episodes of a seed.
type pinned struct {
	Scenario  string    `json:"scenario"`
	Algorithm string    `json:"algorithm"`
	Makespans []float64 `json:"makespans"`
	Bounds    []float64 `json:"lower_bounds"`
	Requests  []int     `json:"requests"`
	// Chunks is a hash (FNV-64a) of the first episode's chunk sizes, worker
	// by worker, in the order the Master granted them.
	Chunks string `json:"chunk_sizes_fnv"`
}

// pinScenarios are v1 scenarios with joins, leaves and a costly Master.
func pinScenarios() []Named {
	def := loadbalancing.Default()
	def.Job = 4000
	churn := def
	churn.Joins = []loadbalancing.Join{{At: 60, Count: 2}, {At: 90, Count: 1, Speed: 4}}
	churn.Leaves = []loadbalancing.Leave{{At: 40, Worker: 1}, {At: 100, Worker: 8}}
	costly := def
	costly.CommTime, costly.Workers = 5, 12
	return []Named{{Name: "default", Scenario: def}, {Name: "churn", Scenario: churn}, {Name: "costly", Scenario: costly}}
}

// TestV1IsPinned runs every algorithm that does not learn (the classical
// techniques, and the baselines of the default action space) on
// loadbalancing/v1 and compares each evaluation episode with testdata/v1.json,
// which holds what v1 did when loadbalancing/v3 was introduced (written again from main after the unit costs were drawn in blocks): v1 stays
// runnable by name and must keep giving the same results for the same
// seed. The learners are left out only because their floating-point
// training may round differently on another architecture; they act through
// the same episodes.
func TestV1IsPinned(t *testing.T) {
	var got []pinned
	for _, sc := range pinScenarios() {
		e, err := loadbalancing.NewVersion("v1", sc.Scenario, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range Names() {
			if IsLearner(name) {
				continue
			}
			r, err := env.Run(e, name, env.RunOptions{Seed: 3, EvalEpisodes: 3})
			if err != nil {
				t.Fatal(err)
			}
			p := pinned{Scenario: sc.Name, Algorithm: name}
			for k, o := range r.Eval {
				res := o.Episode.(*loadbalancing.Episode).Result()
				p.Makespans = append(p.Makespans, res.Makespan)
				p.Bounds = append(p.Bounds, res.LowerBound)
				p.Requests = append(p.Requests, res.Requests)
				if k == 0 {
					h := fnv.New64a()
					for _, w := range res.Workers {
						fmt.Fprintln(h, w.ID, w.ChunkSizes)
					}
					p.Chunks = fmt.Sprintf("%016x", h.Sum64())
				}
			}
			got = append(got, p)
		}
	}
	path := filepath.Join("testdata", "v1.json")
	if *updatePin {
		b, _ := json.MarshalIndent(got, "", " ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []pinned
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	byKey := map[string]pinned{}
	for _, w := range want {
		byKey[w.Scenario+"/"+w.Algorithm] = w
	}
	for _, g := range got {
		w, ok := byKey[g.Scenario+"/"+g.Algorithm]
		if !ok {
			continue // an algorithm added since: nothing to compare with
		}
		if d := pinDiff(g, w); d != "" {
			t.Errorf("loadbalancing/v1, scenario %s, %s: %s", g.Scenario, g.Algorithm, d)
		}
	}
	if len(byKey) > len(got) {
		t.Errorf("the pin holds %d runs, this build ran %d: an algorithm went missing", len(byKey), len(got))
	}
}

func pinDiff(g, w pinned) string {
	close := func(a, b []float64) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if math.Abs(a[i]-b[i]) > 1e-12*math.Abs(b[i]) {
				return false
			}
		}
		return true
	}
	switch {
	case !close(g.Makespans, w.Makespans):
		return fmt.Sprintf("makespans %v, pinned %v", g.Makespans, w.Makespans)
	case !close(g.Bounds, w.Bounds):
		return fmt.Sprintf("lower bounds %v, pinned %v", g.Bounds, w.Bounds)
	case fmt.Sprint(g.Requests) != fmt.Sprint(w.Requests):
		return fmt.Sprintf("requests %v, pinned %v", g.Requests, w.Requests)
	case g.Chunks != w.Chunks:
		return fmt.Sprintf("chunk sizes (hashed) %s, pinned %s", g.Chunks, w.Chunks)
	}
	return ""
}
