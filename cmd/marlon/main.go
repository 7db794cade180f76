// Command marlon runs the toolkit's environments, algorithms and benchmarks.
//
//	marlon loadbalancing [flags]   run or compare scheduling algorithms, or run one live
//	marlon scheduling [flags]      run or compare HPC job schedulers (bidding agents, FCFS, EASY, learners)
//	marlon report [flags]          the learning-quality report
//	marlon campaign [flags]        the resilient-scheduling evaluation campaign
//	marlon node [flags]            join a cluster and host load-balancing workers
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
	"strings"
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
		{"scheduling", "run the HPC job scheduling example: bidding resource agents, FCFS, EASY, learners", runScheduling},
		{"report", "the learning-quality report: learners against the classical techniques", runReport},
		{"campaign", "the resilient-scheduling evaluation campaign: 26 configurations x repetitions, with faults", runCampaign},
		{"node", "join a cluster and host load-balancing workers for live runs", runNode},
		{"nats", "run a NATS server for nodes on several machines", runNATS},
		{"keys", "make a node's key pair and add it to the cluster's trusted keys", runKeys},
		{"bench", "measure the actor runtimes against a Go channel, the transport against NATS", runBench},
	}
}

// run is main without the process: it returns the exit code (0 success,
// 1 failure while running, 2 bad usage).
func run(args []string, stdout, stderr io.Writer) int {
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

// progress draws "label  done/total" on one terminal line; it draws nothing
// when its writer is not a terminal.
type progress struct {
	w     io.Writer
	label string
	total int
	done  int
	on    bool
}

func newProgress(w io.Writer, label string, total int, enabled bool) *progress {
	return &progress{w: w, label: label, total: total, on: enabled && isTerminal(w)}
}

func (p *progress) step(detail string) {
	p.done++
	if !p.on {
		return
	}
	const width = 30
	filled := min(width, width*p.done/max(p.total, 1)) // a total that fell short must not end the run
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d %s\x1b[K", p.label, strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.done, p.total, detail)
}

func (p *progress) finish() {
	if p.on {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// parse parses a subcommand's flags: 0 and done after --help, 2 and done
// on a bad flag or a stray argument.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	if fs.NArg() > 0 {
		return fail(stderr, usageError{fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))}), true
	}
	return 0, false
}
