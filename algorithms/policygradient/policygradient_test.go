package policygradient

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/marlon-go/marlon/learning"
)

var schema = learning.NewSchema("bandit/v1", "x", "noise")

func spec(seed uint64) learning.Spec {
	return learning.Spec{Observation: schema, Actions: learning.Discrete(3), Seed: seed}
}

func testConfig() Config {
	c := DefaultConfig()
	c.Hidden = []int{16}
	c.Gamma = 0 // a contextual bandit: each reward is the whole return
	return c
}

func newPolicy(t testing.TB, cfg Config, seed uint64) *Policy {
	t.Helper()
	p, err := New(spec(seed), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func obs(x, noise float64, terminal bool) learning.Observation {
	return learning.Observation{Schema: schema, Values: []float64{x, noise}, Terminal: terminal}
}

// best is the action the bandit pays for: the third of [0, 1) x is in.
func best(x float64) learning.Action { return learning.Action(min(int(x*3), 2)) }

// bandit is a contextual bandit: each agent makes 16 decisions on a random
// x and noise, and earns 1 for the best action, 0 otherwise.
func bandit(ids ...learning.AgentID) learning.EpisodeFunc {
	return func(seed uint64, agents learning.Agents) (map[string]float64, error) {
		rng := rand.New(rand.NewPCG(seed, 1))
		draw := func(terminal bool) learning.Observation { return obs(rng.Float64(), rng.NormFloat64(), terminal) }
		right := 0.0
		for _, id := range ids {
			a := agents(id)
			o := draw(false)
			a.InitAgent(o)
			for t := range 16 {
				r := 0.0
				if a.SampleAction() == best(o.Values[0]) {
					r = 1
				}
				right += r
				o = draw(t == 15)
				a.Update(o, r)
			}
		}
		return map[string]float64{"accuracy": right / float64(16*len(ids))}, nil
	}
}

func train(t testing.TB, p *Policy, episodes int) learning.Curve {
	t.Helper()
	c, err := learning.Train(bandit("a", "b", "c", "d"), learning.NewSharedTeam(p), learning.TrainConfig{Episodes: episodes, EvalEpisodes: 5, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLearnsTheContextualBandit(t *testing.T) {
	p := newPolicy(t, testConfig(), 1)
	c := train(t, p, 300)
	if got := c.Final().Metrics["accuracy"]; got < 0.9 {
		t.Fatalf("greedy accuracy %.3f after 300 episodes, want > 0.9", got)
	}
	if first := c.Train[0].Metrics["accuracy"]; first > 0.5 {
		t.Fatalf("accuracy %.3f in the first episode: the task is too easy to show learning", first)
	}
}

func TestGreedyWhenNotLearning(t *testing.T) {
	p := newPolicy(t, testConfig(), 1)
	train(t, p, 20)
	before, _ := p.MarshalBinary()
	p.SetLearning(false)
	a := p.NewAgent("z")
	if a.IsLearning() || p.IsLearning() {
		t.Fatal("learning after SetLearning(false)")
	}
	if learning.UsesMembership(a) {
		t.Fatal("UsesMembership() = true: every agent would be told of every other")
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for range 50 {
		a.InitAgent(obs(rng.Float64(), rng.NormFloat64(), false))
		probs := a.ActionProbabilities()
		act := a.SampleAction()
		if probs[act] != 1 || a.SampleAction() != act {
			t.Fatalf("not learning: action %d with probabilities %v, want always the one action of probability 1", act, probs)
		}
		a.Update(obs(0, 0, true), 1)
	}
	p.EndEpisode()
	if after, _ := p.MarshalBinary(); !bytes.Equal(before, after) {
		t.Fatal("a policy that is not learning changed its networks")
	}
}

func TestActionProbabilitiesAreTheSamplingDistribution(t *testing.T) {
	p := newPolicy(t, testConfig(), 1)
	rng := rand.New(rand.NewPCG(6, 6))
	for _, w := range p.policy.params() { // a skewed, far from uniform policy
		for i := range w {
			w[i] = rng.NormFloat64()
		}
	}
	a := p.NewAgent("a")
	a.InitAgent(obs(0.3, 1, false))
	probs := a.ActionProbabilities()
	sum := 0.0
	for _, q := range probs {
		sum += q
	}
	if len(probs) != 3 || math.Abs(sum-1) > 1e-12 {
		t.Fatalf("probabilities %v sum to %v", probs, sum)
	}
	const draws = 40000
	counts := make([]float64, 3)
	for range draws {
		counts[a.SampleAction()]++
	}
	for i, c := range counts {
		// 4.5 standard deviations of a binomial frequency.
		if sd := math.Sqrt(probs[i] * (1 - probs[i]) / draws); math.Abs(c/draws-probs[i]) > 4.5*sd+1e-9 {
			t.Errorf("action %d drawn %.4f of the time, probability %.4f", i, c/draws, probs[i])
		}
	}
}

func TestReturnsBootstrapsAndAdvantages(t *testing.T) {
	cfg := testConfig()
	cfg.Gamma = 0.5
	p := newPolicy(t, cfg, 1)
	a, b := p.NewAgent("a"), p.NewAgent("b")
	// Agent b acts first but sorts second in the batch.
	b.InitAgent(obs(0, 0, false))
	b.SampleAction()
	b.Update(obs(0.5, 0, true), 4) // return 4
	a.InitAgent(obs(0.1, 0, false))
	for _, r := range []float64{1, 2, 3} {
		a.SampleAction()
		a.Update(obs(0.2, 0, r == 3), r) // returns 1+0.5*(2+0.5*3) = 2.75, 2+0.5*3 = 3.5, 3
	}
	a.SampleAction()
	a.Update(obs(0.7, 0, false), 10)
	a.SampleAction()                // never rewarded: dropped
	a.InitAgent(obs(0.9, 0, false)) // the segment ends without a terminal: return 10 + 0.5*V(x=0.7)
	boot := p.value.forward([]float64{0.7, 0}, p.bufA, p.bufB)[0]
	// Each row's inputs: a's steps from 0.1, 0.2, 0.2 and 0.2, then b's from 0.
	xs := [][]float64{{0.1, 0}, {0.2, 0}, {0.2, 0}, {0.2, 0}, {0, 0}}
	baseline := make([]float64, len(xs))
	for i, x := range xs {
		baseline[i] = p.value.forward(x, p.bufA, p.bufB)[0] // before the update changes it
	}
	p.EndEpisode()

	want := []float64{2.75, 3.5, 3, 10 + 0.5*boot, 4}
	lg := p.graph
	ret, pg, vw := lg.ret.Data().([]float64), lg.pg.Data().([]float64), lg.vw.Data().([]float64)
	for i, w := range want {
		if math.Abs(ret[i]-w) > 1e-12 || vw[i] != 0.5/5 {
			t.Fatalf("row %d: return %v weight %v, want %v and 0.1", i, ret[i], vw[i], w)
		}
	}
	// The policy weights are the advantages R - V(x) over their root mean
	// square (on a first batch, this batch's), divided by n; not re-centred.
	adv := make([]float64, 5)
	ms := 0.0
	for i := range adv {
		adv[i] = want[i] - baseline[i]
		ms += adv[i] * adv[i] / 5
	}
	k := p.actions.N
	for i := range adv {
		got := 0.0
		for _, v := range pg[i*k : (i+1)*k] {
			got += v
		}
		if w := adv[i] / math.Sqrt(ms) / 5; math.Abs(got-w) > 1e-9 {
			t.Fatalf("row %d: policy weight %v, want (R - V)/rms/n = %v", i, got, w)
		}
	}
	if ret[5] != 0 || vw[5] != 0 {
		t.Fatal("an unused row has weight")
	}
}

func TestGAEByHand(t *testing.T) {
	cfg := testConfig()
	cfg.Gamma, cfg.Lambda = 0.5, 0.5
	p := newPolicy(t, cfg, 1)
	a, b := p.NewAgent("a"), p.NewAgent("b")
	v := func(x float64) float64 { return p.value.forward([]float64{x, 0}, p.bufA, p.bufB)[0] }
	// a: from x = 0.1 to 0.2, 0.3 and a terminal 0.4, rewards 1, 2, 3.
	a.InitAgent(obs(0.1, 0, false))
	for i, r := range []float64{1, 2, 3} {
		a.SampleAction()
		a.Update(obs(0.2+0.1*float64(i), 0, r == 3), r)
	}
	// b: from x = 0.6 to 0.7 and 0.8, rewards -1 and 5, and no terminal.
	b.InitAgent(obs(0.6, 0, false))
	for i, r := range []float64{-1, 5} {
		b.SampleAction()
		b.Update(obs(0.7+0.1*float64(i), 0, false), r)
	}
	// The values before the update changes them; delta_t = r_t +
	// Gamma*V(x_t+1) - V(x_t), with V = 0 after a terminal observation and
	// b bootstrapped from V(0.8); A_t = delta_t + Gamma*Lambda*A_t+1.
	va := []float64{v(0.1), v(0.2), v(0.3)}
	vb := []float64{v(0.6), v(0.7), v(0.8)}
	a2 := 3 - va[2]
	a1 := 2 + 0.5*va[2] - va[1] + 0.25*a2
	a0 := 1 + 0.5*va[1] - va[0] + 0.25*a1
	b1 := 5 + 0.5*vb[2] - vb[1]
	b0 := -1 + 0.5*vb[1] - vb[0] + 0.25*b1
	adv := []float64{a0, a1, a2, b0, b1}
	vals := []float64{va[0], va[1], va[2], vb[0], vb[1]}
	p.EndEpisode()

	lg := p.graph
	ret, pg := lg.ret.Data().([]float64), lg.pg.Data().([]float64)
	ms := 0.0
	for _, x := range adv {
		ms += x * x / 5
	}
	k := p.actions.N
	for i := range adv {
		// The value's target is A + V(x); the policy's weight is A over
		// the advantages' root mean square, over n.
		if want := adv[i] + vals[i]; math.Abs(ret[i]-want) > 1e-12 {
			t.Fatalf("row %d: value target %v, want A + V = %v", i, ret[i], want)
		}
		got := 0.0
		for _, w := range pg[i*k : (i+1)*k] {
			got += w
		}
		if want := adv[i] / (math.Sqrt(ms) + 1e-8) / 5; math.Abs(got-want) > 1e-12 {
			t.Fatalf("row %d: policy weight %v, want A/rms/n = %v", i, got, want)
		}
	}
	// Lambda 0 would give the one-step advantage for a's first step,
	// Lambda 1 the return minus V: GAE(0.5) is neither.
	if d := 1 + 0.5*va[1] - va[0]; math.Abs(a0-d) < 1e-6 || math.Abs(a0-(1+0.5*(2+0.5*3)-va[0])) < 1e-6 {
		t.Fatal("the segment does not tell GAE(0.5) from its ends")
	}
}

// skewed sets p's policy weights at random, away from the uniform start.
func skewed(p *Policy, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed))
	for _, w := range p.policy.params() {
		for i := range w {
			w[i] = 0.4 * rng.NormFloat64()
		}
	}
}

func TestCoordinatedDraws(t *testing.T) {
	cfg := testConfig()
	cfg.Coordinated = true
	p, q := newPolicy(t, cfg, 3), newPolicy(t, cfg, 3)
	skewed(p, 6)
	skewed(q, 6)
	ids := []learning.AgentID{"a", "b", "c", "d", "e", "f"}
	var pa, qa []learning.LearningAlgorithm
	for _, id := range ids {
		pa, qa = append(pa, p.NewAgent(id)), append(qa, q.NewAgent(id))
	}
	xs := []float64{0.3, 0.8} // a-c at the first, d-f at the second
	pa[0].InitAgent(obs(xs[0], 1, false))
	want := pa[0].ActionProbabilities()
	if slices.Max(want) > 0.8 || slices.Min(want) < 0.05 {
		t.Fatalf("probabilities %v: too skewed to test the draws", want)
	}
	// nextEpisode moves on without learning, so that the policy stays put.
	nextEpisode := func(p *Policy) {
		p.BeginEpisode()
		p.mu.Lock()
		p.episodes++
		p.mu.Unlock()
	}
	const episodes = 5000
	counts := make([]float64, 3)
	same := 0
	for e := range episodes {
		// Each agent draws twice in its state; q's agents act in the
		// opposite order.
		draw := func(agents []learning.LearningAlgorithm, reverse bool) [2][2]learning.Action {
			got := [2][2]learning.Action{{-1, -1}, {-1, -1}}
			for n := range agents {
				i := n
				if reverse {
					i = len(agents) - 1 - n
				}
				s := i / 3
				agents[i].InitAgent(obs(xs[s], 1, false))
				for k := range 2 {
					act := agents[i].SampleAction()
					if got[s][k] >= 0 && act != got[s][k] {
						t.Fatalf("episode %d, draw %d: agents at x = %v took %d and %d", e, k, xs[s], got[s][k], act)
					}
					got[s][k] = act
					agents[i].Update(obs(xs[s], 1, false), 0)
				}
			}
			return got
		}
		got := draw(pa, false)
		if other := draw(qa, true); got != other {
			t.Fatalf("episode %d: actions %v, and %v when the agents act in another order", e, got, other)
		}
		counts[got[0][0]]++
		if got[0][0] == got[0][1] {
			same++
		}
		nextEpisode(p)
		nextEpisode(q)
	}
	// Each draw follows the policy: the softmax at x.
	agree := 0.0
	for i, c := range counts {
		agree += want[i] * want[i]
		if sd := math.Sqrt(want[i] * (1 - want[i]) / episodes); math.Abs(c/episodes-want[i]) > 4.5*sd+1e-9 {
			t.Errorf("action %d drawn %.4f of the time, probability %.4f", i, c/episodes, want[i])
		}
	}
	// An agent's successive draws are independent: they agree as often as
	// two independent draws do.
	if sd := math.Sqrt(agree * (1 - agree) / episodes); math.Abs(float64(same)/episodes-agree) > 4.5*sd {
		t.Errorf("successive draws agree %.4f of the time, independent ones would %.4f", float64(same)/episodes, agree)
	}
	// Without Coordinated, agents in the same state draw each for itself.
	r := newPolicy(t, testConfig(), 3)
	skewed(r, 6)
	x, y := r.NewAgent("x"), r.NewAgent("y")
	x.InitAgent(obs(xs[0], 1, false))
	y.InitAgent(obs(xs[0], 1, false))
	differ := false
	for range 100 {
		differ = differ || x.SampleAction() != y.SampleAction()
	}
	if !differ {
		t.Fatal("independent agents always drew alike")
	}
}

func TestSameSeedSameRun(t *testing.T) {
	run := func(seed uint64) []byte {
		p := newPolicy(t, testConfig(), seed)
		train(t, p, 15)
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := run(7), run(7), run(8)
	if !bytes.Equal(a, b) {
		t.Fatal("the same seed gave two different trainings")
	}
	if bytes.Equal(a, c) {
		t.Fatal("two seeds gave the same networks: the seed is not used")
	}
}

func TestCheckpointRoundTripAndRefusals(t *testing.T) {
	cfg := testConfig()
	cfg.Inputs = []Input{{Field: "x", Offset: 0.5, Scale: 0.5}, {Field: "noise", Scale: 2}}
	p := newPolicy(t, cfg, 1)
	train(t, p, 10)
	data, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	q := newPolicy(t, cfg, 99)
	if err := q.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	pa, qa := p.NewAgent("a"), q.NewAgent("other")
	for range 100 {
		o := obs(rng.Float64(), rng.NormFloat64(), false)
		pa.InitAgent(o)
		qa.InitAgent(o)
		if !slices.Equal(pa.ActionProbabilities(), qa.ActionProbabilities()) {
			t.Fatalf("restored policy's probabilities differ on %v", o.Values)
		}
	}
	p.SetLearning(false)
	q.SetLearning(false)
	for range 100 {
		o := obs(rng.Float64(), rng.NormFloat64(), false)
		pa.InitAgent(o)
		qa.InitAgent(o)
		if pa.SampleAction() != qa.SampleAction() {
			t.Fatalf("restored policy acts differently on %v", o.Values)
		}
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
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Hidden = []int{16, 16} }, "Hidden"},
		{func(c *Config) { c.Activation = ReLU }, "Activation"},
		{func(c *Config) { c.Inputs = c.Inputs[:1] }, "Inputs"},
		{func(c *Config) { c.Inputs = []Input{c.Inputs[0], {Field: "noise", Scale: 3}} }, "Inputs"},
	} {
		other := cfg
		c.edit(&other)
		refused(c.want, newPolicy(t, other, 1), data, c.want)
	}
	four, err := New(learning.Spec{Observation: schema, Actions: learning.Discrete(4)}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	refused("actions", four, data, "4")
	refused("version", q, bytes.Replace(data, []byte(`"version":1`), []byte(`"version":2`), 1), "version 2")
	refused("truncated", q, data[:len(data)/2], "not a readable model")
	refused("short array", q, bytes.Replace(data, []byte(`"policy":[[`), []byte(`"policy":[[1,`), 1), "corrupt")

	// Through a team checkpoint.
	c, err := learning.NewSharedTeam(p).Checkpoint("test/v1", "pg", spec(0), 10)
	if err != nil {
		t.Fatal(err)
	}
	fresh := newPolicy(t, cfg, 5)
	if err := learning.NewSharedTeam(fresh).Restore(c, "test/v1", "pg", spec(0)); err != nil {
		t.Fatal(err)
	}
	if got, _ := fresh.MarshalBinary(); !bytes.Equal(got, data) {
		t.Fatal("team checkpoint did not round-trip")
	}
	// A restored policy goes on learning on its own arrays.
	train(t, fresh, 2)
	if got, _ := fresh.MarshalBinary(); bytes.Equal(got, data) {
		t.Fatal("a restored policy did not learn")
	}
}

func TestConfigAndSpecErrorsNameTheField(t *testing.T) {
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Inputs = []Input{{Field: "", Scale: 1}} }, "Inputs[0].Field"},
		{func(c *Config) { c.Inputs = []Input{{Field: "x", Scale: 1}, {Field: "x", Scale: 1}} }, "repeats"},
		{func(c *Config) { c.Inputs = []Input{{Field: "x", Scale: 0}} }, "Scale"},
		{func(c *Config) { c.Inputs = []Input{{Field: "x", Scale: 1, Offset: math.NaN()}} }, "Offset"},
		{func(c *Config) { c.Inputs = []Input{{Field: "speed", Scale: 1}} }, "speed"},
		{func(c *Config) { c.Hidden = []int{8, 0} }, "Hidden[1]"},
		{func(c *Config) { c.Activation = "sigmoid" }, "Activation"},
		{func(c *Config) { c.Gamma = -0.1 }, "Gamma"},
		{func(c *Config) { c.PolicyLR = 0 }, "PolicyLR"},
		{func(c *Config) { c.ValueLR = 2 }, "ValueLR"},
		{func(c *Config) { c.Entropy = -1 }, "Entropy"},
		{func(c *Config) { c.MaxGradNorm = math.Inf(1) }, "MaxGradNorm"},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		_, err := New(spec(0), cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error naming %s", err, c.want)
		}
	}
	if _, err := New(learning.Spec{Observation: schema}, DefaultConfig()); err == nil || !strings.Contains(err.Error(), "Actions.N") {
		t.Errorf("no actions: %v", err)
	}
	if _, err := New(learning.Spec{Actions: learning.Discrete(2)}, DefaultConfig()); err == nil || !strings.Contains(err.Error(), "Observation") {
		t.Errorf("no schema: %v", err)
	}
	empty := learning.Spec{Observation: learning.NewSchema("empty/v1"), Actions: learning.Discrete(2)}
	if _, err := New(empty, DefaultConfig()); err == nil || !strings.Contains(err.Error(), "no fields") {
		t.Errorf("no inputs: %v", err)
	}
}

// TestConcurrentAgentsAndPolicies runs the agents of a shared policy in
// parallel, as the live runtime does, then the updates of two policies in
// parallel; the race detector checks what they share is guarded.
func TestConcurrentAgentsAndPolicies(t *testing.T) {
	coordinated := testConfig()
	coordinated.Coordinated = true
	ps := []*Policy{newPolicy(t, testConfig(), 1), newPolicy(t, coordinated, 2)}
	var wg sync.WaitGroup
	for _, p := range ps {
		for i := range 3 {
			a := p.NewAgent(learning.AgentID(fmt.Sprint("agent-", i)))
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(i), 0))
				a.InitAgent(obs(rng.Float64(), 0, false))
				for k := range 50 {
					a.ActionProbabilities()
					a.SampleAction()
					a.Update(obs(rng.Float64(), 0, k == 49), rng.Float64())
				}
			})
		}
	}
	wg.Wait()
	for _, p := range ps {
		wg.Go(p.EndEpisode)
	}
	wg.Wait()
}

func TestMaskedActionsAreNeverTakenNorGivenProbability(t *testing.T) {
	for _, coordinated := range []bool{false, true} {
		cfg := testConfig()
		cfg.Coordinated = coordinated
		p := newPolicy(t, cfg, 5)
		mask := []bool{true, false, true}
		a := p.NewAgent("a")
		obs := func(x float64) learning.Observation {
			return learning.Observation{Schema: schema, Values: []float64{x, 0}, Mask: mask}
		}
		seen := map[learning.Action]int{}
		for ep := 0; ep < 40; ep++ {
			p.BeginEpisode()
			a.InitAgent(obs(0))
			for i := 0; i < 10; i++ {
				act := a.SampleAction()
				seen[act]++
				reward := 0.0
				if act == 2 {
					reward = 1
				}
				a.Update(obs(float64(i%2)), reward)
			}
			p.EndEpisode() // learns with the masks: must stay finite
		}
		if seen[1] != 0 || seen[0] == 0 || seen[2] == 0 {
			t.Fatalf("coordinated=%v: actions taken %v, want only (and both of) 0 and 2", coordinated, seen)
		}
		probs := a.ActionProbabilities()
		if probs[1] != 0 || math.Abs(probs[0]+probs[2]-1) > 1e-12 || math.IsNaN(probs[0]) {
			t.Fatalf("coordinated=%v: probabilities %v with action 1 masked", coordinated, probs)
		}
		p.SetLearning(false)
		if got := a.SampleAction(); got != 2 {
			t.Fatalf("coordinated=%v: greedy took %v, want 2 (the rewarded allowed action)", coordinated, got)
		}
	}
}
