package learners

import (
	"fmt"
	"strings"
	"sync"

	"github.com/marlon-go/marlon/algorithms/dls"
	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/learning"
)

// TechniqueAdapter is the name of the technique-selection adapter.
const TechniqueAdapter = "technique"

func init() {
	loadbalancing.RegisterAdapter(TechniqueAdapter,
		"technique selection: at each decision, which classical technique sizes the chunk ("+strings.Join(Classical(), ", ")+")",
		func(e *loadbalancing.Environment) (learning.Adapter, error) {
			return NewTechniques(e.Spec(loadbalancing.AgentID(0)), loadbalancing.FeaturesOf(e.Version()), nil)
		})
}

// Techniques is the action space of technique selection, the formulation
// of the reinforcement-learning approaches to DLS in the literature: at
// each decision the agent picks which classical self-scheduling technique
// sizes its next chunk, and the chunk is that technique's. The learner
// sees the version's features (loadbalancing.FeaturesOf); its actions are
// the techniques, labelled by their names (so the fixed baselines of this
// space, fixed:fac2 and so on, are the classical techniques themselves).
//
// Every technique keeps its state as it would alone (factoring's batches,
// TSS's counter, AWF-B's weights, ...): each one sees every decision of
// every agent, in the order the Master serves them, and sizes a chunk at
// each, whichever the agent takes; its state is that of the technique run
// on the history as it happened. An agent that always picks one technique
// therefore gets exactly that technique's chunks. The techniques' state
// belongs to the adapter, shared by the agents of an episode as a
// technique's policy is (it plays the part of the Master that computes the
// chunks); each agent's own view (ForAgent) holds its per-agent state.
type Techniques struct {
	techniques []dls.Technique
	features   *learning.Schema
	policies   []*dls.Policy
	solo       learning.Adapter // the view of Act called on the adapter itself
}

var (
	_ learning.AgentAdapter = (*Techniques)(nil)
	_ learning.Episodic     = (*Techniques)(nil)
)

// NewTechniques returns the technique-selection adapter for agents whose
// own Spec is native, showing learners the features schema, over the
// given techniques (nil: every one, in the order of dls.Techniques).
func NewTechniques(native learning.Spec, features *learning.Schema, techniques []dls.Technique) (*Techniques, error) {
	if techniques == nil {
		techniques = dls.Techniques()
	}
	if len(techniques) == 0 {
		return nil, fmt.Errorf("technique selection needs at least one technique")
	}
	t := &Techniques{techniques: techniques, features: features}
	for _, k := range techniques {
		p, err := dls.New(k, native, dls.WithCV(native.Params[loadbalancing.ParamCV]))
		if err != nil {
			return nil, err
		}
		t.policies = append(t.policies, p)
	}
	t.solo = t.ForAgent("")
	return t, nil
}

// Spec implements learning.Adapter: the features, one action per technique.
func (t *Techniques) Spec() learning.Spec {
	labels := make([]string, len(t.techniques))
	for i, k := range t.techniques {
		labels[i] = string(k)
	}
	return learning.Spec{Observation: t.features, Actions: learning.ActionSpace{N: len(labels), Labels: labels}}
}

// Observe implements learning.Adapter: the worker's features.
func (t *Techniques) Observe(obs learning.Observation) learning.Observation {
	return loadbalancing.ObserveFeatures(obs, t.features)
}

// Act implements learning.Adapter through a view of its own, for use
// without Adapt (which gives each agent its view).
func (t *Techniques) Act(obs learning.Observation, k learning.Action) learning.Action {
	return t.solo.Act(obs, k)
}

// ForAgent implements learning.AgentAdapter: agent id's view, with an agent
// of every technique.
func (t *Techniques) ForAgent(id learning.AgentID) learning.Adapter {
	v := &techniqueView{t: t}
	for _, p := range t.policies {
		v.agents = append(v.agents, p.NewAgent(id))
	}
	v.sizes = make([]learning.Action, len(t.policies))
	return v
}

// BeginEpisode implements learning.Episodic: every technique forgets the
// last episode's batches and fixed chunks.
func (t *Techniques) BeginEpisode() {
	for _, p := range t.policies {
		p.BeginEpisode()
	}
}

// EndEpisode implements learning.Episodic.
func (t *Techniques) EndEpisode() {}

// techniqueView is one agent's view: an agent of every technique, fed its
// observations, and the chunks they sized at its latest decision.
type techniqueView struct {
	t        *Techniques
	mu       sync.Mutex
	agents   []learning.LearningAlgorithm
	begin    bool // the next observation starts an episode
	started  bool
	decided  bool // sizes holds the chunks for the latest observation
	sizes    []learning.Action
	lastSeen []float64
}

// BeginAgent marks the start of the agent's episode.
func (v *techniqueView) BeginAgent() {
	v.mu.Lock()
	v.begin = true
	v.mu.Unlock()
}

func (v *techniqueView) Spec() learning.Spec { return v.t.Spec() }

// Observe passes the observation on to every technique's agent (as the
// start of an episode after BeginAgent) and returns the features.
func (v *techniqueView) Observe(obs learning.Observation) learning.Observation {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.see(obs)
	return v.t.Observe(obs)
}

func (v *techniqueView) see(obs learning.Observation) {
	for _, a := range v.agents {
		if v.begin || !v.started {
			a.InitAgent(obs)
		} else {
			a.Update(obs, 0)
		}
	}
	v.begin, v.started, v.decided = false, true, false
	v.lastSeen = append(v.lastSeen[:0], obs.Values...)
}

// Act returns technique k's chunk for the latest decision. The first call
// for an observation has every technique size its chunk (each advancing
// its state, as it would alone); later calls for the same observation
// (ActionProbabilities asks about every action) read them.
func (v *techniqueView) Act(obs learning.Observation, k learning.Action) learning.Action {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.started || !same(v.lastSeen, obs.Values) {
		v.see(obs) // used without Observe (the adapter's own Act)
	}
	if !v.decided {
		for i, a := range v.agents {
			v.sizes[i] = a.SampleAction()
		}
		v.decided = true
	}
	return v.sizes[k]
}

func same(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
