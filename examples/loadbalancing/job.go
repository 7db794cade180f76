package loadbalancing

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"sort"
	"sync"

	"gonum.org/v1/gonum/stat/distuv"
)

// Range is the work units [Start, End).
type Range struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// Len is the number of units in r.
func (r Range) Len() int { return r.End - r.Start }

// Costs are the units' costs (mean 1). Costs belong to the units, not to
// who runs them: the total work of an episode is fixed by its seed whatever
// the schedule. Of sums the costs of ranges of units.
//
// A job has up to 10^8 units: Costs does not keep one number per unit.
// The units are cut into blocks of 256 units (costBlock), each drawn from a source
// seeded by the seed and the block's number, so that any block can be drawn
// again on its own. Costs keeps each block's sum (and sum of squares) and
// their prefix sums, 32 bytes per block; the sum over a range is the sums
// of the whole blocks inside it plus the parts of the blocks at its ends,
// drawn again when they are needed. A few blocks drawn last are kept (with
// their draws' state, so that a block drawn up to one unit can be drawn on):
// chunks are handed out in order, so the block where one chunk ends is where
// the next begins. Block sums are drawn as the ranges asked for reach them
// (Total draws the rest), so that in an episode most units are drawn once.
//
// Every figure is a function of the seed and the range alone, not of which
// ranges were asked for before: the Costs that nodes of a live run make from
// an episode's seed give the workers the same figures as the director's.
// Costs is safe for concurrent use.
type Costs struct {
	n     int
	alpha float64 // the gamma distribution's shape (and rate): mean 1, cv^2 = 1/alpha; 0: every unit costs 1
	seed  uint64
	block int

	mu    sync.Mutex
	known int       // blocks whose sums are known
	pre   []float64 // pre[b]: sum of the costs of the blocks before b, for b <= known
	pre2  []float64 // the same for squared costs
	tot   []float64 // each known block's sum
	tot2  []float64
	cache [costCache]*drawnBlock
	tick  uint64
}

const (
	// costBlock is the number of units in a block. Memory is 32 bytes per
	// block: 12.5 MB at 10^8 units. In an episode, chunks in order, each
	// unit is drawn about once (some 40 ns); a chunk from elsewhere costs
	// drawing the parts of the two blocks at its ends again, about 10 us
	// (BenchmarkCostsOf measures 3 us for blocks of 64, 50 us for 1024).
	costBlock = 256
	costCache = 8 // blocks kept drawn
)

// drawnBlock is a block drawn up to some unit: the prefix sums of the costs
// drawn so far and the state of its source, to draw on.
type drawnBlock struct {
	b         int
	src       *rand.PCG
	gamma     distuv.Gamma
	sum, sum2 []float64 // sum[i]: cost of the block's units 0..i-1
	used      uint64
}

// NewCosts draws n unit costs from a gamma distribution with mean 1 and
// coefficient of variation cv (cv = 0: every unit costs 1).
func NewCosts(n int, cv float64, seed uint64) *Costs { return newCosts(n, cv, seed, costBlock) }

func newCosts(n int, cv float64, seed uint64, block int) *Costs {
	c := &Costs{n: n, seed: seed, block: block}
	if cv > 0 {
		c.alpha = 1 / (cv * cv) // shape; rate alpha gives mean 1, variance 1/alpha = cv^2
		nb := (n + block - 1) / block
		c.pre, c.pre2 = make([]float64, nb+1), make([]float64, nb+1)
		c.tot, c.tot2 = make([]float64, nb), make([]float64, nb)
	}
	return c
}

// Units is the number of units.
func (c *Costs) Units() int { return c.n }

// Total is the sum of all the units' costs.
func (c *Costs) Total() float64 {
	if c.alpha == 0 {
		return float64(c.n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.know(len(c.tot))
	return c.pre[len(c.tot)]
}

// Of returns the sum of the costs and of the squared costs of the units in rs.
func (c *Costs) Of(rs []Range) (sum, sum2 float64) {
	if c.alpha == 0 {
		n := float64(unitsOf(rs))
		return n, n
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range rs {
		s, s2 := c.of(r.Start, r.End)
		sum += s
		sum2 += s2
	}
	return sum, sum2
}

// of is the sums over units [s, e).
func (c *Costs) of(s, e int) (sum, sum2 float64) {
	if e <= s {
		return 0, 0
	}
	bs, be := s/c.block, e/c.block
	so, eo := s-bs*c.block, e-be*c.block
	if bs == be {
		d := c.drawn(bs, eo)
		return d.sum[eo] - d.sum[so], d.sum2[eo] - d.sum2[so]
	}
	c.know(be)
	d := c.drawn(bs, so)
	sum, sum2 = c.tot[bs]-d.sum[so], c.tot2[bs]-d.sum2[so]
	sum += c.pre[be] - c.pre[bs+1]
	sum2 += c.pre2[be] - c.pre2[bs+1]
	if eo > 0 {
		d = c.drawn(be, eo)
		sum += d.sum[eo]
		sum2 += d.sum2[eo]
	}
	return sum, sum2
}

// know draws the sums of the blocks before b that are not known yet.
func (c *Costs) know(b int) {
	for ; c.known < b; c.known++ {
		k := c.known
		n := c.blockLen(k)
		d := c.drawn(k, n)
		c.tot[k], c.tot2[k] = d.sum[n], d.sum2[n]
		c.pre[k+1], c.pre2[k+1] = c.pre[k]+c.tot[k], c.pre2[k]+c.tot2[k]
	}
}

func (c *Costs) blockLen(b int) int { return min(c.block, c.n-b*c.block) }

// drawn returns block b drawn up to unit upto at least.
func (c *Costs) drawn(b, upto int) *drawnBlock {
	c.tick++
	var d *drawnBlock
	for _, x := range c.cache {
		if x != nil && x.b == b {
			d = x
			break
		}
	}
	if d == nil { // a free slot, or the least recently used: b drawn from its start
		v := 0
		for i, x := range c.cache {
			if x == nil {
				v = i
				break
			}
			if x.used < c.cache[v].used {
				v = i
			}
		}
		if c.cache[v] == nil {
			x := &drawnBlock{src: rand.NewPCG(0, 0)}
			x.gamma = distuv.Gamma{Alpha: c.alpha, Beta: c.alpha, Src: x.src}
			x.sum, x.sum2 = make([]float64, 1, c.block+1), make([]float64, 1, c.block+1)
			c.cache[v] = x
		}
		d = c.cache[v]
		d.b = b
		d.src.Seed(mix(c.seed, uint64(b)), 0xc057)
		d.sum, d.sum2 = d.sum[:1], d.sum2[:1]
	}
	d.used = c.tick
	for i := len(d.sum) - 1; i < upto; i++ {
		w := d.gamma.Rand()
		d.sum = append(d.sum, d.sum[i]+w)
		d.sum2 = append(d.sum2, d.sum2[i]+w*w)
	}
	return d
}

// mix is splitmix64's finaliser of a+b: a block's seed from the episode's.
func mix(a, b uint64) uint64 {
	z := a + 0x9e3779b97f4a7c15*(b+1)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Pool is the set of units not yet handed out, as sorted disjoint ranges,
// merged where they touch. Chunks are taken from the lowest units; units
// handed back are merged in. The ranges are kept in a treap, so that taking
// or handing back a range costs O(log F) for F ranges in the pool: many
// workers going at once, each handing back its chunk, cost no more each
// than one does.
type Pool struct {
	root  *poolNode
	count int
	made  uint64 // nodes made: their priorities are drawn from it
}

type poolNode struct {
	r           Range
	prio        uint64
	left, right *poolNode
}

// NewPool returns a pool holding units 0..n-1.
func NewPool(n int) *Pool {
	p := &Pool{}
	if n > 0 {
		p.root, p.count = p.node(Range{0, n}), n
	}
	return p
}

func (p *Pool) node(r Range) *poolNode {
	p.made++
	return &poolNode{r: r, prio: mix(p.made, 0x9001)}
}

// Len is the number of units in the pool.
func (p *Pool) Len() int { return p.count }

// Take removes up to n units from the pool, the lowest first, and returns
// them.
func (p *Pool) Take(n int) []Range {
	var out []Range
	for n > 0 && p.root != nil {
		at := &p.root
		for (*at).left != nil {
			at = &(*at).left
		}
		low := *at
		if low.r.Len() <= n {
			out = append(out, low.r)
			n -= low.r.Len()
			p.count -= low.r.Len()
			*at = low.right // the lowest has no left child; its right keeps the heap order
			continue
		}
		out = append(out, Range{low.r.Start, low.r.Start + n})
		low.r.Start += n // still the lowest
		p.count -= n
		n = 0
	}
	return out
}

// Put returns units to the pool. It fails, changing nothing, if any of them
// is in the pool already: a unit handed back twice is a bookkeeping error.
func (p *Pool) Put(rs []Range) error {
	var sorted []Range
	for _, r := range rs {
		if r.Len() > 0 {
			sorted = append(sorted, r)
		}
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Start < sorted[j].Start })
	for i, r := range sorted {
		if i > 0 && sorted[i-1].End > r.Start {
			return fmt.Errorf("units [%d,%d) handed back twice (with [%d,%d))", r.Start, r.End, sorted[i-1].Start, sorted[i-1].End)
		}
		if f := p.floor(r.Start); f != nil && f.r.End > r.Start {
			return fmt.Errorf("units [%d,%d) handed back but [%d,%d) is free already", r.Start, r.End, f.r.Start, f.r.End)
		}
		if c := p.ceil(r.Start); c != nil && c.r.Start < r.End {
			return fmt.Errorf("units [%d,%d) handed back but [%d,%d) is free already", r.Start, r.End, c.r.Start, c.r.End)
		}
	}
	for _, r := range sorted {
		pred, succ := p.floor(r.Start), p.ceil(r.End)
		joinsPred := pred != nil && pred.r.End == r.Start
		joinsSucc := succ != nil && succ.r.Start == r.End
		switch {
		case joinsPred && joinsSucc:
			pred.r.End = succ.r.End
			p.root = poolDelete(p.root, succ.r.Start)
		case joinsPred:
			pred.r.End = r.End
		case joinsSucc:
			succ.r.Start = r.Start // still after pred
		default:
			p.root = poolInsert(p.root, p.node(r))
		}
		p.count += r.Len()
	}
	return nil
}

// floor is the range that starts last at or before unit u, or nil.
func (p *Pool) floor(u int) *poolNode {
	var best *poolNode
	for t := p.root; t != nil; {
		if t.r.Start <= u {
			best, t = t, t.right
		} else {
			t = t.left
		}
	}
	return best
}

// ceil is the range that starts first at or after unit u, or nil.
func (p *Pool) ceil(u int) *poolNode {
	var best *poolNode
	for t := p.root; t != nil; {
		if t.r.Start >= u {
			best, t = t, t.left
		} else {
			t = t.right
		}
	}
	return best
}

func poolInsert(t, n *poolNode) *poolNode {
	if t == nil {
		return n
	}
	if n.prio > t.prio {
		n.left, n.right = poolSplit(t, n.r.Start)
		return n
	}
	if n.r.Start < t.r.Start {
		t.left = poolInsert(t.left, n)
	} else {
		t.right = poolInsert(t.right, n)
	}
	return t
}

// poolSplit splits t into the ranges that start before u and the others.
func poolSplit(t *poolNode, u int) (*poolNode, *poolNode) {
	if t == nil {
		return nil, nil
	}
	if t.r.Start < u {
		l, r := poolSplit(t.right, u)
		t.right = l
		return t, r
	}
	l, r := poolSplit(t.left, u)
	t.left = r
	return l, t
}

// poolJoin joins a and b, every range of a before every range of b.
func poolJoin(a, b *poolNode) *poolNode {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.prio > b.prio:
		a.right = poolJoin(a.right, b)
		return a
	default:
		b.left = poolJoin(a, b.left)
		return b
	}
}

func poolDelete(t *poolNode, start int) *poolNode {
	switch {
	case t == nil:
		return nil
	case start < t.r.Start:
		t.left = poolDelete(t.left, start)
	case start > t.r.Start:
		t.right = poolDelete(t.right, start)
	default:
		return poolJoin(t.left, t.right)
	}
	return t
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
		for u := r.Start; u < r.End; {
			w, bit := u/64, u%64
			k := min(64-bit, r.End-u) // units of this word in r
			mask := ^uint64(0) >> (64 - k) << bit
			seen := bits.OnesCount64(l.done[w] & mask)
			dups += seen
			l.count += k - seen
			l.done[w] |= mask
			u += k
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
