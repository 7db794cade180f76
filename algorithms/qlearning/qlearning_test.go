package qlearning

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/marlon-go/marlon/learning"
)

var schema = learning.NewSchema("chain/v1", "pos", "noise")

// chainConfig splits pos at 0.5: state 0 below, state 1 at or above.
func chainConfig() Config {
	c := DefaultConfig()
	c.Discretizer = Discretizer{{Field: "pos", Edges: []float64{0.5}}}
	return c
}

func newPolicy(t *testing.T, cfg Config, seed uint64) *Policy {
	t.Helper()
	p, err := New(learning.Spec{Observation: schema, Actions: learning.Discrete(2), Seed: seed}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func obs(pos float64, terminal bool) learning.Observation {
	return learning.Observation{Schema: schema, Values: []float64{pos, 0}, Terminal: terminal}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestQUpdateByHand(t *testing.T) {
	cfg := chainConfig()
	cfg.Alpha, cfg.Gamma, cfg.EpsilonStart, cfg.EpsilonEnd = 0.5, 0.9, 0, 0 // greedy: action 0 on ties
	p := newPolicy(t, cfg, 1)
	a := p.NewAgent("a")
	q := func(s, act int) float64 { return p.q[s][act] }
	step := func(wantAction learning.Action, pos, r float64, terminal bool) {
		t.Helper()
		if got := a.SampleAction(); got != wantAction {
			t.Fatalf("action %d, want %d", got, wantAction)
		}
		a.Update(obs(pos, terminal), r)
	}

	a.InitAgent(obs(0, false)) // state 0
	// Q(0,0) = 0 + 0.5*(1 + 0.9*max Q(1,.) - 0) = 0.5*(1 + 0.9*0) = 0.5
	step(0, 1, 1, false)
	if !near(q(0, 0), 0.5) {
		t.Fatalf("Q(0,0) = %v, want 0.5", q(0, 0))
	}
	// Q(1,0) = 0 + 0.5*(2 + 0.9*max Q(0,.) - 0) = 0.5*(2 + 0.9*0.5) = 1.225
	step(0, 0, 2, false)
	if !near(q(1, 0), 1.225) {
		t.Fatalf("Q(1,0) = %v, want 1.225", q(1, 0))
	}
	// Terminal: the target is the reward alone.
	// Q(0,0) = 0.5 + 0.5*(0 - 0.5) = 0.25
	step(0, 1, 0, true)
	if !near(q(0, 0), 0.25) {
		t.Fatalf("Q(0,0) = %v, want 0.25", q(0, 0))
	}
	a.InitAgent(obs(1, false)) // state 1
	// Q(1,0) = 1.225 + 0.5*(-1 + 0.9*max Q(0,.) - 1.225)
	//        = 1.225 + 0.5*(-1 + 0.9*0.25 - 1.225) = 1.225 + 0.5*(-2) = 0.225
	step(0, 0, -1, false)
	if !near(q(1, 0), 0.225) {
		t.Fatalf("Q(1,0) = %v, want 0.225", q(1, 0))
	}
	// Action 1 was never taken: it keeps InitialQ.
	if q(0, 1) != 0 || q(1, 1) != 0 {
		t.Fatalf("untaken actions changed: Q(0,1)=%v Q(1,1)=%v", q(0, 1), q(1, 1))
	}
}

func TestDiscretizerBinsAndStates(t *testing.T) {
	d := Discretizer{{Field: "a", Edges: []float64{0, 1}}, {Field: "b", Edges: []float64{10}}}
	if d.States() != 6 {
		t.Fatalf("%d states, want 3*2", d.States())
	}
	for v, want := range map[float64]int{-1: 0, 0: 1, 0.5: 1, 1: 2, 7: 2, math.NaN(): 2} {
		if got := d[0].bin(v); got != want {
			t.Errorf("bin(%v) = %d, want %d", v, got, want)
		}
	}
	s := learning.NewSchema("s", "b", "a")
	p, err := New(learning.Spec{Observation: s, Actions: learning.Discrete(1)}, Config{Discretizer: d, Alpha: 1, Decay: Linear})
	if err != nil {
		t.Fatal(err)
	}
	// a in bin 2, b in bin 1: state 2*2 + 1.
	if got := p.state(learning.Observation{Schema: s, Values: []float64{10, 3}}); got != 5 {
		t.Fatalf("state %d, want 5", got)
	}
}

func TestEpsilonSchedule(t *testing.T) {
	lin := Config{EpsilonStart: 1, EpsilonEnd: 0.1, DecayEpisodes: 10, Decay: Linear}
	exp := Config{EpsilonStart: 1, EpsilonEnd: 0.01, DecayEpisodes: 2, Decay: Exponential}
	none := Config{EpsilonStart: 1, EpsilonEnd: 0.2, Decay: Linear}
	for _, c := range []struct {
		cfg      Config
		episodes int
		want     float64
	}{
		{lin, 0, 1}, {lin, 5, 0.55}, {lin, 10, 0.1}, {lin, 50, 0.1},
		{exp, 0, 1}, {exp, 1, 0.1}, {exp, 2, 0.01}, {exp, 3, 0.01},
		{none, 0, 0.2},
	} {
		if got := c.cfg.Epsilon(c.episodes); !near(got, c.want) {
			t.Errorf("%s Epsilon(%d) = %v, want %v", c.cfg.Decay, c.episodes, got, c.want)
		}
	}

	cfg := chainConfig()
	cfg.EpsilonStart, cfg.EpsilonEnd, cfg.DecayEpisodes = 1, 0, 4
	p := newPolicy(t, cfg, 1)
	p.EndEpisode()
	p.SetLearning(false)
	p.EndEpisode() // evaluation episodes do not count
	p.SetLearning(true)
	if !near(p.Epsilon(), 0.75) {
		t.Fatalf("epsilon %v after one learning episode, want 0.75", p.Epsilon())
	}
	a := p.NewAgent("a")
	a.InitAgent(obs(0, false))
	probs := a.ActionProbabilities() // greedy action 0, 0.75/2 on each
	if !near(probs[0], 0.625) || !near(probs[1], 0.375) {
		t.Fatalf("probabilities %v, want [0.625 0.375]", probs)
	}
}

// chain is a two-state MDP in which the myopic action is wrong. In state 0
// (pos 0) action 0 pays 1 and ends the episode, action 1 pays 0 and leads to
// state 1 (pos 1); there action 1 pays 5 and action 0 pays 0, both ending
// the episode. The optimal agent takes action 1 twice and earns 5.
func chain(ids ...learning.AgentID) learning.EpisodeFunc {
	return func(seed uint64, agents learning.Agents) (map[string]float64, error) {
		total := 0.0
		for _, id := range ids {
			a := agents(id)
			a.InitAgent(obs(0, false))
			for pos := 0.0; ; pos++ {
				act := a.SampleAction()
				switch {
				case pos == 0 && act == 1:
					a.Update(obs(1, false), 0)
					continue
				case pos == 0:
					a.Update(obs(0, true), 1)
					total++
				case act == 1:
					a.Update(obs(1, true), 5)
					total += 5
				default:
					a.Update(obs(1, true), 0)
				}
				break
			}
		}
		return map[string]float64{"reward": total / float64(len(ids))}, nil
	}
}

func train(t *testing.T, team *learning.Team, episodes int) learning.Curve {
	t.Helper()
	c, err := learning.Train(chain("a", "b"), team, learning.TrainConfig{Episodes: episodes, EvalEpisodes: 1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLearnsTheChain(t *testing.T) {
	cfg := chainConfig()
	cfg.DecayEpisodes = 100
	shared := learning.NewSharedTeam(newPolicy(t, cfg, 1))
	if got := train(t, shared, 200).Final().Metrics["reward"]; got != 5 {
		t.Errorf("shared: greedy reward %v after training, want 5", got)
	}
	indep, err := learning.NewIndependentTeam([]learning.AgentID{"a", "b"}, func(id learning.AgentID) (learning.Policy, error) {
		return New(learning.Spec{Observation: schema, Actions: learning.Discrete(2), Seed: 1}, cfg)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := train(t, indep, 200).Final().Metrics["reward"]; got != 5 {
		t.Errorf("independent: greedy reward %v after training, want 5", got)
	}
	cfg.Lambda, cfg.Coordinated = 1, true
	mc := learning.NewSharedTeam(newPolicy(t, cfg, 1))
	if got := train(t, mc, 200).Final().Metrics["reward"]; got != 5 {
		t.Errorf("Monte Carlo, coordinated: greedy reward %v after training, want 5", got)
	}
}

func TestGreedyWhenNotLearning(t *testing.T) {
	p := newPolicy(t, chainConfig(), 1)
	train(t, learning.NewSharedTeam(p), 150)
	before, _ := p.MarshalBinary()
	p.SetLearning(false)
	a := p.NewAgent("z")
	if a.IsLearning() {
		t.Fatal("IsLearning after SetLearning(false)")
	}
	if learning.UsesMembership(a) {
		t.Fatal("UsesMembership() = true: every agent would be told of every other")
	}
	for _, pos := range []float64{0, 1} {
		a.InitAgent(obs(pos, false))
		s := p.state(obs(pos, false))
		want := 0
		if p.q[s][1] > p.q[s][0] {
			want = 1
		}
		probs := a.ActionProbabilities()
		for i := 0; i < 20; i++ {
			if got := a.SampleAction(); int(got) != want || probs[want] != 1 {
				t.Fatalf("state %d: action %d, probabilities %v; want always the greedy %d", s, got, probs, want)
			}
		}
		a.Update(obs(1, true), 100)
	}
	p.EndEpisode()
	after, _ := p.MarshalBinary()
	if !bytes.Equal(before, after) {
		t.Fatal("a policy that is not learning changed its table")
	}
}

func TestSameSeedSameRun(t *testing.T) {
	run := func(seed uint64) []byte {
		p := newPolicy(t, chainConfig(), seed)
		train(t, learning.NewSharedTeam(p), 60)
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := run(7), run(7), run(8)
	if !bytes.Equal(a, b) {
		t.Fatal("the same seed gave two different tables")
	}
	if bytes.Equal(a, c) {
		t.Fatal("two seeds gave the same table: the seed is not used")
	}
}

func TestCheckpointRoundTripAndRefusals(t *testing.T) {
	cfg := chainConfig()
	cfg.Discretizer = append(cfg.Discretizer, Bins{Field: "noise", Edges: []float64{-1, 0, 1}})
	p := newPolicy(t, cfg, 1)
	// Random experience over the eight states.
	rng := rand.New(rand.NewPCG(1, 2))
	a := p.NewAgent("a")
	random := func() learning.Observation {
		return learning.Observation{Schema: schema, Values: []float64{rng.Float64(), rng.NormFloat64() * 2}}
	}
	a.InitAgent(random())
	for i := 0; i < 2000; i++ {
		a.SampleAction()
		a.Update(random(), rng.NormFloat64())
	}
	p.EndEpisode()
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	q := newPolicy(t, cfg, 99)
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if q.Epsilon() != p.Epsilon() {
		t.Fatalf("restored epsilon %v, want %v", q.Epsilon(), p.Epsilon())
	}
	p.SetLearning(false)
	q.SetLearning(false)
	pa, qa := p.NewAgent("a"), q.NewAgent("other")
	for i := 0; i < 200; i++ {
		o := random()
		pa.InitAgent(o)
		qa.InitAgent(o)
		if pa.SampleAction() != qa.SampleAction() {
			t.Fatalf("restored policy acts differently on %v", o.Values)
		}
	}
	if again, _ := q.MarshalBinary(); !bytes.Equal(again, b) {
		t.Fatal("a restored policy encodes differently")
	}

	refused := func(what string, target *Policy, data []byte, want string) {
		t.Helper()
		before, _ := target.MarshalBinary()
		err := target.UnmarshalBinary(data)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error mentioning %q", what, err, want)
		}
		if after, _ := target.MarshalBinary(); !bytes.Equal(before, after) {
			t.Errorf("%s: a refused model changed the policy", what)
		}
	}
	other := cfg
	other.Discretizer = Discretizer{{Field: "pos", Edges: []float64{0.4}}, cfg.Discretizer[1]}
	refused("other edges", newPolicy(t, other, 1), b, "Discretizer")
	other = cfg
	other.InitialQ = 1
	refused("other initial value", newPolicy(t, other, 1), b, "InitialQ")
	three, err := New(learning.Spec{Observation: schema, Actions: learning.Discrete(3)}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	refused("other actions", three, b, "3")
	refused("other version", q, bytes.Replace(b, []byte(`"version":1`), []byte(`"version":2`), 1), "version 2")
	refused("truncated", q, b[:len(b)/2], "not a readable model")
	refused("state out of range", q, bytes.Replace(b, []byte(`"states":[0`), []byte(`"states":[99`), 1), "state 99")

	// Through a team checkpoint.
	spec := learning.Spec{Observation: schema, Actions: learning.Discrete(2)}
	c, err := learning.NewSharedTeam(p).Checkpoint("test/v1", "qlearning", spec, 1)
	if err != nil {
		t.Fatal(err)
	}
	fresh := newPolicy(t, cfg, 5)
	if err := learning.NewSharedTeam(fresh).Restore(c, "test/v1", "qlearning", spec); err != nil {
		t.Fatal(err)
	}
	if got, _ := fresh.MarshalBinary(); !bytes.Equal(got, b) {
		t.Fatal("team checkpoint did not round-trip")
	}
}

func TestConfigAndSpecErrorsNameTheField(t *testing.T) {
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Alpha = 0 }, "Alpha"},
		{func(c *Config) { c.Gamma = 1.5 }, "Gamma"},
		{func(c *Config) { c.Lambda = -0.1 }, "Lambda"},
		{func(c *Config) { c.EpsilonStart = 2 }, "EpsilonStart"},
		{func(c *Config) { c.EpsilonEnd = 1.1 }, "EpsilonEnd"},
		{func(c *Config) { c.DecayEpisodes = -1 }, "DecayEpisodes"},
		{func(c *Config) { c.Decay = "cosine" }, "Decay"},
		{func(c *Config) { c.Decay, c.EpsilonEnd = Exponential, 0 }, "EpsilonEnd"},
		{func(c *Config) { c.InitialQ = math.Inf(1) }, "InitialQ"},
		{func(c *Config) { c.Discretizer[0].Edges = []float64{1, 1} }, "increasing"},
		{func(c *Config) { c.Discretizer[0].Edges = nil }, "Edges"},
		{func(c *Config) { c.Discretizer = append(c.Discretizer, c.Discretizer[0]) }, "repeats"},
		{func(c *Config) { c.Discretizer[0].Field = "speed" }, "speed"},
	} {
		cfg := chainConfig()
		c.edit(&cfg)
		_, err := New(learning.Spec{Observation: schema, Actions: learning.Discrete(2)}, cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error naming %s", err, c.want)
		}
	}
	big := make(Discretizer, 40)
	for i := range big {
		big[i] = Bins{Field: fmt.Sprint("f", i), Edges: []float64{0}}
	}
	if err := big.validate(); err == nil || !strings.Contains(err.Error(), "MaxStates") {
		t.Errorf("a discretizer of 2^40 states: %v", err)
	}
	if _, err := New(learning.Spec{Observation: schema}, chainConfig()); err == nil || !strings.Contains(err.Error(), "Actions.N") {
		t.Errorf("no actions: %v", err)
	}
	if _, err := New(learning.Spec{Actions: learning.Discrete(2)}, chainConfig()); err == nil || !strings.Contains(err.Error(), "Observation") {
		t.Errorf("no schema: %v", err)
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// TestConcurrentAgents runs the agents of one policy in parallel, as the live
// runtime does; the race detector checks the table is guarded.
func TestConcurrentAgents(t *testing.T) {
	for _, lambda := range []float64{0, 1} {
		cfg := chainConfig()
		cfg.Lambda, cfg.Coordinated = lambda, lambda > 0
		concurrentAgents(newPolicy(t, cfg, 1))
	}
}

func concurrentAgents(p *Policy) {
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		a := p.NewAgent(learning.AgentID(rune('a' + i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 200; k++ {
				a.InitAgent(obs(0, false))
				a.ActionProbabilities()
				act := a.SampleAction()
				a.Update(obs(float64(act), true), float64(act))
			}
		}()
	}
	wg.Wait()
	p.EndEpisode()
}

func TestSampleAverageLearningRate(t *testing.T) {
	cfg := chainConfig()
	cfg.Alpha, cfg.SampleAverage, cfg.EpsilonStart, cfg.EpsilonEnd = 0.01, true, 0, 0
	p := newPolicy(t, cfg, 1)
	a := p.NewAgent("a")
	episode := func(p *Policy, a learning.LearningAlgorithm, reward float64) {
		a.InitAgent(obs(0, false))
		a.SampleAction()
		a.Update(obs(1, true), reward)
	}
	// Terminal targets 1 then 3 on Q(0,0): rates max(0.01, 1/1) = 1 and
	// max(0.01, 1/2) = 0.5: Q = 1, then 1 + 0.5*(3-1) = 2, the mean.
	episode(p, a, 1)
	episode(p, a, 3)
	if !near(p.q[0][0], 2) {
		t.Fatalf("Q(0,0) = %v, want 2 (the mean of 1 and 3)", p.q[0][0])
	}
	// The counts travel with the model: a third target 5 after a reload
	// moves Q by 1/3 of the way: 2 + (5-2)/3 = 3.
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	r := newPolicy(t, cfg, 1)
	if err := r.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	episode(r, r.NewAgent("a"), 5)
	if !near(r.q[0][0], 3) {
		t.Fatalf("after reload Q(0,0) = %v, want 3", r.q[0][0])
	}
	// The floor: after many updates the rate stays at Alpha.
	for i := 0; i < 1000; i++ {
		episode(r, r.NewAgent("a"), 3)
	}
	before := r.q[0][0]
	episode(r, r.NewAgent("a"), 103)
	if !near(r.q[0][0]-before, 0.01*(103-before)) {
		t.Fatalf("step %v, want Alpha*(target - Q) = %v", r.q[0][0]-before, 0.01*(103-before))
	}
}

func TestLambdaReturnsByHand(t *testing.T) {
	cfg := chainConfig()
	cfg.Alpha, cfg.SampleAverage, cfg.Gamma, cfg.Lambda = 0.01, true, 0.5, 0.5
	cfg.EpsilonStart, cfg.EpsilonEnd = 0, 0 // greedy: action 0 below
	p := newPolicy(t, cfg, 1)
	p.q[0], p.q[1] = []float64{0.4, 0}, []float64{2, 0} // max Q: 0.4 in state 0, 2 in state 1
	a := p.NewAgent("a")
	step := func(pos, r float64, terminal bool) {
		t.Helper()
		if act := a.SampleAction(); act != 0 {
			t.Fatalf("action %d, want the greedy 0", act)
		}
		a.Update(obs(pos, terminal), r)
	}
	// States 0, 1, 0, then terminal; rewards 1, 2, 3. Nothing moves before
	// the end.
	a.InitAgent(obs(0, false))
	step(1, 1, false)
	step(0, 2, false)
	if p.q[0][0] != 0.4 || p.q[1][0] != 2 {
		t.Fatalf("Q changed before the episode ended: %v %v", p.q[0], p.q[1])
	}
	step(1, 3, true)
	// Backwards, with the values before the update:
	//   G2 = 3 (terminal)
	//   G1 = 2 + 0.5*(0.5*maxQ(0) + 0.5*G2) = 2 + 0.5*(0.2 + 1.5) = 2.85
	//   G0 = 1 + 0.5*(0.5*maxQ(1) + 0.5*G1) = 1 + 0.5*(1 + 1.425) = 2.2125
	// Sample averages: Q(0,0) = (G0 + G2)/2 = 2.60625, Q(1,0) = G1.
	if !near(p.q[0][0], 2.60625) || !near(p.q[1][0], 2.85) {
		t.Fatalf("Q(0,0) = %v, Q(1,0) = %v, want 2.60625 and 2.85", p.q[0][0], p.q[1][0])
	}
	// An episode that stops without a terminal observation is bootstrapped
	// from the greedy value where it stopped, at EndEpisode:
	// G = -1 + 0.5*maxQ(0) = 0.303125; Q(1,0) = (2.85 + 0.303125)/2.
	a.InitAgent(obs(1, false))
	step(0, -1, false)
	p.EndEpisode()
	if !near(p.q[1][0], 1.5765625) {
		t.Fatalf("after a bootstrapped end Q(1,0) = %v, want 1.5765625", p.q[1][0])
	}
	// ... or at the agent's next InitAgent: G = 1 + 0.5*maxQ(1), the third
	// sample of Q(0,0).
	a.InitAgent(obs(0, false))
	step(1, 1, false)
	a.InitAgent(obs(0, false))
	if want := 2.60625 + (1+0.5*1.5765625-2.60625)/3; !near(p.q[0][0], want) {
		t.Fatalf("after InitAgent Q(0,0) = %v, want %v", p.q[0][0], want)
	}
	// Steps taken while not learning are not kept.
	p.SetLearning(false)
	step(1, 100, false)
	p.SetLearning(true)
	p.EndEpisode()
	if p.n[0][0] != 3 {
		t.Fatalf("Q(0,0) has %d updates, want 3", p.n[0][0])
	}

	// Lambda 1 is the return itself: G0 = 1 + 0.5*(2 + 0.5*3) = 2.75.
	cfg.Lambda = 1
	p = newPolicy(t, cfg, 1)
	p.q[0], p.q[1] = []float64{0.4, 0}, []float64{2, 0}
	a = p.NewAgent("a")
	a.InitAgent(obs(0, false))
	step(1, 1, false)
	step(0, 2, false)
	step(1, 3, true)
	if !near(p.q[0][0], (2.75+3)/2) || !near(p.q[1][0], 3.5) {
		t.Fatalf("Lambda 1: Q(0,0) = %v, Q(1,0) = %v, want 2.875 and 3.5", p.q[0][0], p.q[1][0])
	}

	// FirstVisit: the second visit of (0,0) in the episode is not an
	// update; its reward still counts in the first visit's return.
	cfg.FirstVisit = true
	p = newPolicy(t, cfg, 1)
	p.q[0], p.q[1] = []float64{0.4, 0}, []float64{2, 0}
	a = p.NewAgent("a")
	for range 2 {
		a.InitAgent(obs(0, false))
		step(1, 1, false)
		step(0, 2, false)
		step(1, 3, true)
	}
	if !near(p.q[0][0], 2.75) || !near(p.q[1][0], 3.5) || p.n[0][0] != 2 || p.n[1][0] != 2 {
		t.Fatalf("FirstVisit: Q(0,0) = %v (%d updates), Q(1,0) = %v (%d), want 2.75 and 3.5, one update each an episode", p.q[0][0], p.n[0][0], p.q[1][0], p.n[1][0])
	}
}

func TestCoordinatedExploration(t *testing.T) {
	cfg := chainConfig()
	cfg.Coordinated, cfg.EpsilonStart, cfg.EpsilonEnd, cfg.DecayEpisodes = true, 0.5, 0.5, 0
	mk := func() *Policy {
		p, err := New(learning.Spec{Observation: schema, Actions: learning.Discrete(4), Seed: 9}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		p.q[0], p.q[1] = []float64{0, 0, 1, 0}, []float64{0, 0, 0, 1} // greedy: 2 in state 0, 3 in state 1
		return p
	}
	p, q := mk(), mk()
	ids := []learning.AgentID{"a", "b", "c", "d", "e", "f"}
	var pa, qa []learning.LearningAlgorithm
	for _, id := range ids {
		pa, qa = append(pa, p.NewAgent(id)), append(qa, q.NewAgent(id))
	}
	const episodes = 2000
	deviated := [2]int{}
	both := 0
	for e := 0; e < episodes; e++ {
		// Agents a-c are in state 0, d-f in state 1; each decides twice. In
		// q the agents act in the opposite order.
		acts := func(agents []learning.LearningAlgorithm, reverse bool) [2]learning.Action {
			got := [2]learning.Action{-1, -1}
			for k := range agents {
				i := k
				if reverse {
					i = len(agents) - 1 - k
				}
				s := i / 3
				for range 2 {
					agents[i].InitAgent(obs(float64(s), false))
					act := agents[i].SampleAction()
					if got[s] >= 0 && act != got[s] {
						t.Fatalf("episode %d: agents in state %d took %d and %d", e, s, got[s], act)
					}
					got[s] = act
				}
			}
			return got
		}
		got, other := acts(pa, false), acts(qa, true)
		if got != other {
			t.Fatalf("episode %d: actions %v, and %v when the agents act in another order", e, got, other)
		}
		d0, d1 := got[0] != 2, got[1] != 3
		if d0 {
			deviated[0]++
		}
		if d1 {
			deviated[1]++
		}
		if d0 && d1 {
			both++
		}
		p.EndEpisode()
		q.EndEpisode()
	}
	// A state deviates from the greedy action with probability 0.5*3/4,
	// each on its own: both with probability 0.375^2.
	for s, n := range deviated {
		if f := float64(n) / episodes; math.Abs(f-0.375) > 0.04 {
			t.Errorf("state %d deviated in %.3f of the episodes, want 0.375", s, f)
		}
	}
	if f := float64(both) / episodes; math.Abs(f-0.375*0.375) > 0.04 {
		t.Errorf("both states deviated in %.3f of the episodes, want %.3f", f, 0.375*0.375)
	}
	// Not learning, every agent is greedy.
	p.SetLearning(false)
	for i, a := range pa {
		a.InitAgent(obs(float64(i/3), false))
		if act := a.SampleAction(); act != learning.Action(2+i/3) {
			t.Fatalf("not learning: agent %d took %d, want the greedy %d", i, act, 2+i/3)
		}
	}
}

func TestMaskedActionsAreNeverTakenNorGivenProbability(t *testing.T) {
	for _, coordinated := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.Coordinated, cfg.EpsilonStart, cfg.EpsilonEnd = coordinated, 1, 1 // explore always
		p, err := New(learning.Spec{Observation: schema, Actions: learning.Discrete(5), Seed: 3}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		mask := []bool{false, true, false, true, false}
		a := p.NewAgent("a")
		obs := learning.Observation{Schema: schema, Values: []float64{0, 0}, Mask: mask}
		a.InitAgent(obs)
		seen := map[learning.Action]int{}
		for i := 0; i < 400; i++ {
			act := a.SampleAction()
			seen[act]++
			a.Update(learning.Observation{Schema: schema, Values: []float64{float64(i % 3), 0}, Mask: mask}, float64(act))
			if !coordinated && i%50 == 49 {
				p.EndEpisode()
			}
			if coordinated {
				p.EndEpisode() // a new draw per episode
			}
		}
		if seen[0]+seen[2]+seen[4] != 0 || seen[1] == 0 || seen[3] == 0 {
			t.Fatalf("coordinated=%v: actions taken %v, want only and both of 1 and 3", coordinated, seen)
		}
		probs := a.ActionProbabilities()
		sum := 0.0
		for i, q := range probs {
			sum += q
			if !mask[i] && q != 0 {
				t.Fatalf("coordinated=%v: masked action %d has probability %v", coordinated, i, q)
			}
		}
		if math.Abs(sum-1) > 1e-12 {
			t.Fatalf("probabilities sum to %v", sum)
		}
		// Greedy, the best allowed action: 3 earned more than 1.
		p.SetLearning(false)
		if got := a.SampleAction(); got != 3 {
			t.Fatalf("coordinated=%v: greedy took %v, want 3 (the best allowed)", coordinated, got)
		}
	}
}
