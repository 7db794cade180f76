package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	dtrain "github.com/marlon-go/marlon/training"
)

const coordinatorsExamples = `
Examples:
  marlon coordinators                          seed 002's sizes, and 3 rollout nodes of 8 agents with one learner
  marlon coordinators --agents 500 --shards 20 --p 4 --aggregate sum
  marlon coordinators --json
`

// coordinatorRow is one line of the table.
type coordinatorRow struct {
	Agents      int         `json:"agents"`
	Shards      int         `json:"shards"`
	Rule        string      `json:"p_rule"`
	P           int         `json:"p"`
	Direct      dtrain.Flow `json:"direct"`
	Coordinated dtrain.Flow `json:"coordinated"`
}

func runCoordinators(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("marlon coordinators", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		agents = fs.Int("agents", 0, "n, the agents (0: the default rows)")
		shards = fs.Int("shards", 1, "m, the learner shards, with --agents")
		p      = fs.Int("p", 0, "the coordinators (0: log(n*m), natural and base 10, as seed 002's code and table)")
		size   = fs.Int("size", 1024, "bytes of one agent's payload (its experience of a step)")
		header = fs.Int("header", 64, "bytes of a message's envelope")
		agg    = fs.String("aggregate", "concat", "how a coordinator combines payloads: concat (experience: the aggregate carries them all) or sum (gradients: one payload's size)")
		asJSON = fs.Bool("json", false, "print JSON")
	)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: marlon coordinators [flags]\n\nCounts, in the simulator, what one step of n agents sending to m learner\nshards costs directly (n*m links) and through p aggregating coordinators\n(n + p*m links, seed 002): links, messages, bytes, and the largest number\nof messages one actor receives (in) and sends (out).\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), coordinatorsExamples)
	}
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	aggregation := dtrain.Concat
	switch {
	case *agg == "sum":
		aggregation = dtrain.Sum
	case *agg != "concat":
		return fail(stderr, usageError{fmt.Errorf("--aggregate: concat or sum, got %q", *agg)})
	case *agents < 0 || (*agents > 0 && *shards < 1):
		return fail(stderr, usageError{fmt.Errorf("--agents and --shards: at least 1, got %d and %d", *agents, *shards)})
	case *agents > 0 && *agents**shards > 2_000_000:
		return fail(stderr, usageError{errors.New("--agents x --shards: at most 2,000,000 direct messages a step (the simulator counts each)")})
	case *p < 0 || (*agents > 0 && *p > *agents):
		return fail(stderr, usageError{fmt.Errorf("--p: between 1 and --agents (0: log(n*m)), got %d", *p)})
	case *size < 0 || *header < 0:
		return fail(stderr, usageError{errors.New("--size and --header: at least 0")})
	}
	type size2 struct{ n, m, p int }
	var sizes []size2
	if *agents > 0 {
		sizes = []size2{{*agents, *shards, *p}}
	} else {
		for _, s := range [][2]int{{10, 100}, {200, 100}, {1000, 200}, {200, 1000}} { // seed 002's rows that fit in memory
			sizes = append(sizes, size2{s[0], s[1], 0})
		}
		sizes = append(sizes, size2{24, 1, 3}) // marlon train: 3 rollout nodes of 8 workers, one learner
	}
	var rows []coordinatorRow
	for _, s := range sizes {
		rules := []struct {
			name string
			p    int
		}{{"ln(n*m)", dtrain.LogCoordinators(s.n, s.m, false)}, {"log10(n*m)", dtrain.LogCoordinators(s.n, s.m, true)}}
		if s.p > 0 {
			rules = rules[:0]
			rules = append(rules, struct {
				name string
				p    int
			}{"given", s.p})
		}
		for _, r := range rules {
			d, c, err := dtrain.LinkCount(s.n, s.m, r.p, *size, *header, 1, aggregation)
			if err != nil {
				return fail(stderr, err)
			}
			rows = append(rows, coordinatorRow{Agents: s.n, Shards: s.m, Rule: r.name, P: r.p, Direct: d, Coordinated: c})
		}
	}
	if *asJSON {
		writeJSON(stdout, rows)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "n\tm\tp\tlinks direct\tcoordinated\tavoided\tmessages\tcoordinated\tbytes\tcoordinated\tmax in\tcoordinated\tmax out\tcoordinated\t")
	for _, r := range rows {
		d, c := r.Direct, r.Coordinated
		fmt.Fprintf(tw, "%d\t%d\t%d %s\t%d\t%d\t%.1f%%\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", r.Agents, r.Shards, r.P, r.Rule,
			d.Links, c.Links, 100*(1-float64(c.Links)/float64(d.Links)), d.Messages, c.Messages, d.Bytes, c.Bytes, d.MaxIn, c.MaxIn, d.MaxOut, c.MaxOut)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\nOne step: every agent sends a %d-byte payload (%s aggregation), every message has a %d-byte header.\n", *size, *agg, *header)
	fmt.Fprintln(stdout, "Seed 002's table takes p = log10(n*m) unrounded (630 links for n=200, m=100); its code rounds ln(n*m) down; here p is rounded down.")
	fmt.Fprintln(stdout, "The last default row is marlon train's shape: each rollout node is its agents' coordinator, one learner. With one shard the")
	fmt.Fprintln(stdout, "pattern adds links; what it saves there is network traffic: the agent-to-coordinator messages stay inside a node's process,")
	fmt.Fprintln(stdout, "so the learner gets 3 messages a step instead of 24 (marlon train reports the measured counts on its experience line).")
	return 0
}
