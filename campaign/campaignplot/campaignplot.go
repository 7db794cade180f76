// Package campaignplot draws a campaign's results: for one metric, a panel
// per dimension of the campaign, each configuration's mean per method with
// its 95% confidence interval as a whisker, as PNG, SVG or PDF by the
// file's extension.
//
// It depends on gonum.org/v1/plot and the campaign package; nothing depends
// on it but commands.
package campaignplot

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/marlon-go/marlon/campaign"
	"github.com/marlon-go/marlon/learning/learnplot"
)

// Palette colours the methods, in order.
var Palette = []color.Color{
	learnplot.Blue, learnplot.Orange, learnplot.Green, learnplot.Red,
	color.RGBA{R: 148, G: 103, B: 189, A: 255}, color.RGBA{R: 140, G: 86, B: 75, A: 255},
	color.RGBA{R: 227, G: 119, B: 194, A: 255}, learnplot.Grey,
	color.RGBA{R: 188, G: 189, B: 34, A: 255}, color.RGBA{R: 23, G: 190, B: 207, A: 255},
}

// whiskers are points with asymmetric error bars.
type whiskers struct {
	plotter.XYs
	low, high []float64
}

func (w whiskers) YError(i int) (float64, float64) { return w.low[i], w.high[i] }

// Metric draws metric (its values times scale, labelled label) of every
// cell of s to path: a panel per dimension, in the order of the
// configurations, methods side by side within each configuration.
func Metric(path, title string, s *campaign.Summary, metric, label string, scale float64) error {
	if scale == 0 {
		scale = 1
	}
	var dims []string
	byDim := map[string][]campaign.Config{}
	for _, c := range s.Configs {
		if _, ok := byDim[c.Dimension]; !ok {
			dims = append(dims, c.Dimension)
		}
		byDim[c.Dimension] = append(byDim[c.Dimension], c)
	}
	if len(dims) == 0 {
		return fmt.Errorf("campaignplot: no configuration to draw")
	}
	plots := make([][]*plot.Plot, len(dims))
	m := len(s.Methods)
	for row, dim := range dims {
		p := plot.New()
		if row == 0 {
			p.Title.Text = title
		}
		p.Y.Label.Text = dim
		p.X.Label.Text = ""
		p.Y.Tick.Marker = learnplot.Ticks{}
		configs := byDim[dim]
		var names []string
		for _, c := range configs {
			_, short, ok := strings.Cut(c.Name, "-")
			if !ok {
				short = c.Name
			}
			names = append(names, short)
		}
		p.NominalX(names...)
		// Room for the whiskers at the ends, and for the legend on the left.
		p.X.Min, p.X.Max = -0.5-0.12*float64(len(configs)), float64(len(configs))-0.5
		for k, meth := range s.Methods {
			var w whiskers
			for i, c := range configs {
				cell, ok := s.Cell(c.Name, meth)
				st, has := cell.Metrics[metric]
				if !ok || !has || st.N == 0 {
					continue
				}
				x := float64(i) + (float64(k)-float64(m-1)/2)*0.8/float64(max(m, 1))
				w.XYs = append(w.XYs, plotter.XY{X: x, Y: st.Mean * scale})
				w.low = append(w.low, (st.Mean-st.Low)*scale)
				w.high = append(w.high, (st.High-st.Mean)*scale)
			}
			if len(w.XYs) == 0 {
				continue
			}
			col := Palette[k%len(Palette)]
			sc, err := plotter.NewScatter(w.XYs)
			if err != nil {
				return err
			}
			sc.Color = col
			sc.Radius = vg.Points(2.5)
			eb, err := plotter.NewYErrorBars(w)
			if err != nil {
				return err
			}
			eb.Color = col
			p.Add(sc, eb)
			if row == 0 {
				p.Legend.Add(meth, sc)
			}
		}
		pad := 0.04 * (p.Y.Max - p.Y.Min)
		p.Y.Min, p.Y.Max = p.Y.Min-pad, p.Y.Max+pad
		p.Legend.Top = true
		p.Legend.Left = true
		p.Add(plotter.NewGrid())
		plots[row] = []*plot.Plot{p}
	}
	w, h := 10*vg.Inch, vg.Length(len(dims))*2.6*vg.Inch
	ext := strings.TrimPrefix(filepath.Ext(path), ".")
	cw, err := draw.NewFormattedCanvas(w, h, ext)
	if err != nil {
		return fmt.Errorf("campaignplot: %s: %w", path, err)
	}
	dc := draw.New(cw)
	canvases := plot.Align(plots, draw.Tiles{Rows: len(dims), Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadX: vg.Points(4), PadY: vg.Points(10)}, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := cw.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
