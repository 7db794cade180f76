package algotest_test

import (
	"encoding/json"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/marlon-go/marlon/learning"
	"github.com/marlon-go/marlon/learning/algotest"
)

// softmax is a small correct learner, a table of preferences by the bin of
// the observation's first value, softmax over the allowed actions while
// learning and greedy otherwise; flaw breaks one contract on purpose.
type softmax struct {
	spec learning.Spec
	flaw string

	mu       sync.Mutex
	prefs    map[int][]float64
	learning bool
}

// lock guards the table, except when the flaw is concurrency.
func (p *softmax) lock() {
	if p.flaw != algotest.Concurrency {
		p.mu.Lock()
	}
}

func (p *softmax) unlock() {
	if p.flaw != algotest.Concurrency {
		p.mu.Unlock()
	}
}

func newSoftmax(spec learning.Spec, flaw string) *softmax {
	return &softmax{spec: spec, flaw: flaw, prefs: map[int][]float64{}, learning: true}
}

func (p *softmax) Name() string { return "softmax" }

func (p *softmax) SetLearning(on bool) {
	p.mu.Lock()
	p.learning = on
	p.mu.Unlock()
}

func (p *softmax) MarshalBinary() ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return json.Marshal(p.prefs)
}

func (p *softmax) UnmarshalBinary(b []byte) error {
	var m map[int][]float64
	err := json.Unmarshal(b, &m)
	if p.flaw == algotest.Checkpoint {
		err = nil // the flaw: damaged data is taken for an empty model
	}
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.prefs = m
	p.mu.Unlock()
	return nil
}

func (p *softmax) NewAgent(id learning.AgentID) learning.LearningAlgorithm {
	h := fnv.New64a()
	h.Write([]byte(id))
	seed := p.spec.Seed
	if p.flaw == algotest.Seed {
		seed = rand.Uint64() // the flaw: a seed from the global source
	}
	return &softmaxAgent{p: p, rng: rand.New(rand.NewPCG(seed, h.Sum64()))}
}

type softmaxAgent struct {
	p      *softmax
	rng    *rand.Rand
	obs    learning.Observation
	state  int
	action int
}

func (a *softmaxAgent) InitAgent(obs learning.Observation) { a.see(obs) }

func (a *softmaxAgent) see(obs learning.Observation) {
	a.obs = obs.Clone()
	a.state = int(math.Floor(4 * math.Tanh(obs.Values[0])))
}

func (a *softmaxAgent) IsLearning() bool {
	a.p.lock()
	defer a.p.unlock()
	return a.p.learning
}

func (a *softmaxAgent) allowed(i int) bool {
	return a.p.flaw == algotest.Mask || a.obs.Allowed(i) // the flaw: the mask ignored
}

// probs is the softmax of the state's preferences over the allowed actions
// while learning, all on the best allowed action otherwise.
func (a *softmaxAgent) probs() []float64 {
	a.p.lock()
	defer a.p.unlock()
	n := a.p.spec.Actions.N
	row := a.p.prefs[a.state]
	pref := func(i int) float64 {
		if row == nil {
			return 0
		}
		return row[i]
	}
	out := make([]float64, n)
	if !a.p.learning {
		best := -1
		for i := range n {
			if a.allowed(i) && (best < 0 || pref(i) > pref(best)) {
				best = i
			}
		}
		out[best] = 1
		return out
	}
	sum := 0.0
	for i := range n {
		if a.allowed(i) {
			out[i] = math.Exp(pref(i))
			sum += out[i]
		}
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

func (a *softmaxAgent) ActionProbabilities() []float64 {
	p := a.probs()
	if a.p.flaw == algotest.Probabilities {
		p = append(p, 0) // the flaw: one entry too many
	}
	return p
}

func (a *softmaxAgent) SampleAction() learning.Action {
	probs := a.probs()
	learns := a.IsLearning()
	switch {
	case a.p.flaw == algotest.Sampling && learns,
		a.p.flaw == algotest.Greedy && !learns:
		// the flaw: uniform over the allowed actions, whatever the
		// probabilities say
		var ok []int
		for i := range probs {
			if a.allowed(i) {
				ok = append(ok, i)
			}
		}
		a.action = ok[a.rng.IntN(len(ok))]
	default:
		u := a.rng.Float64()
		a.action = len(probs) - 1
		for i, p := range probs {
			if u < p {
				a.action = i
				break
			}
			u -= p
		}
	}
	if a.p.flaw == algotest.Space {
		return learning.Action(a.action) // the flaw: the index, not the action
	}
	return a.p.spec.Actions.Action(a.action)
}

func (a *softmaxAgent) Update(obs learning.Observation, reward float64) {
	a.p.lock()
	if a.p.learning {
		row := a.p.prefs[a.state]
		if row == nil {
			row = make([]float64, a.p.spec.Actions.N)
			a.p.prefs[a.state] = row
		}
		row[a.action] += 0.2 * reward
	}
	a.p.unlock()
	a.see(obs)
}

func (a *softmaxAgent) AgentJoined(learning.AgentID) {}
func (a *softmaxAgent) AgentLeft(learning.AgentID)   {}

// untrainable hides SetLearning: a learner that cannot be made greedy.
type untrainable struct{ p *softmax }

func (u untrainable) Name() string { return u.p.Name() }
func (u untrainable) NewAgent(id learning.AgentID) learning.LearningAlgorithm {
	return u.p.NewAgent(id)
}

func algorithm(flaw string) learning.Algorithm {
	return learning.Algorithm{
		Name: "softmax-" + flaw, Learns: true,
		New: func(spec learning.Spec) (learning.Policy, error) {
			p := newSoftmax(spec, flaw)
			if flaw == algotest.Make {
				return untrainable{p}, nil
			}
			return p, nil
		},
	}
}

func TestCorrectAlgorithmPasses(t *testing.T) {
	vs := algotest.Run(algorithm(""), algotest.Options{})
	for _, v := range vs {
		t.Log(v)
		if v.Problem != "" {
			t.Errorf("%s on %s failed: %s", v.Contract, v.Spec, v.Problem)
		}
		if v.Skipped != "" && !(v.Contract == algotest.Mask && strings.Contains(v.Spec, "single")) {
			t.Errorf("%s on %s was skipped: %s", v.Contract, v.Spec, v.Skipped)
		}
	}
}

// Every contract but concurrency (TestRaceCaught) catches the fixture made
// to break it, and only it, naming it and saying how to fix it.
func TestBrokenAlgorithmsAreCaught(t *testing.T) {
	for _, flaw := range algotest.Contracts() {
		if flaw == algotest.Concurrency {
			continue
		}
		t.Run(flaw, func(t *testing.T) {
			failed := map[string]bool{}
			for _, v := range algotest.Failed(algotest.Run(algorithm(flaw), algotest.Options{})) {
				failed[v.Contract] = true
				if v.Contract == flaw {
					t.Log(v.Problem)
					if !strings.Contains(v.Problem, `contract "`+flaw+`" broken`) || !strings.Contains(v.Problem, "Fix: "+algotest.Fix(flaw)) {
						t.Errorf("the problem does not name the contract and its fix: %s", v.Problem)
					}
				}
			}
			if !failed[flaw] {
				t.Errorf("the %s contract did not catch an algorithm that breaks it", flaw)
			}
			for c := range failed {
				if c != flaw {
					t.Errorf("an algorithm broken for %s also failed %s", flaw, c)
				}
			}
		})
	}
}

// The concurrency contract catches a policy whose agents write shared state
// without a lock, through the race detector: it runs in a child process,
// which the race fails.
func TestRaceCaught(t *testing.T) {
	if os.Getenv("ALGOTEST_RACY_CHILD") == "1" {
		skip := map[string]string{}
		for _, c := range algotest.Contracts() {
			if c != algotest.Concurrency {
				skip[c] = "only concurrency"
			}
		}
		algotest.CheckWith(t, algorithm(algotest.Concurrency), algotest.Options{Specs: algotest.Specs()[:1], Skip: skip})
		return
	}
	if !raceEnabled {
		t.Skip("the race detector is off: run go test -race")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRaceCaught$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ALGOTEST_RACY_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "DATA RACE") {
		t.Fatalf("the racy policy passed the concurrency contract under -race (err %v):\n%s", err, out)
	}
	if !strings.Contains(string(out), "/concurrency") {
		t.Errorf("the race was not reported in the concurrency subtest:\n%s", out)
	}
}

func TestSkipAndNotes(t *testing.T) {
	vs := algotest.Run(algorithm(""), algotest.Options{Specs: algotest.Specs()[:1], Skip: map[string]string{algotest.Seed: "a reason"}})
	for _, v := range vs {
		if v.Contract == algotest.Seed && v.Skipped != "a reason" {
			t.Errorf("seed verdict %+v, want skipped with the reason given", v)
		}
		if v.Contract == algotest.Sampling && !strings.Contains(v.Note, "degrees of freedom") {
			t.Errorf("the sampling verdict does not say what the test found: %+v", v)
		}
	}
}
