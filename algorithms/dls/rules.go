package dls

import (
	"math"

	"github.com/marlon-go/marlon/learning"
)

// state is what a decision reads from an observation, in the package doc's
// notation.
type state struct {
	job, remaining, workers, granted int // N, R, P, g
	commTime, unitTime               float64
	speed, speedSum                  float64 // s_i, S
	mu                               float64
	measured                         int     // M
	invMuSum, dSum                   float64 // T, D
}

func (p *Policy) read(values []float64) state {
	get := func(f int) float64 { return values[p.index[f]] }
	return state{
		job:       int(get(fJob)),
		remaining: int(get(fRemaining)),
		workers:   max(1, int(get(fWorkers))),
		granted:   int(get(fGranted)),
		commTime:  get(fCommTime),
		unitTime:  get(fUnitTime),
		speed:     get(fSpeed),
		speedSum:  get(fSpeedSum),
		mu:        get(fMu),
		measured:  int(get(fMeasured)),
		invMuSum:  get(fInvMuSum),
		dSum:      get(fDSum),
	}
}

// episode is a Policy's per-episode state. It is a value, so that
// ActionProbabilities can decide on a copy.
type episode struct {
	sawGrant bool      // a decision has seen g > 0
	fixed    int       // FSC, mFSC: the chunk size (0 until the first decision)
	tss      trapezoid // TSS (zero until the first decision)
	batch    batch     // FAC2, WF, AWF-B: the current batch
	batches  uint64    // batches started, across episodes: agents date their observations by it
}

func (e *episode) reset() { *e = episode{batches: e.batches} }

// batch is a factoring batch: P_b chunks cut from the R_b units remaining
// when it started.
type batch struct {
	serial    uint64 // its number in episode.batches
	start     int    // g at its start
	workers   int    // P_b
	remaining int    // R_b
	measured  int    // AWF-B: M at its start
	invMuSum  float64
}

// currentBatch returns the batch of decision s, starting one at the episode's
// first decision and once the last one has had its P_b chunks granted.
func (e *episode) currentBatch(s state) batch {
	if s.granted >= e.batch.start+e.batch.workers { // always true for the zero batch
		e.batches++
		e.batch = batch{serial: e.batches, start: s.granted, workers: s.workers, remaining: s.remaining,
			measured: s.measured, invMuSum: s.invMuSum}
	}
	return e.batch
}

// decide returns the action for a's latest observation, updating e.
func (p *Policy) decide(e *episode, a *agent) learning.Action {
	if a.obs == nil {
		panic("dls: SampleAction before InitAgent")
	}
	s := p.read(a.obs)
	if s.granted == 0 && s.remaining == s.job && e.sawGrant {
		e.reset() // a new episode that BeginEpisode did not announce
	}
	e.sawGrant = e.sawGrant || s.granted > 0
	k := max(1, min(p.size(e, a, s), s.remaining))
	return learning.Action(min(max(k, p.actions.Start), p.actions.Start+p.actions.N-1))
}

// size is the technique's chunk size for decision s, before clamping.
func (p *Policy) size(e *episode, a *agent, s state) int {
	switch p.technique {
	case STATIC:
		return ceilDiv(s.job, s.workers)
	case SS:
		return 1
	case FSC:
		if e.fixed == 0 {
			e.fixed = fscSize(s, p.cv)
		}
		return e.fixed
	case MFSC:
		if e.fixed == 0 {
			e.fixed = mfscSize(s.job, s.workers)
		}
		return e.fixed
	case GSS:
		return ceilDiv(s.remaining, s.workers)
	case TSS:
		if e.tss.first == 0 {
			e.tss = newTrapezoid(s.job, s.workers)
		}
		return e.tss.chunk(s.granted)
	case FAC2:
		b := e.currentBatch(s)
		return factoring(1, b.remaining, b.workers)
	case WF:
		b := e.currentBatch(s)
		return factoring(float64(s.workers)*s.speed/s.speedSum, b.remaining, b.workers)
	case AWFB:
		b := e.currentBatch(s)
		return factoring(awfWeight(a.muAt(b.serial), b.measured, b.invMuSum), b.remaining, b.workers)
	case AWFC:
		return factoring(awfWeight(s.mu, s.measured, s.invMuSum), s.remaining, s.workers)
	default: // AF; New accepts no other technique
		return afSize(s)
	}
}

// fscSize is Kruskal and Weiss's fixed chunk size, between 1 and ceil(N/P).
func fscSize(s state, cv float64) int {
	static := ceilDiv(s.job, s.workers)
	p := float64(s.workers)
	sigma := s.unitTime * cv * p / s.speedSum // at the mean speed S/P
	if s.workers == 1 || !(sigma > 0) {
		return static
	}
	k := math.Pow(math.Sqrt2*float64(s.job)*s.commTime/(sigma*p*math.Sqrt(math.Log(p))), 2.0/3)
	return min(roundUp(k), static)
}

// mfscSize is modified FSC's fixed chunk, int(0.55 + T*ln 2/ln T) for T =
// ceil(N/P), between 1 and T.
func mfscSize(n, p int) int {
	t := ceilDiv(n, p)
	if t <= 1 { // ln T = 0: one unit each, as STATIC
		return 1
	}
	k := int(0.55 + float64(t)*math.Ln2/math.Log(float64(t)))
	return max(1, min(k, t))
}

// trapezoid is TSS's linear decrease from F = first to L = 1 over C =
// steps+1 chunks.
type trapezoid struct{ first, steps int }

func newTrapezoid(n, p int) trapezoid {
	f := ceilDiv(n, 2*p)
	return trapezoid{first: f, steps: ceilDiv(2*n, f+1) - 1}
}

// chunk is max(1, ceil(F - g*(F-1)/(C-1))), exactly.
func (t trapezoid) chunk(g int) int {
	if g >= t.steps { // F - g*delta <= L: also the case C = 1
		return 1
	}
	return ceilDiv(t.first*t.steps-g*(t.first-1), t.steps)
}

// factoring is the factoring chunk ceil(w*r/(2p)) for weight w.
func factoring(w float64, r, p int) int { return roundUp(w * float64(r) / float64(2*p)) }

// awfWeight is a worker's AWF weight: its rate 1/mu relative to the mean
// rate of the m measured workers, whose rates add up to invMuSum; 1 while it
// is unmeasured.
func awfWeight(mu float64, m int, invMuSum float64) float64 {
	if !(mu > 0) || m == 0 || !(invMuSum > 0) {
		return 1
	}
	return float64(m) / (mu * invMuSum)
}

// afSize is adaptive factoring's chunk, or FAC2's probe while the worker or
// every worker is unmeasured.
func afSize(s state) int {
	if !(s.mu > 0) || s.measured == 0 || !(s.invMuSum > 0) {
		return factoring(1, s.remaining, s.workers)
	}
	scale := float64(s.workers) / float64(s.measured) // the unmeasured perform like the measured average
	d := s.dSum * scale
	e := 1 / (s.invMuSum * scale)
	r := float64(s.remaining)
	return roundUp(2 * e * e * r * r / (s.mu * (d + 2*e*r + math.Sqrt(d*d+4*d*e*r))))
}

// roundUp rounds a chunk size up, ignoring a relative excess of 1e-12
// (floating-point noise); NaN and sizes below 1 give 1, and sizes are capped
// at math.MaxInt32.
func roundUp(x float64) int {
	x = math.Ceil(x * (1 - 1e-12))
	switch {
	case !(x >= 1):
		return 1
	case x >= math.MaxInt32:
		return math.MaxInt32
	}
	return int(x)
}

// ceilDiv is ceil(a/b) for a >= 0 and b > 0.
func ceilDiv(a, b int) int { return (a + b - 1) / b }
