package loadbalancing

import (
	"math"
	"slices"
	"sort"
)

// LowerBound is a lower bound on the makespan of every schedule of a job of
// the given work (the realised unit costs summed, times the unit time) on
// workers of the given speeds, worker k arriving at joins[k] and leaving at
// leaves[k] (+Inf: it stays), with a Master whose services take h each.
//
// # The model
//
// The Master serves one request at a time, and a service takes h. A worker
// asks for work when it arrives, so its first chunk is granted at the end of
// a service that started no earlier than its arrival a_k: at g_k >= a_k + h.
// A worker of speed s does s of work (unit cost times unit time) per unit of
// time, one chunk at a time. A worker that leaves, at L_k, hands back the
// chunk it holds, so only the chunks it finished before it left count. The
// realised unit costs are known (work is their sum); work is taken as
// divisible, and what a worker waits for its later chunks is ignored.
//
// # The bound
//
// Call worker k eligible at time t when a_k + h <= t < L_k, and let U be the
// workers ever eligible. For each arrival time tau of a worker of U, let
// U_tau be the workers of U that arrive at tau or later, with arrival times
// r_1 <= r_2 <= ... in order, and let c_m(U_tau) be the m-th end of service
// when the Master serves them in order of arrival without idling while one
// waits: c_1 = r_1 + h, c_m = max(c_(m-1), r_m) + h; equivalently c_m =
// max over i <= m of r_i + (m-i+1)h. Let n_tau(t) be the number of m with
// c_m(U_tau) <= t. Let f(t) be the largest total speed of a set A of
// eligible workers with at most n_tau(t) of them in U_tau, for every tau.
// The bound is the least T with the integral of f from 0 to T at least work.
//
// # Proof
//
// Take any schedule; let M be its makespan and, for each worker served at
// least once, g_k the end of its first service. Let A(t) be the workers
// with g_k <= t < L_k: served, and not gone.
//
//  1. Every unit is done once in a chunk that its worker finished by M and
//     before it left; a worker does one chunk at a time, and none before
//     g_k. So work <= sum over k of s_k * |[g_k, min(M, L_k))|, which is the
//     integral from 0 to M of the total speed of A(t).
//  2. Every worker of A(t) is eligible at t, since g_k >= a_k + h; so A(t)
//     is a subset of U.
//  3. For every tau, A(t) has at most n_tau(t) workers of U_tau. Say it has
//     m. Their first services are m intervals of length h, one at a time,
//     each starting no earlier than its worker's arrival and ending by t.
//     Sort those workers' arrivals r'_1 <= ... <= r'_m: r'_i >= r_i, since
//     they are m of U_tau's workers. The services of the last m-i+1 of them
//     start at r'_i or later and take (m-i+1)h one after another, so the
//     last ends at or after r'_i + (m-i+1)h >= r_i + (m-i+1)h. Over i, t >=
//     c_m(U_tau): m <= n_tau(t).
//
// By 2 and 3, A(t) is one of the sets f(t) maximises over, so the total
// speed of A(t) is at most f(t). By 1, work <= the integral of f from 0 to
// M, so M >= T, as f >= 0. This holds for any joins and leaves: a worker
// that leaves before it could be served does not count, nor takes a place
// in the Master's order; and a worker that leaves counts its work up to its
// departure only.
//
// # Computing it
//
// The sets U_tau are nested, so the sets A allowed at t are the independent
// sets of a laminar matroid and the greedy choice is optimal: f(t) takes the
// eligible workers fastest first, each that keeps every count within its
// limit. f changes only when a worker becomes eligible or leaves, or an
// n_tau grows; LowerBound walks these moments in order, integrating f, and
// stops once the integral reaches work. It is +Inf if it never does (no
// worker stays). Each moment costs a pass over the workers, and there are
// at most n*(J+2) moments for n workers arriving at J distinct times: some
// 0.2 s for 10,000 workers, far less than simulating them.
//
// # How tight it is
//
// With every worker there from the start to the end, the only limit is n(t)
// = floor(t/h): the bound is the makespan of serving the workers fastest
// first, each taking one chunk that ends at T, which is (work + h*sum_k
// k*s_(k)) / sum_k s_k, speeds in decreasing order, when T >= P*h. Joins and
// leaves loosen it: f may count at t a set of workers that no single
// schedule has served by t (after a departure, another worker takes the
// departed one's place in the count as if it had been served in its stead),
// and a worker that leaves counts its work up to the moment it leaves, as
// if its last chunk ended just then. On small random instances with long
// services (bound_test.go) the model's optimum, found by brute force, is at
// most 16% above the bound, and equal to it without joins and leaves.
func LowerBound(speeds, joins, leaves []float64, h, work float64) float64 {
	return LowerBoundVarying(speeds, nil, joins, leaves, h, work)
}

// LowerBoundVarying is LowerBound for workers whose speed changes with
// time (loadbalancing/v3): worker k works at speeds[k] times rates[k].At(t)
// at time t (rates nil, or a nil entry: at its speed throughout), and
// every service of the Master takes at least h.
//
// The proof above holds as it is with s_k(t) in place of s_k: in 1, a
// worker does s_k(t) of work per unit of time at t, so work <= the
// integral of the total current speed of A(t); 2 and 3 only count
// workers. f(t) is then the largest total current speed of an allowed set,
// which the greedy choice still finds, taking the workers fastest at t
// first; it also changes when a worker's speed does. And services that
// take at least h end no earlier than services of exactly h would.
func LowerBoundVarying(speeds []float64, rates []*Profile, joins, leaves []float64, h, work float64) float64 {
	if !(work > 0) {
		return 0
	}
	type worker struct {
		speed, ready, leave float64
		group               int // the index in arrivals of its arrival time
		eligible            bool
		rate                *Profile // nil: constant
		now, change         float64  // with a rate: the current speed, and when it next changes
	}
	var ws []worker
	var arrive []float64
	varying := false
	for k, s := range speeds {
		if s > 0 && joins[k]+h < leaves[k] { // in U
			w := worker{speed: s, ready: joins[k] + h, leave: leaves[k], now: s, change: math.Inf(1)}
			if rates != nil && rates[k] != nil {
				w.rate, varying = rates[k], true
			}
			ws = append(ws, w)
			arrive = append(arrive, joins[k])
		}
	}
	if len(ws) == 0 {
		return math.Inf(1)
	}
	sorted := slices.Clone(arrive)
	slices.Sort(sorted)
	arrivals := slices.Compact(slices.Clone(sorted)) // the taus, ascending
	for i := range ws {
		ws[i].group, _ = slices.BinarySearch(arrivals, arrive[i])
	}

	const (
		serviceEnds = iota // n_tau(t) grows by one
		ready              // a worker becomes eligible
		departs            // a worker leaves
	)
	type event struct {
		t          float64
		kind, what int // group (serviceEnds) or worker
	}
	var events []event
	for j, tau := range arrivals {
		end := 0.0
		for _, r := range sorted[sort.SearchFloat64s(sorted, tau):] {
			end = math.Max(end, r) + h
			events = append(events, event{end, serviceEnds, j})
		}
	}
	for k, w := range ws {
		events = append(events, event{w.ready, ready, k})
		if !math.IsInf(w.leave, 1) {
			events = append(events, event{w.leave, departs, k})
		}
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].t < events[j].t })
	fastest := make([]int, len(ws))
	for k := range fastest {
		fastest[k] = k
	}
	sort.SliceStable(fastest, func(i, j int) bool { return ws[fastest[i]].speed > ws[fastest[j]].speed })

	limit := make([]int, len(arrivals)) // n_tau(t), by tau's index
	room := make([]int, len(arrivals))
	// f is the greedy choice at the current moment.
	f := func() float64 {
		copy(room, limit)
		sum := 0.0
		for _, k := range fastest {
			w := ws[k]
			if !w.eligible || slices.Contains(room[:w.group+1], 0) {
				continue
			}
			for j := 0; j <= w.group; j++ { // w is in U_tau for every tau up to its arrival
				room[j]--
			}
			sum += w.now
			if room[0] == 0 { // U_tau for the first tau is U: no more
				break
			}
		}
		return sum
	}
	// setRate reads w's current speed and next change at t; only an
	// eligible worker's speed matters, so only theirs is followed.
	setRate := func(w *worker, t float64) {
		w.now, w.change = w.speed*w.rate.At(t), w.rate.Next(t)
		if !w.eligible {
			w.change = math.Inf(1)
		}
	}
	done, t, speed := 0.0, 0.0, 0.0
	for i := 0; ; {
		next := math.Inf(1)
		if i < len(events) {
			next = events[i].t
		}
		if varying {
			for _, w := range ws {
				next = math.Min(next, w.change)
			}
		}
		if math.IsInf(next, 1) {
			break
		}
		if speed > 0 && done+speed*(next-t) >= work {
			return t + (work-done)/speed
		}
		done += speed * (next - t)
		t = next
		for ; i < len(events) && events[i].t == t; i++ {
			switch e := events[i]; e.kind {
			case serviceEnds:
				limit[e.what]++
			case ready:
				ws[e.what].eligible = true
				if ws[e.what].rate != nil {
					setRate(&ws[e.what], t)
				}
			default:
				ws[e.what].eligible = false
				ws[e.what].change = math.Inf(1)
			}
		}
		if varying {
			for k := range ws {
				if w := &ws[k]; w.rate != nil && w.change <= t {
					setRate(w, t)
				}
			}
			sort.SliceStable(fastest, func(i, j int) bool { return ws[fastest[i]].now > ws[fastest[j]].now })
		}
		speed = f()
	}
	if speed > 0 {
		return t + (work-done)/speed
	}
	return math.Inf(1)
}
