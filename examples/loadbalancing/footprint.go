package loadbalancing

import (
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
)

// Footprint is what one simulated episode cost: its time, its events and
// the most heap it held. The benchmarks (go test -bench Scale) and marlon
// bench --scale measure it at several sizes.
type Footprint struct {
	Workers int     `json:"workers"`
	Units   int     `json:"units"`
	Chunks  int     `json:"chunks"`
	Events  uint64  `json:"events"`
	Seconds float64 `json:"seconds"`
	// PeakHeap is the most the heap grew above where it was when the
	// episode started (after a garbage collection), sampled every 4,096
	// events: what the episode holds, and its garbage not yet collected.
	PeakHeap uint64 `json:"peak_heap_bytes"`
}

// NsPerWorker is the time per worker, in nanoseconds.
func (f Footprint) NsPerWorker() float64 { return f.Seconds * 1e9 / float64(f.Workers) }

// NsPerUnit is the time per unit, in nanoseconds.
func (f Footprint) NsPerUnit() float64 { return f.Seconds * 1e9 / float64(f.Units) }

// BytesPerWorker is the peak heap per worker.
func (f Footprint) BytesPerWorker() float64 { return float64(f.PeakHeap) / float64(f.Workers) }

// BytesPerUnit is the peak heap per unit.
func (f Footprint) BytesPerUnit() float64 { return float64(f.PeakHeap) / float64(f.Units) }

// ScaleScenario is the scenario the scale measurements run: the default
// scenario (speeds drawn from 1..5, costs varying by 30%, unit and
// communication time 1) with the given number of workers and units.
func ScaleScenario(workers, units int) Scenario {
	sc := Default()
	sc.Workers, sc.Job = workers, units
	return sc
}

// Measure runs one episode of e in the simulator, seeded, with its workers
// driven by agents, and measures its footprint. It collects garbage before
// it starts and reads the heap as the episode runs: measure one episode at
// a time.
func Measure(e *Environment, seed uint64, agents env.Agents) (Footprint, Result, error) {
	sc := e.Scenario()
	f := Footprint{Workers: sc.TotalWorkers(), Units: sc.Job}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	sample := func() {
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc > base {
			f.PeakHeap = max(f.PeakHeap, ms.HeapAlloc-base)
		}
	}
	start := time.Now()
	sim := actors.NewSim(seed)
	started, err := e.Start(sim, seed, agents)
	if err != nil {
		return f, Result{}, err
	}
	ep := started.(*Episode)
	done, n := ep.Done(), 0
	ended := sim.RunUntil(math.Inf(1), func() bool {
		if n++; n%4096 == 0 {
			sample()
		}
		select {
		case <-done:
			return true
		default:
			return false
		}
	})
	sample()
	f.Seconds = time.Since(start).Seconds()
	f.Events = sim.Stats().Delivered
	res := ep.Result()
	f.Chunks = res.Chunks
	if c := sim.Crashes(); len(c) > 0 {
		return f, res, fmt.Errorf("%w: %v at t=%v: %s", env.ErrCrashed, c[0].Actor, c[0].At, c[0].Value)
	}
	if !ended || res.UnitsDone != sc.Job {
		return f, res, fmt.Errorf("loadbalancing: episode %d stopped at t=%v with %d of %d units done", seed, sim.Now(), res.UnitsDone, sc.Job)
	}
	return f, res, nil
}
