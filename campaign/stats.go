package campaign

import (
	"math"
	"sort"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Stat is a metric over a configuration's repetitions: its mean, standard
// deviation and 95% confidence interval for the mean (Student's t with n-1
// degrees of freedom; with one repetition the interval is the value).
type Stat struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	SD   float64 `json:"sd"`
	Low  float64 `json:"ci95_low"`
	High float64 `json:"ci95_high"`
}

// HalfWidth is half the confidence interval's width.
func (s Stat) HalfWidth() float64 { return (s.High - s.Low) / 2 }

// Describe returns the Stat of xs.
func Describe(xs []float64) Stat {
	s := Stat{N: len(xs)}
	if s.N == 0 {
		return s
	}
	if s.N == 1 {
		s.Mean, s.Low, s.High = xs[0], xs[0], xs[0]
		return s
	}
	s.Mean, s.SD = stat.MeanStdDev(xs, nil)
	h := tQuantile(0.975, float64(s.N-1)) * s.SD / math.Sqrt(float64(s.N))
	s.Low, s.High = s.Mean-h, s.Mean+h
	return s
}

func tQuantile(p, df float64) float64 {
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(p)
}

// Test compares methods A and B on one metric of one configuration, over
// the repetitions both ran (the same seeds, so the same jobs and fault
// plans): a paired t-test of the differences A - B, two-sided.
//
// Why this test: the repetitions pair up (each seed fixes the workload and
// the fault plan every method meets), so testing the differences removes
// the variation between seeds, which is most of the variation; with five
// pairs, rank tests cannot reject at 5% at all (the smallest two-sided
// p-value of the Wilcoxon signed-rank test with 5 pairs is 2/32 = 0.0625,
// as is the sign test's), so the t-test, which assumes the differences are
// roughly normal, is the one that can say anything. PHolm adjusts P for
// the number of configurations the same pair and metric are tested on
// (Holm-Bonferroni), and Significant is PHolm < 0.05.
type Test struct {
	Config string `json:"config"`
	Metric string `json:"metric"`
	A      string `json:"a"`
	B      string `json:"b"`
	// Diff is the mean difference A - B and its 95% confidence interval.
	Diff Stat `json:"diff"`
	// T is the t statistic (absent when the differences do not vary).
	T           *float64 `json:"t,omitempty"`
	P           float64  `json:"p"`
	PHolm       float64  `json:"p_holm"`
	Significant bool     `json:"significant"`
}

// PairedT returns the t statistic and two-sided p-value of the paired
// t-test of a against b (equal lengths). With fewer than two pairs, or
// differences that do not vary, there is no t: p is 1 when the differences
// are all zero or there are too few, 0 when they are all the same nonzero
// value.
func PairedT(a, b []float64) (t *float64, p float64) {
	n := len(a)
	if n < 2 {
		return nil, 1
	}
	d := make([]float64, n)
	for i := range a {
		d[i] = a[i] - b[i]
	}
	mean, sd := stat.MeanStdDev(d, nil)
	if sd == 0 || math.IsNaN(sd) {
		if mean == 0 {
			return nil, 1
		}
		return nil, 0
	}
	tv := mean / (sd / math.Sqrt(float64(n)))
	dist := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}
	p = 2 * dist.CDF(-math.Abs(tv))
	return &tv, p
}

// Holm adjusts p-values for multiple comparisons (Holm-Bonferroni): the
// i-th smallest of m is multiplied by m-i, kept monotone, capped at 1.
func Holm(ps []float64) []float64 {
	m := len(ps)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return ps[idx[i]] < ps[idx[j]] })
	out := make([]float64, m)
	prev := 0.0
	for rank, i := range idx {
		v := math.Min(1, float64(m-rank)*ps[i])
		v = math.Max(v, prev)
		out[i], prev = v, v
	}
	return out
}
