package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/learning"
)

const loadBalancingExamples = `
Examples:
  marlon loadbalancing                                  compare every algorithm on the default scenario
  marlon loadbalancing --algorithm fac2                 one algorithm, with a per-worker table
  marlon loadbalancing --workers 16 --speeds 1-3 --comm-time 0.2 --compare
  marlon loadbalancing --speeds 1,1,2,4 --workers 4 --job 5000 --algorithm awf-c
  marlon loadbalancing --join 2@100 --leave 3@200 --algorithm af --json
  marlon loadbalancing --show-scenario > my.json        then edit my.json and
  marlon loadbalancing --scenario my.json --compare     (flags given still override it)

Times are in virtual time units. Workers are numbered from 0; joiners come after
the starting workers. The seed fixes the drawn speeds; episode k (from 0) draws
its unit costs from seed+k.
`

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// usageError is bad input: exit code 2.
type usageError struct{ error }

func runLoadBalancing(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("marlon loadbalancing", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := loadbalancing.Default()
	var (
		workers      = fs.Int("workers", def.Workers, "number of workers at the start")
		speeds       = fs.String("speeds", fmt.Sprintf("%d-%d", def.SpeedMin, def.SpeedMax), "worker speeds: a list with one per worker (1,2,3.5) or a range MIN-MAX of integers to draw from")
		job          = fs.Int("job", def.Job, "work units in the job")
		unitTime     = fs.Float64("unit-time", def.UnitTime, "time one unit of mean cost takes at speed 1")
		commTime     = fs.Float64("comm-time", def.CommTime, "time the Master takes to serve one request (it serves one at a time)")
		variability  = fs.Float64("variability", def.Variability, "coefficient of variation of the units' costs (0: all equal)")
		joins        listFlag
		leaves       listFlag
		algorithm    = fs.String("algorithm", "", "the algorithm to run: "+strings.Join(algorithmNames(), ", "))
		seed         = fs.Uint64("seed", 1, "seed for the drawn speeds and the episodes")
		episodes     = fs.Int("episodes", 1, "episodes per algorithm (results are their means)")
		jsonOut      = fs.Bool("json", false, "print JSON (an object, or with --compare an array) instead of tables")
		compare      = fs.Bool("compare", false, "run every algorithm on the same scenario and seeds, in a table sorted by makespan")
		scenarioFile = fs.String("scenario", "", "read the scenario from a JSON `file`; flags given override it")
		show         = fs.Bool("show-scenario", false, "print the scenario as JSON and exit")
	)
	fs.Var(&joins, "join", "`COUNT@TIME[:SPEED]`: COUNT workers join at TIME (speed drawn if not given); repeatable")
	fs.Var(&leaves, "leave", "`WORKER@TIME`: worker WORKER leaves at TIME, handing back its chunk; repeatable")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: marlon loadbalancing [flags]\n\nRuns dynamic loop self-scheduling: a Master hands out chunks of a job to\nworkers of different speeds; each request costs the Master comm-time.\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), loadBalancingExamples)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		return fail(stderr, usageError{fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))})
	}

	sc, err := scenarioFrom(*scenarioFile, fs, scenarioFlags{*workers, *speeds, *job, *unitTime, *commTime, *variability, joins, leaves})
	if err != nil {
		return fail(stderr, err)
	}
	if *show {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(sc)
		return 0
	}
	if *episodes < 1 {
		return fail(stderr, usageError{errors.New("--episodes: must be at least 1, got " + fmt.Sprint(*episodes))})
	}
	names := algorithmNames()
	if *algorithm != "" && *compare {
		return fail(stderr, usageError{errors.New("--algorithm and --compare: give one or the other")})
	}
	if *algorithm != "" {
		if !contains(names, *algorithm) {
			return fail(stderr, usageError{fmt.Errorf("--algorithm: unknown %q; one of %s", *algorithm, strings.Join(names, ", "))})
		}
		names = []string{*algorithm}
	}
	e, err := loadbalancing.New(sc, *seed)
	if err != nil {
		return fail(stderr, usageError{err})
	}

	prog := newProgress(stderr, "running", len(names)**episodes, !*jsonOut)
	var reports []report
	for _, name := range names {
		r, err := evaluate(e, name, *seed, *episodes, prog)
		if err != nil {
			prog.finish()
			return fail(stderr, err)
		}
		reports = append(reports, r)
	}
	prog.finish()
	sort.SliceStable(reports, func(i, j int) bool { return reports[i].Makespan < reports[j].Makespan })

	single := len(reports) == 1
	switch {
	case *jsonOut && single:
		writeJSON(stdout, reports[0])
	case *jsonOut:
		writeJSON(stdout, reports)
	case single:
		printScenario(stdout, e, *seed, *episodes)
		printReport(stdout, reports[0])
	default:
		printScenario(stdout, e, *seed, *episodes)
		printComparison(stdout, reports)
	}
	return 0
}

type scenarioFlags struct {
	workers                         int
	speeds                          string
	job                             int
	unitTime, commTime, variability float64
	joins, leaves                   []string
}

// scenarioFrom builds the scenario from the defaults or a file, then the
// flags that were given.
func scenarioFrom(file string, fs *flag.FlagSet, f scenarioFlags) (loadbalancing.Scenario, error) {
	sc := loadbalancing.Default()
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return sc, usageError{fmt.Errorf("--scenario: %v", err)}
		}
		sc = loadbalancing.Scenario{}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sc); err != nil {
			return sc, usageError{fmt.Errorf("--scenario %s: %v", file, err)}
		}
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["workers"] || file == "" {
		sc.Workers = f.workers
	}
	if set["speeds"] || file == "" {
		list, lo, hi, err := loadbalancing.ParseSpeeds(f.speeds)
		if err != nil {
			return sc, usageError{err}
		}
		sc.Speeds, sc.SpeedMin, sc.SpeedMax = list, lo, hi
		if list != nil && sc.SpeedMin == 0 {
			sc.SpeedMin, sc.SpeedMax = 1, 5 // for joiners without a speed
		}
	}
	if set["job"] || file == "" {
		sc.Job = f.job
	}
	if set["unit-time"] || file == "" {
		sc.UnitTime = f.unitTime
	}
	if set["comm-time"] || file == "" {
		sc.CommTime = f.commTime
	}
	if set["variability"] || file == "" {
		sc.Variability = f.variability
	}
	if len(f.joins) > 0 {
		sc.Joins = nil
		for _, v := range f.joins {
			j, err := loadbalancing.ParseJoin(v)
			if err != nil {
				return sc, usageError{err}
			}
			sc.Joins = append(sc.Joins, j)
		}
	}
	if len(f.leaves) > 0 {
		sc.Leaves = nil
		for _, v := range f.leaves {
			l, err := loadbalancing.ParseLeave(v)
			if err != nil {
				return sc, usageError{err}
			}
			sc.Leaves = append(sc.Leaves, l)
		}
	}
	if err := sc.Validate(); err != nil {
		return sc, usageError{err}
	}
	return sc, nil
}

// report is one algorithm's result over the episodes: the means of the
// per-episode figures, and the last episode's per-worker table.
type report struct {
	Algorithm  string                       `json:"algorithm"`
	Seed       uint64                       `json:"seed"`
	Episodes   int                          `json:"episodes"`
	Job        int                          `json:"job"`
	UnitsDone  int                          `json:"units_done"`
	Makespan   float64                      `json:"makespan"`
	LowerBound float64                      `json:"lower_bound"`
	Ratio      float64                      `json:"ratio"`
	IdleTime   float64                      `json:"idle_time"`
	Requests   float64                      `json:"requests"`
	Chunks     float64                      `json:"chunks"`
	Imbalance  float64                      `json:"load_imbalance"`
	Speeds     []float64                    `json:"speeds"`
	Workers    []loadbalancing.WorkerReport `json:"workers"`
	PerEpisode []loadbalancing.Result       `json:"per_episode,omitempty"`
}

// evaluate runs episodes of one algorithm and averages them.
func evaluate(e *loadbalancing.Environment, name string, seed uint64, episodes int, prog *progress) (report, error) {
	policy, err := newPolicy(name, e)
	if err != nil {
		return report{}, err
	}
	r := report{Algorithm: name, Seed: seed, Episodes: episodes, Job: e.Scenario().Job, UnitsDone: e.Scenario().Job, Speeds: e.Speeds()}
	var all []loadbalancing.Result
	for k := 0; k < episodes; k++ {
		if ep, ok := policy.(learning.Episodic); ok {
			ep.BeginEpisode()
		}
		res, err := e.Run(seed+uint64(k), func(id learning.AgentID) learning.LearningAlgorithm { return policy.NewAgent(id) })
		if ep, ok := policy.(learning.Episodic); ok {
			ep.EndEpisode()
		}
		if err != nil {
			return r, fmt.Errorf("%s: %w", name, err)
		}
		res.Algorithm = name
		all = append(all, res)
		n := float64(k + 1)
		mean := func(acc *float64, v float64) { *acc += (v - *acc) / n }
		mean(&r.Makespan, res.Makespan)
		mean(&r.LowerBound, res.LowerBound)
		mean(&r.Ratio, res.Ratio)
		mean(&r.IdleTime, res.IdleTime)
		mean(&r.Requests, float64(res.Requests))
		mean(&r.Chunks, float64(res.Chunks))
		mean(&r.Imbalance, res.Imbalance)
		r.UnitsDone = min(r.UnitsDone, res.UnitsDone)
		r.Workers = res.Workers
		prog.step(name)
	}
	if episodes > 1 {
		r.PerEpisode = all
	}
	return r, nil
}

func printScenario(w io.Writer, e *loadbalancing.Environment, seed uint64, episodes int) {
	sc := e.Scenario()
	fmt.Fprintf(w, "Load balancing: %d workers (speeds %s), job %d units, unit time %g, comm time %g, variability %g\n",
		sc.Workers, joinFloats(e.Speeds()[:sc.Workers]), sc.Job, sc.UnitTime, sc.CommTime, sc.Variability)
	for _, j := range sc.Joins {
		fmt.Fprintf(w, "  %d worker(s) join at %g\n", j.Count, j.At)
	}
	for _, l := range sc.Leaves {
		fmt.Fprintf(w, "  worker %d leaves at %g\n", l.Worker, l.At)
	}
	fmt.Fprintf(w, "Seed %d, %d episode(s) each.\n\n", seed, episodes)
}

func printReport(w io.Writer, r report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "algorithm\t%s\n", r.Algorithm)
	fmt.Fprintf(tw, "makespan\t%.1f\n", r.Makespan)
	fmt.Fprintf(tw, "lower bound\t%.1f\n", r.LowerBound)
	fmt.Fprintf(tw, "ratio\t%.3f\t(makespan / lower bound)\n", r.Ratio)
	fmt.Fprintf(tw, "idle time\t%.1f\t(all workers: waiting for the Master, and after their last chunk)\n", r.IdleTime)
	fmt.Fprintf(tw, "requests\t%.0f\n", r.Requests)
	fmt.Fprintf(tw, "chunks\t%.0f\n", r.Chunks)
	fmt.Fprintf(tw, "load imbalance\t%.3f\t(0: all finish together)\n", r.Imbalance)
	fmt.Fprintf(tw, "units done\t%d of %d\n", r.UnitsDone, r.Job)
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "worker\tspeed\tunits\tchunks\tbusy\tidle\tlast done\t")
	for _, wr := range r.Workers {
		left := ""
		if wr.Left {
			left = fmt.Sprintf("left at %g", wr.LeftAt)
		}
		fmt.Fprintf(tw, "%d\t%g\t%d\t%d\t%.1f\t%.1f\t%.1f\t%s\n", wr.ID, wr.Speed, wr.Units, wr.Chunks, wr.Busy, wr.Idle, wr.LastDone, left)
	}
	tw.Flush()
}

func printComparison(w io.Writer, rs []report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rank\talgorithm\tmakespan\tratio\tidle time\trequests\timbalance\t")
	for i, r := range rs {
		fmt.Fprintf(tw, "%d\t%s\t%.1f\t%.3f\t%.1f\t%.0f\t%.3f\t\n", i+1, r.Algorithm, r.Makespan, r.Ratio, r.IdleTime, r.Requests, r.Imbalance)
	}
	tw.Flush()
	if len(rs) > 0 {
		fmt.Fprintf(w, "\nLower bound %.1f (ratio = makespan / lower bound). Best: %s.\n", rs[0].LowerBound, rs[0].Algorithm)
	}
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func joinFloats(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, " ")
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// fail prints err and returns its exit code.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "marlon: %v\n", err)
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}
