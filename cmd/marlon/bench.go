package main

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/marlon-go/marlon/actors/actorbench"
	"github.com/marlon-go/marlon/coordination/coordbench"
	"github.com/marlon-go/marlon/transport"
)

// benchResult is marlon bench's JSON: the runtimes' figures and, unless
// skipped, the transport's, one per authentication mode, and the
// coordination primitives'.
type benchResult struct {
	actorbench.Result
	Transport    []transport.BenchResult `json:"transport,omitempty"`
	Coordination *coordbench.Result      `json:"coordination,omitempty"`
	Scale        []scalePoint            `json:"scale,omitempty"`
}

func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("marlon bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	messages := fs.Int("messages", 2_000_000, "messages per measurement of the runtimes")
	withTransport := fs.Bool("transport", true, "also measure the NATS transport against raw nats.go (a few seconds); --transport=false skips it")
	tMessages := fs.Int("transport-messages", 200_000, "one-way messages per round of the transport's throughput")
	tRequests := fs.Int("transport-requests", 2_000, "round trips per round of the transport's request latency")
	withCoord := fs.Bool("coordination", true, "also measure the coordination primitives on embedded JetStream against raw nats.go (about 10s); --coordination=false skips it")
	coordCAS := fs.Int("coordination-cas", 1000, "compare-and-sets per round of the coordination's KV latency")
	coordReplicas := fs.Int("coordination-replicas", 1, "replicas of the coordination's bucket: 1 (one embedded server) or 3 (a local cluster of three)")
	scale := fs.Bool("scale", false, "also measure the load-balancing simulator at growing sizes: time and peak heap per worker and per unit (under a minute and 0.5 GB at the default sizes)")
	scaleWorkers := fs.String("scale-workers", "64,1000,10000,100000", "with --scale: the worker counts, 100 units each")
	scaleUnits := fs.String("scale-units", "1000000,100000000", "with --scale: the job sizes, with 64 workers")
	scaleRounds := fs.Int("scale-rounds", 3, "with --scale: episodes per size; the fastest is reported")
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
ratios, which carry from machine to machine. The coordination primitives
are measured on embedded JetStream against raw nats.go calls: a
compare-and-set through a member's store and through a variable against
kv.Update, a barrier of 3 and 10 parties against one made of kv.Put and
kv.Watch, and a leader's failover against its lease's TTL (1s).

With --scale it also runs one simulated load-balancing episode (FAC2) at
each of several sizes (the fastest of --scale-rounds), growing the workers
(100 units each) and the job (64 workers), and prints the time and the peak
heap per worker and per unit, as ratios to the smallest size: they stay
near 1 when the simulator is linear.

Flags:`)
		fs.PrintDefaults()
		fmt.Fprintln(fs.Output(), "\nExamples:\n  marlon bench\n  marlon bench --messages 5000000 --transport=false --json\n  marlon bench --transport=false --coordination=false --scale")
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
	case *coordCAS < 10:
		return fail(stderr, usageError{fmt.Errorf("--coordination-cas: must be at least 10, got %d", *coordCAS)})
	case *coordReplicas != 1 && *coordReplicas != 3:
		return fail(stderr, usageError{fmt.Errorf("--coordination-replicas: must be 1 or 3, got %d", *coordReplicas)})
	}
	var workers, units []int
	if *scale {
		var err error
		if workers, err = parseSizes("scale-workers", *scaleWorkers, 1, 100_000); err != nil {
			return fail(stderr, err)
		}
		if units, err = parseSizes("scale-units", *scaleUnits, 1, 100_000_000); err != nil {
			return fail(stderr, err)
		}
		if *scaleRounds < 1 || *scaleRounds > 100 {
			return fail(stderr, usageError{fmt.Errorf("--scale-rounds: from 1 to 100, got %d", *scaleRounds)})
		}
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
	if *withCoord {
		c, err := coordbench.Run(coordbench.Options{CAS: *coordCAS, Replicas: *coordReplicas})
		if err != nil {
			return fail(stderr, fmt.Errorf("coordination bench: %w", err))
		}
		r.Coordination = &c
	}
	if *scale {
		var err error
		if r.Scale, err = measureScale(workers, units, *scaleRounds, stderr); err != nil {
			return fail(stderr, fmt.Errorf("scale bench: %w", err))
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
	if len(r.Transport) > 0 {
		printTransport(stdout, r.Transport)
	}
	if r.Coordination != nil {
		printCoordination(stdout, *r.Coordination)
	}
	if len(r.Scale) > 0 {
		fmt.Fprintln(stdout)
		printScale(stdout, r.Scale)
	}
	return 0
}

func printTransport(stdout io.Writer, ts []transport.BenchResult) {
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "transport auth\tmessages/s\traw NATS\tthroughput\trequest µs\traw NATS\tlatency\t")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.2fx raw\t%.1f\t%.1f\t%.2fx raw\t\n",
			t.Auth, t.RemotePerSec, t.RawPerSec, t.ThroughputRatio, t.RemoteRequestMicros, t.RawRequestMicros, t.LatencyRatio)
	}
	tw.Flush()
	t := ts[0]
	fmt.Fprintf(stdout, "\n%d %d-byte messages and %d requests a round, best of %d rounds, one embedded NATS server.\n", t.Messages, t.PayloadBytes, t.Requests, t.Rounds)
}

func printCoordination(stdout io.Writer, c coordbench.Result) {
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "coordination, R%d\tbaseline\tmeasured\tbaseline\tratio\t\n", c.Replicas)
	fmt.Fprintf(tw, "CAS via a store (µs)\traw kv.Update\t%.1f\t%.1f\t%.2fx\t\n", c.StoreCASMicros, c.RawCASMicros, c.StoreCASRatio)
	fmt.Fprintf(tw, "CAS via a variable (µs)\traw kv.Update\t%.1f\t%.1f\t%.2fx\t\n", c.VarCASMicros, c.RawCASMicros, c.VarCASRatio)
	for _, b := range c.Barriers {
		fmt.Fprintf(tw, "barrier of %d (ms)\tkv.Put+kv.Watch\t%.2f\t%.2f\t%.2fx\t\n", b.Parties, b.CoordMills, b.RawMillis, b.Ratio)
	}
	fmt.Fprintf(tw, "leader failover (ms)\tlease TTL\t%.0f\t%.0f\t%.2fx\t\n", c.MeanFailoverTTLs*c.TTLMillis, c.TTLMillis, c.MeanFailoverTTLs)
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d compare-and-sets a round, barriers best of %d rounds, one process per party; failover: mean of %d, from\nthe leader's process dying to another's election, lease renewed every TTL/4.\n", c.CAS, c.Rounds, len(c.FailoverMillis))
}
