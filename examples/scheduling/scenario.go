package scheduling

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/marlon-go/marlon/env"

	"github.com/marlon-go/marlon/examples/scheduling/swf"
	"github.com/marlon-go/marlon/faults"
)

// Scenario is a scheduling problem: a cluster of nodes, a workload of jobs
// that arrive over time, and the protocol's timing. Times are in seconds
// (the simulator's virtual time units). The JSON field names match the CLI
// flags.
type Scenario struct {
	// Nodes is the number of compute nodes, each with NodeCores cores and
	// NodeMemory GB; the first GPUNodes of them also have NodeGPUs GPUs.
	Nodes      int `json:"nodes"`
	NodeCores  int `json:"node_cores"`
	NodeMemory int `json:"node_memory"`
	GPUNodes   int `json:"gpu_nodes"`
	NodeGPUs   int `json:"node_gpus"`

	// Jobs is the number of jobs of an episode (with a trace: at most
	// this many, a window of the trace that the episode's seed places).
	Jobs int `json:"jobs"`
	// Arrival is how jobs arrive: "constant" (evenly spaced), "burst"
	// (Burst jobs at once, the bursts evenly spaced), "poisson"
	// (exponential gaps), all at the mean rate that offers Load, or "swf"
	// (replayed from Trace, or from the trace shipped with the package).
	Arrival string `json:"arrival"`
	// Load is the offered load of a synthetic workload: the mean core-time
	// jobs bring per second over the cluster's cores (0.9: 90%).
	Load float64 `json:"offered_load"`
	// Burst is the number of jobs that arrive together with "burst".
	Burst int `json:"burst"`
	// GPUShare is the fraction of a synthetic workload's jobs that need
	// GPUs (only if the cluster has some).
	GPUShare float64 `json:"gpu_share"`
	// Trace is the path of an SWF file to replay with "swf" (empty: the
	// shipped trace).
	Trace string `json:"trace,omitempty"`

	// Heartbeat is the interval at which resource agents send heartbeats;
	// the auctioneer declares a node failed after MissedHeartbeats
	// intervals without one.
	Heartbeat        float64 `json:"heartbeat"`
	MissedHeartbeats int     `json:"missed_heartbeats"`
	// Timeout is how long the auctioneer waits for bids and for a node's
	// answer to an assignment.
	Timeout float64 `json:"timeout"`
	// Window is how many queued jobs an auction round offers, in queue
	// order.
	Window int `json:"window"`
	// StrandTimeout is how long a job may wait with every node that could
	// hold it down before it is declared lost.
	StrandTimeout float64 `json:"strand_timeout"`

	// Crashes kill nodes during an episode (and restart them), in the
	// simulator only.
	Crashes []Crash `json:"crashes,omitempty"`
	// Faults are injected into every episode, in the simulator only: each
	// episode draws its own plan from its seed (see Environment.FaultPlan).
	// The zero value injects none.
	Faults faults.Spec `json:"faults,omitzero"`
}

// Crash kills node Node (numbered from 0) at time At and, if Down > 0,
// restarts it Down seconds later with a fresh resource agent.
type Crash struct {
	Node int     `json:"node"`
	At   float64 `json:"at"`
	Down float64 `json:"down,omitempty"`
}

// The arrival patterns.
const (
	Constant = "constant"
	Burst    = "burst"
	Poisson  = "poisson"
	SWF      = "swf"
)

// Arrivals are the arrival patterns, for help texts.
func Arrivals() []string { return []string{Constant, Burst, Poisson, SWF} }

// Default is the scenario `marlon scheduling` runs: 8 nodes of 16 cores
// and 64 GB, two of them with 4 GPUs, and 100 jobs arriving as a Poisson
// process offering 90% of the cores, a fifth of them needing GPUs.
func Default() Scenario {
	return Scenario{
		Nodes: 8, NodeCores: 16, NodeMemory: 64, GPUNodes: 2, NodeGPUs: 4,
		Jobs: 200, Arrival: Poisson, Load: 0.9, Burst: 20, GPUShare: 0.2,
		Heartbeat: 30, MissedHeartbeats: 3, Timeout: 1, Window: 100, StrandTimeout: 600,
	}
}

// FieldError is a value out of range, naming its field as the CLI flag
// (env.FieldError, which every environment reports bad input with).
type FieldError = env.FieldError

func bad(field, allowed string, got any) error { return env.Bad(field, allowed, got) }

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Validate checks every field and returns the first value out of range.
func (s Scenario) Validate() error {
	switch {
	case s.Nodes < 1 || s.Nodes > 10000:
		return bad("nodes", "must be between 1 and 10000", s.Nodes)
	case s.NodeCores < 1 || s.NodeCores > 1<<20:
		return bad("node-cores", "must be between 1 and 1048576", s.NodeCores)
	case s.NodeMemory < 1 || s.NodeMemory > 1<<20:
		return bad("node-memory", "must be between 1 and 1048576 GB", s.NodeMemory)
	case s.GPUNodes < 0 || s.GPUNodes > s.Nodes:
		return bad("gpu-nodes", fmt.Sprintf("must be between 0 and --nodes (%d)", s.Nodes), s.GPUNodes)
	case s.NodeGPUs < 0 || s.NodeGPUs > 1024:
		return bad("node-gpus", "must be between 0 and 1024", s.NodeGPUs)
	case s.GPUNodes > 0 && s.NodeGPUs == 0:
		return bad("node-gpus", "must be at least 1 when --gpu-nodes is", s.NodeGPUs)
	case s.Jobs < 1 || s.Jobs > 1_000_000:
		return bad("jobs", "must be between 1 and 1000000", s.Jobs)
	case !validArrival(s.Arrival):
		return bad("arrival", "must be one of "+strings.Join(Arrivals(), ", "), strconv.Quote(s.Arrival))
	case !(s.Load > 0 && s.Load <= 10):
		return bad("offered-load", "must be a number > 0 and <= 10 (1: the cores' capacity)", s.Load)
	case s.Burst < 1 || s.Burst > 1_000_000:
		return bad("burst", "must be between 1 and 1000000 jobs", s.Burst)
	case !(s.GPUShare >= 0 && s.GPUShare <= 1):
		return bad("gpu-share", "must be between 0 and 1", s.GPUShare)
	case s.Trace != "" && s.Arrival != SWF:
		return bad("trace", "goes with --arrival swf", strconv.Quote(s.Trace))
	case !(s.Heartbeat > 0) || !finite(s.Heartbeat):
		return bad("heartbeat", "must be a finite number of seconds > 0", s.Heartbeat)
	case s.MissedHeartbeats < 1 || s.MissedHeartbeats > 1000:
		return bad("missed-heartbeats", "must be between 1 and 1000", s.MissedHeartbeats)
	case !(s.Timeout > 0) || !finite(s.Timeout):
		return bad("timeout", "must be a finite number of seconds > 0", s.Timeout)
	case s.Window < 1 || s.Window > 100000:
		return bad("window", "must be between 1 and 100000 jobs", s.Window)
	case !(s.StrandTimeout > 0) || !finite(s.StrandTimeout):
		return bad("strand-timeout", "must be a finite number of seconds > 0", s.StrandTimeout)
	}
	if err := s.Faults.Validate(); err != nil {
		return err
	}
	for _, c := range s.Crashes {
		switch {
		case c.Node < 0 || c.Node >= s.Nodes:
			return bad("crash", fmt.Sprintf("node must be between 0 and %d (NODE@TIME[+DOWN])", s.Nodes-1), c.Node)
		case !(c.At >= 0) || !finite(c.At):
			return bad("crash", "time must be a finite number >= 0", c.At)
		case !(c.Down >= 0) || !finite(c.Down):
			return bad("crash", "down time must be a finite number >= 0 (0: the node stays down)", c.Down)
		}
	}
	return nil
}

func validArrival(a string) bool {
	for _, x := range Arrivals() {
		if a == x {
			return true
		}
	}
	return false
}

// ParseCrash reads NODE@TIME[+DOWN]: node NODE fails at TIME and restarts
// DOWN seconds later (never if DOWN is not given).
func ParseCrash(s string) (Crash, error) {
	node, rest, ok := strings.Cut(s, "@")
	if !ok {
		return Crash{}, bad("crash", "must be NODE@TIME[+DOWN]", strconv.Quote(s))
	}
	at, down, hasDown := strings.Cut(rest, "+")
	var c Crash
	var err error
	if c.Node, err = strconv.Atoi(node); err != nil {
		return c, bad("crash", "NODE must be a node number (NODE@TIME[+DOWN])", strconv.Quote(s))
	}
	if c.At, err = strconv.ParseFloat(at, 64); err != nil {
		return c, bad("crash", "TIME must be a number of seconds (NODE@TIME[+DOWN])", strconv.Quote(s))
	}
	if hasDown {
		if c.Down, err = strconv.ParseFloat(down, 64); err != nil || !(c.Down > 0) {
			return c, bad("crash", "DOWN must be a number of seconds > 0 (NODE@TIME[+DOWN])", strconv.Quote(s))
		}
	}
	return c, nil
}

func (c Crash) String() string {
	if c.Down > 0 {
		return fmt.Sprintf("%d@%g+%g", c.Node, c.At, c.Down)
	}
	return fmt.Sprintf("%d@%g", c.Node, c.At)
}

// NodeName is the name of node i, and of the simulated node its resource
// agent runs on.
func NodeName(i int) string { return "node-" + strconv.Itoa(i) }

// Capacities are the nodes' capacities, by node number.
func (s Scenario) Capacities() []Resources {
	caps := make([]Resources, s.Nodes)
	for i := range caps {
		caps[i] = Resources{Cores: s.NodeCores, Memory: s.NodeMemory * 1024}
		if i < s.GPUNodes {
			caps[i].GPUs = s.NodeGPUs
		}
	}
	return caps
}

// The synthetic workload's run times are log-uniform between these bounds
// (seconds).
const (
	MinRun = 10
	MaxRun = 7200
)

// Synthetic draws the jobs of a synthetic workload (Arrival constant,
// burst or poisson) from seed:
//
//   - cores: 2^k with k uniform in 0..K, 2^K the largest power of two of at
//     most NodeCores;
//   - memory: the cores times a whole number of GB drawn uniformly from 1
//     to NodeMemory/NodeCores (at least 1), at most NodeMemory;
//   - GPUs: with probability GPUShare (if the cluster has GPUs), a number
//     drawn uniformly from 1 to NodeGPUs/2 (at least 1); none otherwise;
//   - run time: log-uniform between MinRun and MaxRun, in whole seconds;
//   - requested time: the run time times a factor uniform in [1, 3],
//     rounded up to a whole minute (users overestimate);
//   - submit times: from 0, at the mean gap that offers Load of the cores,
//     E[cores] E[run] / (Load * total cores): every gap equal (constant),
//     Burst jobs at once every Burst gaps (burst), or exponential gaps
//     (poisson).
func (s Scenario) Synthetic(seed uint64) []Job {
	rng := rand.New(rand.NewPCG(seed, 0x5c4ed))
	k := 0
	for 1<<(k+1) <= s.NodeCores {
		k++
	}
	memPerCore := max(1, s.NodeMemory/s.NodeCores)
	gpus := s.GPUNodes > 0 && s.NodeGPUs > 0
	meanCores := float64(int(1)<<(k+1)-1) / float64(k+1)
	meanRun := (MaxRun - MinRun) / math.Log(MaxRun/MinRun)
	gap := meanCores * meanRun / (s.Load * float64(s.Nodes*s.NodeCores))
	jobs := make([]Job, s.Jobs)
	t := 0.0
	for i := range jobs {
		cores := 1 << rng.IntN(k+1)
		mem := min(cores*(1+rng.IntN(memPerCore)), s.NodeMemory) * 1024
		g := 0
		if gpus && rng.Float64() < s.GPUShare {
			g = 1 + rng.IntN(max(1, s.NodeGPUs/2))
		}
		run := math.Ceil(MinRun * math.Exp(rng.Float64()*math.Log(MaxRun/MinRun)))
		req := math.Ceil(run*(1+2*rng.Float64())/60) * 60
		switch s.Arrival {
		case Constant:
			t = float64(i) * gap
		case Burst:
			t = float64(i/s.Burst*s.Burst) * gap
		default:
			if i > 0 {
				t += rng.ExpFloat64() * gap
			}
		}
		jobs[i] = Job{ID: i, Submit: t, Run: run, Requested: req, Needs: Resources{Cores: cores, Memory: mem, GPUs: g}}
	}
	return jobs
}

// TraceJobs converts an SWF log's jobs: cores are the requested
// processors (the allocated ones if unknown); memory the requested memory
// per processor (the used memory if unknown, 1 GB per core if both are)
// times the cores; requested time the requested time (the run time if
// unknown); the run time at most the requested time; no GPUs (SWF has no
// such field); submit times from the log's first. Jobs with an unknown or
// zero run time or processor count cannot be replayed and are skipped:
// skipped counts them.
func TraceJobs(l *swf.Log) (jobs []Job, skipped int) {
	for _, j := range l.Jobs {
		cores := j.ReqProcs
		if cores <= 0 {
			cores = j.Procs
		}
		if j.Run <= 0 || cores <= 0 || j.Submit < 0 || cores > 1<<30 {
			skipped++
			continue
		}
		kb := float64(j.ReqMemory)
		if kb <= 0 {
			kb = j.UsedMemory
		}
		mem := int(cores) * 1024
		if kb > 0 {
			mem = int(math.Min(math.Ceil(kb*float64(cores)/1024), 1<<40))
		}
		req := float64(j.ReqTime)
		if req <= 0 {
			req = float64(j.Run)
		}
		jobs = append(jobs, Job{
			ID: len(jobs), Submit: float64(j.Submit), Run: math.Min(float64(j.Run), req), Requested: req,
			Needs: Resources{Cores: int(cores), Memory: mem},
		})
	}
	// Logs are in submit order, but do not rely on it.
	for i := 1; i < len(jobs); i++ {
		for k := i; k > 0 && jobs[k].Submit < jobs[k-1].Submit; k-- {
			jobs[k], jobs[k-1] = jobs[k-1], jobs[k]
		}
	}
	for i := range jobs {
		jobs[i].ID = i
	}
	return jobs, skipped
}

// window takes n consecutive jobs of trace, from a start drawn with seed,
// renumbered from 0 with submit times from the first one's.
func window(trace []Job, n int, seed uint64) []Job {
	start := 0
	if len(trace) > n {
		start = rand.New(rand.NewPCG(seed, 0x7ace)).IntN(len(trace) - n + 1)
	} else {
		n = len(trace)
	}
	jobs := append([]Job(nil), trace[start:start+n]...)
	if len(jobs) == 0 {
		return jobs
	}
	t0 := jobs[0].Submit
	for i := range jobs {
		jobs[i].ID, jobs[i].Submit = i, jobs[i].Submit-t0
	}
	return jobs
}

// ToSWF writes jobs as an SWF log, with header lines: what a trace of the
// workload looks like, for replay (--write-trace). Submit and run times are
// rounded to whole seconds; memory is written per processor, in KB.
func ToSWF(jobs []Job, header []string) *swf.Log {
	l := &swf.Log{Header: header}
	for _, j := range jobs {
		kbPerProc := int64(-1)
		if j.Needs.Cores > 0 {
			kbPerProc = int64(math.Ceil(float64(j.Needs.Memory) * 1024 / float64(j.Needs.Cores)))
		}
		l.Jobs = append(l.Jobs, swf.Job{
			Number: int64(j.ID + 1), Submit: int64(math.Round(j.Submit)), Wait: -1, Run: int64(math.Round(j.Run)),
			Procs: int64(j.Needs.Cores), CPUTime: -1, UsedMemory: -1, ReqProcs: int64(j.Needs.Cores),
			ReqTime: int64(math.Ceil(j.Requested)), ReqMemory: kbPerProc, Status: 1,
			User: -1, Group: -1, Executable: -1, Queue: -1, Partition: -1, Preceding: -1, ThinkTime: -1,
		})
	}
	return l
}
