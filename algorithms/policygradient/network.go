package policygradient

import (
	"math"
	"math/rand/v2"
)

// layer is a dense layer, out = in·W + b, with W row-major of shape
// (in, out): the layout of the gorgonia matrix that shares its backing array.
type layer struct {
	in, out int
	w, b    []float64
}

// mlp is a multilayer perceptron: hidden layers with an activation, then a
// linear output layer. Its weights are the backing arrays of the gorgonia
// tensors of the loss graph, so forward always sees the latest update.
type mlp struct {
	layers []layer
	act    Activation
}

// newMLP returns a network of the given layer sizes (inputs first, outputs
// last) with Glorot-uniform weights, the output layer's scaled by outGain,
// and zero biases.
func newMLP(sizes []int, act Activation, outGain float64, rng *rand.Rand) *mlp {
	n := &mlp{act: act}
	for i := 1; i < len(sizes); i++ {
		l := layer{in: sizes[i-1], out: sizes[i], w: make([]float64, sizes[i-1]*sizes[i]), b: make([]float64, sizes[i])}
		limit := math.Sqrt(6 / float64(l.in+l.out))
		if i == len(sizes)-1 {
			limit *= outGain
		}
		for j := range l.w {
			l.w[j] = (2*rng.Float64() - 1) * limit
		}
		n.layers = append(n.layers, l)
	}
	return n
}

// params lists the parameter arrays: each layer's weights, then its biases.
func (n *mlp) params() [][]float64 {
	var ps [][]float64
	for _, l := range n.layers {
		ps = append(ps, l.w, l.b)
	}
	return ps
}

// width is the largest layer output, the size forward's buffers need.
func (n *mlp) width() int {
	w := 0
	for _, l := range n.layers {
		w = max(w, l.out)
	}
	return w
}

// forward returns the network's output for x, computed in the buffers a and
// b (each at least width long); the result aliases one of them.
func (n *mlp) forward(x, a, b []float64) []float64 {
	in := x
	for i, l := range n.layers {
		out := a[:l.out]
		copy(out, l.b)
		for j, xj := range in {
			row := l.w[j*l.out : (j+1)*l.out]
			for k, w := range row {
				out[k] += xj * w
			}
		}
		if i < len(n.layers)-1 {
			n.act.apply(out)
		}
		in, a, b = out, b, a
	}
	return in
}

// softmax writes the softmax of z into p.
func softmax(z, p []float64) {
	m := z[0]
	for _, v := range z[1:] {
		m = max(m, v)
	}
	sum := 0.0
	for i, v := range z {
		p[i] = math.Exp(v - m)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
}

// argmax is the index of the largest value, the lowest on a tie.
func argmax(z []float64) int {
	best := 0
	for i, v := range z {
		if v > z[best] {
			best = i
		}
	}
	return best
}

// Adam's decay rates and denominator guard (Kingma and Ba's defaults).
const (
	adamBeta1 = 0.9
	adamBeta2 = 0.999
	adamEps   = 1e-8
)

// adam is the Adam optimiser for one network, with the gradient's global L2
// norm clipped to maxNorm (0: no clipping) before the moments see it.
type adam struct {
	lr, maxNorm float64
	m, v        [][]float64
	t           int
}

func newAdam(params [][]float64, lr, maxNorm float64) *adam {
	o := &adam{lr: lr, maxNorm: maxNorm}
	for _, p := range params {
		o.m = append(o.m, make([]float64, len(p)))
		o.v = append(o.v, make([]float64, len(p)))
	}
	return o
}

// step moves params down grads.
func (o *adam) step(params, grads [][]float64) {
	scale := 1.0
	if o.maxNorm > 0 {
		sq := 0.0
		for _, g := range grads {
			for _, v := range g {
				sq += v * v
			}
		}
		if norm := math.Sqrt(sq); norm > o.maxNorm {
			scale = o.maxNorm / norm
		}
	}
	o.t++
	c1 := 1 - math.Pow(adamBeta1, float64(o.t))
	c2 := 1 - math.Pow(adamBeta2, float64(o.t))
	for i, p := range params {
		m, v := o.m[i], o.v[i]
		for j, g := range grads[i] {
			g *= scale
			m[j] = adamBeta1*m[j] + (1-adamBeta1)*g
			v[j] = adamBeta2*v[j] + (1-adamBeta2)*g*g
			p[j] -= o.lr * (m[j] / c1) / (math.Sqrt(v[j]/c2) + adamEps)
		}
	}
}
