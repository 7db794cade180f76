package policygradient

import (
	"math"

	"gonum.org/v1/gonum/mathext"
)

// Heads: how the policy network's outputs make a distribution over the
// actions.
const (
	// HeadSoftmax is one logit per action and their softmax.
	HeadSoftmax = "softmax"
	// HeadBeta is a continuous head for an ordered action space: the
	// network's two outputs z give a Beta(a, b) distribution on [0, 1],
	// a = 1 + softplus(z_0) and b = 1 + softplus(z_1) (so a, b > 1: a
	// single mode, no mass piled at the ends). A draw u stands for a
	// point of the interval the actions cut into N equal parts, in order
	// (learning.ParamLow, ParamHigh): the action taken is the part's,
	// floor(u*N). The policy learns from the density of u itself (the log
	// of the Beta density at u, its gradient with respect to a and b in
	// closed form through the digamma function), not from the action: the
	// quantisation is part of the environment as the continuous policy
	// sees it. The probability of an action is the mass of its part.
	// Agents not learning take the action of largest mass. Where an
	// observation's mask forbids the part drawn, the nearest allowed action
	// is taken (the lower on a tie), and a forbidden part's mass goes to
	// that action.
	HeadBeta = "beta"
)

// betaParams are a and b for the network's outputs z.
func betaParams(z []float64) (a, b float64) { return 1 + softplus(z[0]), 1 + softplus(z[1]) }

// softplus is log(1 + e^x), computed without overflow.
func softplus(x float64) float64 {
	if x > 30 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// uEdge keeps a draw off 0 and 1, where the log density is infinite.
const uEdge = 1e-9

// betaDraw is the u of quantile q of Beta(a, b), kept off the ends.
func betaDraw(a, b, q float64) float64 {
	return math.Min(1-uEdge, math.Max(uEdge, mathext.InvRegIncBeta(a, b, q)))
}

// part is the action of u: floor(u*n), in [0, n).
func part(u float64, n int) int { return min(n-1, max(0, int(u*float64(n)))) }

// allowedNear is the allowed action nearest i (the lower on a tie); mask
// nil allows all.
func allowedNear(i int, mask []bool) int {
	if mask == nil || (i < len(mask) && mask[i]) {
		return i
	}
	for d := 1; d <= len(mask); d++ {
		if j := i - d; j >= 0 && j < len(mask) && mask[j] {
			return j
		}
		if j := i + d; j < len(mask) && mask[j] {
			return j
		}
	}
	return i // nothing allowed: the caller has panicked already
}

// betaMasses writes into p the probability of each of len(p) actions:
// the mass of its part, a forbidden part's going to the allowed action
// nearest it.
func betaMasses(a, b float64, mask []bool, p []float64) {
	n := len(p)
	clear(p)
	prev := 0.0
	for i := range n {
		next := 1.0
		if i < n-1 {
			next = mathext.RegIncBeta(a, b, float64(i+1)/float64(n))
		}
		p[allowedNear(i, mask)] += max(0, next-prev)
		prev = next
	}
}

// betaLogPdf is the log density of Beta(a, b) at u.
func betaLogPdf(a, b, u float64) float64 {
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	return (a-1)*math.Log(u) + (b-1)*math.Log1p(-u) - la - lb + lab
}

// betaEntropy is the differential entropy of Beta(a, b).
func betaEntropy(a, b float64) float64 {
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	return la + lb - lab - (a-1)*mathext.Digamma(a) - (b-1)*mathext.Digamma(b) + (a+b-2)*mathext.Digamma(a+b)
}

// betaGrads are the derivatives of log pdf(u) and of the entropy with
// respect to a and b:
//
//	d log p / da = log u - psi(a) + psi(a+b)
//	d log p / db = log(1-u) - psi(b) + psi(a+b)
//	dH / da = -(a-1) psi'(a) + (a+b-2) psi'(a+b)
//	dH / db = -(b-1) psi'(b) + (a+b-2) psi'(a+b)
//
// with psi the digamma function and psi' the trigamma.
func betaGrads(a, b, u float64) (dla, dlb, dha, dhb float64) {
	dab, tab := mathext.Digamma(a+b), trigamma(a+b)
	dla = math.Log(u) - mathext.Digamma(a) + dab
	dlb = math.Log1p(-u) - mathext.Digamma(b) + dab
	dha = -(a-1)*trigamma(a) + (a+b-2)*tab
	dhb = -(b-1)*trigamma(b) + (a+b-2)*tab
	return dla, dlb, dha, dhb
}

// trigamma is psi'(x) for x > 0: the recurrence psi'(x) = psi'(x+1) +
// 1/x^2 up to x >= 10, then the asymptotic series 1/x + 1/(2x^2) +
// 1/(6x^3) - 1/(30x^5) + 1/(42x^7) - 1/(30x^9) + 5/(66x^11), whose next
// term is below 1e-13 there.
func trigamma(x float64) float64 {
	s := 0.0
	for x < 10 {
		s += 1 / (x * x)
		x++
	}
	r := 1 / x
	r2 := r * r
	return s + r + r2/2 + r*r2*(1.0/6-r2*(1.0/30-r2*(1.0/42-r2*(1.0/30-r2*5/66))))
}
