package learners

import (
	"reflect"
	"testing"

	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/learning"
)

// chunkSizes runs name on e with opts and returns every worker's chunk
// sizes, in order, in each evaluation episode, and the mean makespan.
func chunkSizes(t *testing.T, e *loadbalancing.Environment, name string, opts env.RunOptions) ([][][]int, float64) {
	t.Helper()
	var out [][][]int
	opts.OnEval = func(_ string, _ int, o env.Outcome) {
		var ep [][]int
		for _, w := range o.Episode.(*loadbalancing.Episode).Result().Workers {
			ep = append(ep, w.ChunkSizes)
		}
		out = append(out, ep)
	}
	r, err := env.Run(e, name, opts)
	if err != nil {
		t.Fatal(err)
	}
	return out, r.Mean["makespan"]
}

func TestTechniqueSelectionReproducesEachTechnique(t *testing.T) {
	plain := loadbalancing.Default()
	plain.Job = 3000
	dynamic := plain
	dynamic.Joins = []loadbalancing.Join{{At: 40, Count: 2}}
	dynamic.Leaves = []loadbalancing.Leave{{At: 70, Worker: 3}}
	dynamic.Slows = []loadbalancing.Slow{{Worker: 1, At: 30, Factor: 0.3}}
	dynamic.Perturb = []loadbalancing.Perturbation{{Target: "latency", Model: "onoff", Up: 20, Down: 5, Factor: 4}}
	dynamic.RandomJoins = []loadbalancing.RandomJoin{{Count: 1, From: 10, To: 60}}
	for _, sc := range []struct {
		name    string
		version string
		s       loadbalancing.Scenario
	}{{"plain v1", "v1", plain}, {"dynamic v3", "v3", dynamic}} {
		e, err := loadbalancing.NewVersion(sc.version, sc.s, 5)
		if err != nil {
			t.Fatal(err)
		}
		ad, err := e.Adapter(TechniqueAdapter)
		if err != nil {
			t.Fatal(err)
		}
		if got := ad.Spec().Actions.Labels; !reflect.DeepEqual(got, Classical()) {
			t.Fatalf("the actions are %v, want the techniques %v", got, Classical())
		}
		for _, k := range Classical() {
			opts := env.RunOptions{Seed: 2, EvalEpisodes: 2, Actions: TechniqueAdapter}
			a, own := chunkSizes(t, e, k, opts)
			b, picked := chunkSizes(t, e, "fixed:"+k, opts)
			if len(a) != 2 || len(a[1]) == 0 || len(a[1][0]) == 0 {
				t.Fatalf("%s, %s: no chunk sizes to compare (%v)", sc.name, k, a)
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("%s: always picking %s gave chunks %v, the technique %v", sc.name, k, b, a)
			}
			if own != picked {
				t.Errorf("%s, %s: makespan %v picked, %v its own", sc.name, k, picked, own)
			}
		}
	}
}

func TestTechniqueSelectionMixesTechniques(t *testing.T) {
	// An agent that alternates between GSS and FAC2 gets, at each
	// decision, the chunk of the one it picks, each sized on the history
	// as it happened: at the first decisions, ceil(R/P) and FAC2's first
	// batch's ceil(R_b/(2P)).
	sc := loadbalancing.Default()
	sc.Job, sc.Workers, sc.Speeds = 800, 2, []float64{1, 1}
	e, _ := loadbalancing.New(sc, 1)
	ad, _ := e.Adapter(TechniqueAdapter)
	spec := ad.Spec()
	idx := func(name string) learning.Action {
		for i, l := range spec.Actions.Labels {
			if l == name {
				return spec.Actions.Action(i)
			}
		}
		t.Fatalf("no action %s", name)
		return 0
	}
	p := learning.Adapt(alternate{[]learning.Action{idx("gss"), idx("fac2")}}, ad, e.Spec(loadbalancing.AgentID(0)).Actions)
	team := learning.NewSharedTeam(p)
	team.BeginEpisode()
	res, err := e.Run(1, team.Agent)
	team.EndEpisode()
	if err != nil {
		t.Fatal(err)
	}
	// Decisions in the order served: w0 picks gss (800/2 = 400), w1 fac2
	// (the first batch: 800/4 = 200), then the pool is 200: whoever comes
	// next picks by its own count of decisions.
	if got := res.Workers[0].ChunkSizes[0]; got != 400 {
		t.Fatalf("gss first: %d, want 400", got)
	}
	if got := res.Workers[1].ChunkSizes[0]; got != 200 {
		t.Fatalf("fac2 second: %d, want 200 (its first batch, of the 800 units there were when the batch began)", got)
	}
}

// alternate picks its actions in turn, each agent from the first.
type alternate struct{ acts []learning.Action }

func (a alternate) Name() string { return "alternate" }
func (a alternate) NewAgent(learning.AgentID) learning.LearningAlgorithm {
	return &alternateAgent{acts: a.acts}
}

type alternateAgent struct {
	acts []learning.Action
	n    int
}

func (a *alternateAgent) InitAgent(learning.Observation) { a.n = 0 }
func (a *alternateAgent) IsLearning() bool               { return false }
func (a *alternateAgent) SampleAction() learning.Action {
	a.n++
	return a.acts[(a.n-1)%len(a.acts)]
}
func (a *alternateAgent) Update(learning.Observation, float64) {}
func (a *alternateAgent) ActionProbabilities() []float64 {
	p := make([]float64, len(a.acts))
	p[a.n%len(a.acts)] = 1
	return p
}
func (a *alternateAgent) AgentJoined(learning.AgentID) {}
func (a *alternateAgent) AgentLeft(learning.AgentID)   {}
