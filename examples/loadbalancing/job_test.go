package loadbalancing

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// singles are the costs of units 0..n-1 one by one, as Of gives them.
func singles(c *Costs) (w, w2 []float64) {
	for u := 0; u < c.Units(); u++ {
		s, s2 := c.Of([]Range{{u, u + 1}})
		w, w2 = append(w, s), append(w2, s2)
	}
	return w, w2
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestCostsAreTheSumsOfTheUnitsWhateverWasAskedBefore(t *testing.T) {
	// Small blocks, so that ranges within a block, across two and across
	// many, and the last partial block, all occur; and more blocks than the
	// cache holds.
	for _, block := range []int{1, 7, 64} {
		const n = 1000
		c := newCosts(n, 0.5, 42, block)
		w, w2 := singles(newCosts(n, 0.5, 42, block))
		for u, x := range w {
			if !(x > 0) || !near(w2[u], x*x) {
				t.Fatalf("block %d: unit %d costs %v (squared %v)", block, u, x, w2[u])
			}
		}
		r := rand.New(rand.NewPCG(1, 2))
		fresh := newCosts(n, 0.5, 42, block)
		for k := 0; k < 2000; k++ {
			s := r.IntN(n + 1)
			e := s + r.IntN(n+1-s)
			if k%3 == 0 { // neighbouring chunks, as an episode asks
				e = min(n, s+r.IntN(3*block+2))
			}
			got, got2 := c.Of([]Range{{s, e}})
			want, want2 := 0.0, 0.0
			for u := s; u < e; u++ {
				want += w[u]
				want2 += w2[u]
			}
			if !near(got, want) || !near(got2, want2) {
				t.Fatalf("block %d: [%d,%d) sums to %v, %v; its units to %v, %v", block, s, e, got, got2, want, want2)
			}
			// A Costs asked nothing before gives the same, to the bit.
			if k%50 == 0 {
				fresh = newCosts(n, 0.5, 42, block)
			}
			if f, f2 := fresh.Of([]Range{{s, e}}); f != got || f2 != got2 {
				t.Fatalf("block %d: [%d,%d) sums to %v here and %v on a Costs asked other ranges before", block, s, e, got, f)
			}
		}
		total := 0.0
		for _, x := range w {
			total += x
		}
		if !near(c.Total(), total) || c.Total() != newCosts(n, 0.5, 42, block).Total() {
			t.Fatalf("block %d: total %v, units add up to %v", block, c.Total(), total)
		}
	}
}

func TestCostsFollowTheirSeedAndDistribution(t *testing.T) {
	const n = 300_000
	c := NewCosts(n, 0.3, 7)
	sum, sum2 := c.Of([]Range{{0, n}})
	mean := sum / n
	cv := math.Sqrt(sum2/n-mean*mean) / mean
	if math.Abs(mean-1) > 0.005 || math.Abs(cv-0.3) > 0.005 {
		t.Fatalf("mean %v and cv %v over %d units, want 1 and 0.3", mean, cv, n)
	}
	// Neighbouring blocks are drawn from unrelated sources: their sums are
	// not correlated.
	var xs []float64
	for b := 0; b < n/costBlock; b++ {
		s, _ := c.Of([]Range{{b * costBlock, (b + 1) * costBlock}})
		xs = append(xs, s)
	}
	if r := lagCorrelation(xs); math.Abs(r) > 0.2 {
		t.Fatalf("block sums correlate with their neighbours': %v", r)
	}
	if a, b := NewCosts(1000, 0.3, 7).Total(), NewCosts(1000, 0.3, 8).Total(); a == b {
		t.Fatal("two seeds, the same costs")
	}
	flat := NewCosts(12345, 0, 7)
	if s, s2 := flat.Of([]Range{{5, 10}, {100, 200}}); s != 105 || s2 != 105 || flat.Total() != 12345 {
		t.Fatalf("variability 0: every unit costs 1, got %v, %v, total %v", s, s2, flat.Total())
	}
}

func lagCorrelation(xs []float64) float64 {
	n := float64(len(xs) - 1)
	var ma, mb float64
	for i := 1; i < len(xs); i++ {
		ma += xs[i-1] / n
		mb += xs[i] / n
	}
	var cab, caa, cbb float64
	for i := 1; i < len(xs); i++ {
		a, b := xs[i-1]-ma, xs[i]-mb
		cab, caa, cbb = cab+a*b, caa+a*a, cbb+b*b
	}
	return cab / math.Sqrt(caa*cbb)
}

func TestCostsAreSafeForConcurrentUse(t *testing.T) {
	c := newCosts(5000, 0.4, 3, 16)
	want, _ := singles(newCosts(5000, 0.4, 3, 16))
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 0))
			for k := 0; k < 300; k++ {
				u := r.IntN(5000)
				if s, _ := c.Of([]Range{{u, u + 1}}); s != want[u] {
					t.Errorf("unit %d: %v, want %v", u, s, want[u])
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkCostsOf measures the query for a chunk's sums, for blocks of
// several sizes: the choice of costBlock (memory is 32 bytes per block). In
// episode order the chunks come one after the other, each where the last
// ended, and the blocks are drawn as they are reached: ns/unit is the cost of
// drawing each unit once. Scattered, chunks of 100 units come from anywhere
// (re-granted units, a node that sees every other chunk): each query draws
// the parts of the blocks at its ends anew.
func BenchmarkCostsOf(b *testing.B) {
	const n = 10_000_000
	for _, block := range []int{64, 256, 1024, 4096} {
		for _, chunk := range []int{1, 100, 10_000} {
			b.Run(fmt.Sprintf("block=%d/in-order/chunk=%d", block, chunk), func(b *testing.B) {
				c := newCosts(n, 0.3, 1, block)
				u := 0
				for i := 0; i < b.N; i++ {
					if u+chunk > n {
						c, u = newCosts(n, 0.3, 1, block), 0
					}
					c.Of([]Range{{u, u + chunk}})
					u += chunk
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(chunk), "ns/unit")
			})
		}
		b.Run(fmt.Sprintf("block=%d/scattered/chunk=100", block), func(b *testing.B) {
			c := newCosts(n, 0.3, 1, block)
			c.Total()
			r := rand.New(rand.NewPCG(1, 1))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				u := r.IntN(n - 100)
				c.Of([]Range{{u, u + 100}})
			}
		})
	}
}

// pooled is the reference model of a Pool: a flag per unit.
type pooled []bool

func (m pooled) ranges() []Range {
	var out []Range
	for u := 0; u < len(m); u++ {
		if m[u] {
			if len(out) > 0 && out[len(out)-1].End == u {
				out[len(out)-1].End++
			} else {
				out = append(out, Range{u, u + 1})
			}
		}
	}
	return out
}

func (p *Pool) ranges() []Range {
	var out []Range
	var walk func(t *poolNode)
	walk = func(t *poolNode) {
		if t != nil {
			walk(t.left)
			out = append(out, t.r)
			walk(t.right)
		}
	}
	walk(p.root)
	return out
}

func TestPoolTakesTheLowestAndMergesWhatComesBack(t *testing.T) {
	const n = 500
	r := rand.New(rand.NewPCG(9, 9))
	p, m := NewPool(n), make(pooled, n)
	for u := range m {
		m[u] = true
	}
	var out [][]Range // chunks handed out
	for step := 0; step < 3000; step++ {
		if r.IntN(2) == 0 || len(out) == 0 {
			k := 1 + r.IntN(20)
			got := p.Take(k)
			var want []Range
			for u := 0; u < n && k > 0; u++ {
				if m[u] {
					m[u] = false
					k--
					if len(want) > 0 && want[len(want)-1].End == u {
						want[len(want)-1].End++
					} else {
						want = append(want, Range{u, u + 1})
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("step %d: took %v, want %v", step, got, want)
			}
			if len(got) > 0 {
				out = append(out, got)
			}
		} else {
			i := r.IntN(len(out))
			rs := out[i]
			out[i] = out[len(out)-1]
			out = out[:len(out)-1]
			if err := p.Put(rs); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			for _, x := range rs {
				for u := x.Start; u < x.End; u++ {
					m[u] = true
				}
			}
			// Handing the same units back again fails and changes nothing.
			before := fmt.Sprint(p.ranges())
			if err := p.Put(append([]Range{{n, n + 1}}, rs...)); err == nil || fmt.Sprint(p.ranges()) != before {
				t.Fatalf("step %d: %v handed back twice: err %v, pool %v (was %v)", step, rs, err, p.ranges(), before)
			}
		}
		if got, want := p.ranges(), m.ranges(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("step %d: pool %v, want %v", step, got, want)
		}
		count := 0
		for _, x := range m {
			if x {
				count++
			}
		}
		if p.Len() != count {
			t.Fatalf("step %d: Len %d, want %d", step, p.Len(), count)
		}
	}
	if err := p.Put([]Range{{n + 5, n + 9}, {n + 7, n + 8}}); err == nil {
		t.Fatal("ranges that overlap each other were taken back")
	}
}

func TestLedgerCountsEachUnitOnce(t *testing.T) {
	l := NewLedger(300)
	if d := l.Done([]Range{{0, 70}, {130, 200}}); d != 0 {
		t.Fatalf("dups %d", d)
	}
	if d := l.Done([]Range{{60, 140}, {199, 300}}); d != 10+10+1 {
		t.Fatalf("dups %d, want 21", d)
	}
	if l.Count() != 300 || l.Duplicates() != 21 {
		t.Fatalf("count %d dups %d", l.Count(), l.Duplicates())
	}
}
