package learnplot

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/marlon-go/marlon/learning"
)

func TestTickLabelsTellTicksApart(t *testing.T) {
	for _, r := range [][2]float64{{0.98, 1.12}, {1, 1.0004}, {1, 1.06}, {0, 250}, {-3, 3}, {1e-5, 3e-5}} {
		seen := map[string]bool{}
		for _, tk := range (Ticks{}).Ticks(r[0], r[1]) {
			if tk.Label == "" {
				continue
			}
			if seen[tk.Label] {
				t.Fatalf("range %v: two ticks labelled %q", r, tk.Label)
			}
			seen[tk.Label] = true
		}
		if len(seen) < 2 {
			t.Fatalf("range %v: %d labelled ticks", r, len(seen))
		}
	}
}

func TestCurveIsAReadablePNG(t *testing.T) {
	c := learning.Curve{Eval: []learning.EvalPoint{{After: 0, Metrics: map[string]float64{"ratio": 1.1}}, {After: 10, Metrics: map[string]float64{"ratio": 1.04}}}}
	for i := 1; i <= 10; i++ {
		c.Train = append(c.Train, learning.Record{Episode: i, Metrics: map[string]float64{"ratio": 1 + 0.1/float64(i)}})
	}
	path := filepath.Join(t.TempDir(), "c.png")
	if err := Curve(path, "test", c, Metric{"ratio", "makespan / lower bound"}, &Line{"lower bound", 1}, Line{"best", 1.05}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil || img.Bounds().Dx() < 100 {
		t.Fatalf("not a PNG of a figure: %v", err)
	}
}

func TestCheckFormatKnowsWhatAFigureIsWrittenIn(t *testing.T) {
	for _, ok := range []string{"c.png", "dir/C.SVG", "c.pdf"} {
		if err := CheckFormat(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"c.txt", "c", "png"} {
		if err := CheckFormat(bad); err == nil || !strings.Contains(err.Error(), ".png") {
			t.Errorf("%s: %v; want a refusal listing the formats", bad, err)
		}
	}
}
