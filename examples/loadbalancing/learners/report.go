package learners

import (
	"math"
	"sort"

	"github.com/marlon-go/marlon/examples/loadbalancing"
)

// Named is a scenario of the quality report.
type Named struct {
	Name     string                 `json:"name"`
	About    string                 `json:"about"`
	Scenario loadbalancing.Scenario `json:"scenario"`
	// Dynamic marks a scenario with joins, leaves or perturbations: one
	// where adapting pays, and the report's 2% target applies.
	Dynamic bool `json:"dynamic,omitempty"`
}

// Row is one scenario and seed of the quality report: every algorithm's
// mean makespan ratio on the same evaluation episodes.
type Row struct {
	Scenario      string             `json:"scenario"`
	Seed          uint64             `json:"seed"`
	LowerBound    float64            `json:"lower_bound"`
	Ratios        map[string]float64 `json:"ratios"`
	BestClassical string             `json:"best_classical"`
	TrainSeconds  map[string]float64 `json:"train_seconds"`
}

// Best returns the classical technique with the lowest ratio.
func (r Row) Best() (string, float64) { return r.BestClassical, r.Ratios[r.BestClassical] }

// Compare runs every algorithm in names on scenario sc with opts and returns
// the row, and the outcomes by name.
func Compare(sc Named, names []string, opts Options) (Row, map[string]Outcome, error) {
	e, err := loadbalancing.New(sc.Scenario, opts.Seed)
	if err != nil {
		return Row{}, nil, err
	}
	return compareIn(e, sc.Name, names, opts)
}

func compareIn(e *loadbalancing.Environment, name string, names []string, opts Options) (Row, map[string]Outcome, error) {
	row := Row{Scenario: name, Seed: opts.Seed, Ratios: map[string]float64{}, TrainSeconds: map[string]float64{}}
	outs := map[string]Outcome{}
	best := math.Inf(1)
	for _, name := range names {
		o, err := Run(e, name, opts)
		if err != nil {
			return row, outs, err
		}
		outs[name] = o
		row.Ratios[name] = o.Mean["ratio"]
		row.LowerBound = o.Mean["lower_bound"]
		if o.Learns {
			row.TrainSeconds[name] = o.TrainTime.Seconds()
		} else if !o.Baseline && o.Mean["ratio"] < best {
			best, row.BestClassical = o.Mean["ratio"], name
		}
	}
	return row, outs, nil
}

// SortedByRatio returns names sorted by their ratio in r, best first.
func (r Row) SortedByRatio() []string {
	names := make([]string, 0, len(r.Ratios))
	for n := range r.Ratios {
		names = append(names, n)
	}
	sort.SliceStable(names, func(i, j int) bool {
		if r.Ratios[names[i]] != r.Ratios[names[j]] {
			return r.Ratios[names[i]] < r.Ratios[names[j]]
		}
		return names[i] < names[j]
	})
	return names
}
