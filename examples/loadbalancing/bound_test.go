package loadbalancing

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// optimum is the least makespan of the model LowerBound's doc describes, by
// brute force: every order in which the Master could first serve a subset
// of the workers, each served as early as the order allows (serving later
// never helps), each served worker then working until the end or until it
// leaves.
func optimum(speeds, joins, leaves []float64, h, work float64) float64 {
	n := len(speeds)
	best := math.Inf(1)
	used := make([]bool, n)
	var order []int
	var try func()
	try = func() {
		// The makespan of serving order, and nobody else.
		type bp struct{ t, dspeed float64 }
		var bps []bp
		end := 0.0
		for _, k := range order {
			end = math.Max(end, joins[k]) + h
			if end < leaves[k] {
				bps = append(bps, bp{end, speeds[k]})
				if !math.IsInf(leaves[k], 1) {
					bps = append(bps, bp{leaves[k], -speeds[k]})
				}
			}
		}
		sort.Slice(bps, func(i, j int) bool { return bps[i].t < bps[j].t })
		done, t, speed := 0.0, 0.0, 0.0
		for _, b := range bps {
			if speed > 0 && done+speed*(b.t-t) >= work {
				break
			}
			done += speed * (b.t - t)
			t = b.t
			speed += b.dspeed
		}
		if speed > 1e-12 {
			best = math.Min(best, t+(work-done)/speed)
		}
		for k := 0; k < n; k++ {
			if !used[k] {
				used[k] = true
				order = append(order, k)
				try()
				order = order[:len(order)-1]
				used[k] = false
			}
		}
	}
	try()
	return best
}

// instance is a random small problem of the model; with static, every
// worker is there from the start to the end.
func instance(r *rand.Rand, static bool) (speeds, joins, leaves []float64, h, work float64) {
	n := 1 + r.IntN(5)
	h = []float64{0, 0.5, 1, 3, 10}[r.IntN(5)] * r.Float64()
	work = 1 + r.Float64()*200
	stays := r.IntN(n) // at least one worker stays
	for k := 0; k < n; k++ {
		speeds = append(speeds, math.Exp(r.Float64()*math.Log(100))) // 1..100, log-uniform
		join, leave := 0.0, math.Inf(1)
		if !static && r.IntN(2) == 0 {
			join = []float64{0.5, 1, 5, 20}[r.IntN(4)] * r.Float64()
		}
		if !static && k != stays && r.IntN(2) == 0 {
			leave = join + []float64{0, 0.5, 2, 10, 50}[r.IntN(5)]*r.Float64()
		}
		joins, leaves = append(joins, join), append(leaves, leave)
	}
	return speeds, joins, leaves, h, work
}

func TestLowerBoundIsBelowTheModelsOptimum(t *testing.T) {
	worst := 0.0
	for seed := uint64(1); seed <= 3000; seed++ {
		r := rand.New(rand.NewPCG(seed, 0xb0))
		static := seed%4 == 0
		speeds, joins, leaves, h, work := instance(r, static)
		lb, opt := LowerBound(speeds, joins, leaves, h, work), optimum(speeds, joins, leaves, h, work)
		if lb > opt*(1+1e-12) {
			t.Fatalf("seed %d: speeds %v joins %v leaves %v h %v work %v: bound %v above the optimum %v",
				seed, speeds, joins, leaves, h, work, lb, opt)
		}
		if static && math.Abs(lb-opt) > 1e-9*opt {
			t.Fatalf("seed %d: speeds %v h %v work %v, every worker there throughout: bound %v, optimum %v (want equal)",
				seed, speeds, h, work, lb, opt)
		}
		worst = math.Max(worst, opt/lb)
	}
	t.Logf("the model's optimum is at most %.4f times the bound on these instances", worst)
}

func TestLowerBound(t *testing.T) {
	inf := math.Inf(1)
	// Static: (work + h*sum k*s_(k)) / sum s with speeds fastest first.
	got := LowerBound([]float64{1, 3, 2}, []float64{0, 0, 0}, []float64{inf, inf, inf}, 2, 100)
	if want := (100 + 2*(1*3+2*2+3*1.0)) / 6; math.Abs(got-want) > 1e-12 {
		t.Fatalf("static: %v want %v", got, want)
	}
	// A worker whose start (3h = 30) comes after T does not count: one
	// worker of speed 10 alone finishes 10 of work at h + 1 = 11.
	if got := LowerBound([]float64{10, 1, 1}, []float64{0, 0, 0}, []float64{inf, inf, inf}, 10, 10); got != 11 {
		t.Fatalf("late starters: %v want 11", got)
	}
	// A worker that leaves at 5 contributes 4 units (it starts at 1).
	// The other starts at 2: 4 + (T-2) = 20, T = 18.
	if got := LowerBound([]float64{1, 1}, []float64{0, 0}, []float64{5, inf}, 1, 20); got != 18 {
		t.Fatalf("leaver: %v want 18", got)
	}
	// A joiner at 10 starts at 11: (T-1) + (T-11) = 21, T = 16.5.
	if got := LowerBound([]float64{1, 1}, []float64{0, 10}, []float64{inf, inf}, 1, 21); got != 16.5 {
		t.Fatalf("joiner: %v want 16.5", got)
	}
	// Workers that leave before they could be served take no place in
	// the Master's order: the one that stays is served at once and does
	// 100 at speed 1 from h = 10.
	if got := LowerBound([]float64{1, 100, 100, 100, 100}, make([]float64, 5), []float64{inf, 0, 0, 0, 0}, 10, 100); got != 110 {
		t.Fatalf("leavers at 0: %v want 110", got)
	}
	// Worker 2 (speed 10) leaves at 0.5, before its service could end
	// at 1: the others are served at 0-1 and 1-2. 1 + 2(T-2) = 101.
	if got := LowerBound([]float64{1, 1, 10}, make([]float64, 3), []float64{inf, inf, 0.5}, 1, 101); got != 52 {
		t.Fatalf("a leaver before its service: %v want 52", got)
	}
	// Two joiners at 10 are served one after the other, at 10-11 and
	// 11-12, whichever the Master takes first; the first worker has been
	// working since 1. (T-1) + 5(T-11) + 5(T-12) = 100: T = 216/11.
	if got, want := LowerBound([]float64{1, 5, 5}, []float64{0, 10, 10}, []float64{inf, inf, inf}, 1, 100), 216.0/11; math.Abs(got-want) > 1e-12 {
		t.Fatalf("joiners served in turn: %v want %v", got, want)
	}
	// Two workers that join at 10 and 10.5 cannot both be served by 11.5:
	// a late arrival also waits for the earlier ones (the joiner of 10.5
	// could start at 11.5 if served first, the other then at 12.5).
	// (T-1) + 5(T-11) + 5(T-12) = 100 again, as 11 and 12 are the two
	// earliest ends.
	if got, want := LowerBound([]float64{1, 5, 5}, []float64{0, 10, 10.5}, []float64{inf, inf, inf}, 1, 100), 216.0/11; math.Abs(got-want) > 1e-12 {
		t.Fatalf("joiners a moment apart: %v want %v", got, want)
	}
	// No worker left to finish: no finite bound.
	if got := LowerBound([]float64{1}, []float64{0}, []float64{5}, 1, 100); !math.IsInf(got, 1) {
		t.Fatalf("everyone gone: %v want +Inf", got)
	}
}
