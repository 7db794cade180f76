package campaignplot

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/marlon-go/marlon/campaign"
)

func TestMetricDrawsEveryDimension(t *testing.T) {
	cs := campaign.Seed003()
	m := campaign.Manifest{Seed: 1, Reps: 3, Methods: []string{"a", "b"}, Configs: cs}
	var recs []campaign.Record
	for _, c := range cs {
		for rep := 1; rep <= 3; rep++ {
			for i, meth := range m.Methods {
				recs = append(recs, campaign.Record{Config: c.Name, Method: meth, Rep: rep, Metrics: map[string]float64{"x": float64(rep + i)}})
			}
		}
	}
	s := campaign.Summarize(m, recs)
	dir := t.TempDir()
	for _, name := range []string{"x.png", "x.svg"} {
		path := filepath.Join(dir, name)
		if err := Metric(path, "x", s, "x", "x", 100); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(path); err != nil || st.Size() < 5000 {
			t.Fatalf("%s: %v, %v", name, st, err)
		}
	}
	if err := Metric(filepath.Join(dir, "x.nope"), "x", s, "x", "x", 1); err == nil {
		t.Fatal("an unknown format was accepted")
	}
}
