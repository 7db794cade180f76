// Package lbplot draws the load-balancing example's own figures as PNG (or
// SVG, PDF, by the file's extension): a Gantt chart of one episode. The
// learning curve, which every environment shares, is learnplot's.
//
// It depends on gonum.org/v1/plot, learning/learnplot and the
// load-balancing example; nothing depends on it but commands and notebooks.
package lbplot

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/learning/learnplot"
)

var (
	blue  = learnplot.Blue
	green = learnplot.Green
	red   = learnplot.Red
)

// Gantt draws one episode: a row per worker, a bar per chunk from its grant
// to its end (red when handed back by a leaving worker), so that idle time is
// the white between bars; dashed lines mark the makespan and the lower bound.
func Gantt(path, title string, res loadbalancing.Result) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "time"
	p.Y.Label.Text = "worker"
	names := make([]string, len(res.Workers))
	row := map[int]int{}
	for i, w := range res.Workers {
		names[i] = fmt.Sprintf("%d (speed %g)", w.ID, w.Speed)
		row[w.ID] = i
	}
	p.NominalY(names...)
	p.Add(&bars{chunks: res.History, row: row})
	p.Legend.Add("chunk (shades alternate)", swatch{blue})
	for _, c := range res.History {
		if c.Returned {
			p.Legend.Add("chunk handed back by a leaving worker", swatch{red})
			break
		}
	}
	for _, m := range []struct {
		x    float64
		name string
		c    color.Color
	}{{res.Makespan, "makespan", color.Black}, {res.LowerBound, "lower bound", green}} {
		l, err := plotter.NewLine(plotter.XYs{{X: m.x, Y: -0.5}, {X: m.x, Y: float64(len(names)) - 0.5}})
		if err != nil {
			return err
		}
		l.Color = m.c
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s %.1f", m.name, m.x), l)
	}
	p.Legend.Top = true
	p.X.Min = 0
	p.Y.Max = float64(len(names)) + 0.4 // room for the legend above the bars
	h := vg.Length(1.6+0.35*float64(len(names))) * vg.Inch
	return p.Save(10*vg.Inch, h, path)
}

// swatch is a legend's box of colour.
type swatch struct{ color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	pts := []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Min.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Min.Y}}
	c.FillPolygon(s.Color, c.ClipPolygonY(pts))
}

// bars is a plotter of chunks as rectangles.
type bars struct {
	chunks []loadbalancing.ChunkRecord
	row    map[int]int
}

func (b *bars) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	for i, ch := range b.chunks {
		r, ok := b.row[ch.Worker]
		if !ok || ch.Done < ch.Granted {
			continue
		}
		fill := blue
		if i%2 == 1 {
			fill = color.RGBA{R: 74, G: 150, B: 205, A: 255} // alternate shades: chunk edges stay visible
		}
		if ch.Returned {
			fill = red
		}
		x0, x1 := trX(ch.Granted), trX(ch.Done)
		y0, y1 := trY(float64(r)-0.35), trY(float64(r)+0.35)
		c.FillPolygon(fill, c.ClipPolygonXY([]vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}))
	}
}

func (b *bars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmax = 0
	for _, ch := range b.chunks {
		xmax = math.Max(xmax, ch.Done)
	}
	return 0, xmax, -0.5, float64(len(b.row)) - 0.5
}
