package loadbalancing

import (
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// Range is the work units [Start, End).
type Range struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// Len is the number of units in r.
func (r Range) Len() int { return r.End - r.Start }

// Costs are the units' costs (mean 1) as prefix sums, so that the time a
// chunk takes, and the mean and spread of its units' times, cost O(1) per
// range. Costs belong to the units, not to who runs them: the total work of
// an episode is fixed by its seed whatever the schedule.
type Costs struct {
	sum  []float64 // sum[i] = cost of units 0..i-1
	sum2 []float64 // same for squared costs
}

// NewCosts draws n unit costs from a gamma distribution with mean 1 and
// coefficient of variation cv (cv = 0: every unit costs 1).
func NewCosts(n int, cv float64, seed uint64) *Costs {
	c := &Costs{sum: make([]float64, n+1), sum2: make([]float64, n+1)}
	draw := func() float64 { return 1 }
	if cv > 0 {
		k := 1 / (cv * cv) // shape; scale 1/k gives mean 1, variance 1/k = cv^2
		g := distuv.Gamma{Alpha: k, Beta: k, Src: rand.NewPCG(seed, 0xc057)}
		draw = g.Rand
	}
	for i := 0; i < n; i++ {
		w := draw()
		c.sum[i+1] = c.sum[i] + w
		c.sum2[i+1] = c.sum2[i] + w*w
	}
	return c
}

// Units is the number of units.
func (c *Costs) Units() int { return len(c.sum) - 1 }

// Total is the sum of all the units' costs.
func (c *Costs) Total() float64 { return c.sum[len(c.sum)-1] }

// Of returns the sum of the costs and of the squared costs of the units in rs.
func (c *Costs) Of(rs []Range) (sum, sum2 float64) {
	for _, r := range rs {
		sum += c.sum[r.End] - c.sum[r.Start]
		sum2 += c.sum2[r.End] - c.sum2[r.Start]
	}
	return sum, sum2
}

// Pool is the set of units not yet handed out, as sorted disjoint ranges.
// Chunks are taken from the lowest units; units handed back are merged in.
type Pool struct {
	free  []Range
	count int
}

// NewPool returns a pool holding units 0..n-1.
func NewPool(n int) *Pool {
	if n == 0 {
		return &Pool{}
	}
	return &Pool{free: []Range{{0, n}}, count: n}
}

// Len is the number of units in the pool.
func (p *Pool) Len() int { return p.count }

// Take removes up to n units from the pool and returns them.
func (p *Pool) Take(n int) []Range {
	var out []Range
	for n > 0 && len(p.free) > 0 {
		r := p.free[0]
		if r.Len() <= n {
			out = append(out, r)
			n -= r.Len()
			p.count -= r.Len()
			p.free = p.free[1:]
			continue
		}
		out = append(out, Range{r.Start, r.Start + n})
		p.free[0].Start += n
		p.count -= n
		n = 0
	}
	return out
}

// Put returns units to the pool. It fails, changing nothing, if any of them
// is in the pool already: a unit handed back twice is a bookkeeping error.
func (p *Pool) Put(rs []Range) error {
	next := append([]Range(nil), p.free...)
	for _, r := range rs {
		if r.Len() <= 0 {
			continue
		}
		i := 0
		for i < len(next) && next[i].End <= r.Start {
			i++
		}
		if i < len(next) && next[i].Start < r.End {
			return fmt.Errorf("units [%d,%d) handed back but [%d,%d) is free already", r.Start, r.End, next[i].Start, next[i].End)
		}
		next = append(next, Range{})
		copy(next[i+1:], next[i:])
		next[i] = r
		// merge with neighbours
		if i+1 < len(next) && next[i].End == next[i+1].Start {
			next[i].End = next[i+1].End
			next = append(next[:i+1], next[i+2:]...)
		}
		if i > 0 && next[i-1].End == next[i].Start {
			next[i-1].End = next[i].End
			next = append(next[:i], next[i+1:]...)
		}
		p.count += r.Len()
	}
	p.free = next
	return nil
}

// Ledger records which units are done, to prove each unit is done exactly
// once.
type Ledger struct {
	done  []uint64 // bit set
	count int
	dups  int
}

// NewLedger returns a ledger for n units.
func NewLedger(n int) *Ledger { return &Ledger{done: make([]uint64, (n+63)/64)} }

// Done marks the units in rs done and returns how many of them were done
// already (which should never happen).
func (l *Ledger) Done(rs []Range) (dups int) {
	for _, r := range rs {
		for u := r.Start; u < r.End; u++ {
			w, bit := u/64, uint64(1)<<(u%64)
			if l.done[w]&bit != 0 {
				dups++
				continue
			}
			l.done[w] |= bit
			l.count++
		}
	}
	l.dups += dups
	return dups
}

// Count is the number of distinct units done.
func (l *Ledger) Count() int { return l.count }

// Duplicates is the number of times a unit was reported done again.
func (l *Ledger) Duplicates() int { return l.dups }

func unitsOf(rs []Range) int {
	n := 0
	for _, r := range rs {
		n += r.Len()
	}
	return n
}
