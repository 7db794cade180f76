// Command marlon runs the toolkit's environments, algorithms and benchmarks.
//
//	marlon loadbalancing [flags]   run or compare scheduling algorithms, or run one live
//	marlon scheduling [flags]      run or compare HPC job schedulers (bidding agents, FCFS, EASY, learners), or run one live
//	marlon report [flags]          the learning-quality report
//	marlon campaign [flags]        the resilient-scheduling evaluation campaign
//	marlon train [flags]           train a learner across rollout nodes over NATS JetStream
//	marlon coordinators [flags]    the coordinator pattern's links, messages and bytes (seed 002)
//	marlon node [flags]            join a cluster and host load-balancing workers and scheduling resource agents (--rollouts: train)
//	marlon nats [flags]            run a NATS server for a cluster
//	marlon keys [flags]            make a node's keys and trust them
//	marlon bench [flags]           measure the runtimes and the transport
//
// Run `marlon help` or `marlon COMMAND --help` for the flags and examples.
// The command is the I/O edge of the toolkit: it parses flags, prints tables
// and JSON and draws plots; everything it runs lives in the packages.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"loadbalancing", "run the load-balancing example: one algorithm, or --compare them all", runLoadBalancing},
		{"scheduling", "run the HPC job scheduling example: bidding resource agents, FCFS, EASY, learners; --live over NATS", runScheduling},
		{"report", "the learning-quality report: learners against the classical techniques", runReport},
		{"campaign", "the resilient-scheduling evaluation campaign: 26 configurations x repetitions, with faults", runCampaign},
		{"train", "train a learner across rollout nodes over NATS JetStream (distributed training)", runTrain},
		{"coordinators", "count links, messages and bytes of n agents to m learner shards, directly and through coordinators", runCoordinators},
		{"node", "join a cluster: host load-balancing workers and scheduling resource agents for live runs, or --rollouts for distributed training", runNode},
		{"nats", "run a NATS server for nodes on several machines", runNATS},
		{"keys", "make a node's key pair and add it to the cluster's trusted keys", runKeys},
		{"bench", "measure the actor runtimes against a Go channel, the transport against NATS", runBench},
		{"metrics", "ask the running nodes of a cluster for their transport counters", runMetrics},
		{"chaos", "a fault campaign on loopback: nodes and masters killed, paused, restarted, attacked", runChaos},
	}
}

// invocation is what one run of the command shares with the plumbing that
// its subcommands call with their own writers only: where help goes, and
// whether the user interrupted it. run makes a new one each time.
type invocation struct {
	stdout      io.Writer
	interrupted atomic.Bool
}

var current = &invocation{stdout: os.Stdout}

// exitInterrupted is the exit code of a run the user interrupted (SIGINT)
// that saved and printed what it had: 128 + SIGINT, as a shell reports it.
const exitInterrupted = 130

// run is main without the process: it returns the exit code (0 success,
// 1 failure while running, 2 bad usage, 130 interrupted). It sets the
// invocation's state (current): one run at a time per process.
func run(args []string, stdout, stderr io.Writer) int {
	current = &invocation{stdout: stdout}
	code := dispatch(args, stdout, stderr)
	if current.interrupted.Load() && code == 0 {
		code = exitInterrupted
	}
	return code
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "marlon: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "marlon: multi-agent reinforcement learning environments on actors.")
	fmt.Fprintln(w, "\nUsage: marlon COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'marlon COMMAND --help' for a command's flags and examples.")
}

// isTerminal reports whether w is a terminal (for progress output).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress shows how far long work has got, on stderr: on a terminal a
// bar redrawn in place; otherwise (a log, a pipe) a line once the work has
// run for progressFirst, then every progressEvery, so that a run of a
// second prints nothing and a long one is never silent.
type progress struct {
	w        io.Writer
	label    string
	total    int
	done     int
	on, tty  bool
	start    time.Time
	next     time.Time // the next time a line may be drawn
	printed  bool
	lastDraw time.Time
}

const (
	progressFirst = 2 * time.Second
	progressEvery = 10 * time.Second
	progressTTY   = 50 * time.Millisecond // redraws of the bar, at most
)

// progressClock is the progress clock (tests move it).
var progressClock = time.Now

func newProgress(w io.Writer, label string, total int, enabled bool) *progress {
	t := progressClock()
	return &progress{w: w, label: label, total: total, on: enabled, tty: isTerminal(w), start: t, next: t.Add(progressFirst)}
}

func (p *progress) step(detail string) {
	p.done++
	p.draw(detail)
}

// tick shows detail without a step done: how far the current step (a long
// episode, say) has got.
func (p *progress) tick(detail string) { p.draw(detail) }

func (p *progress) draw(detail string) {
	if !p.on {
		return
	}
	t := progressClock()
	if p.tty {
		if t.Sub(p.lastDraw) < progressTTY && p.done < p.total {
			return
		}
		p.lastDraw = t
		const width = 30
		filled := min(width, width*p.done/max(p.total, 1)) // a total that fell short must not end the run
		fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d %s %s\x1b[K", p.label, strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.done, p.total, p.eta(t), detail)
		p.printed = true
		return
	}
	if t.Before(p.next) {
		return
	}
	p.next = t.Add(progressEvery)
	fmt.Fprintf(p.w, "%s: %d of %d episodes (%d%%), %s; %s\n", p.label, p.done, p.total, 100*p.done/max(p.total, 1), p.eta(t), detail)
	p.printed = true
}

// eta is the time elapsed, and left at the mean pace so far.
func (p *progress) eta(t time.Time) string {
	elapsed := t.Sub(p.start)
	s := roundDuration(elapsed)
	if p.done > 0 && p.done < p.total {
		left := time.Duration(float64(elapsed) / float64(p.done) * float64(p.total-p.done))
		s += ", about " + roundDuration(left) + " left"
	}
	return s
}

func roundDuration(d time.Duration) string {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// println prints a line above the progress bar (on a terminal) or between
// its lines.
func (p *progress) println(line string) {
	if p.on && p.tty && p.printed {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.lastDraw = time.Time{} // redraw the bar at the next step
	}
	fmt.Fprintln(p.w, line)
}

func (p *progress) finish() {
	if p.on && p.tty && p.printed {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// onInterrupt returns a channel closed at the user's first interrupt
// (SIGINT, Ctrl-C); after it, a second one ends the process at once, as
// usual. release stops listening. Tests replace it.
var onInterrupt = func() (stop <-chan struct{}, release func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	closed, done := make(chan struct{}), make(chan struct{})
	go func() {
		select {
		case <-sig:
			signal.Stop(sig) // the next one ends the process
			close(closed)
		case <-done:
		}
	}()
	var once atomic.Bool
	return closed, func() {
		if once.CompareAndSwap(false, true) {
			signal.Stop(sig)
			close(done)
		}
	}
}

// parse parses a subcommand's flags: 0 and done after --help, which goes
// to stdout; 2 and done on a bad flag or a stray argument, which get one
// line on stderr naming the flag and what it takes (not the whole help).
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, done bool) {
	return parseFlags(fs, args, stderr, false)
}

// parseWithArgs is parse for a command that takes arguments after its flags.
func parseWithArgs(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, done bool) {
	return parseFlags(fs, args, stderr, true)
}

func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer, withArgs bool) (code int, done bool) {
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {} // printed below, where it belongs, or not at all
	fs.SetOutput(io.Discard)
	checked := checkValues(fs)
	err := fs.Parse(args)
	checked.restore()
	fs.Usage = usage
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(current.stdout)
		if usage != nil {
			usage()
		} else {
			fmt.Fprintf(current.stdout, "Usage of %s:\n", fs.Name())
			fs.PrintDefaults()
		}
		fs.SetOutput(out)
		return 0, true
	case err != nil:
		return fail(stderr, usageError{checked.explain(err)}), true
	case fs.NArg() > 0 && !withArgs:
		return fail(stderr, usageError{fmt.Errorf("unexpected argument %q (flags start with --; %s --help lists them)", fs.Arg(0), fs.Name())}), true
	}
	return 0, false
}

// checkedValues wrap a flag set's values while it parses, to say what a
// flag takes when a value is refused.
type checkedValues struct {
	fs    *flag.FlagSet
	orig  map[string]flag.Value
	first error // the first value refused, explained
}

func checkValues(fs *flag.FlagSet) *checkedValues {
	c := &checkedValues{fs: fs, orig: map[string]flag.Value{}}
	fs.VisitAll(func(f *flag.Flag) {
		c.orig[f.Name] = f.Value
		f.Value = &checkedValue{Value: f.Value, name: f.Name, c: c}
	})
	return c
}

// restore puts the flags' own values back: the help and the defaults it
// prints read their types.
func (c *checkedValues) restore() {
	for name, v := range c.orig {
		c.fs.Lookup(name).Value = v
	}
}

// explain turns the flag package's error into one line naming the flag and
// what it takes.
func (c *checkedValues) explain(err error) error {
	if c.first != nil {
		return c.first
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		hint := ""
		if near := c.nearest(name); near != "" {
			hint = fmt.Sprintf("did you mean --%s? ", near)
		}
		return fmt.Errorf("--%s: no such flag (%s%s --help lists them)", name, hint, c.fs.Name())
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		name = strings.TrimLeft(name, "-")
		if v, ok := c.orig[name]; ok {
			return fmt.Errorf("--%s: needs a value: %s", name, what(v))
		}
	}
	return err
}

// nearest is the flag whose name is closest to name, if one is close.
func (c *checkedValues) nearest(name string) string {
	names := make([]string, 0, len(c.orig))
	for n := range c.orig {
		names = append(names, n)
	}
	sort.Strings(names) // ties go the same way every run
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

type checkedValue struct {
	flag.Value
	name string
	c    *checkedValues
}

// IsBoolFlag keeps --flag without a value working for boolean flags.
func (v *checkedValue) IsBoolFlag() bool {
	b, ok := v.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func (v *checkedValue) Set(s string) error {
	err := v.Value.Set(s)
	if err != nil && v.c.first == nil {
		switch w := what(v.Value); {
		case w == "":
			v.c.first = fmt.Errorf("--%s: %v (got %q)", v.name, err, s) // a flag of its own kind explains itself
		case err.Error() == "value out of range":
			v.c.first = fmt.Errorf("--%s: wants %s, got %q, which is out of range", v.name, w, s)
		default:
			v.c.first = fmt.Errorf("--%s: wants %s, got %q", v.name, w, s)
		}
	}
	return err
}

// what says what a flag of v's kind takes ("" for a kind of its own).
func what(v flag.Value) string {
	g, ok := v.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case int, int64:
		return "a whole number"
	case uint, uint64:
		return "a whole number, 0 or more"
	case float64:
		return "a number"
	case time.Duration:
		return "a duration with its unit, like 500ms, 2s or 1m30s"
	case bool:
		return "true or false"
	case string:
		return "a string"
	}
	return ""
}
