package campaign

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Cell is one method on one configuration, over its repetitions.
type Cell struct {
	Config  string          `json:"config"`
	Method  string          `json:"method"`
	N       int             `json:"n"`
	Metrics map[string]Stat `json:"metrics"`
}

// Summary is a campaign's results: a Cell per configuration and method,
// and the tests between methods.
type Summary struct {
	Manifest
	Cells []Cell `json:"cells"`
	Tests []Test `json:"tests"`
	// Missing counts the runs the results lack (a campaign not finished).
	Missing int `json:"missing"`
}

// Summarize computes the statistics of a campaign's records: every
// metric's Stat per configuration and method, and for the metrics named in
// tested (all if none), a paired t-test for every pair of methods on every
// configuration, Holm-adjusted over the configurations. A record that
// repeats an earlier one's configuration, method and repetition is
// ignored.
func Summarize(m Manifest, records []Record, tested ...string) *Summary {
	s := &Summary{Manifest: m}
	byKey := map[key]Record{}
	for _, r := range records {
		k := key{r.Config, r.Method, r.Rep}
		if _, dup := byKey[k]; !dup {
			byKey[k] = r
		}
	}
	metricSet := map[string]bool{}
	for _, r := range byKey {
		for name := range r.Metrics {
			metricSet[name] = true
		}
	}
	metrics := make([]string, 0, len(metricSet))
	for name := range metricSet {
		metrics = append(metrics, name)
	}
	sort.Strings(metrics)
	if len(tested) == 0 {
		tested = metrics
	}
	// values[config][method][metric] by repetition (NaN where missing).
	get := func(c, meth, metric string) ([]float64, []int) {
		var xs []float64
		var reps []int
		for rep := 1; rep <= m.Reps; rep++ {
			r, ok := byKey[key{c, meth, rep}]
			if !ok {
				continue
			}
			if v, ok := r.Metrics[metric]; ok {
				xs = append(xs, v)
				reps = append(reps, rep)
			}
		}
		return xs, reps
	}
	for _, c := range m.Configs {
		for _, meth := range m.Methods {
			cell := Cell{Config: c.Name, Method: meth, Metrics: map[string]Stat{}}
			for rep := 1; rep <= m.Reps; rep++ {
				if _, ok := byKey[key{c.Name, meth, rep}]; ok {
					cell.N++
				} else {
					s.Missing++
				}
			}
			for _, metric := range metrics {
				if xs, _ := get(c.Name, meth, metric); len(xs) > 0 {
					cell.Metrics[metric] = Describe(xs)
				}
			}
			s.Cells = append(s.Cells, cell)
		}
	}
	for _, metric := range tested {
		for i, a := range m.Methods {
			for _, b := range m.Methods[i+1:] {
				first := len(s.Tests)
				for _, c := range m.Configs {
					xa, ra := get(c.Name, a, metric)
					xb, rb := get(c.Name, b, metric)
					pa, pb := pairUp(xa, ra, xb, rb)
					if len(pa) == 0 {
						continue
					}
					d := make([]float64, len(pa))
					for k := range pa {
						d[k] = pa[k] - pb[k]
					}
					t, p := PairedT(pa, pb)
					s.Tests = append(s.Tests, Test{Config: c.Name, Metric: metric, A: a, B: b, Diff: Describe(d), T: t, P: p})
				}
				group := s.Tests[first:]
				ps := make([]float64, len(group))
				for k := range group {
					ps[k] = group[k].P
				}
				for k, ph := range Holm(ps) {
					group[k].PHolm = ph
					group[k].Significant = ph < 0.05
				}
			}
		}
	}
	return s
}

// pairUp keeps the repetitions both methods ran.
func pairUp(xa []float64, ra []int, xb []float64, rb []int) (a, b []float64) {
	at := map[int]float64{}
	for k, r := range rb {
		at[r] = xb[k]
	}
	for k, r := range ra {
		if v, ok := at[r]; ok {
			a, b = append(a, xa[k]), append(b, v)
		}
	}
	return a, b
}

// Cell returns the cell of method on config.
func (s *Summary) Cell(config, method string) (Cell, bool) {
	for _, c := range s.Cells {
		if c.Config == config && c.Method == method {
			return c, true
		}
	}
	return Cell{}, false
}

// Test returns the test of a against b on metric and config. A test run
// the other way round (b against a) is returned turned round: Diff is a -
// b and T's sign flipped.
func (s *Summary) Test(config, metric, a, b string) (Test, bool) {
	for _, t := range s.Tests {
		if t.Config != config || t.Metric != metric {
			continue
		}
		if t.A == a && t.B == b {
			return t, true
		}
		if t.A == b && t.B == a {
			t.A, t.B = a, b
			t.Diff.Mean, t.Diff.Low, t.Diff.High = -t.Diff.Mean, -t.Diff.High, -t.Diff.Low
			if t.T != nil {
				v := -*t.T
				t.T = &v
			}
			return t, true
		}
	}
	return Test{}, false
}

// Column is a metric in a table, and how to print it.
type Column struct {
	Title, Metric string
	// Scale multiplies the values (100 for a percentage).
	Scale  float64
	Digits int
}

// WriteTable writes one row per configuration and method: each column's
// mean with the half-width of its 95% confidence interval.
func (s *Summary) WriteTable(w io.Writer, cols []Column) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	head := "configuration\tmethod\tn\t"
	for _, c := range cols {
		head += c.Title + "\t"
	}
	fmt.Fprintln(tw, head)
	last := ""
	for _, cell := range s.Cells {
		name := cell.Config
		if name == last {
			name = ""
		}
		last = cell.Config
		line := fmt.Sprintf("%s\t%s\t%d\t", name, cell.Method, cell.N)
		for _, c := range cols {
			line += formatStat(cell.Metrics[c.Metric], c) + "\t"
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

func formatStat(st Stat, c Column) string {
	if st.N == 0 {
		return "-"
	}
	scale := c.Scale
	if scale == 0 {
		scale = 1
	}
	f := fmt.Sprintf("%%.%df", c.Digits)
	out := fmt.Sprintf(f, st.Mean*scale)
	if st.N > 1 {
		out += " ± " + fmt.Sprintf(f, st.HalfWidth()*scale)
	}
	return out
}

// WriteMarkdown writes the table as Markdown.
func (s *Summary) WriteMarkdown(w io.Writer, cols []Column) error {
	var b strings.Builder
	b.WriteString("| configuration | method | n |")
	for _, c := range cols {
		b.WriteString(" " + c.Title + " |")
	}
	b.WriteString("\n| --- | --- | ---: |" + strings.Repeat(" ---: |", len(cols)) + "\n")
	last := ""
	for _, cell := range s.Cells {
		name := cell.Config
		if name == last {
			name = ""
		}
		last = cell.Config
		fmt.Fprintf(&b, "| %s | %s | %d |", name, cell.Method, cell.N)
		for _, c := range cols {
			b.WriteString(" " + formatStat(cell.Metrics[c.Metric], c) + " |")
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
