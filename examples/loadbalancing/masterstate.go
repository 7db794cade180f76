package loadbalancing

import "math"

// The Master tells every worker it serves its state (MasterState): sums over
// the live workers and an estimate of the work not yet done. Recomputing
// them at every service would cost O(P) per request, P^2 and more in an
// episode; the Master keeps them as workers come, report and go, in O(1)
// (and O(log P) for the estimate) per change.

// ksum is a compensated (Neumaier) running sum: adding values and taking
// some of them away again leaves it as exact as a fresh sum of the values
// left, whatever the order, so that the aggregates do not drift over an
// episode's millions of changes.
type ksum struct{ s, c float64 }

func (k *ksum) add(x float64) {
	t := k.s + x
	if math.Abs(k.s) >= math.Abs(x) {
		k.c += (k.s - t) + x
	} else {
		k.c += (x - t) + k.s
	}
	k.s = t
}

func (k ksum) value() float64 { return k.s + k.c }

// liveStats are the sums over the live workers that MasterState reports.
type liveStats struct {
	workers  int
	speedSum ksum
	measured int
	muSum    ksum // of the measured workers' mean time per unit
	sdSum    ksum // of their standard deviations
	invMuSum ksum // of 1/mean
	dSum     ksum // of sd^2/mean
}

// count adds w's part (sign 1) or takes it away (sign -1). What is taken
// away must be what was added: the Master changes a worker's stats only
// between a count(w, -1) and a count(w, 1).
func (a *liveStats) count(w *workerState, sign int) {
	f := float64(sign)
	a.workers += sign
	a.speedSum.add(f * w.speed)
	if st := w.stats; st.N > 0 && st.Mean > 0 {
		a.measured += sign
		a.muSum.add(f * st.Mean)
		a.sdSum.add(f * st.Sd)
		a.invMuSum.add(f * (1 / st.Mean))
		a.dSum.add(f * (st.Sd * st.Sd / st.Mean))
	}
}

// fill writes the sums into s.
func (a *liveStats) fill(s *MasterState) {
	s.Workers = a.workers
	s.SpeedSum = a.speedSum.value()
	s.Measured = a.measured
	if a.measured > 0 {
		n := float64(a.measured)
		s.MuMean = a.muSum.value() / n
		s.SigmaMean = a.sdSum.value() / n
		s.InvMuSum = a.invMuSum.value()
		s.DSum = a.dSum.value()
	}
}

// inFlight estimates what is left of the chunks out: the sum over them of
// max(0, units - (now - granted) * rate), rate being the worker's when the
// chunk was granted (it does not change while the chunk is out). A chunk's
// term is rate * (finish - now) until its expected finish, then 0; so the
// sum is Σ rate*finish - now * Σ rate over the chunks not yet expected
// done, which a heap by expected finish keeps exact: a chunk leaves the
// sums when it is done or handed back, or when its expected finish passes.
// The sums are taken from origin, recent, so that they do not lose the
// small differences to large times; they are summed afresh every so often
// (amortised O(1)). Chunks without a rate (no unit time and no
// measurement) count all their units until they are done.
type inFlight struct {
	heap   []*heldChunk // by finish, then chunk ID
	origin float64
	rf     ksum // Σ rate * (finish - origin) over heap
	r      ksum // Σ rate over heap
	still  int  // units of the chunks without a rate
	ops    int  // changes since the sums were last summed afresh
}

func (f *inFlight) term(c *heldChunk) float64 { return c.rate * (c.finish - f.origin) }

// add counts c, granted now at rate.
func (f *inFlight) add(c *heldChunk, rate float64) {
	c.rate, c.pos = rate, -1
	if !(rate > 0) {
		c.rate = 0
		f.still += c.units
		return
	}
	if math.IsInf(rate, 1) {
		return // done the moment it is granted
	}
	c.finish = c.granted + float64(c.units)/rate
	f.push(c)
	f.rf.add(f.term(c))
	f.r.add(c.rate)
	f.ops++
}

// remove stops counting c (done or handed back).
func (f *inFlight) remove(c *heldChunk) {
	switch {
	case c.rate == 0:
		f.still -= c.units
	case c.pos >= 0:
		f.rf.add(-f.term(c))
		f.r.add(-c.rate)
		f.removeAt(c.pos)
		f.ops++
	}
}

// estimate is the estimate at now, which must not go back in time.
func (f *inFlight) estimate(now float64) float64 {
	for len(f.heap) > 0 && f.heap[0].finish <= now {
		c := f.heap[0]
		f.rf.add(-f.term(c))
		f.r.add(-c.rate)
		f.removeAt(0)
		f.ops++
	}
	if len(f.heap) == 0 {
		f.rf, f.r, f.origin, f.ops = ksum{}, ksum{}, now, 0
	} else if f.ops > 2*len(f.heap)+16 {
		f.origin, f.rf, f.r, f.ops = now, ksum{}, ksum{}, 0
		for _, c := range f.heap {
			f.rf.add(f.term(c))
			f.r.add(c.rate)
		}
	}
	return math.Max(0, f.rf.value()-(now-f.origin)*f.r.value()) + float64(f.still)
}

func (f *inFlight) less(i, j int) bool {
	a, b := f.heap[i], f.heap[j]
	if a.finish != b.finish {
		return a.finish < b.finish
	}
	return a.id < b.id
}

func (f *inFlight) swap(i, j int) {
	f.heap[i], f.heap[j] = f.heap[j], f.heap[i]
	f.heap[i].pos, f.heap[j].pos = i, j
}

func (f *inFlight) push(c *heldChunk) {
	c.pos = len(f.heap)
	f.heap = append(f.heap, c)
	f.up(c.pos)
}

func (f *inFlight) removeAt(i int) {
	n := len(f.heap) - 1
	c := f.heap[i]
	if i != n {
		f.swap(i, n)
	}
	f.heap[n] = nil
	f.heap = f.heap[:n]
	c.pos = -1
	if i < n {
		f.down(i)
		f.up(i)
	}
}

func (f *inFlight) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !f.less(i, p) {
			return
		}
		f.swap(i, p)
		i = p
	}
}

func (f *inFlight) down(i int) {
	n := len(f.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && f.less(r, l) {
			m = r
		}
		if !f.less(m, i) {
			return
		}
		f.swap(i, m)
		i = m
	}
}
