package loadbalancing_test

import (
	"fmt"
	"testing"

	"github.com/marlon-go/marlon/algorithms/dls"
	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/learning"
)

// The scale benchmarks run one simulated episode of FAC2 (a classical
// technique: what is measured is the simulator and the environment, not a
// learner) and report, besides go test's figures per episode, the time and
// the peak heap (loadbalancing.Footprint) per worker and per unit:
//
//	go test ./examples/loadbalancing -run '^$' -bench Scale -benchtime 1x
//
// The worker series gives each worker 100 units (64 workers: 6,400 units;
// 100,000 workers: 10^7); the unit series has 64 workers. marlon bench
// --scale prints the same as a table, with ratios to the smallest size.

func BenchmarkScaleWorkers(b *testing.B) {
	for _, p := range []int{64, 1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("workers=%d", p), func(b *testing.B) {
			benchEpisode(b, loadbalancing.ScaleScenario(p, 100*p))
		})
	}
}

func BenchmarkScaleUnits(b *testing.B) {
	for _, n := range []int{1_000_000, 100_000_000} {
		b.Run(fmt.Sprintf("units=%d", n), func(b *testing.B) {
			benchEpisode(b, loadbalancing.ScaleScenario(64, n))
		})
	}
}

func benchEpisode(b *testing.B, sc loadbalancing.Scenario) {
	e, err := loadbalancing.New(sc, 1)
	if err != nil {
		b.Fatal(err)
	}
	p, err := dls.New(dls.FAC2, e.Spec(loadbalancing.AgentID(0)))
	if err != nil {
		b.Fatal(err)
	}
	team := learning.NewSharedTeam(p)
	agents := func(id learning.AgentID) learning.LearningAlgorithm { return team.Agent(id) }
	var sum loadbalancing.Footprint
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		team.BeginEpisode()
		f, _, err := loadbalancing.Measure(e, uint64(i+1), agents)
		if err != nil {
			b.Fatal(err)
		}
		sum.Seconds += f.Seconds
		sum.PeakHeap = max(sum.PeakHeap, f.PeakHeap)
		sum.Events += f.Events
	}
	b.StopTimer()
	n := float64(b.N)
	sum.Workers, sum.Units, sum.Seconds = sc.Workers, sc.Job, sum.Seconds/n
	b.ReportMetric(sum.NsPerWorker(), "ns/worker")
	b.ReportMetric(sum.NsPerUnit(), "ns/unit")
	b.ReportMetric(float64(sum.PeakHeap), "peak-heap-B")
	b.ReportMetric(sum.BytesPerWorker(), "peak-B/worker")
	b.ReportMetric(sum.BytesPerUnit(), "peak-B/unit")
	b.ReportMetric(float64(sum.Events)/n, "events/op")
}
