// Package learnplot draws a training run's learning curve (any metric of
// its episodes, against reference lines) as PNG, SVG or PDF, by the file's
// extension. Environments' own figures (a load-balancing Gantt chart, say)
// live with them; this is the part every environment shares.
//
// It depends on gonum.org/v1/plot and the learning package; nothing depends
// on it but commands, notebooks and environments' plotting packages.
package learnplot

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/marlon-go/marlon/learning"
)

// Formats are the file extensions, without the dot, that a figure can be
// written in: gonum/plot's formats (png, svg, pdf, ...), chosen by the
// extension of the file's name.
func Formats() []string { return draw.Formats() }

// CheckFormat refuses a file name whose extension no figure is written in,
// before any work is done to draw it.
func CheckFormat(path string) error {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	if !slices.Contains(Formats(), ext) {
		got := "no extension"
		if ext != "" {
			got = "." + ext
		}
		return fmt.Errorf("%s: a figure is written as .%s, by the name's extension; got %s", path, strings.Join(Formats(), ", ."), got)
	}
	return nil
}

// Line is a horizontal reference line: a baseline's value, a bound.
type Line struct {
	Name  string
	Value float64
}

// Metric says which metric of the episodes to draw and how to label it.
type Metric struct {
	Name  string // the metric's name in the records ("ratio")
	Label string // the y axis's label ("makespan / lower bound")
}

// The curve's colours (matplotlib's first four) and the reference lines'.
var (
	Blue   = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	Orange = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	Green  = color.RGBA{R: 44, G: 160, B: 44, A: 255}
	Red    = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	Grey   = color.RGBA{R: 150, G: 150, B: 150, A: 255}
)

// Curve draws metric m of every training episode of c (exploring), of its
// greedy evaluations, and the reference lines (the first drawn solid black,
// as a bound, if bound is set), to path.
func Curve(path, title string, c learning.Curve, m Metric, bound *Line, lines ...Line) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "training episode"
	p.Y.Label.Text = m.Label
	p.Legend.Top = true
	p.Y.Tick.Marker = Ticks{}

	train := make(plotter.XYs, 0, len(c.Train))
	for _, r := range c.Train {
		if v, ok := r.Metrics[m.Name]; ok {
			train = append(train, plotter.XY{X: float64(r.Episode), Y: v})
		}
	}
	if len(train) > 0 {
		l, err := plotter.NewLine(train)
		if err != nil {
			return err
		}
		l.Color = Blue
		l.Width = vg.Points(0.8)
		p.Add(l)
		p.Legend.Add("training (exploring)", l)
	}
	eval := make(plotter.XYs, 0, len(c.Eval))
	for _, e := range c.Eval {
		if v, ok := e.Metrics[m.Name]; ok {
			eval = append(eval, plotter.XY{X: float64(e.After), Y: v})
		}
	}
	if len(eval) > 0 {
		l, s, err := plotter.NewLinePoints(eval)
		if err != nil {
			return err
		}
		l.Color, s.Color = Orange, Orange
		l.Width = vg.Points(1.5)
		p.Add(l, s)
		p.Legend.Add("greedy evaluation", l, s)
	}
	xmax := math.Max(1, float64(len(c.Train)))
	for i, b := range lines {
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: b.Value}, {X: xmax, Y: b.Value}})
		if err != nil {
			return err
		}
		l.Color = []color.Color{Green, Grey, Red}[i%3]
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (%.3f)", b.Name, b.Value), l)
	}
	if bound != nil {
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: bound.Value}, {X: xmax, Y: bound.Value}})
		if err != nil {
			return err
		}
		l.Color = color.Black
		l.Width = vg.Points(0.5)
		p.Add(l)
		p.Legend.Add(bound.Name, l)
		p.Y.Min = math.Min(p.Y.Min, bound.Value-0.02*math.Abs(bound.Value))
	}
	p.Add(plotter.NewGrid())
	return p.Save(8*vg.Inch, 4.5*vg.Inch, path)
}

// Ticks is gonum's default tick placement with labels that tell the ticks
// apart: gonum labels 1.05 and 1.00 both "1" on a narrow axis; these carry
// as many decimals as the spacing of the ticks needs.
type Ticks struct{}

// Ticks implements plot.Ticker.
func (Ticks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	step := math.Inf(1)
	prev := math.NaN()
	for _, t := range ticks {
		if t.Label == "" {
			continue
		}
		if !math.IsNaN(prev) {
			step = math.Min(step, t.Value-prev)
		}
		prev = t.Value
	}
	decimals := 0
	if !math.IsInf(step, 1) && step > 0 {
		decimals = max(0, int(math.Ceil(-math.Log10(step)-1e-9)))
	}
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'f', decimals, 64)
		}
	}
	return ticks
}
