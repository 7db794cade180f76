package main

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/marlon-go/marlon/actors/actorbench"
	"github.com/marlon-go/marlon/transport"
)

// benchResult is marlon bench's JSON: the runtimes' figures and, unless
// skipped, the transport's, one per authentication mode.
type benchResult struct {
	actorbench.Result
	Transport []transport.BenchResult `json:"transport,omitempty"`
}

func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("marlon bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	messages := fs.Int("messages", 2_000_000, "messages per measurement of the runtimes")
	withTransport := fs.Bool("transport", true, "also measure the NATS transport against raw nats.go (a few seconds); --transport=false skips it")
	tMessages := fs.Int("transport-messages", 200_000, "one-way messages per round of the transport's throughput")
	tRequests := fs.Int("transport-requests", 2_000, "round trips per round of the transport's request latency")
	jsonOut := fs.Bool("json", false, "print JSON instead of tables")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: marlon bench [flags]

Measures, in one process, messages per second through the simulator and the
live runtime (a two-actor ping-pong) against two goroutines passing an int
over channels; and the NATS transport against raw nats.go on one embedded
server: an actor sending 64-byte messages to an actor on another node
against a nats.go publisher and subscriber, and an actor's request answered
on another node against nats.Conn.Request, best of 3 rounds, with session
MACs (the default) and with a signature on every frame. It prints the
ratios, which carry from machine to machine.

Flags:`)
		fs.PrintDefaults()
		fmt.Fprintln(fs.Output(), "\nExamples:\n  marlon bench\n  marlon bench --messages 5000000 --transport=false --json")
	}
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	switch {
	case *messages < 1000:
		return fail(stderr, usageError{fmt.Errorf("--messages: must be at least 1000, got %d", *messages)})
	case *tMessages < 1000:
		return fail(stderr, usageError{fmt.Errorf("--transport-messages: must be at least 1000, got %d", *tMessages)})
	case *tRequests < 10:
		return fail(stderr, usageError{fmt.Errorf("--transport-requests: must be at least 10, got %d", *tRequests)})
	}
	r := benchResult{Result: actorbench.Run(*messages)}
	if *withTransport {
		for _, auth := range []transport.Auth{transport.AuthSession, transport.AuthSignFrames} {
			t, err := transport.Bench(transport.BenchOptions{Messages: *tMessages, Requests: *tRequests, Auth: auth})
			if err != nil {
				return fail(stderr, fmt.Errorf("transport bench: %w", err))
			}
			r.Transport = append(r.Transport, t)
		}
	}
	if *jsonOut {
		writeJSON(stdout, r)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tmessages/s\tvs channel\t")
	fmt.Fprintf(tw, "simulator\t%.0f\t%.2fx the rate\t\n", r.SimPerSec, r.SimOverChan)
	fmt.Fprintf(tw, "live runtime\t%.0f\t%.2fx the cost\t\n", r.LivePerSec, r.LiveCostChan)
	fmt.Fprintf(tw, "raw channel\t%.0f\t1\t\n", r.ChanPerSec)
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d messages each, one process.\n", r.Messages)
	if len(r.Transport) == 0 {
		return 0
	}
	fmt.Fprintln(stdout)
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "transport auth\tmessages/s\traw NATS\tthroughput\trequest µs\traw NATS\tlatency\t")
	for _, t := range r.Transport {
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.2fx raw\t%.1f\t%.1f\t%.2fx raw\t\n",
			t.Auth, t.RemotePerSec, t.RawPerSec, t.ThroughputRatio, t.RemoteRequestMicros, t.RawRequestMicros, t.LatencyRatio)
	}
	tw.Flush()
	t := r.Transport[0]
	fmt.Fprintf(stdout, "\n%d %d-byte messages and %d requests a round, best of %d rounds, one embedded NATS server.\n", t.Messages, t.PayloadBytes, t.Requests, t.Rounds)
	return 0
}
