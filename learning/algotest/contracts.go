package algotest

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/marlon-go/marlon/learning"
)

// The suite's episodes: how many, how many agents, how many actions each.
const (
	warmEpisodes = 12
	warmAgents   = 3
	warmSteps    = 6
	fixedObs     = 24 // observations the greedy and checkpoint contracts replay
	parAgents    = 4
	parEpisodes  = 3
	parSteps     = 12
)

// subject is an algorithm under test for one Spec.
type subject struct {
	alg  learning.Algorithm
	spec learning.Spec
	o    Options
	// Findings by contract: the first problem seen, and whether the
	// contract was exercised at all.
	problems map[string]string
	masked   bool
}

func (s *subject) fail(contract, format string, args ...any) {
	if _, seen := s.problems[contract]; !seen {
		s.problems[contract] = problem(contract, format, args...)
	}
}

func (s *subject) failed(contract string) bool { _, ok := s.problems[contract]; return ok }

// rng returns the suite's random source for purpose, derived from the seed.
func (s *subject) rng(purpose uint64) *rand.Rand { return rand.New(rand.NewPCG(s.o.Seed, purpose)) }

// newPolicy makes the algorithm's policy for the Spec with seed.
func (s *subject) newPolicy(seed uint64) (p learning.Policy, err error) {
	spec := s.spec
	spec.Seed = seed
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the algorithm's New panicked: %v\n%s", r, debug.Stack())
		}
	}()
	p, err = s.alg.New(spec)
	if err == nil && p == nil {
		err = fmt.Errorf("the algorithm's New returned a nil policy and no error")
	}
	return p, err
}

func setLearning(p learning.Policy, on bool) {
	if tr, ok := learning.As[learning.Trainable](p); ok {
		tr.SetLearning(on)
	}
}

func begin(p learning.Policy) {
	if e, ok := learning.As[learning.Episodic](p); ok {
		e.BeginEpisode()
	}
}

func end(p learning.Policy) {
	if e, ok := learning.As[learning.Episodic](p); ok {
		e.EndEpisode()
	}
}

// step is one action of one agent: what it saw, the distribution it
// reported and the action it took.
type step struct {
	episode, agent, n int
	obs               learning.Observation
	probs             []float64
	again             []float64 // ActionProbabilities asked a second time, before SampleAction
	action            learning.Action
}

func (st step) String() string {
	return fmt.Sprintf("episode %d, agent %d, action %d: observation %v mask %v, probabilities %v, action %d",
		st.episode, st.agent, st.n, st.obs.Values, st.obs.Mask, st.probs, st.action)
}

// reward rewards the lowest allowed action and punishes the others a
// little, at random: a signal a learner follows, so that its policy moves
// away from where it started.
func reward(st step, space learning.ActionSpace, rng *rand.Rand) float64 {
	for i := range space.N {
		if st.obs.Allowed(i) {
			if space.Index(st.action) == i {
				return 1
			}
			break
		}
	}
	return -rng.Float64()
}

// episodes runs n episodes of the agents of p in turn, each taking steps
// actions, and calls see on every action (see may be nil). Observations and
// rewards come from rng.
func (s *subject) episodes(p learning.Policy, agents []learning.LearningAlgorithm, n, steps int, rng *rand.Rand, first int, see func(step)) {
	for e := range n {
		begin(p)
		obs := make([]learning.Observation, len(agents))
		for i, a := range agents {
			obs[i] = s.o.Observe(s.spec, rng)
			a.InitAgent(obs[i])
		}
		for k := range steps {
			for i, a := range agents {
				st := step{episode: first + e, agent: i, n: k, obs: obs[i]}
				st.probs = a.ActionProbabilities()
				st.again = a.ActionProbabilities()
				st.action = a.SampleAction()
				if see != nil {
					see(st)
				}
				next := s.o.Observe(s.spec, rng)
				next.Terminal = k == steps-1
				a.Update(next, reward(st, s.spec.Actions, rng))
				obs[i] = next
			}
		}
		end(p)
	}
}

// inspect checks one action against the space, mask and probabilities
// contracts.
func (s *subject) inspect(st step) {
	sp := s.spec.Actions
	if !sp.Contains(st.action) {
		s.fail(Space, "%s: action %d is outside the action space (actions %d to %d)", st, st.action, sp.Start, sp.Start+sp.N-1)
	}
	s.checkProbs(st)
	if st.obs.Mask != nil {
		s.masked = true
		if sp.Contains(st.action) && !st.obs.Allowed(sp.Index(st.action)) {
			s.fail(Mask, "%s: the mask forbids action %d", st, st.action)
		}
		for i, p := range st.probs {
			if p != 0 && !st.obs.Allowed(i) && i < sp.N {
				s.fail(Mask, "%s: the mask forbids action %d and its probability is %v", st, sp.Action(i), p)
			}
		}
	}
	if st.again != nil && !slices.Equal(st.again, st.probs) {
		s.fail(Probabilities, "%s: asked again, before any other call, ActionProbabilities returned %v", st, st.again)
	}
}

func (s *subject) checkProbs(st step) {
	if len(st.probs) != s.spec.Actions.N {
		s.fail(Probabilities, "%s: %d probabilities for %d actions", st, len(st.probs), s.spec.Actions.N)
		return
	}
	sum := 0.0
	for i, p := range st.probs {
		if !(p >= 0) || math.IsInf(p, 0) {
			s.fail(Probabilities, "%s: probability %v of action %d is not a finite number >= 0", st, p, s.spec.Actions.Action(i))
			return
		}
		sum += p
	}
	if math.Abs(sum-1) > 1e-9 {
		s.fail(Probabilities, "%s: the probabilities sum to %v, not 1", st, sum)
	}
}

// runSpec checks every contract on the policy alg makes for spec.
func runSpec(alg learning.Algorithm, spec learning.Spec, o Options) []Verdict {
	s := &subject{alg: alg, spec: spec, o: o, problems: map[string]string{}}
	name := "<no schema>"
	if spec.Observation != nil {
		name = spec.Observation.Name()
	}
	verdicts := map[string]*Verdict{}
	for _, c := range Contracts() {
		v := &Verdict{Contract: c, Spec: name}
		if why, ok := o.Skip[c]; ok {
			v.Skipped = why
		}
		verdicts[c] = v
	}
	out := func() []Verdict {
		var vs []Verdict
		for _, c := range Contracts() {
			v := verdicts[c]
			if p, ok := s.problems[c]; ok && v.Skipped == "" {
				v.Problem = p
			}
			vs = append(vs, *v)
		}
		return vs
	}
	skipRest := func(why string) []Verdict {
		for _, c := range Contracts() {
			if v := verdicts[c]; c != Make && v.Skipped == "" {
				v.Skipped = why
			}
		}
		return out()
	}
	if spec.Observation == nil || spec.Actions.N < 1 {
		s.fail(Make, "the Spec given to the suite has no observation schema or no action (N = %d)", spec.Actions.N)
		return skipRest("no valid Spec")
	}
	guard := func(contract string, f func()) {
		defer func() {
			if r := recover(); r != nil {
				s.fail(contract, "the algorithm panicked: %v\n%s", r, debug.Stack())
			}
		}()
		f()
	}

	// make
	p, err := s.newPolicy(o.Seed)
	if err != nil {
		s.fail(Make, "New(spec) for %s with %d actions: %v", name, spec.Actions.N, err)
		return skipRest("the policy could not be made")
	}
	guard(Make, func() { s.checkMake(p) })
	if s.failed(Make) {
		return skipRest("the policy could not be made as the contract says")
	}

	// space, mask, probabilities: while learning, and greedy below.
	agents := make([]learning.LearningAlgorithm, warmAgents)
	for i := range agents {
		agents[i] = p.NewAgent(agentID(i))
	}
	guard(Space, func() {
		s.episodes(p, agents, warmEpisodes, warmSteps, s.rng(1), 0, func(st step) { s.inspect(st) })
	})
	if v := verdicts[Sampling]; v.Skipped == "" {
		guard(Sampling, func() { v.Note = s.checkSampling(p, agents[0]) })
	}
	if v := verdicts[Greedy]; v.Skipped == "" {
		guard(Greedy, func() { v.Note = s.checkGreedy(p, agents) })
	}
	if !s.masked && verdicts[Mask].Skipped == "" {
		verdicts[Mask].Skipped = "no observation had a mask"
	}
	if v := verdicts[Checkpoint]; v.Skipped == "" {
		guard(Checkpoint, func() { v.Skipped = s.checkCheckpoint(p) })
	}
	if v := verdicts[Seed]; v.Skipped == "" {
		guard(Seed, s.checkSeed)
	}
	if v := verdicts[Concurrency]; v.Skipped == "" {
		guard(Concurrency, func() { v.Note = s.checkConcurrency() })
	}
	return out()
}

// concurrency checks the concurrency contract alone, on the Spec of o
// whose schema is named spec.
func concurrency(alg learning.Algorithm, spec string, o Options) Verdict {
	v := Verdict{Contract: Concurrency, Spec: spec}
	for _, sp := range o.Specs {
		if sp.Observation == nil || sp.Observation.Name() != spec {
			continue
		}
		s := &subject{alg: alg, spec: sp, o: o, problems: map[string]string{}}
		func() {
			defer func() {
				if r := recover(); r != nil {
					s.fail(Concurrency, "the algorithm panicked: %v\n%s", r, debug.Stack())
				}
			}()
			v.Note = s.checkConcurrency()
		}()
		v.Problem = s.problems[Concurrency]
		return v
	}
	v.Skipped = "no such Spec"
	return v
}

func agentID(i int) learning.AgentID { return learning.AgentID(fmt.Sprintf("algotest-%d", i)) }

// checkMake checks what the registry's flags promise.
func (s *subject) checkMake(p learning.Policy) {
	if p.Name() == "" {
		s.fail(Make, "the policy's Name() is empty")
	}
	a := p.NewAgent(agentID(99))
	if a == nil {
		s.fail(Make, "NewAgent returned nil")
		return
	}
	a.InitAgent(s.o.Observe(s.spec, s.rng(99)))
	_, trainable := learning.As[learning.Trainable](p)
	switch {
	case s.alg.Learns && !trainable:
		s.fail(Make, "algorithm %s is registered as learning (Learns) but its policy %T is not a learning.Trainable, so it cannot be switched to greedy evaluation", s.alg.Name, p)
	case !s.alg.Learns && a.IsLearning():
		s.fail(Make, "algorithm %s is registered as not learning but its agents report IsLearning() == true", s.alg.Name)
	}
}

// checkSampling draws o.Draws actions, one per episode so that an
// algorithm's per-episode state (shared exploration) is drawn anew each
// time, and tests them against the probabilities reported before each.
func (s *subject) checkSampling(p learning.Policy, a learning.LearningAlgorithm) string {
	rng := s.rng(2)
	draws := make([]draw, 0, s.o.Draws)
	for k := range s.o.Draws {
		begin(p)
		obs := s.o.Observe(s.spec, rng)
		a.InitAgent(obs)
		probs := a.ActionProbabilities()
		act := a.SampleAction()
		end(p)
		st := step{episode: k, obs: obs, probs: probs, action: act}
		if len(probs) != s.spec.Actions.N || !s.spec.Actions.Contains(act) {
			s.inspect(st) // reported under space or probabilities
			return ""
		}
		i := s.spec.Actions.Index(act)
		if probs[i] == 0 {
			s.fail(Sampling, "draw %d: observation %v mask %v: action %d was drawn, and its probability was 0 (probabilities %v)", k, obs.Values, obs.Mask, act, probs)
			return ""
		}
		draws = append(draws, sparse(probs, i))
	}
	q, df, pv := goodnessOfFit(draws)
	if df == 0 {
		return "every distribution put all its probability on one action: checked that it was the one drawn"
	}
	if pv < s.o.Alpha {
		counts, expected := tally(draws, s.spec.Actions.N)
		s.fail(Sampling, "over %d draws the actions drawn do not follow the probabilities reported before each draw: chi-squared %.1f with %d degrees of freedom, p = %.2g < alpha = %g (the false-alarm rate); actions drawn per action %v, expected %v", len(draws), q, df, pv, s.o.Alpha, counts, expected)
		return ""
	}
	return fmt.Sprintf("%d draws, chi-squared %.1f with %d degrees of freedom, p = %.2g >= alpha = %g", len(draws), q, df, pv, s.o.Alpha)
}

// tally counts the actions drawn and the expected counts, rounded, for the
// first actions of the space (at most 12), for messages.
func tally(draws []draw, n int) ([]int, []float64) {
	n = min(n, 12)
	counts, expected := make([]int, n), make([]float64, n)
	for _, d := range draws {
		if d.a < n {
			counts[d.a]++
		}
		for i, j := range d.idx {
			if j < n {
				expected[j] += d.p[i]
			}
		}
	}
	for i := range expected {
		expected[i] = math.Round(expected[i]*10) / 10
	}
	return counts, expected
}

// replay gives each of the observations to agent a in an episode of its
// own and returns the distribution and action it chose each time.
func (s *subject) replay(p learning.Policy, a learning.LearningAlgorithm, obs []learning.Observation) []step {
	out := make([]step, len(obs))
	for i, o := range obs {
		begin(p)
		a.InitAgent(o.Clone())
		out[i] = step{episode: i, obs: o, probs: a.ActionProbabilities(), action: a.SampleAction()}
		end(p)
	}
	return out
}

func (s *subject) fixed(purpose uint64) []learning.Observation {
	rng := s.rng(purpose)
	obs := make([]learning.Observation, fixedObs)
	for i := range obs {
		obs[i] = s.o.Observe(s.spec, rng)
	}
	return obs
}

// differ returns the first step at which two replays differ, to the bit:
// in their probabilities, and in their actions too unless probsOnly.
func differ(x, y []step, probsOnly bool) (int, bool) {
	for i := range x {
		if (!probsOnly && x[i].action != y[i].action) || len(x[i].probs) != len(y[i].probs) {
			return i, true
		}
		for j := range x[i].probs {
			if math.Float64bits(x[i].probs[j]) != math.Float64bits(y[i].probs[j]) {
				return i, true
			}
		}
	}
	return 0, false
}

// checkGreedy switches learning off and checks that agents act greedily and
// learn nothing.
func (s *subject) checkGreedy(p learning.Policy, agents []learning.LearningAlgorithm) (note string) {
	if !s.alg.Learns {
		return s.checkNotLearning(p, agents)
	}
	setLearning(p, false)
	defer setLearning(p, true)
	for i, a := range agents {
		if a.IsLearning() {
			s.fail(Greedy, "after SetLearning(false), agent %d reports IsLearning() == true", i)
			return
		}
	}
	see := func(st step) {
		s.inspect(st)
		sp := s.spec.Actions
		if !sp.Contains(st.action) || len(st.probs) != sp.N {
			return
		}
		if st.probs[sp.Index(st.action)] != 1 {
			s.fail(Greedy, "%s: not learning, the action taken does not have probability 1", st)
		}
	}
	obs := s.fixed(3)
	before := s.replay(p, agents[0], obs)
	for _, st := range before {
		see(st)
	}
	// Episodes with rewards (which a learner would follow), then the same
	// observations again: the same actions.
	s.episodes(p, agents, warmEpisodes, warmSteps, s.rng(4), 0, see)
	after := s.replay(p, agents[0], obs)
	if i, ok := differ(before, after, false); ok && !s.failed(Greedy) {
		s.fail(Greedy, "not learning, the agent acted differently on the same observation after %d rewarded episodes: before, %s; after, %s", warmEpisodes, before[i], after[i])
	}
	return ""
}

// checkNotLearning checks that an algorithm that does not learn (a
// heuristic, a baseline) learns nothing: rewarded episodes leave the
// distributions it reports on the same observations as they were. It may be
// stochastic (a random baseline): its actions are not compared.
func (s *subject) checkNotLearning(p learning.Policy, agents []learning.LearningAlgorithm) string {
	obs := s.fixed(3)
	before := s.replay(p, agents[0], obs)
	s.episodes(p, agents, warmEpisodes, warmSteps, s.rng(4), 0, func(st step) { s.inspect(st) })
	after := s.replay(p, agents[0], obs)
	if i, ok := differ(before, after, true); ok {
		s.fail(Greedy, "an algorithm that does not learn reported another distribution on the same observation after %d rewarded episodes: before, %s; after, %s", warmEpisodes, before[i], after[i])
	}
	return "does not learn: checked that rewards change nothing (it may act at random)"
}

// checkCheckpoint saves p's model, loads it into a policy made with another
// seed and compares their greedy actions, then feeds damaged models.
func (s *subject) checkCheckpoint(p learning.Policy) (skipped string) {
	m, ok := learning.As[learning.Model](p)
	if !ok {
		return fmt.Sprintf("policy %T is not a learning.Model (a checkpoint of it is refused)", p)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		s.fail(Checkpoint, "MarshalBinary: %v", err)
		return ""
	}
	q, err := s.newPolicy(s.o.Seed + 1)
	if err != nil {
		s.fail(Checkpoint, "making a second policy: %v", err)
		return ""
	}
	qm, _ := learning.As[learning.Model](q)
	if err := qm.UnmarshalBinary(bytes.Clone(b)); err != nil {
		s.fail(Checkpoint, "UnmarshalBinary of the model MarshalBinary made (%d bytes) into a policy made for the same Spec: %v", len(b), err)
		return ""
	}
	setLearning(p, false)
	setLearning(q, false)
	defer setLearning(p, true)
	obs := s.fixed(5)
	x := s.replay(p, p.NewAgent(agentID(50)), obs)
	y := s.replay(q, q.NewAgent(agentID(50)), obs)
	if i, ok := differ(x, y, true); ok {
		s.fail(Checkpoint, "greedy, the restored policy (made with seed %d) reports other probabilities than the one saved (seed %d): saved, %s; restored, %s", s.o.Seed+1, s.o.Seed, x[i], y[i])
		return ""
	}
	for _, bad := range [][]byte{b[:len(b)/2], []byte("not a model"), nil} {
		r, err := s.newPolicy(s.o.Seed + 2)
		if err != nil {
			s.fail(Checkpoint, "making a third policy: %v", err)
			return ""
		}
		rm, _ := learning.As[learning.Model](r)
		if err := unmarshal(rm, bad); err == nil {
			s.fail(Checkpoint, "UnmarshalBinary accepted damaged data (%d of the model's %d bytes: %q...)", len(bad), len(b), bad[:min(len(bad), 24)])
			return ""
		} else if _, panicked := err.(panicError); panicked {
			s.fail(Checkpoint, "UnmarshalBinary panicked on damaged data (%d of the model's %d bytes): %v", len(bad), len(b), err)
			return ""
		}
	}
	return ""
}

type panicError struct{ v any }

func (e panicError) Error() string { return fmt.Sprint(e.v) }

func unmarshal(m learning.Model, b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = panicError{r}
		}
	}()
	return m.UnmarshalBinary(b)
}

// checkSeed runs the same calls on two policies made with the same seed.
func (s *subject) checkSeed() {
	run := func() []step {
		p, err := s.newPolicy(s.o.Seed)
		if err != nil {
			s.fail(Seed, "making the policy: %v", err)
			return nil
		}
		agents := []learning.LearningAlgorithm{p.NewAgent(agentID(0)), p.NewAgent(agentID(1))}
		var log []step
		s.episodes(p, agents, warmEpisodes/2, warmSteps, s.rng(6), 0, func(st step) { log = append(log, st) })
		setLearning(p, false)
		log = append(log, s.replay(p, agents[0], s.fixed(7))...)
		return log
	}
	x, y := run(), run()
	if len(x) != len(y) {
		return
	}
	if i, ok := differ(x, y, false); ok {
		s.fail(Seed, "two policies made with seed %d and given the same calls differ at call %d: first, %s; second, %s", s.o.Seed, i, x[i], y[i])
	}
}

// checkConcurrency runs agents of one policy in parallel goroutines.
func (s *subject) checkConcurrency() string {
	p, err := s.newPolicy(s.o.Seed)
	if err != nil {
		s.fail(Concurrency, "making the policy: %v", err)
		return ""
	}
	agents := make([]learning.LearningAlgorithm, parAgents)
	rngs := make([]*rand.Rand, parAgents)
	for i := range agents {
		agents[i] = p.NewAgent(agentID(i))
		rngs[i] = s.rng(100 + uint64(i))
	}
	var mu sync.Mutex
	for range parEpisodes {
		begin(p)
		var wg sync.WaitGroup
		for i, a := range agents {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					if r := recover(); r != nil {
						mu.Lock()
						s.fail(Concurrency, "agent %d panicked acting in parallel with %d others: %v\n%s", i, parAgents-1, r, debug.Stack())
						mu.Unlock()
					}
				}()
				obs := s.o.Observe(s.spec, rngs[i])
				a.InitAgent(obs)
				for k := range parSteps {
					if k == parSteps/2 {
						a.AgentLeft(agentID((i + 1) % parAgents))
						a.AgentJoined(agentID((i + 1) % parAgents))
					}
					a.ActionProbabilities()
					a.SampleAction() // what it returns is the other contracts' business
					next := s.o.Observe(s.spec, rngs[i])
					next.Terminal = k == parSteps-1
					a.Update(next, -rngs[i].Float64())
				}
			}()
		}
		wg.Wait()
		end(p)
	}
	if !raceEnabled {
		return "built without -race: parallel calls ran, data races were not looked for"
	}
	return ""
}
