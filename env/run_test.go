package env

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/learning"
)

// arms is a toy environment: each of its agents pulls one of four arms
// (native actions 0..3) a few times; arm a pays a plus noise. Its metric
// "regret" is the best arm's pay minus the mean pay. Its adapter "pair"
// offers generic learners two actions: arm 0 or arm 3.
type arms struct {
	version string
	agents  int
	forever bool // an episode that never ends
}

var armsObs = learning.NewSchema("arms/obs", "t")

func (e arms) Name() string { return "armstest/" + e.version }
func (e arms) PossibleAgents() []learning.AgentID {
	var ids []learning.AgentID
	for i := range e.agents {
		ids = append(ids, learning.AgentID(rune('a'+i)))
	}
	return ids
}
func (e arms) Spec(learning.AgentID) learning.Spec {
	return learning.Spec{Observation: armsObs, Actions: learning.Discrete(4)}
}
func (e arms) Adapters() []string { return []string{"pair"} }
func (e arms) Adapter(name string) (learning.Adapter, error) {
	if name != "" && name != "pair" {
		return nil, errors.New("unknown adapter " + name)
	}
	return pair{}, nil
}

type pair struct{}

var pairObs = learning.NewSchema("arms/pair", "t")

func (pair) Spec() learning.Spec {
	return learning.Spec{Observation: pairObs, Actions: learning.Discrete(2)}
}
func (pair) Observe(o learning.Observation) learning.Observation {
	return learning.Observation{Schema: pairObs, Values: o.Values, Terminal: o.Terminal}
}
func (pair) Act(_ learning.Observation, a learning.Action) learning.Action { return 3 * a }

type armsEpisode struct {
	Ending
	mu         sync.Mutex
	pay, pulls float64
	left       int
	trimmed    bool
}

func (ep *armsEpisode) Trim() { ep.trimmed = true }

func (ep *armsEpisode) Metrics() Metrics {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return Metrics{"regret": 3 - ep.pay/max(ep.pulls, 1)}
}

func (e arms) Start(rt actors.Runtime, seed uint64, agents Agents) (Episode, error) {
	ep := &armsEpisode{left: e.agents}
	noise := rand.New(rand.NewPCG(seed, 7))
	for _, id := range e.PossibleAgents() {
		ag := Attach(id, agents(id))
		n, last := 0, 0.0 // pulls so far, the last one's pay
		rt.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
			if e.forever {
				ctx.After(1, nil)
				return
			}
			if n == 5 {
				ag.Finish(learning.Observation{Schema: armsObs, Values: []float64{float64(n)}}, last)
				ep.mu.Lock()
				ep.left--
				if ep.left == 0 {
					ep.End()
				}
				ep.mu.Unlock()
				return
			}
			a, _ := ag.Act(learning.Observation{Schema: armsObs, Values: []float64{float64(n)}}, last)
			pay := float64(a) + noise.Float64()
			last = pay
			ep.mu.Lock()
			ep.pay += pay
			ep.pulls++
			ep.mu.Unlock()
			n++
			ctx.After(1, nil)
		}))
	}
	return ep, nil
}

// first always pulls arm 0; greedyBandit learns which of its actions pays.
type first struct{}

func (first) Name() string                                         { return "first" }
func (first) NewAgent(learning.AgentID) learning.LearningAlgorithm { return firstAgent{} }

type firstAgent struct{}

func (firstAgent) InitAgent(learning.Observation)       {}
func (firstAgent) IsLearning() bool                     { return false }
func (firstAgent) SampleAction() learning.Action        { return 0 }
func (firstAgent) Update(learning.Observation, float64) {}
func (firstAgent) ActionProbabilities() []float64       { return []float64{1, 0, 0, 0} }
func (firstAgent) AgentJoined(learning.AgentID)         {}
func (firstAgent) AgentLeft(learning.AgentID)           {}

func init() {
	learning.RegisterFor("armstest", learning.Algorithm{Name: "first", Native: true, New: func(s learning.Spec) (learning.Policy, error) {
		if s.Actions.N != 4 {
			return nil, errors.New("first wants the native arms")
		}
		return first{}, nil
	}})
	learning.RegisterFor("armstest", learning.Algorithm{Name: "greedy", Learns: true, New: func(s learning.Spec) (learning.Policy, error) {
		return newGreedy(s), nil
	}})
	// picky accepts only the native arms, not the adapter's pair.
	learning.RegisterFor("armstest", learning.Algorithm{Name: "picky", Learns: true,
		New: func(s learning.Spec) (learning.Policy, error) { return newGreedy(s), nil },
		Accepts: func(s learning.Spec) error {
			if s.Actions.N != 4 {
				return errors.New("picky wants four actions")
			}
			return nil
		},
	})
	// arm:K always pulls the learner's action K, one instance per action.
	learning.RegisterFor("armstest", learning.Algorithm{Name: "arm", Baseline: true,
		NewWith: func(p string, s learning.Spec) (learning.Policy, error) {
			if p != "0" && p != "1" {
				return nil, errors.New("no such arm " + p)
			}
			return always(p[0] - '0'), nil
		},
		Params: func(s learning.Spec) []string {
			var ps []string
			for i := range s.Actions.N {
				ps = append(ps, string(rune('0'+i)))
			}
			return ps
		},
	})
}

type always learning.Action

func (a always) Name() string                                         { return "arm" }
func (a always) NewAgent(learning.AgentID) learning.LearningAlgorithm { return alwaysAgent(a) }

type alwaysAgent learning.Action

func (alwaysAgent) InitAgent(learning.Observation)       {}
func (alwaysAgent) IsLearning() bool                     { return false }
func (a alwaysAgent) SampleAction() learning.Action      { return learning.Action(a) }
func (alwaysAgent) Update(learning.Observation, float64) {}
func (alwaysAgent) ActionProbabilities() []float64       { return nil }
func (alwaysAgent) AgentJoined(learning.AgentID)         {}
func (alwaysAgent) AgentLeft(learning.AgentID)           {}

func TestExpandRunsEveryInstanceOfAParametricBaseline(t *testing.T) {
	e := arms{version: "v1", agents: 2}
	names, err := Expand(e, "", []string{"first", "arm", "picky", "greedy"})
	if err != nil || strings.Join(names, " ") != "first arm:0 arm:1 greedy" {
		t.Fatalf("expanded %v, %v", names, err)
	}
	res, err := Compare(e, names[1:3], RunOptions{Seed: 1, EvalEpisodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Through the adapter, arm:0 pulls arm 0 and arm:1 arm 3.
	if !res[0].Baseline || res[0].Mean["regret"] < 2 || res[1].Mean["regret"] > 0.5 {
		t.Fatalf("arm:0 regret %v, arm:1 regret %v", res[0].Mean["regret"], res[1].Mean["regret"])
	}
	if _, err := Run(e, "picky", RunOptions{EvalEpisodes: 1}); err == nil || !strings.Contains(err.Error(), "four actions") {
		t.Fatalf("an algorithm whose Accepts refuses the adapter's spec: %v", err)
	}
	if _, err := Run(e, "arm", RunOptions{EvalEpisodes: 1}); err == nil || !strings.Contains(err.Error(), "arm:PARAM") {
		t.Fatalf("a parametric algorithm without a parameter: %v", err)
	}
	if _, err := Run(e, "arm:7", RunOptions{EvalEpisodes: 1}); err == nil || !strings.Contains(err.Error(), "no such arm") {
		t.Fatalf("a bad parameter: %v", err)
	}
}

func TestRunTrainsLearnersAndMeasuresEveryAlgorithmOnTheSameEpisodes(t *testing.T) {
	e := arms{version: "v1", agents: 3}
	opts := RunOptions{Seed: 4, Episodes: 30, EvalEvery: 10, EvalEpisodes: 3, Select: "regret"}
	res, err := Compare(e, []string{"first", "greedy"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if len(r.Eval) != 3 || r.Mean == nil {
			t.Fatalf("%s: %d evaluation episodes, mean %v", r.Algorithm, len(r.Eval), r.Mean)
		}
	}
	first, greedy := res[0], res[1]
	if first.Learns || first.Curve != nil || !greedy.Learns || greedy.Curve == nil || len(greedy.Curve.Train) != 30 {
		t.Fatalf("first learns %v, greedy learns %v", first.Learns, greedy.Learns)
	}
	// The learner made for the adapter's spec found arm 3 (regret -1 to 0); arm 0
	// regrets 2 to 3 (3 minus a pay of 0 plus noise in [0, 1)).
	if first.Mean["regret"] < 2 || greedy.Mean["regret"] > 0.5 {
		t.Fatalf("regrets: first %v, greedy %v", first.Mean["regret"], greedy.Mean["regret"])
	}
	if !greedy.Spec.Same(pair{}.Spec()) || !first.Spec.Same(e.Spec("a")) {
		t.Fatal("a generic learner is made for the adapter's spec, a native one for the agents'")
	}
	// A checkpoint records the environment's version: it loads into the same one only.
	c, err := greedy.Checkpoint(e)
	if err != nil || c.Environment != "armstest/v1" {
		t.Fatalf("checkpoint %+v, %v", c, err)
	}
	back, err := Run(e, "greedy", RunOptions{Seed: 9, EvalEpisodes: 2, Load: c})
	if err != nil || back.Mean["regret"] > 0.5 {
		t.Fatalf("loaded into v1: regret %v, %v", back.Mean["regret"], err)
	}
	if _, err := Run(arms{version: "v2", agents: 3}, "greedy", RunOptions{Seed: 9, EvalEpisodes: 2, Load: c}); !errors.Is(err, learning.ErrCheckpoint) || !strings.Contains(err.Error(), "armstest/v1, not armstest/v2") {
		t.Fatalf("a checkpoint of v1 loaded into v2: %v", err)
	}
}

func TestRunKeepsTheFirstEvaluationEpisodeWholeAndTrimsTheOthers(t *testing.T) {
	for _, name := range []string{"first", "greedy"} {
		r, err := Run(arms{version: "v1", agents: 2}, name, RunOptions{Seed: 1, Episodes: 4, EvalEpisodes: 3})
		if err != nil {
			t.Fatal(err)
		}
		var trimmed []bool
		for _, o := range r.Eval {
			trimmed = append(trimmed, o.Episode.(*armsEpisode).trimmed)
		}
		if fmt.Sprint(trimmed) != "[false true true]" {
			t.Fatalf("%s: evaluation episodes trimmed %v, want [false true true]", name, trimmed)
		}
	}
}

func TestRunRefusesWhatCannotRun(t *testing.T) {
	e := arms{version: "v1", agents: 2}
	if _, err := Run(e, "nonesuch", RunOptions{EvalEpisodes: 1}); err == nil || !strings.Contains(err.Error(), "first") {
		t.Fatalf("an unknown algorithm: %v", err)
	}
	if _, err := Run(e, "greedy", RunOptions{EvalEpisodes: 1, Actions: "triple"}); err == nil || !strings.Contains(err.Error(), "triple") {
		t.Fatalf("an unknown adapter: %v", err)
	}
	if _, err := Run(counter{target: 1}, "greedy", RunOptions{EvalEpisodes: 1}); err == nil {
		t.Fatal("a generic learner in an environment without adapters")
	}
	if _, err := Run(arms{version: "v1", agents: 1, forever: true}, "first", RunOptions{EvalEpisodes: 1, Limit: 50}); !errors.Is(err, ErrTimeLimit) {
		t.Fatalf("an episode past its limit: %v", err)
	}
	if _, err := Run(e, "first", RunOptions{}); err == nil {
		t.Fatal("no evaluation episode")
	}
}

// greedyBandit is a shared epsilon-greedy bandit over its actions, with a model.
type greedyBandit struct {
	mu       sync.Mutex
	values   []float64
	counts   []float64
	learning bool
	rng      *rand.Rand
}

func newGreedy(s learning.Spec) *greedyBandit {
	return &greedyBandit{values: make([]float64, s.Actions.N), counts: make([]float64, s.Actions.N), learning: true, rng: rand.New(rand.NewPCG(s.Seed, 1))}
}

func (b *greedyBandit) Name() string        { return "greedy" }
func (b *greedyBandit) SetLearning(on bool) { b.learning = on }
func (b *greedyBandit) MarshalBinary() ([]byte, error) {
	out := []byte{}
	for _, v := range b.values {
		out = append(out, byte(int(v*10)))
	}
	return out, nil
}
func (b *greedyBandit) UnmarshalBinary(p []byte) error {
	if len(p) != len(b.values) {
		return errors.New("wrong size")
	}
	for i, v := range p {
		b.values[i] = float64(v) / 10
	}
	return nil
}
func (b *greedyBandit) NewAgent(learning.AgentID) learning.LearningAlgorithm {
	return &greedyAgent{b: b}
}

type greedyAgent struct {
	b    *greedyBandit
	last int
}

func (a *greedyAgent) InitAgent(learning.Observation) {}
func (a *greedyAgent) IsLearning() bool               { return a.b.learning }
func (a *greedyAgent) SampleAction() learning.Action {
	a.b.mu.Lock()
	defer a.b.mu.Unlock()
	best := 0
	for i, v := range a.b.values {
		if v > a.b.values[best] {
			best = i
		}
	}
	if a.b.learning && a.b.rng.Float64() < 0.3 {
		best = a.b.rng.IntN(len(a.b.values))
	}
	a.last = best
	return learning.Action(best)
}
func (a *greedyAgent) Update(_ learning.Observation, r float64) {
	a.b.mu.Lock()
	defer a.b.mu.Unlock()
	if a.b.learning {
		a.b.counts[a.last]++
		a.b.values[a.last] += (r - a.b.values[a.last]) / a.b.counts[a.last]
	}
}
func (a *greedyAgent) ActionProbabilities() []float64 { return nil }
func (a *greedyAgent) AgentJoined(learning.AgentID)   {}
func (a *greedyAgent) AgentLeft(learning.AgentID)     {}

func TestOnEvalReceivesEveryEvaluationEpisodeAndRunKeepsNone(t *testing.T) {
	for _, name := range []string{"first", "greedy"} {
		var got []string
		r, err := Run(arms{version: "v1", agents: 2}, name, RunOptions{Seed: 1, Episodes: 4, EvalEpisodes: 3,
			OnEval: func(alg string, k int, o Outcome) {
				got = append(got, fmt.Sprintf("%s %d %v", alg, k, o.Episode.(*armsEpisode).trimmed))
			}})
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("[%[1]s 0 false %[1]s 1 false %[1]s 2 false]", name)
		if fmt.Sprint(got) != want || r.Eval != nil || r.Mean == nil {
			t.Fatalf("%s: OnEval saw %v, want %s (whole, in order); Run kept %d", name, got, want, len(r.Eval))
		}
		// A team is kept only where there is something learnt to save.
		if (r.Team != nil) != r.Learns {
			t.Fatalf("%s: learns %v, team kept %v", name, r.Learns, r.Team != nil)
		}
	}
	// Stop reaches training: closed before it starts, no training episode
	// runs and the untrained team is evaluated.
	stop := make(chan struct{})
	close(stop)
	r, err := Run(arms{version: "v1", agents: 2}, "greedy", RunOptions{Seed: 1, Episodes: 40, EvalEpisodes: 2, Stop: stop})
	if err != nil || !r.Curve.Stopped || len(r.Curve.Train) != 0 || len(r.Eval) != 2 {
		t.Fatalf("stopped before training: %+v, %v", r.Curve, err)
	}
}
