// Package schedplot draws the scheduling example's own figure as PNG (or
// SVG, PDF, by the file's extension): a Gantt chart of one episode, jobs
// on nodes over time. The learning curve, which every environment shares,
// is learnplot's.
//
// It depends on gonum.org/v1/plot, learning/learnplot and the scheduling
// example; nothing depends on it but commands and notebooks.
package schedplot

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/marlon-go/marlon/examples/scheduling"
	"github.com/marlon-go/marlon/learning/learnplot"
)

var (
	blue  = learnplot.Blue
	light = color.RGBA{R: 74, G: 150, B: 205, A: 255}
	red   = learnplot.Red
	grey  = color.RGBA{R: 200, G: 200, B: 200, A: 255}
)

// Gantt draws one episode: a row per node, and in it a bar per run of a
// job, as tall as the share of the node's cores the job holds, stacked
// where runs overlap (blue: completed; red: lost when the node was
// declared failed); grey marks when the node was down (from its failure
// to its next registration). A dashed line marks the makespan.
func Gantt(path, title string, res scheduling.Result, capacities []scheduling.Resources) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "time (s)"
	p.Y.Label.Text = "node"
	names := make([]string, len(capacities))
	for i, c := range capacities {
		names[i] = fmt.Sprintf("%s (%d cores", scheduling.NodeName(i), c.Cores)
		if c.GPUs > 0 {
			names[i] += fmt.Sprintf(", %d GPUs", c.GPUs)
		}
		names[i] += ")"
	}
	p.NominalY(names...)
	g := &gantt{capacities: capacities, end: math.Max(res.Makespan, res.Ledger.Ended)}
	for _, j := range res.Ledger.Jobs {
		for _, r := range j.Runs {
			end := r.End
			if r.Outcome == "running" {
				end = g.end
			}
			g.bars = append(g.bars, bar{node: r.Node, start: r.Start, end: end, cores: j.Needs.Cores, lost: r.Outcome == "lost", id: j.ID})
		}
	}
	// Down time, by the ledger: from a failure to the node's next
	// registration.
	for _, f := range res.Ledger.Failures {
		back := g.end
		for _, reg := range res.Ledger.Registrations {
			if reg.Node == f.Node && reg.At >= f.Detected {
				back = math.Min(back, reg.At)
			}
		}
		g.down = append(g.down, bar{node: f.Node, start: f.LastSeen, end: back})
	}
	p.Add(g)
	l, err := plotter.NewLine(plotter.XYs{{X: res.Makespan, Y: -0.5}, {X: res.Makespan, Y: float64(len(names)) - 0.5}})
	if err != nil {
		return err
	}
	l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(l)
	p.Legend.Add(fmt.Sprintf("makespan %.0f s", res.Makespan), l)
	for _, k := range []struct {
		name string
		c    color.Color
	}{{"completed run", blue}, {"run lost with its node", red}, {"node down", grey}} {
		p.Legend.Add(k.name, swatch{k.c})
	}
	p.Legend.Top = true
	p.X.Min = 0
	p.Y.Max = float64(len(names)) + 0.9 // room for the legend above the bars
	h := vg.Length(2+0.45*float64(len(names))) * vg.Inch
	return p.Save(11*vg.Inch, h, path)
}

type bar struct {
	node       int
	start, end float64
	cores, id  int
	lost       bool
}

// gantt plots runs as rectangles, stacked within each node's row.
type gantt struct {
	capacities []scheduling.Resources
	bars, down []bar
	end        float64
}

func (g *gantt) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	rect := func(x0, x1, y0, y1 float64, fill color.Color) {
		X0, X1, Y0, Y1 := trX(x0), trX(x1), trY(y0), trY(y1)
		c.FillPolygon(fill, c.ClipPolygonXY([]vg.Point{{X: X0, Y: Y0}, {X: X1, Y: Y0}, {X: X1, Y: Y1}, {X: X0, Y: Y1}}))
	}
	for _, d := range g.down {
		rect(d.start, d.end, float64(d.node)-0.45, float64(d.node)+0.45, grey)
	}
	// Stack the runs of each node: a run goes at the lowest level free of
	// the runs it overlaps (first fit over the cores, by start time).
	type placed struct {
		b     bar
		level int
	}
	byNode := map[int][]placed{}
	for _, b := range g.bars {
		if b.node < 0 || b.node >= len(g.capacities) || b.end < b.start {
			continue
		}
		level := 0
		for {
			clash := false
			for _, o := range byNode[b.node] {
				if o.b.start < b.end && b.start < o.b.end && level < o.level+o.b.cores && o.level < level+b.cores {
					clash, level = true, o.level+o.b.cores
				}
			}
			if !clash {
				break
			}
		}
		byNode[b.node] = append(byNode[b.node], placed{b, level})
		cores := float64(max(g.capacities[b.node].Cores, 1))
		y0 := float64(b.node) - 0.4 + 0.8*float64(level)/cores
		y1 := y0 + 0.8*float64(b.cores)/cores
		fill := blue
		if b.id%2 == 1 {
			fill = light // alternate shades: the runs' edges stay visible
		}
		if b.lost {
			fill = red
		}
		rect(b.start, b.end, y0, math.Min(y1, float64(b.node)+0.45), fill)
	}
}

func (g *gantt) DataRange() (xmin, xmax, ymin, ymax float64) {
	return 0, math.Max(g.end, 1), -0.5, float64(len(g.capacities)) - 0.5
}

// swatch is a legend entry's coloured square.
type swatch struct{ c color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(s.c, []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y}})
}
