package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/examples/loadbalancing/learners"
	"github.com/marlon-go/marlon/learning"
)

const reportExamples = `
Examples:
  marlon report                         every quality scenario, training seed 1
  marlon report --seeds 3 --json        seeds 1, 2 and 3, as JSON
  marlon report --scenarios leave,more  two of the scenarios

For each scenario and seed, every classical technique runs on the evaluation
episodes, and every learner is trained (validated every 25 episodes, the best
validated models kept) and then evaluated greedily on the same episodes. A
learner passes where its makespan ratio is no worse than the best classical
technique's and within 10% of the lower bound.
`

func runReport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("marlon report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := learners.DefaultTraining()
	var (
		seeds     = fs.Int("seeds", 1, "training seeds 1..N for each scenario")
		scenarios = fs.String("scenarios", "", "comma-separated scenario names (default: all)")
		episodes  = fs.Int("episodes", def.Episodes, "training episodes per learner")
		evals     = fs.Int("eval-episodes", def.EvalEpisodes, "evaluation episodes per algorithm")
		jsonOut   = fs.Bool("json", false, "print JSON rows instead of a table")
	)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: marlon report [flags]\n\nThe learning-quality report: the learners against the classical techniques\non the load-balancing quality scenarios.\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), reportExamples)
	}
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	all := learners.QualityScenarios()
	chosen := all
	if *scenarios != "" {
		chosen = nil
		var known []string
		for _, sc := range all {
			known = append(known, sc.Name)
		}
		for _, name := range strings.Split(*scenarios, ",") {
			i := slices.IndexFunc(all, func(sc learners.Named) bool { return sc.Name == name })
			if i < 0 {
				return fail(stderr, usageError{fmt.Errorf("--scenarios: unknown %q; one of %s", name, strings.Join(known, ", "))})
			}
			chosen = append(chosen, all[i])
		}
	}
	switch {
	case *seeds < 1:
		return fail(stderr, usageError{fmt.Errorf("--seeds: must be at least 1, got %d", *seeds)})
	case *episodes < 0:
		return fail(stderr, usageError{fmt.Errorf("--episodes: must be at least 0, got %d", *episodes)})
	case *evals < 1:
		return fail(stderr, usageError{fmt.Errorf("--eval-episodes: must be at least 1, got %d", *evals)})
	}
	tr := def
	tr.Episodes, tr.EvalEpisodes = *episodes, *evals
	names := learners.Names()
	perRow := 0
	for _, name := range names {
		perRow += env.Episodes(learners.IsLearner(name), env.RunOptions{
			Episodes: tr.Episodes, EvalEvery: tr.EvalEvery, EvalEpisodes: tr.EvalEpisodes, Select: tr.Select})
	}
	prog := newProgress(stderr, "report", len(chosen)**seeds*perRow, !*jsonOut)
	var rows []learners.Row
	for _, sc := range chosen {
		for s := 1; s <= *seeds; s++ {
			opts := learners.Options{Seed: uint64(s), Training: tr, OnEpisode: func(learning.Record) { prog.step(sc.Name) }}
			row, _, err := learners.Compare(sc, names, opts)
			if err != nil {
				prog.finish()
				return fail(stderr, err)
			}
			rows = append(rows, row)
		}
	}
	prog.finish()
	if *jsonOut {
		writeJSON(stdout, rows)
		return 0
	}
	printQuality(stdout, chosen, rows)
	return 0
}

func printQuality(w io.Writer, scenarios []learners.Named, rows []learners.Row) {
	about := map[string]string{}
	for _, sc := range scenarios {
		about[sc.Name] = sc.About
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "scenario\tseed\tbest classical\t"
	for _, l := range learners.Learners() {
		header += l + "\t"
	}
	fmt.Fprintln(tw, header+"learners pass\t")
	passes, total := 0, 0
	for _, r := range rows {
		best, ratio := r.Best()
		line := fmt.Sprintf("%s\t%d\t%s %.3f\t", r.Scenario, r.Seed, best, ratio)
		ok := 0
		for _, l := range learners.Learners() {
			line += fmt.Sprintf("%.3f (%.1fs)\t", r.Ratios[l], r.TrainSeconds[l])
			if r.Beats(l, 0.10) {
				ok++
			}
		}
		passes += ok
		total += len(learners.Learners())
		fmt.Fprintf(tw, "%s%d of %d\t\n", line, ok, len(learners.Learners()))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nRatios are makespan / lower bound, means over the same evaluation episodes; (s) is training time.")
	for _, sc := range scenarios {
		fmt.Fprintf(w, "  %-8s %s\n", sc.Name, sc.About)
	}
	fmt.Fprintf(w, "Learners passing (no worse than the best classical technique, within 10%% of the lower bound): %d of %d.\n", passes, total)
}
