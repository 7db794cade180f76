//go:build unix

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/marlon-go/marlon/transport"
)

// The fault kinds of marlon chaos.
var chaosFaults = []string{"kill-node", "pause-node", "pause-master", "nats-restart", "master-restart", "join", "attack", "migrate"}

const chaosExamples = `
Examples:
  marlon chaos --runs 3                            3 runs of every fault kind, a table
  marlon chaos --runs 50 --json > chaos.json       the long campaign (docs/chaos.md)
  marlon chaos --faults attack,pause-master --runs 5 --seed 7
`

// chaosConfig is what every run of a campaign shares.
type chaosConfig struct {
	bin       string
	heartbeat time.Duration
	missed    int
	job       int
	algorithm string
	timeScale time.Duration
	bound     time.Duration
	keep      string // keep each run's logs under this directory
	log       io.Writer
}

// chaosRun is one run's outcome.
type chaosRun struct {
	Fault      string  `json:"fault"`
	Seed       uint64  `json:"seed"`
	Detail     string  `json:"detail"`
	Completed  bool    `json:"completed"`
	FailedFast bool    `json:"failed_fast"` // ended within the bound with the documented error
	Hang       bool    `json:"hang"`        // still running at the bound
	Seconds    float64 `json:"seconds"`
	UnitsDone  int     `json:"units_done"`
	Lost       int     `json:"units_lost"`
	Doubled    int     `json:"units_doubled"`
	Mismatches int     `json:"report_mismatches"` // worker reports that disagree with the ledger
	// Detection is how long, in seconds, from the fault until a node
	// declared the faulted node down; -1 where it does not apply.
	Detection float64 `json:"detection_seconds"`
	// BadSent and BadCounted are the attacker's frames received by the
	// live nodes and how many of them they counted (rejections and
	// duplicates; see attacker.counted).
	BadSent    int    `json:"bad_frames_sent,omitempty"`
	BadCounted int    `json:"bad_frames_counted,omitempty"`
	Error      string `json:"error,omitempty"`
}

func runChaos(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("marlon chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		runs      = fs.Int("runs", 1, "runs of each fault kind")
		faults    = fs.String("faults", strings.Join(chaosFaults, ","), "comma-separated fault kinds: "+strings.Join(chaosFaults, ", "))
		seed      = fs.Uint64("seed", 1, "seed of the faults' victims, times and durations")
		heartbeat = fs.Duration("heartbeat", 250*time.Millisecond, "the processes' heartbeat interval")
		missed    = fs.Int("missed-heartbeats", 4, "the processes' missed heartbeats before a node is declared down")
		job       = fs.Int("job", 5000, "units of each run's job")
		algorithm = fs.String("algorithm", "af", "the master's technique")
		timeScale = fs.Duration("time-scale", 20*time.Millisecond, "the live run's time unit")
		bound     = fs.Duration("bound", 2*time.Minute, "a run not over after this long is a hang (and is killed)")
		keep      = fs.String("keep", "", "keep every run's logs in this `directory` (default: only a failed run's, in a temporary directory)")
		jsonOut   = fs.Bool("json", false, "print every run and the summary as JSON")
	)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: marlon chaos [flags]\n\nA fault campaign on loopback: for each run it starts a NATS server, three\nnodes (marlon node, 2 workers each, speeds 2, 3, 4) and a live master\n(marlon loadbalancing --live) as processes, injects one fault mid-job, and\nchecks that the job completes within --bound with every unit done exactly\nonce and every worker's report matching the Master's ledger (or that the\nmaster fails fast with the documented error), and that every bad frame of\nthe attacker was rejected and counted. Fault kinds:\n  kill-node       SIGKILL of a random node\n  pause-node      SIGSTOP of a random node for 2-5s, then SIGCONT\n  pause-master    SIGSTOP of the master for 2-5s, then SIGCONT\n  nats-restart    the NATS server killed and started again 0.5-2s later\n  master-restart  the master killed and started again at once\n  join            a fourth node joins mid-job\n  attack          garbage, truncated and bit-flipped frames, replayed data\n                  frames and heartbeats of a killed node, a node with an\n                  unknown key and one with a stolen name\n  migrate         n1's two workers move to another node (--migrate, into its\n                  spare slots), which is SIGKILLed before, while or after\n                  they move\nIt prints a table: runs, completed, units lost and doubled, hangs, and the\ntime from the fault to a node declaring the faulted one down.\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), chaosExamples)
	}
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	var kinds []string
	for _, k := range strings.Split(*faults, ",") {
		k = strings.TrimSpace(k)
		if !slices.Contains(chaosFaults, k) {
			return fail(stderr, usageError{fmt.Errorf("--faults: unknown fault %q; one of %s", k, strings.Join(chaosFaults, ", "))})
		}
		kinds = append(kinds, k)
	}
	switch {
	case *runs < 1 || *runs > 10000:
		return fail(stderr, usageError{fmt.Errorf("--runs: must be between 1 and 10000, got %d", *runs)})
	case *heartbeat < 10*time.Millisecond || *heartbeat > time.Minute:
		return fail(stderr, usageError{fmt.Errorf("--heartbeat: must be between 10ms and 1m, got %v", *heartbeat)})
	case *missed < 1 || *missed > 100:
		return fail(stderr, usageError{fmt.Errorf("--missed-heartbeats: must be between 1 and 100, got %d", *missed)})
	case *job < 1 || *job > 10_000_000:
		return fail(stderr, usageError{fmt.Errorf("--job: must be between 1 and 10000000, got %d", *job)})
	case *timeScale < time.Millisecond || *timeScale > time.Second:
		return fail(stderr, usageError{fmt.Errorf("--time-scale: must be between 1ms and 1s, got %v", *timeScale)})
	case *bound < 10*time.Second:
		return fail(stderr, usageError{fmt.Errorf("--bound: must be at least 10s, got %v", *bound)})
	}
	bin, err := os.Executable()
	if err != nil {
		return fail(stderr, err)
	}
	cfg := chaosConfig{bin: bin, heartbeat: *heartbeat, missed: *missed, job: *job, algorithm: *algorithm, timeScale: *timeScale, bound: *bound, keep: *keep, log: stderr}
	var results []chaosRun
	total := len(kinds) * *runs
	for i := 0; i < *runs; i++ {
		for k, kind := range kinds {
			s := *seed*1_000_003 + uint64(k)*10_007 + uint64(i)
			r := cfg.run(kind, s)
			results = append(results, r)
			status := "ok"
			switch {
			case r.Hang:
				status = "HANG"
			case r.FailedFast:
				status = "failed fast"
			case !r.Completed:
				status = "FAILED: " + r.Error
			}
			fmt.Fprintf(stderr, "[%d/%d] %-14s seed %d: %s in %.1fs (%s)\n", len(results), total, kind, s, status, r.Seconds, r.Detail)
		}
	}
	sum := summarize(kinds, results)
	if *jsonOut {
		writeJSON(stdout, map[string]any{"runs": results, "summary": sum, "heartbeat": heartbeat.String(), "missed_heartbeats": *missed,
			"detection_bound_seconds": cfg.detectionBound().Seconds()})
	} else {
		printChaos(stdout, sum, cfg)
	}
	for _, s := range sum {
		if s.Hangs > 0 || s.Lost > 0 || s.Doubled > 0 || s.Mismatches > 0 || s.Completed+s.FailedFast < s.Runs || s.BadSent > s.BadCounted {
			return 1
		}
	}
	return 0
}

// chaosSummary is one fault kind's line of the table.
type chaosSummary struct {
	Fault      string  `json:"fault"`
	Runs       int     `json:"runs"`
	Completed  int     `json:"completed"`
	FailedFast int     `json:"failed_fast"`
	Lost       int     `json:"units_lost"`
	Doubled    int     `json:"units_doubled"`
	Mismatches int     `json:"report_mismatches"`
	Hangs      int     `json:"hangs"`
	DetectMin  float64 `json:"detection_min_seconds"`
	DetectMed  float64 `json:"detection_median_seconds"`
	DetectMax  float64 `json:"detection_max_seconds"`
	Detected   int     `json:"detected"`
	BadSent    int     `json:"bad_frames_sent"`
	BadCounted int     `json:"bad_frames_counted"`
}

func summarize(kinds []string, runs []chaosRun) []chaosSummary {
	var out []chaosSummary
	for _, k := range kinds {
		s := chaosSummary{Fault: k, DetectMin: -1, DetectMed: -1, DetectMax: -1}
		var det []float64
		for _, r := range runs {
			if r.Fault != k {
				continue
			}
			s.Runs++
			if r.Completed {
				s.Completed++
			}
			if r.FailedFast {
				s.FailedFast++
			}
			if r.Hang {
				s.Hangs++
			}
			s.Lost += r.Lost
			s.Doubled += r.Doubled
			s.Mismatches += r.Mismatches
			s.BadSent += r.BadSent
			s.BadCounted += r.BadCounted
			if r.Detection >= 0 {
				det = append(det, r.Detection)
			}
		}
		if len(det) > 0 {
			sort.Float64s(det)
			s.Detected = len(det)
			s.DetectMin, s.DetectMed, s.DetectMax = det[0], det[len(det)/2], det[len(det)-1]
		}
		out = append(out, s)
	}
	return out
}

func printChaos(w io.Writer, sum []chaosSummary, cfg chaosConfig) {
	fmt.Fprintf(w, "Fault campaign: job %d units, %s, time unit %v, heartbeat %v x %d (detection bound %v).\n\n",
		cfg.job, cfg.algorithm, cfg.timeScale, cfg.heartbeat, cfg.missed, cfg.detectionBound())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "fault\truns\tcompleted\tfailed fast\tunits lost\tunits doubled\treport mismatches\thangs\tdetection min / median / max\tbad frames counted")
	for _, s := range sum {
		det := "-"
		if s.Detected > 0 {
			det = fmt.Sprintf("%.2fs / %.2fs / %.2fs (%d)", s.DetectMin, s.DetectMed, s.DetectMax, s.Detected)
		}
		bad := "-"
		if s.BadSent > 0 {
			bad = fmt.Sprintf("%d of %d", s.BadCounted, s.BadSent)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", s.Fault, s.Runs, s.Completed, s.FailedFast, s.Lost, s.Doubled, s.Mismatches, s.Hangs, det, bad)
	}
	tw.Flush()
}

// detectionBound is how soon a silent node must be declared down: the
// failure timeout plus one interval.
func (c chaosConfig) detectionBound() time.Duration {
	return time.Duration(c.missed+1) * c.heartbeat
}

// chaosProc is a process of a run.
type chaosProc struct {
	name string
	cmd  *exec.Cmd
	out  lockedBuffer // stdout
	err  lockedBuffer // stderr (the logs)
	done chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (p *chaosProc) stdout() string { return p.out.String() }

// chaosCluster is the processes of one run.
type chaosCluster struct {
	cfg   chaosConfig
	dir   string
	port  int
	token string
	procs []*chaosProc
	nats  *chaosProc
}

func (c *chaosCluster) start(name string, args ...string) (*chaosProc, error) {
	p := &chaosProc{name: name, cmd: exec.Command(c.cfg.bin, args...), done: make(chan struct{})}
	p.cmd.Dir, p.cmd.Stdout, p.cmd.Stderr = c.dir, &p.out, &p.err
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	c.procs = append(c.procs, p)
	return p, nil
}

func (c *chaosCluster) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", c.port) }

func (c *chaosCluster) startNATS() error {
	var err error
	if c.nats, err = c.start("nats", "nats", "--host", "127.0.0.1", "--port", strconv.Itoa(c.port), "--token", c.token); err != nil {
		return err
	}
	return c.waitLog(c.nats, "listening", 30*time.Second)
}

// startNode starts a node with workers slots of speed, and two spare ones
// for workers that move there (the migrate fault).
func (c *chaosCluster) startNode(name string, workers int, speed float64) (*chaosProc, error) {
	return c.start(name, "node", "--nats", c.url(), "--token", c.token, "--key", name+".key", "--trusted", "cluster.keys",
		"--workers", strconv.Itoa(workers), "--speed", fmt.Sprint(speed), "--spare", "2", "--heartbeat", c.cfg.heartbeat.String(), "--missed-heartbeats", strconv.Itoa(c.cfg.missed))
}

// startMaster starts the live master, with more flags if given.
func (c *chaosCluster) startMaster(more ...string) (*chaosProc, error) {
	return c.start("master", append([]string{"loadbalancing", "--live", "--nats", c.url(), "--token", c.token, "--key", "master.key", "--trusted", "cluster.keys",
		"--nodes", "3", "--algorithm", c.cfg.algorithm, "--job", strconv.Itoa(c.cfg.job), "--time-scale", c.cfg.timeScale.String(),
		"--heartbeat", c.cfg.heartbeat.String(), "--missed-heartbeats", strconv.Itoa(c.cfg.missed), "--timeout", c.cfg.bound.String(), "--json"}, more...)...)
}

// waitLog waits until p has written s (stdout or stderr).
func (c *chaosCluster) waitLog(p *chaosProc, s string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for !strings.Contains(p.err.String(), s) && !strings.Contains(p.stdout(), s) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before writing %q", p.name, p.cmd.ProcessState, s)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not write %q within %v", p.name, s, within)
		}
	}
	return nil
}

func (c *chaosCluster) stopAll() {
	for _, p := range c.procs {
		p.cmd.Process.Signal(syscall.SIGCONT)
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// saveLogs writes every process's logs into dir.
func (c *chaosCluster) saveLogs(dir string) {
	os.MkdirAll(dir, 0o755)
	for i, p := range c.procs {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%02d-%s.log", i, p.name)), []byte(p.err.String()+"\n--- stdout\n"+p.out.String()), 0o644)
	}
}

// run runs one fault of kind, drawn from seed.
func (cfg chaosConfig) run(kind string, seed uint64) (r chaosRun) {
	r = chaosRun{Fault: kind, Seed: seed, Detection: -1}
	rng := rand.New(rand.NewPCG(seed, 0x63686173))
	dir, err := os.MkdirTemp("", "marlon-chaos-")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	c := &chaosCluster{cfg: cfg, dir: dir, token: fmt.Sprintf("chaos%d", seed)}
	defer func() {
		c.stopAll()
		failed := !(r.Completed || r.FailedFast) || r.Hang || r.Lost+r.Doubled+r.Mismatches > 0 || r.BadSent > r.BadCounted
		switch {
		case cfg.keep != "":
			c.saveLogs(filepath.Join(cfg.keep, fmt.Sprintf("%s-%d", kind, seed)))
			os.RemoveAll(dir)
		case failed:
			c.saveLogs(dir)
			fmt.Fprintf(cfg.log, "  logs of the failed run in %s\n", dir)
		default:
			os.RemoveAll(dir)
		}
	}()
	if err := c.setUp(); err != nil {
		r.Error = err.Error()
		return r
	}
	nodes := map[string]*chaosProc{}
	for i, name := range []string{"n1", "n2", "n3"} {
		if nodes[name], err = c.startNode(name, 2, float64(i+2)); err != nil {
			r.Error = err.Error()
			return r
		}
	}
	// migrate: n1's workers (0 and 1) move to another node at a time drawn
	// to fall before, around or after the fault (from 25 to 100 time units
	// into the episode at the default 20ms a unit).
	var target string
	var moveAt int
	var more []string
	if kind == "migrate" {
		target, moveAt = []string{"n2", "n3"}[rng.IntN(2)], 10+rng.IntN(100)
		for _, w := range []string{"0", "1"} {
			more = append(more, "--migrate", fmt.Sprintf("%s@%d:%s", w, moveAt, target))
		}
	}
	master, err := c.startMaster(more...)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	var att *attacker
	if kind == "attack" {
		// It listens from the start, to capture frames to replay.
		if att, err = newAttacker(c, rng); err != nil {
			r.Error = err.Error()
			return r
		}
		defer att.close()
	}
	if err := c.waitLog(master, "episode started", 60*time.Second); err != nil {
		r.Error = err.Error()
		return r
	}
	start := time.Now()
	time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Millisecond)
	victim := []string{"n1", "n2", "n3"}[rng.IntN(3)]
	var faultAt time.Time
	watch := "" // the node whose going down is detected
	switch kind {
	case "kill-node":
		faultAt, watch = time.Now(), victim
		nodes[victim].cmd.Process.Signal(syscall.SIGKILL)
		r.Detail = "killed " + victim
	case "pause-node", "pause-master":
		p, name := nodes[victim], victim
		if kind == "pause-master" {
			p, name = master, "master"
		}
		pause := time.Duration(2000+rng.IntN(3000)) * time.Millisecond
		faultAt, watch = time.Now(), name
		p.cmd.Process.Signal(syscall.SIGSTOP)
		time.Sleep(pause)
		p.cmd.Process.Signal(syscall.SIGCONT)
		r.Detail = fmt.Sprintf("paused %s for %v", name, pause)
	case "nats-restart":
		down := time.Duration(500+rng.IntN(1500)) * time.Millisecond
		c.nats.cmd.Process.Signal(syscall.SIGKILL)
		<-c.nats.done
		time.Sleep(down)
		if err := c.startNATS(); err != nil {
			r.Error = err.Error()
			return r
		}
		r.Detail = fmt.Sprintf("NATS server down for %v", down)
	case "master-restart":
		faultAt, watch = time.Now(), "master"
		master.cmd.Process.Signal(syscall.SIGKILL)
		<-master.done
		if master, err = c.startMaster(); err != nil {
			r.Error = err.Error()
			return r
		}
		r.Detail = "master killed and started again"
	case "join":
		if _, err := c.startNode("n4", 2, 1); err != nil {
			r.Error = err.Error()
			return r
		}
		r.Detail = "n4 joined"
	case "migrate":
		faultAt, watch = time.Now(), target
		nodes[target].cmd.Process.Signal(syscall.SIGKILL)
		r.Detail = fmt.Sprintf("workers 0 and 1 to move to %s at %d; %s killed at %.0f", target, moveAt, target,
			float64(time.Since(start))/float64(cfg.timeScale))
	case "attack":
		faultAt, watch = time.Now(), victim
		nodes[victim].cmd.Process.Signal(syscall.SIGKILL)
		r.Detail = fmt.Sprintf("killed %s, attacked for 3s", victim)
		if err := att.attack(victim, 3*time.Second); err != nil {
			r.Error = err.Error()
			return r
		}
	}

	select {
	case <-master.done:
	case <-time.After(cfg.bound + 30*time.Second - time.Since(start)):
		r.Hang = true
		r.Seconds = time.Since(start).Seconds()
		r.Error = "the master did not end within the bound"
		return r
	}
	r.Seconds = time.Since(start).Seconds()
	if watch != "" {
		r.Detection = detection(c.procs, watch, faultAt)
	}
	var rep struct {
		Job       int `json:"job"`
		UnitsDone int `json:"units_done"`
		Workers   []struct {
			ID    int `json:"id"`
			Units int `json:"units"`
		} `json:"workers"`
		Live struct {
			LedgerUnits map[string]int               `json:"ledger_units"`
			Duplicates  int                          `json:"duplicate_units"`
			Error       string                       `json:"error"`
			Metrics     map[string]transport.Metrics `json:"metrics"`
			Migrations  []struct {
				Adopted bool `json:"adopted"`
			} `json:"migrations"`
		} `json:"live"`
	}
	if err := json.Unmarshal([]byte(master.out.String()), &rep); err != nil {
		r.Error = fmt.Sprintf("the master's report: %v (exit %v)", err, master.cmd.ProcessState)
		return r
	}
	r.UnitsDone, r.Doubled = rep.UnitsDone, rep.Live.Duplicates
	if kind == "migrate" {
		adopted := 0
		for _, m := range rep.Live.Migrations {
			if m.Adopted {
				adopted++
			}
		}
		r.Detail += fmt.Sprintf("; %d of %d moves adopted", adopted, len(rep.Live.Migrations))
	}
	for _, w := range rep.Workers {
		if rep.Live.LedgerUnits[strconv.Itoa(w.ID)] != w.Units {
			r.Mismatches++
		}
	}
	code := master.cmd.ProcessState.ExitCode()
	switch {
	case code == 0 && rep.UnitsDone == rep.Job:
		r.Completed = true
	case code == 1 && strings.Contains(rep.Live.Error, "no hosting node left"):
		// The documented fast failure: every hosting node gone.
		r.FailedFast = true
	default:
		why := rep.Live.Error
		if why == "" { // the master's last word on stderr
			lines := strings.Split(strings.TrimSpace(master.err.String()), "\n")
			why = lines[len(lines)-1]
		}
		r.Error = fmt.Sprintf("exit %d: %s", code, why)
		r.Lost = rep.Job - rep.UnitsDone
	}
	if att != nil {
		r.BadSent, r.BadCounted = att.counted(rep.Live.Metrics)
	}
	return r
}

// setUp makes the keys (one per node, and n4's) and starts the NATS server.
func (c *chaosCluster) setUp() error {
	for _, name := range []string{"master", "n1", "n2", "n3", "n4"} {
		cmd := exec.Command(c.cfg.bin, "keys", "--name", name, "--key", name+".key", "--trusted", "cluster.keys")
		cmd.Dir = c.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("marlon keys: %v: %s", err, out)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	c.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	return c.startNATS()
}

var nodeLeftRE = regexp.MustCompile(`^time=(\S+) .*msg="node left" node=\S+ peer=(\S+)`)

// detection is how long after at the first process logged that node left
// (its incarnation of then: a "node left" line), in seconds; -1 if none did.
func detection(procs []*chaosProc, node string, at time.Time) float64 {
	best := -1.0
	for _, p := range procs {
		sc := bufio.NewScanner(strings.NewReader(p.err.String()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			m := nodeLeftRE.FindStringSubmatch(sc.Text())
			if m == nil || m[2] != node {
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, m[1])
			if err != nil || t.Before(at) {
				continue
			}
			if d := t.Sub(at).Seconds(); best < 0 || d < best {
				best = d
			}
			break
		}
	}
	return best
}

// attacker is a client of the NATS server with the token (no node key): it
// captures frames, then sends garbage, truncated and bit-flipped copies,
// and replays of a killed node's frames; and it runs two nodes of its own,
// one with a key nobody trusts and one under a stolen name.
type attacker struct {
	c        *chaosCluster
	rng      *rand.Rand
	nc       *nats.Conn
	mu       sync.Mutex
	captured map[string][][]byte // by subject
	// sentTo counts the bad frames sent, by subject: a direct subject
	// reaches one node, the heartbeat subject every node.
	sentTo map[string]int
	nodes  []*transport.Node
}

func newAttacker(c *chaosCluster, rng *rand.Rand) (*attacker, error) {
	nc, err := nats.Connect(c.url(), nats.Token(c.token))
	if err != nil {
		return nil, err
	}
	a := &attacker{c: c, rng: rng, nc: nc, captured: map[string][][]byte{}, sentTo: map[string]int{}}
	if _, err := nc.Subscribe("marlon.>", func(m *nats.Msg) {
		if strings.HasPrefix(m.Subject, "marlon.metrics") {
			return
		}
		a.mu.Lock()
		if len(a.captured[m.Subject]) < 2000 {
			a.captured[m.Subject] = append(a.captured[m.Subject], bytes.Clone(m.Data))
		}
		a.mu.Unlock()
	}); err != nil {
		nc.Close()
		return nil, err
	}
	return a, nc.Flush()
}

func (a *attacker) close() {
	for _, n := range a.nodes {
		n.Close()
	}
	a.nc.Close()
}

func (a *attacker) publish(subject string, frame []byte) {
	if a.nc.Publish(subject, frame) == nil {
		a.sentTo[subject]++
	}
}

// attack attacks for d, dead being a node killed just before.
func (a *attacker) attack(dead string, d time.Duration) error {
	// Frames of the dead node: its heartbeats, and its data frames and
	// acks to the others (sent on their subjects; the captures hold
	// everything on each subject, so keep those whose sender is dead).
	a.mu.Lock()
	var deadFrames []struct {
		subject string
		frame   []byte
	}
	var others [][]byte
	var otherSubjects []string
	for subject, frames := range a.captured {
		for _, f := range frames {
			if frameFrom(f) == dead {
				deadFrames = append(deadFrames, struct {
					subject string
					frame   []byte
				}{subject, f})
			} else if subject != "marlon.hb" && subject != "marlon.n."+dead {
				others = append(others, f)
				otherSubjects = append(otherSubjects, subject)
			}
		}
	}
	a.mu.Unlock()
	if len(deadFrames) == 0 || len(others) == 0 {
		return errors.New("attacker: nothing captured to replay")
	}
	// Two nodes of the attacker's: an unknown key, a stolen name (n1's
	// name with a key that is not n1's). Their heartbeats are rejected.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, name := range []string{"evil", "n1"} {
		k, err := transport.GenerateKey(name)
		if err != nil {
			return err
		}
		trusted := transport.Trusted{}
		trusted.Add(k)
		n, err := transport.Start(transport.Config{Name: name, URL: a.c.url(), Token: a.c.token, Key: k, Trusted: trusted,
			Heartbeat: a.c.cfg.heartbeat, MissedHeartbeats: a.c.cfg.missed, Logger: quiet})
		if err != nil {
			return fmt.Errorf("attacker's node %s: %w", name, err)
		}
		a.nodes = append(a.nodes, n)
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for _, df := range deadFrames {
			a.publish(df.subject, df.frame) // replays of the dead node
		}
		i := a.rng.IntN(len(others))
		f, subject := others[i], otherSubjects[i]
		garbage := make([]byte, 1+a.rng.IntN(200))
		for j := range garbage {
			garbage[j] = byte(a.rng.Uint32())
		}
		a.publish(subject, garbage)
		a.publish("marlon.hb", garbage)
		a.publish(subject, f[:a.rng.IntN(len(f))]) // truncated
		flipped := bytes.Clone(f)
		pos := 4 + a.rng.IntN(len(flipped)-4) // past magic, version, kind, auth
		flipped[pos] ^= 1 << a.rng.IntN(8)
		a.publish(subject, flipped)
		time.Sleep(50 * time.Millisecond)
	}
	for _, n := range a.nodes {
		n.Close()
	}
	a.nodes = nil
	return a.nc.Flush()
}

// counted compares what the nodes counted with the attacker's frames they
// received: every live node receives the frames on its own subject and on
// the heartbeat subject, and must have counted at least as many rejections
// and duplicates (a replayed data frame within the window of its stream is
// a harmless duplicate). It returns the frames received by the nodes whose
// metrics came back and how many of them were counted (per node, at most
// what it received). The nodes' counts include the rejections of the
// attacker's own nodes' frames, and of stale frames after the kill, so
// this is a lower bound check: no bad frame went uncounted.
func (a *attacker) counted(ms map[string]transport.Metrics) (received, counted int) {
	for name, m := range ms {
		want := a.sentTo["marlon.n."+name] + a.sentTo["marlon.hb"]
		received += want
		counted += min(want, int(m.Rejected.Total()+m.Duplicates))
	}
	return received, counted
}

// frameFrom is the sender a frame names ("" if it does not parse that far).
func frameFrom(f []byte) string {
	if len(f) < 5 {
		return ""
	}
	l := int(f[4]) // the sender's name: a one-byte varint length (names are at most 64 bytes)
	if l == 0 || l > 64 || len(f) < 5+l {
		return ""
	}
	return string(f[5 : 5+l])
}
