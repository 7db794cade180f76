package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/examples/loadbalancing"
)

// scalePoint is one size of marlon bench --scale: an episode's footprint
// and its time and peak heap per worker (or per unit) over those of the
// first size of its series.
type scalePoint struct {
	Series string `json:"series"` // "workers" (100 units each) or "units" (64 workers)
	Rounds int    `json:"rounds"`
	loadbalancing.Footprint
	TimeRatio   float64 `json:"time_ratio"`
	MemoryRatio float64 `json:"memory_ratio"`
}

// parseSizes reads a comma-separated list of sizes, each at least lo and at
// most hi, for flag name.
func parseSizes(name, list string, lo, hi int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < lo || n > hi {
			return nil, usageError{fmt.Errorf("--%s: a comma-separated list of integers from %d to %d, got %q", name, lo, hi, f)}
		}
		out = append(out, n)
	}
	return out, nil
}

// measureScale runs FAC2 episodes at each size, rounds times: each of
// workers with 100 units a worker, each of units with 64 workers. A size's
// time is its fastest round's (the one least disturbed by whatever else runs
// on the machine), its peak heap the largest.
func measureScale(workers, units []int, rounds int, progress io.Writer) ([]scalePoint, error) {
	var out []scalePoint
	series := func(name string, scs []loadbalancing.Scenario, per func(loadbalancing.Footprint) (float64, float64)) error {
		var first []float64
		for _, sc := range scs {
			fmt.Fprintf(progress, "scale: %d workers, %d units, %d round(s)...\n", sc.Workers, sc.Job, rounds)
			e, err := loadbalancing.New(sc, 1)
			if err != nil {
				return err
			}
			var f loadbalancing.Footprint
			for k := 0; k < rounds; k++ {
				team, _, err := env.NewTeam(e, "fac2", env.RunOptions{Seed: 1})
				if err != nil {
					return err
				}
				team.BeginEpisode()
				g, _, err := loadbalancing.Measure(e, 1, env.Agents(team.Agent))
				if err != nil {
					return err
				}
				if k == 0 || g.Seconds < f.Seconds {
					g.PeakHeap = max(g.PeakHeap, f.PeakHeap)
					f = g
				} else {
					f.PeakHeap = max(f.PeakHeap, g.PeakHeap)
				}
			}
			t, m := per(f)
			if first == nil {
				first = []float64{t, m}
			}
			out = append(out, scalePoint{Series: name, Rounds: rounds, Footprint: f, TimeRatio: t / first[0], MemoryRatio: m / first[1]})
		}
		return nil
	}
	var byWorkers, byUnits []loadbalancing.Scenario
	for _, p := range workers {
		byWorkers = append(byWorkers, loadbalancing.ScaleScenario(p, 100*p))
	}
	for _, n := range units {
		byUnits = append(byUnits, loadbalancing.ScaleScenario(64, n))
	}
	perWorker := func(f loadbalancing.Footprint) (float64, float64) { return f.NsPerWorker(), f.BytesPerWorker() }
	perUnit := func(f loadbalancing.Footprint) (float64, float64) { return f.NsPerUnit(), f.BytesPerUnit() }
	if err := series("workers", byWorkers, perWorker); err != nil {
		return out, err
	}
	return out, series("units", byUnits, perUnit)
}

func printScale(w io.Writer, points []scalePoint) {
	fmt.Fprintln(w, "Load-balancing simulator, a FAC2 episode per size (100 units a worker; 64 workers for the job sizes):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workers\tunits\tchunks\tevents\tseconds\tpeak heap MB\tµs/worker\ttime ratio\tKB/worker\tmemory ratio\t")
	for _, p := range points {
		if p.Series != "workers" {
			continue
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%.3f\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t\n", p.Workers, p.Units, p.Chunks, p.Events, p.Seconds,
			float64(p.PeakHeap)/1e6, p.NsPerWorker()/1e3, p.TimeRatio, p.BytesPerWorker()/1e3, p.MemoryRatio)
	}
	fmt.Fprintln(tw, "\t\t\t\t\t\tns/unit\ttime ratio\tB/unit\tmemory ratio\t")
	for _, p := range points {
		if p.Series != "units" {
			continue
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%.3f\t%.1f\t%.1f\t%.2f\t%.3f\t%.2f\t\n", p.Workers, p.Units, p.Chunks, p.Events, p.Seconds,
			float64(p.PeakHeap)/1e6, p.NsPerUnit(), p.TimeRatio, p.BytesPerUnit(), p.MemoryRatio)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nBest of %d round(s). Ratios are per worker (per unit) over the first size of the series, in this process; peak heap is the heap's growth over the episode, sampled.\n", points[0].Rounds)
}
