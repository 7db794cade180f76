package algotest

import (
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// draw is one action drawn, with the distribution reported before it
// (sparse: the actions of positive probability).
type draw struct {
	idx []int
	p   []float64
	a   int
}

// sparse keeps the positive entries of probs.
func sparse(probs []float64, a int) draw {
	d := draw{a: a}
	for i, p := range probs {
		if p > 0 {
			d.idx = append(d.idx, i)
			d.p = append(d.p, p)
		}
	}
	return d
}

// minExpected is the least expected count of a category of the chi-squared
// test; rarer actions are pooled.
const minExpected = 5

// goodnessOfFit tests whether each draw's action came from the distribution
// reported before it, when the distributions vary from draw to draw (a
// learner's do). With the indicator e(a_k) of the k-th action drawn and p_k
// its distribution, S = sum_k (e(a_k) - p_k) is a sum of martingale
// differences, whose covariance is V = sum_k (diag(p_k) - p_k p_k^T); by the
// martingale central limit theorem S^T V^+ S is chi-squared with rank(V)
// degrees of freedom. Actions expected fewer than minExpected times in all
// are pooled into one category (with the largest category if the pool is
// itself too rare). It returns the statistic, its degrees of freedom and
// the p-value (1 with no degrees of freedom: every distribution was
// deterministic).
func goodnessOfFit(draws []draw) (q float64, df int, pvalue float64) {
	expected := map[int]float64{}
	for _, d := range draws {
		for i, j := range d.idx {
			expected[j] += d.p[i]
		}
	}
	actions := make([]int, 0, len(expected))
	for j := range expected {
		actions = append(actions, j)
	}
	sort.Ints(actions)
	cat := map[int]int{}
	var sizes []float64
	pool, pooled := 0.0, []int{}
	for _, j := range actions {
		if expected[j] >= minExpected {
			cat[j] = len(sizes)
			sizes = append(sizes, expected[j])
		} else {
			pool += expected[j]
			pooled = append(pooled, j)
		}
	}
	into := len(sizes)
	if pool < minExpected {
		into = -1
		for c, s := range sizes {
			if into < 0 || s > sizes[into] {
				into = c
			}
		}
	} else {
		sizes = append(sizes, pool)
	}
	if into < 0 {
		return 0, 0, 1
	}
	for _, j := range pooled {
		cat[j] = into
	}
	k := len(sizes)
	s := make([]float64, k)
	v := mat.NewSymDense(k, nil)
	qk := make([]float64, k)
	for _, d := range draws {
		clear(qk)
		for i, j := range d.idx {
			qk[cat[j]] += d.p[i]
		}
		if c, ok := cat[d.a]; ok {
			s[c]++
		}
		for c := range k {
			s[c] -= qk[c]
			if qk[c] == 0 {
				continue
			}
			v.SetSym(c, c, v.At(c, c)+qk[c])
			for c2 := c; c2 < k; c2++ {
				v.SetSym(c, c2, v.At(c, c2)-qk[c]*qk[c2])
			}
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(v, true) {
		return math.Inf(1), k - 1, 0
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	top := 0.0
	for _, l := range vals {
		top = math.Max(top, l)
	}
	for i, l := range vals {
		if l <= 1e-9*top || l <= 0 {
			continue
		}
		proj := 0.0
		for c := range k {
			proj += vecs.At(c, i) * s[c]
		}
		q += proj * proj / l
		df++
	}
	if df == 0 {
		return 0, 0, 1
	}
	return q, df, distuv.ChiSquared{K: float64(df)}.Survival(q)
}
