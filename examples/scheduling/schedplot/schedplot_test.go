package schedplot

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/marlon-go/marlon/examples/scheduling"
)

// A Gantt chart of an episode with a crash is drawn, in each format.
func TestGantt(t *testing.T) {
	sc := scheduling.Default()
	sc.Nodes, sc.GPUNodes, sc.Jobs = 4, 1, 40
	sc.Crashes = []scheduling.Crash{{Node: 1, At: 500, Down: 300}}
	e, err := scheduling.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Run(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{"png", "svg", "pdf"} {
		path := filepath.Join(t.TempDir(), "gantt."+ext)
		if err := Gantt(path, "test", r, sc.Capacities()); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(path); err != nil || st.Size() < 1000 {
			t.Fatalf("%s: %v", ext, err)
		}
	}
}
