package lbplot

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/learning"
)

type fixed struct{ n int }

func (f fixed) InitAgent(learning.Observation)       {}
func (f fixed) IsLearning() bool                     { return false }
func (f fixed) SampleAction() learning.Action        { return learning.Action(f.n) }
func (f fixed) Update(learning.Observation, float64) {}
func (f fixed) ActionProbabilities() []float64       { return nil }
func (f fixed) AgentJoined(learning.AgentID)         {}
func (f fixed) AgentLeft(learning.AgentID)           {}

func decode(t *testing.T, path string) (w, h int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", path, err)
	}
	return img.Bounds().Dx(), img.Bounds().Dy()
}

func TestFiguresAreReadablePNGs(t *testing.T) {
	sc := loadbalancing.Default()
	sc.Job = 2000
	sc.Leaves = []loadbalancing.Leave{{At: 30, Worker: 2}} // in the middle of its second chunk
	e, err := loadbalancing.New(sc, 1)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(1, func(learning.AgentID) learning.LearningAlgorithm { return fixed{50} })
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gantt := filepath.Join(dir, "gantt.png")
	if err := Gantt(gantt, "test", res); err != nil {
		t.Fatal(err)
	}
	if w, h := decode(t, gantt); w < 500 || h < 200 {
		t.Fatalf("gantt %dx%d", w, h)
	}
	// The legend names every colour: worker 2 left with a chunk.
	svg := filepath.Join(dir, "gantt.svg")
	if err := Gantt(svg, "test", res); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(svg)
	for _, entry := range []string{"chunk (shades alternate)", "chunk handed back by a leaving worker", "makespan", "lower bound"} {
		if !strings.Contains(string(b), entry) {
			t.Errorf("the legend lacks %q", entry)
		}
	}
}
