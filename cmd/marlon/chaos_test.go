//go:build unix

package main

import (
	"encoding/json"
	"os/exec"
	"testing"
)

// TestChaosShort is the short fault campaign CI runs: one run each of the
// attacker and of a paused node (the other faults have process tests of
// their own: cluster_test.go, faults_test.go). `marlon chaos --runs 50`
// is the long one (docs/chaos.md).
func TestChaosShort(t *testing.T) {
	bin := binary(t)
	cmd := exec.Command(bin, "chaos", "--runs", "1", "--faults", "attack,pause-node", "--job", "3000", "--seed", "3", "--json")
	cmd.Dir = t.TempDir()
	var stderr buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("marlon chaos: %v\n%s\n%s", err, out, stderr.String())
	}
	var res struct {
		Runs    []chaosRun     `json:"runs"`
		Summary []chaosSummary `json:"summary"`
		Bound   float64        `json:"detection_bound_seconds"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(res.Runs) != 2 || len(res.Summary) != 2 {
		t.Fatalf("runs %+v", res.Runs)
	}
	for _, r := range res.Runs {
		if !r.Completed || r.Hang || r.Lost+r.Doubled+r.Mismatches != 0 || r.Detection < 0 {
			t.Errorf("run %+v", r)
		}
		// Detection within the failure timeout plus an interval, with a
		// margin for a loaded machine (a timing, so only logged when over).
		if r.Detection > res.Bound {
			t.Logf("%s: detected after %.2fs, bound %.2fs (a loaded machine?)", r.Fault, r.Detection, res.Bound)
		}
	}
	if a := res.Runs[0]; a.Fault != "attack" || a.BadSent == 0 || a.BadCounted != a.BadSent {
		t.Errorf("attack: %d bad frames received, %d counted", a.BadSent, a.BadCounted)
	}
}
