package policygradient

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/marlon-go/marlon/learning"
	"gonum.org/v1/gonum/mathext"
)

func betaConfig() Config {
	c := testConfig()
	c.Head = HeadBeta
	return c
}

func TestBetaGradientsInClosedFormMatchFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for range 200 {
		a, b, u := 1+rng.ExpFloat64()*5, 1+rng.ExpFloat64()*5, 0.001+0.998*rng.Float64()
		dla, dlb, dha, dhb := betaGrads(a, b, u)
		const h = 1e-6
		fd := func(f func(a, b float64) float64, da, db float64) float64 {
			return (f(a+da, b+db) - f(a-da, b-db)) / (2 * h)
		}
		logp := func(a, b float64) float64 { return betaLogPdf(a, b, u) }
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"dlogp/da", dla, fd(logp, h, 0)}, {"dlogp/db", dlb, fd(logp, 0, h)},
			{"dH/da", dha, fd(betaEntropy, h, 0)}, {"dH/db", dhb, fd(betaEntropy, 0, h)},
		} {
			if math.Abs(c.got-c.want) > 1e-6*max(1, math.Abs(c.want)) {
				t.Fatalf("a %v b %v u %v: %s %v, finite difference %v", a, b, u, c.name, c.got, c.want)
			}
		}
	}
	// The trigamma function against its known values: pi^2/6 at 1, and
	// psi'(x) - psi'(x+1) = 1/x^2.
	if got := trigamma(1); math.Abs(got-math.Pi*math.Pi/6) > 1e-12 {
		t.Fatalf("trigamma(1) = %v", got)
	}
	for _, x := range []float64{0.3, 2.5, 9, 40} {
		if d := trigamma(x) - trigamma(x+1) - 1/(x*x); math.Abs(d) > 1e-11 {
			t.Fatalf("trigamma at %v off by %v", x, d)
		}
	}
}

// betaRows are a batch for the Beta head's graph: inputs, draws, the
// advantages' weights and the entropy's.
type betaRows struct {
	x, u, w []float64
	ent     float64
}

// betaPlainLoss is the loss the Beta head's graph stands for, computed
// with the plain-Go forward pass: -sum w log p(u) - ent sum H + the value
// term.
func betaPlainLoss(lg *lossGraph, r betaRows, policy, value *mlp) float64 {
	d := policy.layers[0].in
	ret, vw := lg.ret.Data().([]float64), lg.vw.Data().([]float64)
	buf := max(policy.width(), value.width())
	bufA, bufB := make([]float64, buf), make([]float64, buf)
	loss := 0.0
	for i := range r.w {
		xi := r.x[i*d : (i+1)*d]
		a, b := betaParams(policy.forward(xi, bufA, bufB))
		loss += -r.w[i]*betaLogPdf(a, b, r.u[i]) - r.ent*betaEntropy(a, b)
		dv := value.forward(xi, bufA, bufB)[0] - ret[i]
		loss += vw[i] * dv * dv
	}
	return loss
}

// setBetaInputs writes r into the graph, with the coefficients fillBeta
// would compute at the current parameters.
func setBetaInputs(lg *lossGraph, r betaRows, policy *mlp) {
	d := policy.layers[0].in
	x, coef := lg.x.Data().([]float64), lg.coef.Data().([]float64)
	clear(x)
	clear(coef)
	copy(x, r.x)
	bufA, bufB := make([]float64, policy.width()), make([]float64, policy.width())
	for i := range r.w {
		a, b := betaParams(policy.forward(r.x[i*d:(i+1)*d], bufA, bufB))
		dla, dlb, dha, dhb := betaGrads(a, b, r.u[i])
		coef[2*i], coef[2*i+1] = -r.w[i]*dla-r.ent*dha, -r.w[i]*dlb-r.ent*dhb
	}
}

// TestBetaHeadGradientsMatchFiniteDifferences checks the gradient of the
// Beta head's loss (the log density of the draws, weighted by the
// advantages, the entropy bonus and the value regression) with respect
// to every parameter of both networks against central differences of
// the loss computed in plain Go, on two consecutive runs with other
// parameters and draws, with padded rows.
func TestBetaHeadGradientsMatchFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, c := range []struct {
		act    Activation
		hidden []int
	}{{Tanh, nil}, {Tanh, []int{5}}, {ReLU, []int{6, 4}}} {
		policy, value := randomNets(c.act, rng, 3, c.hidden, 2)
		lg, err := newHeadGraph(policy, value, 8, true)
		if err != nil {
			t.Fatal(err)
		}
		params := append(policy.params(), value.params()...)
		for run := 0; run < 2; run++ {
			n := 6 - run
			r := betaRows{ent: 0.2 / float64(n)}
			ret, vw := lg.ret.Data().([]float64), lg.vw.Data().([]float64)
			clear(ret)
			clear(vw)
			for i := range n {
				for range 3 {
					r.x = append(r.x, rng.NormFloat64())
				}
				r.u = append(r.u, 0.01+0.98*rng.Float64())
				r.w = append(r.w, rng.NormFloat64()/float64(n))
				ret[i], vw[i] = rng.NormFloat64()*3, 0.5/float64(n)
			}
			setBetaInputs(lg, r, policy)
			if err := lg.run(); err != nil {
				t.Fatal(err)
			}
			for i, p := range params {
				grad := lg.grad(i)
				for j := range p {
					const h = 1e-6
					v := p[j]
					p[j] = v + h
					up := betaPlainLoss(lg, r, policy, value)
					p[j] = v - h
					down := betaPlainLoss(lg, r, policy, value)
					p[j] = v
					fd := (up - down) / (2 * h)
					if rel := math.Abs(grad[j]-fd) / max(math.Abs(grad[j]), math.Abs(fd), 1e-3); rel > 1e-4 {
						t.Errorf("%s %v run %d parameter %d[%d]: gradient %v, finite difference %v", c.act, c.hidden, run, i, j, grad[j], fd)
					}
				}
			}
			for _, p := range params {
				for j := range p {
					p[j] += rng.NormFloat64() * 0.1
				}
			}
		}
	}
}

func TestBetaHeadSamplesTheMassesItReports(t *testing.T) {
	p := newPolicy(t, betaConfig(), 1)
	if p.Name() != "pg-beta" {
		t.Fatalf("name %s", p.Name())
	}
	rng := rand.New(rand.NewPCG(6, 6))
	for _, w := range p.policy.params() {
		for i := range w {
			w[i] = rng.NormFloat64()
		}
	}
	a := p.NewAgent("a")
	for _, mask := range [][]bool{nil, {true, false, true}, {false, false, true}} {
		o := obs(0.3, 1, false)
		o.Mask = mask
		a.InitAgent(o)
		probs := a.ActionProbabilities()
		sum := 0.0
		for i, q := range probs {
			sum += q
			if mask != nil && !mask[i] && q != 0 {
				t.Fatalf("mask %v: forbidden action %d has probability %v", mask, i, q)
			}
		}
		if len(probs) != 3 || math.Abs(sum-1) > 1e-12 {
			t.Fatalf("probabilities %v sum to %v", probs, sum)
		}
		const draws = 20000
		counts := make([]float64, 3)
		for range draws {
			counts[a.SampleAction()]++
		}
		for i, c := range counts {
			if sd := math.Sqrt(probs[i] * (1 - probs[i]) / draws); math.Abs(c/draws-probs[i]) > 4.5*sd+1e-9 {
				t.Fatalf("mask %v: action %d drawn %.4f of the time, probability %.4f", mask, i, c/draws, probs[i])
			}
		}
		// The draws are Beta(a, b): u's recorded by the agent fall in the
		// parts of the actions taken, unless masked.
		ag := a.(*agent)
		for k, u := range ag.us {
			if mask == nil && part(u, 3) != ag.acts[k] {
				t.Fatalf("u = %v taken as action %d", u, ag.acts[k])
			}
		}
		ag.reset()
	}
	// Not learning: the action of largest mass.
	p.SetLearning(false)
	a.InitAgent(obs(0.3, 1, false))
	probs := a.ActionProbabilities()
	act := a.SampleAction()
	if probs[act] != 1 {
		t.Fatalf("greedy: action %d, probabilities %v", act, probs)
	}
	al, be := betaParams(a.(*agent).outputs())
	masses := make([]float64, 3)
	betaMasses(al, be, nil, masses)
	if int(act) != argmax(masses) {
		t.Fatalf("greedy action %d, masses %v", act, masses)
	}
	// The masses are the Beta's CDF at the parts' edges.
	if want := mathext.RegIncBeta(al, be, 1.0/3); math.Abs(masses[0]-want) > 1e-12 {
		t.Fatalf("first part's mass %v, want %v", masses[0], want)
	}
}

func TestBetaHeadLearnsTheOrderedBandit(t *testing.T) {
	// The bandit pays for the third of [0, 1) that x is in: an ordered
	// choice, as a fraction is.
	p := newPolicy(t, betaConfig(), 1)
	c := train(t, p, 300)
	if got := c.Final().Metrics["accuracy"]; got < 0.85 {
		t.Fatalf("greedy accuracy %.3f after 300 episodes, want > 0.85", got)
	}
	if first := c.Train[0].Metrics["accuracy"]; first > 0.5 {
		t.Fatalf("accuracy %.3f in the first episode: the task is too easy to show learning", first)
	}
}

func TestBetaHeadCheckpointAndCoordination(t *testing.T) {
	p := newPolicy(t, betaConfig(), 2)
	train(t, p, 5)
	b, err := p.MarshalBinary()
	if err != nil || !strings.Contains(string(b), `"head":"beta"`) {
		t.Fatalf("model %s, %v", b, err)
	}
	q := newPolicy(t, betaConfig(), 7)
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if c, _ := q.MarshalBinary(); !bytes.Equal(b, c) {
		t.Fatal("the round trip changed the model")
	}
	soft := newPolicy(t, testConfig(), 2)
	if err := soft.UnmarshalBinary(b); err == nil || !strings.Contains(err.Error(), "head") {
		t.Fatalf("a softmax policy loaded a Beta model: %v", err)
	}
	if sb, _ := soft.MarshalBinary(); strings.Contains(string(sb), "head") {
		t.Fatal("a softmax model names its head: older builds would refuse it")
	}
	// Coordinated: agents in the same state draw the same action at the
	// same step; in different states, not always.
	cfg := betaConfig()
	cfg.Coordinated = true
	r := newPolicy(t, cfg, 3)
	a, b2 := r.NewAgent("a"), r.NewAgent("b")
	a.InitAgent(obs(0.5, 0, false))
	b2.InitAgent(obs(0.5, 0, false))
	for range 20 {
		if x, y := a.SampleAction(), b2.SampleAction(); x != y {
			t.Fatalf("coordinated agents in one state drew %d and %d", x, y)
		}
		a.Update(obs(0.5, 0, false), 0)
		b2.Update(obs(0.5, 0, false), 0)
	}
	if _, err := New(learning.Spec{Observation: schema, Actions: learning.Discrete(3)}, Config{Head: "gauss", Hidden: []int{4}, Activation: Tanh, PolicyLR: 0.1, ValueLR: 0.1}); err == nil || !strings.Contains(err.Error(), "Head") {
		t.Fatalf("an unknown head: %v", err)
	}
}
