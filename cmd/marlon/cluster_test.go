//go:build unix

package main

// Process-level tests: the marlon binary, built once, runs a NATS server,
// three nodes and a live load-balancing master as separate processes on
// loopback; one test kills a node mid-job, the other restarts the NATS
// server mid-job. Their timings are generous: a node is declared down after
// 2s of silence, the job lasts several seconds, and every wait allows a
// minute.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/marlon-go/marlon/coordination"
)

var (
	pkgDir    string // where go build runs: other tests change directory
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func TestMain(m *testing.M) {
	pkgDir, _ = os.Getwd()
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary builds the marlon command once (without -race: the processes run
// at full speed whatever the test binary's build) and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and runs processes; not with -short")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the binary with")
	}
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "marlon-bin-"); buildErr != nil {
			return
		}
		cmd := exec.Command(goCmd, "build", "-o", filepath.Join(binDir, "marlon"), ".")
		cmd.Dir = pkgDir
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "marlon")
}

// buffer is an io.Writer safe for a process's output and a test's reads.
type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// proc is a marlon process.
type proc struct {
	name     string
	cmd      *exec.Cmd
	out, err buffer
	done     chan struct{}
	killed   bool
}

// cluster is the processes of one test, in a directory of their own.
type cluster struct {
	t     *testing.T
	bin   string
	dir   string
	procs []*proc
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{t: t, bin: binary(t), dir: t.TempDir()}
	t.Cleanup(func() {
		for _, p := range c.procs {
			p.kill()
			if t.Failed() {
				t.Logf("--- %s %v\nstdout:\n%s\nstderr:\n%s", p.name, p.cmd.Args[1:], p.out.String(), p.err.String())
			}
		}
	})
	return c
}

func (c *cluster) start(name string, args ...string) *proc {
	c.t.Helper()
	p := &proc{name: name, cmd: exec.Command(c.bin, args...), done: make(chan struct{})}
	p.cmd.Dir, p.cmd.Stdout, p.cmd.Stderr = c.dir, &p.out, &p.err
	if err := p.cmd.Start(); err != nil {
		c.t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	c.procs = append(c.procs, p)
	return p
}

// run runs marlon to completion and fails the test unless it succeeds.
func (c *cluster) run(args ...string) string {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("marlon %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (p *proc) kill() {
	p.killed = true
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// waitFor waits until p has written s to stdout or stderr, and fails if any
// process of the cluster ends meanwhile.
func (c *cluster) waitFor(p *proc, s string) {
	c.t.Helper()
	deadline := time.After(time.Minute)
	for !strings.Contains(p.out.String(), s) && !strings.Contains(p.err.String(), s) {
		for _, q := range c.procs {
			select {
			case <-q.done:
				if !q.killed {
					c.t.Fatalf("%s exited (%v) while waiting for %s to write %q", q.name, q.cmd.ProcessState, p.name, s)
				}
			default:
			}
		}
		select {
		case <-deadline:
			c.t.Fatalf("%s did not write %q within a minute", p.name, s)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// exit waits for the process to end and returns its exit code.
func (p *proc) exit(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("%s did not end within %v", p.name, within)
		return -1
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// liveJob is a cluster of a NATS server, three nodes (n1, n2, n3 with two
// workers of speeds 2, 3 and 4) and a master running fac2 on a job of about
// 250 time units of 20ms, once every worker is placed.
type liveJob struct {
	*cluster
	port   int
	nats   *proc
	nodes  map[string]*proc
	master *proc
}

const (
	token     = "s3cret"
	heartbeat = "200ms"
	missed    = "10" // a node is declared down after 2s of silence
)

func startLiveJob(t *testing.T) *liveJob {
	j := newLiveCluster(t)
	j.master = j.startMaster()
	j.waitFor(j.master, "episode started")
	return j
}

// newLiveCluster starts the NATS server and the three nodes of a liveJob.
func newLiveCluster(t *testing.T) *liveJob {
	j := &liveJob{cluster: newCluster(t), port: freePort(t), nodes: map[string]*proc{}}
	for _, name := range []string{"master", "n1", "n2", "n3"} {
		j.run("keys", "--name", name, "--key", name+".key", "--trusted", "cluster.keys")
	}
	j.startNATS()
	for i, name := range []string{"n1", "n2", "n3"} {
		// n3 also takes two workers that move there (--migrate): its spare
		// slots are not the run's.
		j.nodes[name] = j.start(name, "node", "--nats", j.url(), "--token", token, "--key", name+".key", "--trusted", "cluster.keys",
			"--workers", "2", "--speed", fmt.Sprint(i+2), "--spare", fmt.Sprint(i/2*2), "--heartbeat", heartbeat, "--missed-heartbeats", missed)
	}
	return j
}

func (j *liveJob) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", j.port) }

// startMaster starts the job's master; later flags override earlier ones.
func (j *liveJob) startMaster(extra ...string) *proc {
	args := []string{"loadbalancing", "--live", "--nats", j.url(), "--token", token, "--key", "master.key", "--trusted", "cluster.keys",
		"--nodes", "3", "--algorithm", "fac2", "--job", "4500", "--time-scale", "20ms", "--heartbeat", heartbeat, "--missed-heartbeats", missed,
		"--timeout", "2m", "--json"}
	return j.start("master", append(args, extra...)...)
}

func (j *liveJob) startNATS() {
	j.nats = j.start("nats", "nats", "--host", "127.0.0.1", "--port", fmt.Sprint(j.port), "--token", token)
	j.waitFor(j.nats, "listening")
}

// result waits for the master's JSON report and checks its ledger
// (checkLedger).
func (j *liveJob) result() liveReport {
	j.t.Helper()
	return j.resultWithin(2*time.Minute, 6)
}

// resultWithin waits for the master's JSON report and checks its ledger
// (checkLedger) and, unless placed is 0, the number of workers placed.
func (j *liveJob) resultWithin(within time.Duration, placed int) liveReport {
	t := j.t
	t.Helper()
	if code := j.master.exit(t, within); code != 0 {
		t.Fatalf("master exited %d", code)
	}
	var r liveReport
	if err := json.Unmarshal([]byte(j.master.out.String()), &r); err != nil {
		t.Fatalf("master's report: %v", err)
	}
	if r.Job != 4500 || placed > 0 && len(r.Live.Placed) != placed {
		t.Fatalf("job %d, placed %+v", r.Job, r.Live.Placed)
	}
	checkLedger(t, r)
	return r
}

func TestKilledNodeLeavesAndTheJobCompletes(t *testing.T) {
	j := startLiveJob(t)
	time.Sleep(time.Second)
	j.nodes["n2"].kill()
	r := j.result()
	if len(r.Live.NodesLeft) != 1 || r.Live.NodesLeft[0] != "n2" {
		t.Fatalf("nodes left %v, want n2", r.Live.NodesLeft)
	}
	lost := map[int]bool{}
	for _, id := range r.Live.LostWorkers {
		lost[id] = true
	}
	for _, p := range r.Live.Placed {
		if p.Lost != (p.Node == "n2") || lost[p.ID] != p.Lost {
			t.Errorf("placed %+v; lost %v", p, r.Live.LostWorkers)
		}
	}
	// n2's two workers never reported; the roster saw them leave.
	if len(r.Live.LostWorkers) != 2 || len(r.Workers) != 4 || r.Live.AgentsLeft < 2 {
		t.Fatalf("lost %v, %d reports, %d agents left", r.Live.LostWorkers, len(r.Workers), r.Live.AgentsLeft)
	}
	if !strings.Contains(j.master.err.String(), `msg="node left" node=master peer=n2`) {
		t.Fatalf("the master did not log n2 leaving")
	}
}

// Two of n1's workers move to n3's spare slots, with their chunks, between
// processes; then n3 is killed, and the four workers it held are lost with
// it: the job completes all the same, every unit done once.
func TestMigratedWorkersAcrossProcesses(t *testing.T) {
	j := newLiveCluster(t)
	j.master = j.startMaster("--migrate", "0@10:n3", "--migrate", "1@15:n3")
	j.waitFor(j.master, "episode started")
	time.Sleep(1500 * time.Millisecond) // time 75 at 20ms a unit: both have moved
	j.nodes["n3"].kill()
	r := j.result()
	m := r.Live.Migrations
	if len(m) != 2 || !m[0].Adopted || !m[1].Adopted || m[0].From != "n1" || m[1].From != "n1" {
		t.Fatalf("migrations %+v", m)
	}
	for _, p := range r.Live.Placed {
		moved := p.ID < 2
		if p.Lost != (p.Node == "n3") || moved != (len(p.MovedFrom) == 1) || moved && p.Node != "n3" {
			t.Errorf("placed %+v", p)
		}
	}
	if len(r.Live.LostWorkers) != 4 || len(r.Workers) != 2 {
		t.Fatalf("lost %v, %d reports", r.Live.LostWorkers, len(r.Workers))
	}
}

func TestNATSServerRestartMidJob(t *testing.T) {
	j := startLiveJob(t)
	time.Sleep(time.Second)
	j.nats.kill()
	time.Sleep(500 * time.Millisecond)
	j.startNATS()
	j.result()
	for _, p := range append([]*proc{j.master}, j.nodes["n1"], j.nodes["n2"], j.nodes["n3"]) {
		if !strings.Contains(p.err.String(), "reconnected to NATS") {
			t.Errorf("%s did not reconnect: the restart was not mid-job", p.name)
		}
	}
}

// TestNATSLocalCluster: marlon nats --local-cluster runs three routed
// servers with JetStream, on which an R3 coordination bucket takes writes.
func TestNATSLocalCluster(t *testing.T) {
	c := newCluster(t)
	port, rport := freePorts(t, 3), freePorts(t, 3)
	p := c.start("nats", "nats", "--local-cluster", "--host", "127.0.0.1", "--port", fmt.Sprint(port), "--cluster-port", fmt.Sprint(rport), "--store-dir", filepath.Join(c.dir, "js"))
	c.waitFor(p, "give nodes")
	for i := 0; i < 3; i++ {
		if _, err := os.Stat(filepath.Join(c.dir, "js", fmt.Sprintf("s%d", i+1))); err != nil {
			t.Fatalf("server %d's store: %v", i+1, err)
		}
	}
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d,nats://127.0.0.1:%d", port, port+2), nats.ReconnectBufSize(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := coordination.OpenBucket(ctx, nc, coordination.BucketConfig{Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	st, err := b.JS.Stream(ctx, "KV_"+b.Name)
	if err != nil || st.CachedInfo().Config.Replicas != 3 || len(st.CachedInfo().Cluster.Replicas) != 2 {
		t.Fatalf("bucket stream: %+v %v", st.CachedInfo(), err)
	}
	if _, err := b.KV.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
}

// freePorts returns the first of n consecutive free ports.
func freePorts(t *testing.T, n int) int {
	for try := 0; try < 100; try++ {
		p := freePort(t)
		ok := true
		for i := 1; i < n && ok; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+i))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatalf("no %d consecutive free ports", n)
	return 0
}
