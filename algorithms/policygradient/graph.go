package policygradient

import (
	"fmt"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// expr builds the network's output for the rows of x in g. Its parameter
// nodes share the network's weight arrays; they are returned in the order
// of mlp.params.
func (n *mlp) expr(g *G.ExprGraph, x *G.Node, name string) (*G.Node, G.Nodes) {
	var params G.Nodes
	h := x
	for i, l := range n.layers {
		w := G.NewMatrix(g, tensor.Float64, G.WithShape(l.in, l.out), G.WithName(fmt.Sprintf("%s.w%d", name, i)),
			G.WithValue(tensor.New(tensor.WithShape(l.in, l.out), tensor.WithBacking(l.w))))
		b := G.NewVector(g, tensor.Float64, G.WithShape(l.out), G.WithName(fmt.Sprintf("%s.b%d", name, i)),
			G.WithValue(tensor.New(tensor.WithShape(l.out), tensor.WithBacking(l.b))))
		params = append(params, w, b)
		h = G.Must(G.BroadcastAdd(G.Must(G.Mul(h, w)), b, nil, []byte{0}))
		if i < len(n.layers)-1 {
			h = n.act.expr(h)
		}
	}
	return h, params
}

// buildMu serialises graph building: gorgonia's shared constant nodes cache
// their hash on first use.
var buildMu sync.Mutex

// lossGraph is the loss of a batch of up to rows samples and its gradient
// with respect to both networks' parameters, compiled once for a tape
// machine. A smaller batch leaves the extra rows at zero weight. With n
// samples, normalised advantages A, actions a, returns R, entropy
// coefficient beta and the policy pi and value V:
//
//	loss = -1/n sum_i A_i log pi(a_i|x_i)            (REINFORCE)
//	       -beta/n sum_i H(pi(.|x_i))                  (entropy bonus)
//	       +1/(2n) sum_i (V(x_i) - R_i)^2             (baseline regression)
//
// The inputs carry the per-row weights: pg = onehot(a_i) A_i/n, ent =
// beta/n, vw = 1/(2n), zero in unused rows. log pi is z - shift -
// log(sum exp(z - shift)) for the logits z, with shift the rows' largest
// allowed logit from the plain-Go forward pass: any constant shift gives
// the same value and gradient, and this one keeps exp from overflowing. The
// mask input adds maskedLogit to the logits of the actions a row's
// observation did not allow (0 to the others), so that they have
// probability 0 (exp underflows to exactly 0) and take no part in the
// softmax, the entropy or the gradient.
//
// With the Beta head (beta), the policy's two outputs z per row give a =
// 1 + softplus(z_0) and b = 1 + softplus(z_1), and the policy and entropy
// terms are replaced by sum_i coef_i . softplus(z_i), where the input coef
// holds, per row, the derivatives of those terms with respect to a and b
// at the current parameters (fill computes them in closed form: see
// betaGrads). Its gradient with respect to the parameters is then the
// terms' gradient (a and b depend on z through softplus alone); its value
// is not their value. pg, ent, shift and mask are not used.
type lossGraph struct {
	rows int
	beta bool
	vm   G.VM
	// The inputs' tensors; EndEpisode writes their data before each run.
	x, pg, ent, shift, ret, vw, mask, coef *tensor.Dense
	loss                                   *G.Node
	grads                                  G.Nodes // in the order of policy.params then value.params
}

func newLossGraph(policy, value *mlp, rows int) (*lossGraph, error) {
	return newHeadGraph(policy, value, rows, false)
}

func newHeadGraph(policy, value *mlp, rows int, beta bool) (*lossGraph, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	g := G.NewGraph()
	lg := &lossGraph{rows: rows, beta: beta}
	input := func(name string, shape ...int) (*G.Node, *tensor.Dense) {
		t := tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float64))
		return G.NewTensor(g, tensor.Float64, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(t)), t
	}
	nIn, nAct := policy.layers[0].in, policy.layers[len(policy.layers)-1].out
	x, xt := input("x", rows, nIn)
	ret, rett := input("ret", rows, 1)
	vw, vwt := input("vw", rows, 1)
	lg.x, lg.ret, lg.vw = xt, rett, vwt
	logits, pp := policy.expr(g, x, "policy")
	v, vp := value.expr(g, x, "value")
	vLoss := G.Must(G.Sum(G.Must(G.HadamardProd(vw, G.Must(G.Square(G.Must(G.Sub(v, ret))))))))
	if beta {
		coef, coeft := input("coef", rows, nAct)
		lg.coef = coeft
		lg.loss = G.Must(G.Add(G.Must(G.Sum(G.Must(G.HadamardProd(G.Must(G.Softplus(logits)), coef)))), vLoss))
		return lg.compile(g, append(pp, vp...))
	}
	pg, pgt := input("pg", rows, nAct)
	ent, entt := input("ent", rows, nAct)
	shift, shiftt := input("shift", rows)
	mask, maskt := input("mask", rows, nAct)
	lg.pg, lg.ent, lg.shift, lg.mask = pgt, entt, shiftt, maskt

	z := G.Must(G.BroadcastSub(G.Must(G.Add(logits, mask)), shift, nil, []byte{1}))
	logp := G.Must(G.BroadcastSub(z, G.Must(G.Log(G.Must(G.Sum(G.Must(G.Exp(z)), 1)))), nil, []byte{1}))
	// sum(logp * (p*ent - pg)) is the policy and entropy terms at once.
	pgLoss := G.Must(G.Sum(G.Must(G.HadamardProd(logp, G.Must(G.Sub(G.Must(G.HadamardProd(G.Must(G.Exp(logp)), ent)), pg))))))
	lg.loss = G.Must(G.Add(pgLoss, vLoss))
	return lg.compile(g, append(pp, vp...))
}

// compile differentiates the loss with respect to params and makes the
// machine.
func (lg *lossGraph) compile(g *G.ExprGraph, params G.Nodes) (*lossGraph, error) {
	var err error
	if lg.grads, err = G.Grad(lg.loss, params...); err != nil {
		return nil, fmt.Errorf("policygradient: differentiating the loss: %w", err)
	}
	lg.vm = G.NewTapeMachine(g)
	return lg, nil
}

// run computes the loss and gradients for the inputs as they are now. The
// gradients, in lg.grads, are valid until the next run.
func (lg *lossGraph) run() error {
	lg.vm.Reset() // rewind the tape: RunAll runs from where the last run ended
	if err := lg.vm.RunAll(); err != nil {
		return fmt.Errorf("policygradient: running the loss graph: %w", err)
	}
	return nil
}

// grad is the i-th parameter's gradient after a run.
func (lg *lossGraph) grad(i int) []float64 { return lg.grads[i].Value().Data().([]float64) }
