//go:build unix

package main

// Process tests of issue 12's failures: a master paused for longer than the
// failure timeout, a master restarted within it, and a run that times out,
// each with the marlon binary as separate processes on loopback.

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue 12, failure 1: a master paused (SIGSTOP) for longer than the failure
// timeout has been declared down by the nodes, which stopped its workers; it
// must learn its workers are gone (a new incarnation of its node, which
// declares them down: their chunks go back to the pool) and re-place the
// work on the nodes it sees again, and finish with every unit done once.
func TestPausedMasterFinishesTheJob(t *testing.T) {
	j := startLiveJob(t)
	time.Sleep(time.Second)
	j.master.cmd.Process.Signal(syscall.SIGSTOP)
	time.Sleep(4 * time.Second) // twice the failure timeout
	j.master.cmd.Process.Signal(syscall.SIGCONT)
	r := j.resultWithin(90*time.Second, 0)
	if !strings.Contains(j.master.err.String(), "starts a new incarnation") {
		t.Fatalf("the master did not start a new incarnation")
	}
	if m := r.Live.Metrics["master"]; m.Reincarnations < 1 {
		t.Fatalf("master's metrics: %+v", m)
	}
}

// Issue 12, failure 3: a master killed and started again within the failure
// timeout (the nodes see its new incarnation before they declare the old
// one down) must find the nodes and finish a job: it hung, with "node hosts
// no workers ... no such actor: nX/0".
func TestMasterRestartedWithinTheFailureTimeout(t *testing.T) {
	j := startLiveJob(t)
	time.Sleep(time.Second)
	j.master.kill()
	j.master = j.startMaster("--timeout", "60s")
	j.waitFor(j.master, "episode started")
	j.resultWithin(90*time.Second, 0)
	if s := j.master.err.String(); strings.Contains(s, "no such actor") {
		t.Fatalf("the new master asked a spawner of no actor:\n%s", s)
	}
}

// Issue 12, failure 4: a run that times out says what it did: exit 1, the
// error, and with --json the Master's ledger so far (units done, by
// worker), which adds up, and every node's transport metrics.
func TestTimedOutRunReportsTheLedgerSoFar(t *testing.T) {
	j := newLiveCluster(t)
	j.master = j.startMaster("--algorithm", "ss", "--job", "100000", "--timeout", "4s")
	if code := j.master.exit(t, time.Minute); code != 1 {
		t.Fatalf("master exited %d", code)
	}
	var r liveReport
	if err := json.Unmarshal([]byte(j.master.out.String()), &r); err != nil {
		t.Fatalf("master's report: %v\n%s", err, j.master.out.String())
	}
	total := 0
	for _, u := range r.Live.LedgerUnits {
		total += u
	}
	if !strings.Contains(r.Live.Error, "--timeout") || r.UnitsDone == 0 || r.UnitsDone >= r.Job || total != r.UnitsDone || r.Live.Duplicates != 0 {
		t.Fatalf("error %q, %d of %d units done, ledger %v", r.Live.Error, r.UnitsDone, r.Job, r.Live.LedgerUnits)
	}
	for _, n := range []string{"master", "n1", "n2", "n3"} {
		if m, ok := r.Live.Metrics[n]; !ok || m.Accepted == 0 {
			t.Fatalf("no metrics of %s: %+v", n, r.Live.Metrics)
		}
	}
}
