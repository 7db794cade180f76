package dls_test

import (
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/marlon-go/marlon/algorithms/dls"
	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/learning"
)

// at is the observation of a decision, in the package doc's notation; the
// other fields of loadbalancing's schema are 0.
type at struct {
	N, R, P, g int
	h, c       float64
	s, S       float64
	mu         float64
	M          int
	T, D       float64
}

func (x at) obs() learning.Observation {
	sc := loadbalancing.Schema
	v := make([]float64, sc.Len())
	for f, val := range map[string]float64{
		loadbalancing.FieldJob: float64(x.N), loadbalancing.FieldRemaining: float64(x.R),
		loadbalancing.FieldWorkers: float64(x.P), loadbalancing.FieldGranted: float64(x.g),
		loadbalancing.FieldCommTime: x.h, loadbalancing.FieldUnitTime: x.c,
		loadbalancing.FieldSpeed: x.s, loadbalancing.FieldSpeedSum: x.S, loadbalancing.FieldMu: x.mu,
		loadbalancing.FieldMeasured: float64(x.M), loadbalancing.FieldInvMuSum: x.T, loadbalancing.FieldDSum: x.D,
	} {
		v[sc.Index(f)] = val
	}
	return learning.Observation{Schema: sc, Values: v}
}

// driver feeds hand-built observations to the agents of one policy.
type driver struct {
	t       *testing.T
	policy  *dls.Policy
	actions int
	agents  map[int]learning.LearningAlgorithm
}

func newDriver(t *testing.T, tech dls.Technique, actions int, opts ...dls.Option) *driver {
	t.Helper()
	spec := learning.Spec{Observation: loadbalancing.Schema, Actions: learning.ActionSpace{N: actions, Start: 1}}
	p, err := dls.New(tech, spec, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &driver{t: t, policy: p, actions: actions, agents: map[int]learning.LearningAlgorithm{}}
}

// decide has worker i choose on x and returns its chunk size, checking that
// it is within [1, max(1, R)] and that ActionProbabilities is one-hot on it.
func (d *driver) decide(i int, x at) int {
	d.t.Helper()
	a, ok := d.agents[i]
	if !ok {
		a = d.policy.NewAgent(loadbalancing.AgentID(i))
		d.agents[i] = a
		a.InitAgent(x.obs())
	} else {
		a.Update(x.obs(), 0)
	}
	probs := a.ActionProbabilities()
	k := int(a.SampleAction())
	if k < 1 || k > max(1, x.R) {
		d.t.Fatalf("%s: chunk %d outside [1, %d] for %+v", d.policy.Name(), k, max(1, x.R), x)
	}
	want := make([]float64, d.actions)
	want[k-1] = 1
	if !reflect.DeepEqual(probs, want) {
		d.t.Fatalf("%s: action probabilities %v, want one-hot at index %d", d.policy.Name(), probs, k-1)
	}
	return k
}

// schedule hands out a job of n units to p workers taking turns and returns
// the chunks.
func schedule(t *testing.T, tech dls.Technique, n, p int) []int {
	t.Helper()
	d := newDriver(t, tech, n)
	var chunks []int
	for r, g := n, 0; r > 0; g++ {
		k := d.decide(g%p, at{N: n, R: r, P: p, g: g})
		chunks = append(chunks, k)
		r -= k
	}
	return chunks
}

func TestSchedules(t *testing.T) {
	for _, c := range []struct {
		tech dls.Technique
		n, p int
		want []int
	}{
		// ceil(100/3) = 34, twice; the third is clamped to the 32 left.
		{dls.STATIC, 100, 3, []int{34, 34, 32}},
		{dls.SS, 5, 2, []int{1, 1, 1, 1, 1}},
		// T = 50: int(0.55 + 50 ln 2/ln 50) = int(9.41) = 9, eleven
		// times (99), then the 1 left.
		{dls.MFSC, 100, 2, []int{9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 1}},
		// T = 3: int(0.55 + 3 ln 2/ln 3) = int(2.44) = 2.
		{dls.MFSC, 6, 2, []int{2, 2, 2}},
		// T = 1: ln T = 0, one unit each.
		{dls.MFSC, 3, 3, []int{1, 1, 1}},
		// ceil(R/4): 100/4 = 25, 75/4 = 18.75, 56/4, 42/4 = 10.5, 31/4 = 7.75,
		// 23/4 = 5.75, 17/4 = 4.25, 12/4, 9/4 = 2.25, 6/4 = 1.5, 4/4, then 1s.
		{dls.GSS, 100, 4, []int{25, 19, 14, 11, 8, 6, 5, 3, 3, 2, 1, 1, 1, 1}},
		// F = ceil(100/4) = 25, L = 1, C = ceil(200/26) = 8, delta = 24/7:
		// 25, 25-24/7 = 21.57, 25-48/7 = 18.14, 14.71, 11.29, 7.86 (only 7
		// left: clamped).
		{dls.TSS, 100, 2, []int{25, 22, 19, 15, 12, 7}},
		// Batches of two chunks of ceil(R_b/4): R_b = 100, 50, 24, 12, 6 and
		// 2 (ceil(2/4) = 1).
		{dls.FAC2, 100, 2, []int{25, 25, 13, 13, 6, 6, 3, 3, 2, 2, 1, 1}},
	} {
		t.Run(string(c.tech), func(t *testing.T) {
			if got := schedule(t, c.tech, c.n, c.p); !reflect.DeepEqual(got, c.want) {
				t.Errorf("N=%d P=%d: chunks %v, want %v", c.n, c.p, got, c.want)
			}
		})
	}
}

func TestMFSCFollowsTheReferences(t *testing.T) {
	// int(0.55 + T ln 2/ln T) with T = ceil(N/P), as DLS4LB and LB4OMP
	// compute it. Counting FAC2's chunks exactly would give 114, not 122,
	// for N = 10000 and P = 8 (88 chunks).
	for _, c := range []struct{ n, p, want int }{{10000, 8, 122}, {10000, 16, 67}, {5000, 4, 122}, {4, 2, 2}} {
		d := newDriver(t, dls.MFSC, c.n)
		if got := d.decide(0, at{N: c.n, R: c.n, P: c.p}); got != c.want {
			t.Errorf("N=%d P=%d: chunk %d, want %d", c.n, c.p, got, c.want)
		}
	}
}

func TestFSC(t *testing.T) {
	// c = 1, CV = 0.5, S = 8 with P = 4 (mean speed 2): sigma = 1*0.5*4/8 =
	// 0.25. With h = 1: sqrt(2)*1000*1 / (0.25*4*sqrt(ln 4)) = 1414.21 /
	// 1.17741 = 1201.12, to the power 2/3: 112.99, rounded up 113.
	base := at{N: 1000, R: 1000, P: 4, h: 1, c: 1, S: 8}
	for _, c := range []struct {
		name string
		cv   float64
		edit func(*at)
		want int
	}{
		{"formula", 0.5, func(*at) {}, 113},
		// h = 0.01: 1201.12/100 = 12.0112, to the power 2/3: 5.24.
		{"small overhead", 0.5, func(x *at) { x.h = 0.01 }, 6},
		// h = 10: 524.5, more than ceil(1000/4) = 250.
		{"capped at static", 0.5, func(x *at) { x.h = 10 }, 250},
		{"no variance", 0, func(*at) {}, 250},
		{"one worker", 0.5, func(x *at) { x.P, x.S = 1, 2 }, 1000},
		{"no overhead", 0.5, func(x *at) { x.h = 0 }, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := newDriver(t, dls.FSC, 1000, dls.WithCV(c.cv))
			x := base
			c.edit(&x)
			if got := d.decide(0, x); got != c.want {
				t.Fatalf("first chunk %d, want %d", got, c.want)
			}
			// Fixed for the episode, whatever the state says next (but
			// clamped to the 900 units left).
			x.R, x.g, x.P, x.h = 900, 1, 3, 5
			if got, want := d.decide(1, x), min(c.want, 900); got != want {
				t.Fatalf("second chunk %d, want the fixed %d", got, want)
			}
		})
	}
}

func TestFAC2AbandonedDecision(t *testing.T) {
	d := newDriver(t, dls.FAC2, 100)
	// Batch 1 (R_b = 100, P_b = 2): ceil(100/4) = 25.
	if k := d.decide(0, at{N: 100, R: 100, P: 2, g: 0}); k != 25 {
		t.Fatalf("chunk 0: %d, want 25", k)
	}
	// Worker 1's decision is abandoned (no grant); worker 2 is served next
	// and sees the same granted count: it takes the batch's second slot.
	d.decide(1, at{N: 100, R: 75, P: 2, g: 1})
	if k := d.decide(2, at{N: 100, R: 75, P: 2, g: 1}); k != 25 {
		t.Fatalf("chunk 1 after an abandoned decision: %d, want 25 (batch 1)", k)
	}
	// Batch 2: ceil(50/4) = 13.
	if k := d.decide(0, at{N: 100, R: 50, P: 2, g: 2}); k != 13 {
		t.Fatalf("chunk 2: %d, want 13 (batch 2)", k)
	}
}

func TestActionSpaceClamp(t *testing.T) {
	// ceil(100/2) = 50, but the actions only go up to 10.
	d := newDriver(t, dls.STATIC, 10)
	if k := d.decide(0, at{N: 100, R: 100, P: 2}); k != 10 {
		t.Fatalf("chunk %d, want 10", k)
	}
}

func TestWF(t *testing.T) {
	d := newDriver(t, dls.WF, 100)
	// Speeds 1 and 3, S = 4: w_0 = 2*1/4 = 0.5, w_1 = 2*3/4 = 1.5.
	x := func(g, r int, s float64) at { return at{N: 100, R: r, P: 2, g: g, s: s, S: 4} }
	for _, c := range []struct {
		worker int
		x      at
		want   int
	}{
		{0, x(0, 100, 1), 13}, // batch R_b = 100: ceil(0.5*100/4) = ceil(12.5)
		{1, x(1, 87, 3), 38},  // ceil(1.5*100/4) = ceil(37.5)
		{1, x(2, 49, 3), 19},  // batch R_b = 49: ceil(1.5*49/4) = ceil(18.375)
		{0, x(3, 30, 1), 7},   // ceil(0.5*49/4) = ceil(6.125)
		{0, x(4, 23, 1), 3},   // batch R_b = 23: ceil(0.5*23/4) = ceil(2.875)
	} {
		if got := d.decide(c.worker, c.x); got != c.want {
			t.Fatalf("worker %d at %+v: chunk %d, want %d", c.worker, c.x, got, c.want)
		}
	}
}

func TestAWFBatchVersusChunk(t *testing.T) {
	b, c := newDriver(t, dls.AWFB, 100), newDriver(t, dls.AWFC, 100)
	x := func(g, r int, mu float64, m int, sum float64) at {
		return at{N: 100, R: r, P: 2, g: g, mu: mu, M: m, T: sum}
	}
	for i, s := range []struct {
		worker       int
		x            at
		wantB, wantC int
	}{
		// Nobody measured: weights 1. AWF-B's batch 1 has R_b = 100:
		// ceil(100/4) = 25 twice; AWF-C uses R: ceil(100/4), ceil(75/4).
		{0, x(0, 100, 0, 0, 0), 25, 25},
		{1, x(1, 75, 0, 0, 0), 25, 19},
		// Batch 2 (R_b = 50, M = 1, T = 1). Worker 0: w = 1/(1*1) = 1 in
		// both: ceil(50/4) = 13.
		{0, x(2, 50, 1, 1, 1), 13, 13},
		// Worker 1 is now measured (mu = 0.25, T = 1 + 4), but AWF-B uses
		// what was known when batch 2 started: unmeasured, w = 1,
		// ceil(50/4) = 13. AWF-C: w = 2/(0.25*5) = 1.6, ceil(1.6*37/4) =
		// ceil(14.8) = 15.
		{1, x(3, 37, 0.25, 2, 5), 13, 15},
		// Batch 3 (R_b = 24, M = 2, T = 5). Worker 0: w = 2/(1*5) = 0.4,
		// ceil(0.4*24/4) = ceil(2.4) = 3 in both.
		{0, x(4, 24, 1, 2, 5), 3, 3},
		// Worker 1's mu has moved to 0.2 (T = 1 + 5). AWF-B: its mu seen
		// before batch 3 started, 0.25, and T = 5: w = 1.6, ceil(1.6*24/4) =
		// ceil(9.6) = 10. AWF-C: w = 2/(0.2*6) = 5/3, ceil(5/3*21/4) =
		// ceil(8.75) = 9.
		{1, x(5, 21, 0.2, 2, 6), 10, 9},
		// That decision is abandoned and worker 1 decides again at the same
		// granted count: the same chunks.
		{1, x(5, 21, 0.2, 2, 6), 10, 9},
	} {
		if got := b.decide(s.worker, s.x); got != s.wantB {
			t.Errorf("decision %d: AWF-B chunk %d, want %d", i, got, s.wantB)
		}
		if got := c.decide(s.worker, s.x); got != s.wantC {
			t.Errorf("decision %d: AWF-C chunk %d, want %d", i, got, s.wantC)
		}
	}
}

func TestAF(t *testing.T) {
	// mu_0 = 1/3 and mu_1 = 1: T = 3 + 1 = 4, and sigma_0^2 = 1/6, sigma_1^2
	// = 1/2: D = (1/6)/(1/3) + (1/2)/1 = 1.
	for _, c := range []struct {
		name   string
		x      at
		want01 [2]int
	}{
		// P = M = 2, R = 99: E = 1/4, 2ER = 49.5, D^2 + 4DER = 1 + 99 =
		// 100. (1 + 49.5 - 10)/(2*mu) = 40.5/(2*mu): 60.75 and 20.25.
		{"all measured", at{N: 200, R: 99, P: 2, g: 5, M: 2, T: 4, D: 1}, [2]int{61, 21}},
		// P = 4, M = 2: the unmeasured count as the measured average,
		// D' = 1*4/2 = 2, E = 2/(4*4) = 1/8. R = 60: 2ER = 15,
		// D'^2 + 4D'ER = 4 + 60 = 64. (2 + 15 - 8)/(2*mu) = 9/(2*mu): 13.5
		// and 4.5.
		{"half measured", at{N: 200, R: 60, P: 4, g: 5, M: 2, T: 4, D: 1}, [2]int{14, 5}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for i, mu := range []float64{1.0 / 3, 1} {
				d := newDriver(t, dls.AF, 200)
				x := c.x
				x.mu = mu
				if got := d.decide(i, x); got != c.want01[i] {
					t.Errorf("worker %d (mu %v): chunk %d, want %d", i, mu, got, c.want01[i])
				}
			}
		})
	}
	t.Run("unmeasured probe", func(t *testing.T) {
		// Worker 1 has no measurement yet: FAC2's ceil(99/4) = 25.
		d := newDriver(t, dls.AF, 200)
		if got := d.decide(1, at{N: 200, R: 99, P: 2, g: 5, M: 1, T: 3, D: 0.5}); got != 25 {
			t.Fatalf("chunk %d, want 25", got)
		}
	})
}

func TestNewEpisode(t *testing.T) {
	t.Run("detected", func(t *testing.T) {
		d := newDriver(t, dls.FAC2, 100)
		for g, c := range []struct{ r, want int }{{100, 25}, {75, 25}, {50, 13}} { // as in TestSchedules/fac2
			if k := d.decide(g%2, at{N: 100, R: c.r, P: 2, g: g}); k != c.want {
				t.Fatalf("chunk %d: %d, want %d", g, k, c.want)
			}
		}
		// Without BeginEpisode, a job of 60 starts: g = 0 and R = N after
		// g > 0 starts a new batch, ceil(60/4) = 15 (batch 2 of the old
		// episode would give 13), and the next chunk is in the same batch.
		if k := d.decide(0, at{N: 60, R: 60, P: 2, g: 0}); k != 15 {
			t.Fatalf("first chunk of the new episode: %d, want 15", k)
		}
		if k := d.decide(1, at{N: 60, R: 45, P: 2, g: 1}); k != 15 {
			t.Fatalf("second chunk of the new episode: %d, want 15", k)
		}
	})
	t.Run("BeginEpisode", func(t *testing.T) {
		d := newDriver(t, dls.TSS, 100)
		if k := d.decide(0, at{N: 100, R: 100, P: 2}); k != 25 { // F = ceil(100/4)
			t.Fatalf("first episode: chunk %d, want 25", k)
		}
		// No chunk was granted, so only BeginEpisode can tell that a new
		// job of 40 starts: F = ceil(40/4) = 10.
		d.policy.BeginEpisode()
		if k := d.decide(1, at{N: 40, R: 40, P: 2}); k != 10 {
			t.Fatalf("second episode: chunk %d, want 10", k)
		}
	})
}

func TestTechniquesAndNames(t *testing.T) {
	var names []string
	for _, tech := range dls.Techniques() {
		names = append(names, string(tech))
		p := newDriver(t, tech, 10).policy
		if p.Name() != string(tech) {
			t.Errorf("Name() = %q, want %q", p.Name(), tech)
		}
		if p.NewAgent("a").IsLearning() {
			t.Errorf("%s: IsLearning() = true", tech)
		}
		if learning.UsesMembership(p.NewAgent("a")) {
			t.Errorf("%s: UsesMembership() = true: every worker would be told of every other", tech)
		}
	}
	want := []string{"static", "ss", "fsc", "mfsc", "gss", "tss", "fac2", "wf", "awf-b", "awf-c", "af"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("Techniques() = %v, want %v", names, want)
	}
}

func TestNewErrors(t *testing.T) {
	good := learning.Spec{Observation: loadbalancing.Schema, Actions: learning.ActionSpace{N: 10, Start: 1}}
	for _, c := range []struct {
		name    string
		tech    dls.Technique
		spec    func(learning.Spec) learning.Spec
		opts    []dls.Option
		mention string
	}{
		{"unknown technique", "fac3", nil, nil, "static, ss, fsc, mfsc, gss, tss, fac2, wf, awf-b, awf-c, af"},
		{"missing fields", dls.GSS, func(s learning.Spec) learning.Spec {
			s.Observation = learning.NewSchema("small", "job", "remaining")
			return s
		}, nil, "workers"},
		{"no schema", dls.GSS, func(s learning.Spec) learning.Spec { s.Observation = nil; return s }, nil, "schema"},
		{"no actions", dls.GSS, func(s learning.Spec) learning.Spec { s.Actions.N = 0; return s }, nil, "N = 0"},
		{"negative CV", dls.FSC, nil, []dls.Option{dls.WithCV(-0.1)}, "coefficient of variation"},
		{"NaN CV", dls.FSC, nil, []dls.Option{dls.WithCV(math.NaN())}, "coefficient of variation"},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := good
			if c.spec != nil {
				spec = c.spec(spec)
			}
			_, err := dls.New(c.tech, spec, c.opts...)
			if err == nil || !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("error %v, want one mentioning %q", err, c.mention)
			}
		})
	}
}

// TestConcurrentAgents has agents decide in parallel, as in the live runtime;
// run with -race it checks that the shared state is guarded.
func TestConcurrentAgents(t *testing.T) {
	for _, tech := range dls.Techniques() {
		p := newDriver(t, tech, 1000, dls.WithCV(0.3)).policy
		var wg sync.WaitGroup
		for i := range 4 {
			a := p.NewAgent(loadbalancing.AgentID(i))
			wg.Go(func() {
				for g := range 50 {
					x := at{N: 1000, R: 1000 - 10*g, P: 4, g: g, h: 1, c: 1, s: 1, S: 4, mu: 0.5, M: 4, T: 8, D: 0.1}
					if g == 0 {
						a.InitAgent(x.obs())
					} else {
						a.Update(x.obs(), 0)
					}
					a.ActionProbabilities()
					if k := int(a.SampleAction()); k < 1 || k > x.R {
						t.Errorf("%s: chunk %d outside [1, %d]", tech, k, x.R)
					}
				}
			})
		}
		wg.Wait()
	}
}
