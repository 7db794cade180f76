package policygradient

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// randomNets returns a policy and a value network with random (not small)
// weights and biases.
func randomNets(act Activation, rng *rand.Rand, in int, hidden []int, actions int) (*mlp, *mlp) {
	sizes := append(append([]int{in}, hidden...), actions)
	policy := newMLP(sizes, act, 1, rng)
	sizes[len(sizes)-1] = 1
	value := newMLP(sizes, act, 1, rng)
	for _, n := range []*mlp{policy, value} {
		for _, p := range n.params() {
			for i := range p {
				p[i] = rng.NormFloat64() * 0.7
			}
		}
	}
	return policy, value
}

func TestPlainForwardMatchesGorgonia(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, act := range []Activation{Tanh, ReLU} {
		for _, hidden := range [][]int{nil, {7}, {8, 5}} {
			net, _ := randomNets(act, rng, 4, hidden, 3)
			const rows = 9
			xs := make([]float64, rows*4)
			for i := range xs {
				xs[i] = rng.NormFloat64() * 2
			}
			g := G.NewGraph()
			x := G.NewMatrix(g, tensor.Float64, G.WithShape(rows, 4), G.WithName("x"),
				G.WithValue(tensor.New(tensor.WithShape(rows, 4), tensor.WithBacking(xs))))
			out, _ := net.expr(g, x, "net")
			vm := G.NewTapeMachine(g)
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			got := out.Value().Data().([]float64)
			a, b := make([]float64, net.width()), make([]float64, net.width())
			for r := range rows {
				want := net.forward(xs[r*4:(r+1)*4], a, b)
				for j, w := range want {
					if d := math.Abs(got[r*3+j] - w); d > 1e-9 {
						t.Fatalf("%s %v row %d output %d: gorgonia %v, plain Go %v", act, hidden, r, j, got[r*3+j], w)
					}
				}
			}
			vm.Close()
		}
	}
}

// plainLoss is the loss of the graph's current inputs computed with the
// plain-Go forward pass, as lossGraph's documentation writes it.
func plainLoss(lg *lossGraph, policy, value *mlp) float64 {
	x, pg, ent := lg.x.Data().([]float64), lg.pg.Data().([]float64), lg.ent.Data().([]float64)
	shift, ret, vw := lg.shift.Data().([]float64), lg.ret.Data().([]float64), lg.vw.Data().([]float64)
	mask := lg.mask.Data().([]float64)
	d, k := policy.layers[0].in, len(pg)/lg.rows
	w := max(policy.width(), value.width())
	a, b := make([]float64, w), make([]float64, w)
	loss := 0.0
	for i := range lg.rows {
		xi := x[i*d : (i+1)*d]
		z := policy.forward(xi, a, b)
		sum := 0.0
		for j, v := range z {
			if mask[i*k+j] == 0 { // a masked action has probability 0
				sum += math.Exp(v - shift[i])
			}
		}
		for j, v := range z {
			if mask[i*k+j] != 0 {
				continue
			}
			logp := v - shift[i] - math.Log(sum)
			loss += logp * (math.Exp(logp)*ent[i*k+j] - pg[i*k+j])
		}
		dv := value.forward(xi, a, b)[0] - ret[i]
		loss += vw[i] * dv * dv
	}
	return loss
}

// randomInputs fills the graph's inputs as EndEpisode would for n samples
// (n <= rows), with random actions, advantages and returns, and on every
// other row a random mask (which allows the row's action).
func randomInputs(lg *lossGraph, policy *mlp, n int, rng *rand.Rand) {
	x, pg, ent := lg.x.Data().([]float64), lg.pg.Data().([]float64), lg.ent.Data().([]float64)
	shift, ret, vw := lg.shift.Data().([]float64), lg.ret.Data().([]float64), lg.vw.Data().([]float64)
	mask := lg.mask.Data().([]float64)
	d, k := policy.layers[0].in, len(pg)/lg.rows
	for _, s := range [][]float64{x, pg, ent, ret, vw, mask} {
		clear(s)
	}
	a, b := make([]float64, policy.width()), make([]float64, policy.width())
	for i := range lg.rows {
		if i < n {
			for j := range d {
				x[i*d+j] = rng.NormFloat64()
			}
			act := rng.IntN(k)
			pg[i*k+act] = rng.NormFloat64() / float64(n)
			for j := range k {
				ent[i*k+j] = 0.3 / float64(n)
				if i%2 == 1 && j != act && rng.IntN(2) == 0 {
					mask[i*k+j] = maskedLogit
				}
			}
			ret[i] = rng.NormFloat64() * 3
			vw[i] = 0.5 / float64(n)
		}
		z := policy.forward(x[i*d:(i+1)*d], a, b)
		m := math.Inf(-1)
		for j, v := range z {
			if mask[i*k+j] == 0 {
				m = max(m, v)
			}
		}
		shift[i] = m
	}
}

// TestGradientsMatchFiniteDifferences checks every parameter's gradient
// against central differences of plainLoss, on two consecutive runs of the
// same machine with other parameters and inputs (gorgonia's tape machine
// has been known to reuse registers wrongly), with padded rows.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, c := range []struct {
		act    Activation
		hidden []int
	}{{Tanh, nil}, {Tanh, []int{5}}, {Tanh, []int{6, 4}}, {ReLU, []int{5}}, {ReLU, []int{6, 4}}} {
		policy, value := randomNets(c.act, rng, 3, c.hidden, 4)
		lg, err := newLossGraph(policy, value, 8)
		if err != nil {
			t.Fatal(err)
		}
		params := append(policy.params(), value.params()...)
		for run := 0; run < 2; run++ {
			randomInputs(lg, policy, 6-run, rng)
			before := make([][]float64, len(params))
			for i, p := range params {
				before[i] = append([]float64(nil), p...)
			}
			if err := lg.run(); err != nil {
				t.Fatal(err)
			}
			for i, p := range params {
				for j := range p {
					if p[j] != before[i][j] {
						t.Fatalf("%s %v run %d: running the graph changed parameter %d", c.act, c.hidden, run, i)
					}
				}
			}
			if got, want := lg.loss.Value().Data().(float64), plainLoss(lg, policy, value); math.Abs(got-want) > 1e-9 {
				t.Fatalf("%s %v run %d: gorgonia loss %v, plain Go %v", c.act, c.hidden, run, got, want)
			}
			for i, p := range params {
				grad := lg.grad(i)
				if len(grad) != len(p) {
					t.Fatalf("parameter %d: gradient of %d values for %d", i, len(grad), len(p))
				}
				for j := range p {
					const h = 1e-6
					v := p[j]
					p[j] = v + h
					up := plainLoss(lg, policy, value)
					p[j] = v - h
					down := plainLoss(lg, policy, value)
					p[j] = v
					fd := (up - down) / (2 * h)
					if rel := math.Abs(grad[j]-fd) / max(math.Abs(grad[j]), math.Abs(fd), 1e-3); rel > 1e-4 {
						t.Errorf("%s %v run %d parameter %d[%d]: gradient %v, finite difference %v", c.act, c.hidden, run, i, j, grad[j], fd)
					}
				}
			}
			// Move the parameters, as an update would, before the next run.
			for _, p := range params {
				for j := range p {
					p[j] += rng.NormFloat64() * 0.1
				}
			}
		}
	}
}
