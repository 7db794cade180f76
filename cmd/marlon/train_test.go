//go:build unix

package main

// Process tests of distributed training: three NATS servers with
// JetStream (separate processes, routed: an R3 bucket), three rollout
// nodes, and marlon train, on loopback. One test kills the learner with
// SIGKILL mid-run, one a rollout node, one restarts the NATS server that one
// node alone is connected to (that node is cut off meanwhile: the minority
// side). Each asserts the run finishes the requested number of updates.

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// trainCluster is three NATS servers and three rollout nodes.
type trainCluster struct {
	*cluster
	ports   [3]int // client ports
	routes  [3]int
	servers [3]*proc
	nodes   map[string]*proc
}

func startTrainCluster(t *testing.T) *trainCluster {
	tc := &trainCluster{cluster: newCluster(t), nodes: map[string]*proc{}}
	base, rbase := freePorts(t, 3), freePorts(t, 3)
	for i := range 3 {
		tc.ports[i], tc.routes[i] = base+i, rbase+i
	}
	for i := range 3 {
		tc.startServer(i)
	}
	return tc
}

func (tc *trainCluster) startServer(i int) {
	var routes []string
	for _, r := range tc.routes {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", r))
	}
	tc.servers[i] = tc.start(fmt.Sprintf("nats-%d", i+1), "nats", "--jetstream", "--host", "127.0.0.1", "--name", fmt.Sprintf("s%d", i+1),
		"--port", strconv.Itoa(tc.ports[i]), "--store-dir", filepath.Join(tc.dir, fmt.Sprintf("js%d", i+1)),
		"--cluster-port", strconv.Itoa(tc.routes[i]), "--routes", strings.Join(routes, ","))
	tc.waitFor(tc.servers[i], "JetStream on")
}

func (tc *trainCluster) urls(servers ...int) string {
	if len(servers) == 0 {
		servers = []int{0, 1, 2}
	}
	var us []string
	for _, i := range servers {
		us = append(us, fmt.Sprintf("nats://127.0.0.1:%d", tc.ports[i]))
	}
	return strings.Join(us, ",")
}

// node starts rollout node name, connected to the given servers (all by
// default).
func (tc *trainCluster) node(name string, servers ...int) *proc {
	args := []string{"node", "--rollouts", "--nats", tc.urls(servers...), "--name", name, "--replicas", "3", "--lease", "1s", "--presence", "1s"}
	if len(servers) > 0 {
		args = append(args, "--only-given-servers")
	}
	p := tc.start(name, args...)
	tc.nodes[name] = p
	tc.waitFor(p, "rollout node up")
	return p
}

// train starts marlon train on a small scenario for updates updates.
func (tc *trainCluster) train(updates int, extra ...string) *proc {
	args := append([]string{"train", "--nats", tc.urls(), "--replicas", "3", "--algorithm", "qlearning", "--min-nodes", "3",
		"--updates", strconv.Itoa(updates), "--per-node", "2", "--checkpoint-every", "10", "--epoch-timeout", "20s",
		"--workers", "6", "--job", "4000", "--eval-episodes", "3", "--json", "--run", "r1", "--wait", "3m"}, extra...)
	return tc.start("train", args...)
}

var updateLine = regexp.MustCompile(`msg="learner: update" term=(\d+) update=(\d+) episodes=\d+ from=(\S*) missing=(\S*)`)

// updates are the learner updates a node logged: term, update, from,
// missing.
type loggedUpdate struct {
	term, update  int
	from, missing string
}

func updatesOf(p *proc) []loggedUpdate {
	var out []loggedUpdate
	for _, m := range updateLine.FindAllStringSubmatch(p.err.String(), -1) {
		term, _ := strconv.Atoi(m[1])
		u, _ := strconv.Atoi(m[2])
		out = append(out, loggedUpdate{term, u, m[3], strings.Trim(m[4], `"`)})
	}
	return out
}

// learner waits until a node has made update at least u as the learner
// and returns its name.
func (tc *trainCluster) learner(u int) string {
	tc.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for name, p := range tc.nodes {
			if us := updatesOf(p); len(us) > 0 && us[len(us)-1].update >= u {
				return name
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	tc.t.Fatalf("no learner reached update %d within a minute", u)
	return ""
}

type trainResult struct {
	Updates  int `json:"updates"`
	Episodes int `json:"episodes"`
	Mean     map[string]float64
}

func (tc *trainCluster) result(p *proc) trainResult {
	tc.t.Helper()
	if code := p.exit(tc.t, 3*time.Minute); code != 0 {
		tc.t.Fatalf("marlon train exited %d", code)
	}
	var r trainResult
	if err := json.Unmarshal([]byte(p.out.String()), &r); err != nil {
		tc.t.Fatalf("marlon train printed no JSON result: %v", err)
	}
	return r
}

// SIGKILL the learner mid-run: another node is elected, resumes from the
// last checkpoint (a multiple of 10 updates, at most the update the dead
// one had reached) and the run finishes the requested number of updates.
func TestTrainLearnerKilledResumesFromCheckpoint(t *testing.T) {
	tc := startTrainCluster(t)
	for _, n := range []string{"n1", "n2", "n3"} {
		tc.node(n)
	}
	tr := tc.train(60)
	first := tc.learner(15)
	reached := updatesOf(tc.nodes[first])
	tc.nodes[first].kill()
	last := reached[len(reached)-1].update
	r := tc.result(tr)
	if r.Updates != 60 || r.Mean["ratio"] < 1 {
		t.Fatalf("result %+v: want 60 updates and a ratio", r)
	}
	resume := regexp.MustCompile(`learner: elected; resuming" term=\d+ from_update=(\d+)`)
	var from []int
	for name, p := range tc.nodes {
		if name == first {
			continue
		}
		for _, m := range resume.FindAllStringSubmatch(p.err.String(), -1) {
			u, _ := strconv.Atoi(m[1])
			from = append(from, u)
		}
	}
	// The first election of the run resumes from 0, on the node that
	// died; the others resumed after it, from its last checkpoint.
	if len(from) != 1 || from[0] == 0 || from[0]%10 != 0 || from[0] > last+1 {
		t.Fatalf("resumptions after the kill from updates %v; the dead learner had reached update %d (checkpoints every 10)", from, last)
	}
}

// SIGKILL a rollout node mid-run: the epoch completes without it and the
// run finishes.
func TestTrainRolloutKilledEpochCompletes(t *testing.T) {
	tc := startTrainCluster(t)
	for _, n := range []string{"n1", "n2", "n3"} {
		tc.node(n)
	}
	tr := tc.train(40)
	learner := tc.learner(5)
	victim := "n1"
	if learner == victim {
		victim = "n2"
	}
	tc.nodes[victim].kill()
	if r := tc.result(tr); r.Updates != 40 {
		t.Fatalf("result %+v: want 40 updates", r)
	}
	us := updatesOf(tc.nodes[learner])
	missed := false
	for _, u := range us {
		missed = missed || strings.Contains(u.missing, victim)
	}
	if !missed || strings.Contains(us[len(us)-1].from, victim) {
		t.Fatalf("the learner's updates never reported %s missing, or still counted it at the end: %+v", victim, us[len(us)-1])
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// Restart the NATS server that node n3 alone is connected to: n3 is cut
// off meanwhile (the minority side: its writes are refused), the others
// go on with the two servers left (a quorum of the R3 bucket); when the
// server is back, n3 rejoins the epochs, and the run finishes.
func TestTrainNATSServerRestartPartitionsANode(t *testing.T) {
	tc := startTrainCluster(t)
	tc.node("n1", 0, 1)
	tc.node("n2", 0, 1)
	tr := tc.train(80, "--min-nodes", "2")
	tc.learner(2)
	tc.node("n3", 2) // after the election: n3 is a rollout node, not the learner
	deadline := time.Now().Add(time.Minute)
	for joined := false; !joined; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("n3 took part in no update within a minute")
		}
		for _, p := range tc.nodes {
			for _, u := range updatesOf(p) {
				joined = joined || strings.Contains(u.from, "n3")
			}
		}
	}
	tc.servers[2].kill()
	// Every node's updates from now on: the learner may change (the
	// stopped server may have led the bucket's stream).
	mark := func() map[string]int {
		m := map[string]int{}
		for name, p := range tc.nodes {
			m[name] = len(updatesOf(p))
		}
		return m
	}
	since := func(m map[string]int) []loggedUpdate {
		var out []loggedUpdate
		for name, p := range tc.nodes {
			out = append(out, updatesOf(p)[m[name]:]...)
		}
		return out
	}
	cut := mark()
	deadline = time.Now().Add(time.Minute)
	for without := 0; without < 3; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the majority side made no 3 updates without n3 within a minute of its server stopping")
		}
		without = 0
		for _, u := range since(cut) {
			if !strings.Contains(u.from, "n3") {
				without++
			}
		}
	}
	tc.startServer(2)
	healed := mark()
	if r := tc.result(tr); r.Updates != 80 {
		t.Fatalf("result %+v: want 80 updates", r)
	}
	t.Logf("updates logged: %d when the server stopped, %d when it was back, %d at the end", sum(cut), sum(healed), sum(mark()))
	back := false
	for _, u := range since(healed) {
		back = back || strings.Contains(u.from, "n3")
	}
	if !back {
		t.Fatal("n3 never contributed to an update after its server came back")
	}
}
