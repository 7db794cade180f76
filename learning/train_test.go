package learning

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// bandit is a toy learner: action values learnt by running averages,
// epsilon-greedy while learning, greedy otherwise.
type bandit struct {
	name     string
	values   []float64
	counts   []float64
	learning bool
	rng      *rand.Rand
}

func newBandit(k int, seed uint64) *bandit {
	return &bandit{name: "bandit", values: make([]float64, k), counts: make([]float64, k), learning: true, rng: rand.New(rand.NewPCG(seed, 1))}
}

func (b *bandit) Name() string                       { return b.name }
func (b *bandit) NewAgent(AgentID) LearningAlgorithm { return &banditAgent{b: b} }
func (b *bandit) SetLearning(on bool)                { b.learning = on }
func (b *bandit) MarshalBinary() ([]byte, error) {
	return json.Marshal([2][]float64{b.values, b.counts})
}
func (b *bandit) UnmarshalBinary(p []byte) error {
	var v [2][]float64
	if err := json.Unmarshal(p, &v); err != nil {
		return err
	}
	if len(v[0]) != len(b.values) {
		return errors.New("wrong number of arms")
	}
	b.values, b.counts = v[0], v[1]
	return nil
}

func (b *bandit) greedy() int {
	best := 0
	for i, v := range b.values {
		if v > b.values[best] {
			best = i
		}
	}
	return best
}

type banditAgent struct {
	b    *bandit
	last int
}

func (a *banditAgent) InitAgent(Observation) {}
func (a *banditAgent) IsLearning() bool      { return a.b.learning }
func (a *banditAgent) SampleAction() Action {
	a.last = a.b.greedy()
	if a.b.learning && a.b.rng.Float64() < 0.3 {
		a.last = a.b.rng.IntN(len(a.b.values))
	}
	return Action(a.last)
}
func (a *banditAgent) Update(_ Observation, r float64) {
	if !a.b.learning {
		return
	}
	a.b.counts[a.last]++
	a.b.values[a.last] += (r - a.b.values[a.last]) / a.b.counts[a.last]
}
func (a *banditAgent) ActionProbabilities() []float64 { return nil }
func (a *banditAgent) AgentJoined(AgentID)            {}
func (a *banditAgent) AgentLeft(AgentID)              {}

var toySchema = NewSchema("toy/v1", "x")

// arms pays arm i a mean of i/10 plus noise; each agent plays 5 times.
func arms(ids []AgentID) EpisodeFunc {
	return func(seed uint64, agents Agents) (map[string]float64, error) {
		rng := rand.New(rand.NewPCG(seed, 2))
		obs := Observation{Schema: toySchema, Values: []float64{0}}
		total := 0.0
		for _, id := range ids {
			a := agents(id)
			a.InitAgent(obs)
			for step := 0; step < 5; step++ {
				arm := a.SampleAction()
				r := float64(arm)/10 + rng.NormFloat64()*0.05
				total += r
				o := obs
				o.Terminal = step == 4
				a.Update(o, r)
			}
		}
		return map[string]float64{"reward": total / float64(5*len(ids))}, nil
	}
}

func TestTrainingIsReproducibleLearnsAndLogs(t *testing.T) {
	ids := []AgentID{"a", "b"}
	train := func() (Curve, string, *Team) {
		team := NewSharedTeam(newBandit(5, 3))
		var log bytes.Buffer
		c, err := Train(arms(ids), team, TrainConfig{Episodes: 40, EvalEpisodes: 3, EvalEvery: 10, Seed: 9, Log: &log})
		if err != nil {
			t.Fatal(err)
		}
		return c, log.String(), team
	}
	c1, log1, team := train()
	c2, log2, _ := train()
	if !reflect.DeepEqual(c1, c2) || log1 != log2 {
		t.Fatal("the same seed gave two different training runs")
	}
	// Validation after 10, 20, 30 and 40 episodes, then the final evaluation.
	if len(c1.Eval) != 5 || c1.Eval[0].After != 10 || c1.Final().After != 40 {
		t.Fatalf("evaluation points %+v", c1.Eval)
	}
	if got := c1.Final().Metrics["reward"]; got < 0.38 {
		t.Fatalf("greedy reward %v after training: the best arm pays 0.4", got)
	}
	lines := strings.Split(strings.TrimSpace(log1), "\n")
	if len(lines) != 40+5*3 {
		t.Fatalf("%d log lines, want 55", len(lines))
	}
	var last Record
	json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	if last.Phase != "eval" || last.Seed != EvalSeed(9, 2) {
		t.Fatalf("last log line %+v: want the third evaluation episode", last)
	}
	var r Record
	if err := json.Unmarshal([]byte(lines[0]), &r); err != nil || r.Phase != "train" || r.Episode != 1 || r.Metrics["reward"] == 0 {
		t.Fatalf("first log line %s: %v", lines[0], err)
	}
	// Evaluation is greedy and does not learn.
	before, _ := team.Policy(SharedPolicy).(*bandit).MarshalBinary()
	if _, err := Evaluate(arms(ids), team, 9, 2); err != nil {
		t.Fatal(err)
	}
	after, _ := team.Policy(SharedPolicy).(*bandit).MarshalBinary()
	if !bytes.Equal(before, after) {
		t.Fatal("evaluation changed the model")
	}
}

func TestCheckpointRoundTripAndRefusals(t *testing.T) {
	spec := Spec{Observation: toySchema, Actions: Discrete(5)}
	team := NewSharedTeam(newBandit(5, 1))
	if _, err := Train(arms([]AgentID{"a"}), team, TrainConfig{Episodes: 30, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	c, err := team.Checkpoint("toy/v1", "bandit", spec, 30)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.json")
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	// A checkpoint that cannot be written names the path asked for, not the
	// temporary file it goes through.
	missing := filepath.Join(t.TempDir(), "no", "such", "dir", "model.json")
	if err := c.Save(missing); err == nil || !strings.Contains(err.Error(), missing) || strings.Contains(err.Error(), ".checkpoint-") {
		t.Fatalf("saving into a missing directory: %v", err)
	}
	loaded, err := LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	// A shared checkpoint loads into a team of any size and acts the same.
	fresh := NewSharedTeam(newBandit(5, 99))
	if err := fresh.Restore(loaded, "toy/v1", "bandit", spec); err != nil {
		t.Fatal(err)
	}
	team.SetLearning(false)
	fresh.SetLearning(false)
	for _, id := range []AgentID{"a", "z", "new-agent"} {
		if got, want := fresh.Agent(id).SampleAction(), team.Agent("a").SampleAction(); got != want {
			t.Fatalf("restored agent %s acts %v, original %v", id, got, want)
		}
	}

	var buf bytes.Buffer
	if err := c.Write(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	refused := func(what, text string, want string) {
		t.Helper()
		_, err := ReadCheckpoint(strings.NewReader(text))
		if !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want a refusal mentioning %q", what, err, want)
		}
	}
	refused("truncated", good[:len(good)/2], "corrupt")
	refused("edited", strings.Replace(good, `"episodes_trained": 30`, `"episodes_trained": 31`, 1), "checksum")
	refused("other version", strings.Replace(good, `"version": 2`, `"version": 3`, 1), "version 3")
	refused("version 1", strings.Replace(good, `"version": 2`, `"version": 1`, 1), "recorded the environment version")
	refused("not a checkpoint", `{"format":"something-else","version":1}`, "format")

	if err := fresh.Restore(loaded, "toy/v1", "qlearning", spec); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), "trained with bandit") {
		t.Errorf("other algorithm: %v", err)
	}
	if err := fresh.Restore(loaded, "toy/v1", "bandit", Spec{Observation: toySchema, Actions: Discrete(6)}); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("other action space: %v", err)
	}
	// Another version of the environment has other dynamics: refused, naming both.
	if err := fresh.Restore(loaded, "toy/v2", "bandit", spec); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), "trained on environment toy/v1, not toy/v2") {
		t.Errorf("other environment version: %v", err)
	}
	// Independent policies load only into the agents they were trained for.
	indep, _ := NewIndependentTeam([]AgentID{"a", "b"}, func(AgentID) (Policy, error) { return newBandit(5, 1), nil })
	ci, err := indep.Checkpoint("toy/v1", "bandit", spec, 0)
	if err != nil {
		t.Fatal(err)
	}
	more, _ := NewIndependentTeam([]AgentID{"a", "b", "c"}, func(AgentID) (Policy, error) { return newBandit(5, 1), nil })
	if err := more.Restore(ci, "toy/v1", "bandit", spec); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), "no model for c") {
		t.Errorf("independent into more agents: %v", err)
	}
	if err := fresh.Restore(ci, "toy/v1", "bandit", spec); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), "independent") {
		t.Errorf("independent into shared: %v", err)
	}
}

// drifter acts well for its first 15 learning episodes and badly after:
// its model is the count of learning episodes.
type drifter struct {
	episodes int
	off      bool
}

func (d *drifter) SetLearning(on bool) { d.off = !on }

func (d *drifter) Name() string                       { return "drifter" }
func (d *drifter) NewAgent(AgentID) LearningAlgorithm { return &drifterAgent{d} }
func (d *drifter) BeginEpisode()                      {}
func (d *drifter) EndEpisode() {
	if !d.off {
		d.episodes++
	}
}
func (d *drifter) MarshalBinary() ([]byte, error) { return json.Marshal(d.episodes) }
func (d *drifter) UnmarshalBinary(b []byte) error { return json.Unmarshal(b, &d.episodes) }

type drifterAgent struct{ d *drifter }

func (a *drifterAgent) InitAgent(Observation) {}
func (a *drifterAgent) IsLearning() bool      { return true }
func (a *drifterAgent) SampleAction() Action {
	if a.d.episodes < 15 {
		return 4
	}
	return 0
}
func (a *drifterAgent) Update(Observation, float64)    {}
func (a *drifterAgent) ActionProbabilities() []float64 { return nil }
func (a *drifterAgent) AgentJoined(AgentID)            {}
func (a *drifterAgent) AgentLeft(AgentID)              {}

func TestSelectKeepsTheBestValidatedModels(t *testing.T) {
	ids := []AgentID{"a"}
	loss := func(seed uint64, agents Agents) (map[string]float64, error) {
		m, err := arms(ids)(seed, agents)
		return map[string]float64{"loss": -m["reward"]}, err
	}
	d := &drifter{}
	c, err := Train(loss, NewSharedTeam(d), TrainConfig{Episodes: 35, EvalEpisodes: 2, EvalEvery: 10, Seed: 1, Select: "loss"})
	if err != nil {
		t.Fatal(err)
	}
	// Only the validation after 10 episodes sees the good policy; those
	// after 20 and 30, and the last models after 35, act badly.
	if c.Selected != 10 || d.episodes != 10 {
		t.Fatalf("selected after %d episodes (model count %d), want the models after 10", c.Selected, d.episodes)
	}
	if got := c.Final().Metrics["loss"]; got > -0.35 {
		t.Fatalf("final loss %v: the kept models should play the best arm (about -0.4)", got)
	}
	if _, err := Train(loss, NewSharedTeam(&drifter{}), TrainConfig{Episodes: 5, EvalEpisodes: 1, Select: "nope"}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("selecting by a missing metric: %v", err)
	}
}

// Models the team starts with (loaded to train on) compete for selection
// with ValidateStart: here they are good, and every later one is worse.
func TestValidateStartKeepsBetterStartingModels(t *testing.T) {
	ids := []AgentID{"a"}
	loss := func(seed uint64, agents Agents) (map[string]float64, error) {
		m, err := arms(ids)(seed, agents)
		return map[string]float64{"loss": -m["reward"]}, err
	}
	for _, start := range []bool{false, true} {
		d := &drifter{episodes: 10} // as if loaded after 10 good episodes
		c, err := Train(loss, NewSharedTeam(d), TrainConfig{Episodes: 20, EvalEpisodes: 2, EvalEvery: 10, Seed: 1, Select: "loss", ValidateStart: start})
		if err != nil {
			t.Fatal(err)
		}
		kept := c.Selected == 0 && d.episodes == 10 && c.Eval[0].After == 0
		if kept != start {
			t.Fatalf("ValidateStart %v: selected after %d episodes (model count %d), validations %+v", start, c.Selected, d.episodes, c.Eval)
		}
	}
}

func TestSeedStreamsNeverShareASeed(t *testing.T) {
	// The streams once differed by a xor of the run seed, which for run
	// seeds 2, 8, 10, 32, ... made evaluation episode k training episode
	// k+1.
	for _, s := range []uint64{2, 8, 10, 32} {
		for k := 0; k < 10; k++ {
			if EvalSeed(s, k) == TrainSeed(s, k+1) {
				t.Fatalf("EvalSeed(%d, %d) == TrainSeed(%d, %d)", s, k, s, k+1)
			}
		}
	}
	streams := map[string]func(uint64, int) uint64{"train": TrainSeed, "valid": ValidSeed, "eval": EvalSeed}
	type from struct {
		stream string
		seed   uint64
		k      int
	}
	seen := map[uint64]from{}
	runs := []uint64{math.MaxUint64, 1 << 63, 0x9e3779b97f4a7c15, 0x5851f42d4c957f2d}
	for s := uint64(0); s < 200; s++ {
		runs = append(runs, s)
	}
	for _, s := range runs {
		for name, f := range streams {
			for k := 0; k < 1000; k++ {
				x := f(s, k)
				if prev, ok := seen[x]; ok {
					t.Fatalf("%s episode %d of run %d and %s episode %d of run %d share the seed %#x", name, k, s, prev.stream, prev.k, prev.seed, x)
				}
				seen[x] = from{name, s, k}
			}
		}
	}
	// Far along a stream too (the index is the low bits of the word).
	for _, k := range []int{1 << 40, 1<<62 - 1} {
		if TrainSeed(7, k) == ValidSeed(7, k) || ValidSeed(7, k) == EvalSeed(7, k) || TrainSeed(7, k) == EvalSeed(7, k) {
			t.Fatalf("episode %d: two streams share a seed", k)
		}
	}
}

func TestStopEndsTrainingAndKeepsWhatItLearnt(t *testing.T) {
	ids := []AgentID{"a"}
	loss := func(seed uint64, agents Agents) (map[string]float64, error) {
		m, err := arms(ids)(seed, agents)
		return map[string]float64{"loss": -m["reward"]}, err
	}
	// Stopped after 23 of 100 episodes: validations after 10 and 20 and of
	// the last models (23), the kept models the best of them (after 10,
	// before the drifter turns bad at 15), then the final evaluation.
	stop := make(chan struct{})
	d := &drifter{}
	var log bytes.Buffer
	trained := 0
	c, err := Train(loss, NewSharedTeam(d), TrainConfig{Episodes: 100, EvalEpisodes: 2, EvalEvery: 10, Seed: 1, Select: "loss", Log: &log, Stop: stop,
		OnEpisode: func(r Record) {
			if r.Phase == "train" {
				if trained++; trained == 23 {
					close(stop)
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Stopped || len(c.Train) != 23 || c.Selected != 10 || d.episodes != 10 || c.Final().After != 23 {
		t.Fatalf("stopped %v after %d training episodes, selected after %d (model %d), final after %d; want true, 23, 10, 10, 23",
			c.Stopped, len(c.Train), c.Selected, d.episodes, c.Final().After)
	}
	if got := strings.Count(log.String(), "\n"); got != 23+3*2+2 {
		t.Fatalf("%d log lines, want 23 training, 3 validations of 2 and 2 evaluation episodes", got)
	}
	// Not stopped, the same configuration trains to the end.
	c, err = Train(loss, NewSharedTeam(&drifter{}), TrainConfig{Episodes: 30, EvalEpisodes: 2, EvalEvery: 10, Seed: 1, Select: "loss", Stop: make(chan struct{})})
	if err != nil || c.Stopped || len(c.Train) != 30 {
		t.Fatalf("never stopped: stopped %v after %d, %v", c.Stopped, len(c.Train), err)
	}
}
