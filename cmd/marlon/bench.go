package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/marlon-go/marlon/actors/actorbench"
)

func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("marlon bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	messages := fs.Int("messages", 2_000_000, "messages per measurement")
	jsonOut := fs.Bool("json", false, "print JSON instead of a table")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: marlon bench [flags]\n\nMeasures messages per second through the simulator and the live runtime\n(a two-actor ping-pong) against two goroutines passing an int over channels,\nin the same process, and prints the ratios.\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprintln(fs.Output(), "\nExample:\n  marlon bench --messages 5000000 --json")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *messages < 1000 {
		return fail(stderr, usageError{fmt.Errorf("--messages: must be at least 1000, got %d", *messages)})
	}
	r := actorbench.Run(*messages)
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
	return 0
}
