//go:build unix

package main

// A process-level test of marlon scheduling --live --nats: a NATS server,
// three marlon nodes and the master as separate processes on loopback; one
// node is killed mid-run. The timings are cluster_test.go's: the transport
// declares a silent node down after 2s; the resource agents' heartbeats
// (every 30 s of the scenario, 3 missed: 90ms at 1ms a second) usually
// tell the auctioneer first.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// Seven compute nodes on three machines of three slots: n1 runs nodes 0 to
// 2, n2 nodes 3 to 5, n3 node 6 and has two slots to spare. n2 is killed a
// second and a half into the run: its three compute nodes are declared
// failed, their jobs run again elsewhere, two of them restart in n3's
// spare slots (the third waits for a slot to the end). Every job completes
// exactly once, and the agents still there report and agree.
func TestSchedulingNodeKilledMidRun(t *testing.T) {
	c := newCluster(t)
	port := freePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	for _, name := range []string{"master", "n1", "n2", "n3"} {
		c.run("keys", "--name", name, "--key", name+".key", "--trusted", "cluster.keys")
	}
	trace := writeTrace(t, c.dir, 100, 40, 500, 700) // about 5000 s of schedule
	natsProc := c.start("nats", "nats", "--host", "127.0.0.1", "--port", fmt.Sprint(port), "--token", token)
	c.waitFor(natsProc, "listening")
	nodes := map[string]*proc{}
	for _, name := range []string{"n1", "n2", "n3"} {
		nodes[name] = c.start(name, "node", "--nats", url, "--token", token, "--key", name+".key", "--trusted", "cluster.keys",
			"--compute-nodes", "3", "--heartbeat", heartbeat, "--missed-heartbeats", missed)
	}
	for _, p := range nodes {
		c.waitFor(p, "node up")
	}
	master := c.start("master", "scheduling", "--live", "--nats", url, "--token", token, "--key", "master.key", "--trusted", "cluster.keys",
		"--nodes", "7", "--gpu-nodes", "0", "--arrival", "swf", "--trace", trace, "--algorithm", "bidding", "--time-scale", "1ms",
		"--transport-heartbeat", heartbeat, "--transport-missed-heartbeats", missed, "--wait", "2m", "--json")
	c.waitFor(master, "episode started")
	time.Sleep(1500 * time.Millisecond)
	nodes["n2"].kill()
	if code := master.exit(t, 2*time.Minute); code != 0 {
		t.Fatalf("master exited %d", code)
	}
	var r schedLiveReport
	if err := json.Unmarshal([]byte(master.out.String()), &r); err != nil {
		t.Fatalf("master's report: %v", err)
	}
	checkJobsOnce(t, r, 100)
	if !slices.Equal(r.Live.NodesLeft, []string{"n2"}) {
		t.Fatalf("machines left %v, want n2", r.Live.NodesLeft)
	}
	var lost, restarted []int
	for i, p := range r.Live.Placed {
		want := "n1"
		switch {
		case i >= 7:
			want = "n3" // restarted
			restarted = append(restarted, p.Node)
		case p.Node >= 6:
			want = "n3"
		case p.Node >= 3:
			want = "n2"
		}
		if p.Host != want || p.Lost != (p.Host == "n2") || p.Reported == (p.Host == "n2") || p.Lost && !strings.HasPrefix(p.Reason, "node down") {
			t.Errorf("placed %+v, want on %s, lost with n2 only", p, want)
		}
		if p.Lost {
			lost = append(lost, p.Node)
		}
	}
	slices.Sort(lost)
	if !slices.Equal(lost, []int{3, 4, 5}) || len(restarted) != 2 || !slices.Contains(lost, restarted[0]) || !slices.Contains(lost, restarted[1]) {
		t.Fatalf("lost %v, restarted %v: placed %+v", lost, restarted, r.Live.Placed)
	}
	// The auctioneer declared n2's compute nodes failed, and ran their jobs
	// again elsewhere: some were running when n2 died.
	failed := map[int]bool{}
	requeued := 0
	for _, f := range r.Live.Failures {
		failed[f.Node] = true
		requeued += len(f.Jobs)
	}
	if !failed[3] || !failed[4] || !failed[5] || requeued == 0 || r.Metrics["rescheduled"] == 0 {
		t.Fatalf("failures %+v, %v rescheduled", r.Live.Failures, r.Metrics["rescheduled"])
	}
	if r.Live.Reports != 6 {
		t.Fatalf("%d agents reported, want the 6 on n1 and n3", r.Live.Reports)
	}
}
