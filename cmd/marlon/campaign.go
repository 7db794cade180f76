package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/marlon-go/marlon/campaign"
	"github.com/marlon-go/marlon/campaign/campaignplot"
)

// campaignEnv is an environment an evaluation campaign can run on.
type campaignEnv struct {
	name string
	// runner makes the campaign's runner: methods (nil: the environment's
	// default ones), with the given seed for any training, and learners
	// trained for episodes (0: the environment's default).
	runner func(methods []string, seed uint64, episodes int) (campaign.Runner, error)
	// methods are the methods it can compare, the default first.
	methods []string
	// columns are the table's; tested the metrics tested between methods;
	// pairs the tests the text output summarises (A against B).
	columns []campaign.Column
	tested  []string
	pairs   [][2]string
	// plots are the metrics drawn, one figure each.
	plots []campaign.Column
}

// campaignEnvs are the environments campaigns can run on, the default
// first.
var campaignEnvs []campaignEnv

const campaignExamples = `
Examples:
  marlon campaign                                  the seed's 26 configurations x 5 repetitions, into ./campaign
  marlon campaign --out runs/c1 --seed 7           another campaign; run it again after a kill to resume it
  marlon campaign --configs pattern-random,load    some configurations (names or dimensions), 2 repetitions
      --reps 2
  marlon campaign --json > summary.json            the summary as JSON on stdout

A campaign writes DIR/campaign.json (what it runs), DIR/results.jsonl (one
run a line, with its seed and the faults injected, written as runs complete),
DIR/summary.json (means, 95% confidence intervals, paired t-tests between
methods, Holm-corrected over the configurations) and DIR/plots/. Run again
into the same DIR, it skips the runs recorded there.
`

func runCampaign(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("marlon campaign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var envNames []string
	for _, e := range campaignEnvs {
		envNames = append(envNames, e.name)
	}
	def := ""
	if len(envNames) > 0 {
		def = envNames[0]
	}
	var (
		envName  = fs.String("env", def, "the environment to run the campaign on: "+strings.Join(envNames, ", "))
		out      = fs.String("out", "campaign", "the campaign's `directory` (results, summary, plots); an existing one is resumed")
		reps     = fs.Int("reps", 5, "repetitions of every configuration, each with its own recorded seed")
		seed     = fs.Uint64("seed", 1, "the campaign's seed: every run's seed derives from it")
		workers  = fs.Int("workers", 0, "runs at once (0: one per core)")
		configs  = fs.String("configs", "", "the configurations to run, comma-separated names or dimensions ("+strings.Join(campaign.Dimensions(), ", ")+"); default all 26")
		methods  = fs.String("methods", "", "the methods to compare, comma-separated (default the environment's)")
		episodes = fs.Int("train-episodes", 0, "training episodes of the methods that learn, trained once per campaign (0: the environment's default)")
		jsonOut  = fs.Bool("json", false, "print the summary as JSON instead of tables")
		markdown = fs.String("markdown", "", "also write the table as Markdown to `file`")
		plots    = fs.Bool("plots", true, "draw DIR/plots/METRIC.png")
	)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: marlon campaign [flags]\n\nRuns the resilient-scheduling seed's evaluation campaign: 26 configurations over\nscale, failure rate, failure pattern, load pattern and high load, every method\non the same seeds, with fault injection.\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), campaignExamples)
	}
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	i := slices.IndexFunc(campaignEnvs, func(e campaignEnv) bool { return e.name == *envName })
	switch {
	case len(campaignEnvs) == 0:
		return fail(stderr, errors.New("campaign: no environment offers a campaign in this build"))
	case i < 0:
		return fail(stderr, usageError{fmt.Errorf("--env: unknown %q; one of %s", *envName, strings.Join(envNames, ", "))})
	case *reps < 1 || *reps > 1000:
		return fail(stderr, usageError{fmt.Errorf("--reps: must be between 1 and 1000, got %d", *reps)})
	case *workers < 0:
		return fail(stderr, usageError{fmt.Errorf("--workers: must be at least 0 (0: one per core), got %d", *workers)})
	case *episodes < 0:
		return fail(stderr, usageError{fmt.Errorf("--train-episodes: must be at least 0, got %d", *episodes)})
	case strings.TrimSpace(*out) == "":
		return fail(stderr, usageError{errors.New("--out: must name a directory")})
	}
	ce := campaignEnvs[i]
	cs, err := pickConfigs(*configs)
	if err != nil {
		return fail(stderr, err)
	}
	var meths []string
	if *methods != "" {
		for _, m := range strings.Split(*methods, ",") {
			m = strings.TrimSpace(m)
			if !slices.Contains(ce.methods, m) {
				return fail(stderr, usageError{fmt.Errorf("--methods: unknown %q; among %s", m, strings.Join(ce.methods, ", "))})
			}
			if !slices.Contains(meths, m) {
				meths = append(meths, m)
			}
		}
	}
	runner, err := ce.runner(meths, *seed, *episodes)
	if err != nil {
		return fail(stderr, err)
	}
	total := len(cs) * *reps * len(runner.Methods())
	if !*jsonOut {
		fmt.Fprintf(stdout, "Campaign on %s: %d configurations x %d repetitions x %d methods (%s) = %d runs, seed %d, into %s\n",
			ce.name, len(cs), *reps, len(runner.Methods()), strings.Join(runner.Methods(), ", "), total, *seed, *out)
	}
	prog := newProgress(stderr, "campaign", total, !*jsonOut)
	start := time.Now()
	first := true
	s, err := campaign.Run(runner, campaign.Options{
		Configs: cs, Reps: *reps, Seed: *seed, Dir: *out, Workers: *workers, Tested: ce.tested,
		Settings: map[string]string{"train_episodes": strconv.Itoa(*episodes)},
		Progress: func(done, total int, r campaign.Record) {
			if first {
				prog.done = done - 1 // runs recorded before
				first = false
			}
			prog.step(fmt.Sprintf("%s %s #%d", r.Config, r.Method, r.Rep))
		},
	})
	prog.finish()
	if err != nil {
		if errors.Is(err, campaign.ErrOtherCampaign) {
			return fail(stderr, usageError{fmt.Errorf("--out: %w", err)})
		}
		return fail(stderr, err)
	}
	var written []string
	if *plots {
		dir := filepath.Join(*out, "plots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fail(stderr, err)
		}
		for _, c := range ce.plots {
			path := filepath.Join(dir, c.Metric+".png")
			title := fmt.Sprintf("%s: %s, mean and 95%% confidence interval over %d repetitions", ce.name, c.Title, *reps)
			if err := campaignplot.Metric(path, title, s, c.Metric, c.Title, c.Scale); err != nil {
				return fail(stderr, err)
			}
			written = append(written, path)
		}
	}
	if *markdown != "" {
		f, err := os.Create(*markdown)
		if err == nil {
			err = s.WriteMarkdown(f, ce.columns)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return fail(stderr, fmt.Errorf("--markdown: %w", err))
		}
		written = append(written, *markdown)
	}
	if *jsonOut {
		writeJSON(stdout, s)
		return 0
	}
	fmt.Fprintf(stdout, "Done in %s.\n\n", time.Since(start).Round(time.Second/10))
	s.WriteTable(stdout, ce.columns)
	fmt.Fprintln(stdout, "\nMeans ± half the 95% confidence interval (Student's t) over the repetitions.")
	printTests(stdout, s, ce.pairs)
	fmt.Fprintf(stdout, "\nWrote %s", strings.Join(append([]string{
		filepath.Join(*out, campaign.ManifestFile), filepath.Join(*out, campaign.ResultsFile), filepath.Join(*out, campaign.SummaryFile)}, written...), ", "))
	fmt.Fprintln(stdout, ".")
	return 0
}

// pickConfigs selects the seed's configurations by name or dimension.
func pickConfigs(list string) ([]campaign.Config, error) {
	all := campaign.Seed003()
	if strings.TrimSpace(list) == "" {
		return all, nil
	}
	var names []string
	for _, c := range all {
		names = append(names, c.Name)
	}
	var out []campaign.Config
	for _, want := range strings.Split(list, ",") {
		want = strings.TrimSpace(want)
		found := false
		for _, c := range all {
			if (c.Name == want || c.Dimension == want) && !slices.ContainsFunc(out, func(o campaign.Config) bool { return o.Name == c.Name }) {
				out = append(out, c)
				found = true
			} else if c.Name == want || c.Dimension == want {
				found = true
			}
		}
		if !found {
			return nil, usageError{fmt.Errorf("--configs: unknown %q; names are %s, dimensions %s", want, strings.Join(names, ", "), strings.Join(campaign.Dimensions(), ", "))}
		}
	}
	return out, nil
}

// printTests summarises the tests of each pair: on how many
// configurations A is significantly above B, below it, or neither.
func printTests(w io.Writer, s *campaign.Summary, pairs [][2]string) {
	if len(pairs) == 0 || len(s.Tests) == 0 {
		return
	}
	fmt.Fprintln(w, "\nPaired t-tests over the repetitions (the same seeds), Holm-corrected over the configurations, at 5%:")
	metrics := map[string]bool{}
	var order []string
	for _, t := range s.Tests {
		if !metrics[t.Metric] {
			metrics[t.Metric] = true
			order = append(order, t.Metric)
		}
	}
	for _, p := range pairs {
		for _, m := range order {
			above, below, same := 0, 0, 0
			for _, c := range s.Configs {
				t, ok := s.Test(c.Name, m, p[0], p[1])
				switch {
				case !ok:
				case t.Significant && t.Diff.Mean > 0:
					above++
				case t.Significant && t.Diff.Mean < 0:
					below++
				default:
					same++
				}
			}
			if above+below+same > 0 {
				fmt.Fprintf(w, "  %s vs %s, %s: higher on %d, lower on %d, no significant difference on %d configuration(s)\n", p[0], p[1], m, above, below, same)
			}
		}
	}
}
