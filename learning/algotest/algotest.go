// Package algotest is the conformance suite of learning algorithms: it
// checks that an algorithm honours the contracts of learning.Policy and
// learning.LearningAlgorithm that environments, teams and checkpoints rely
// on, as PettingZoo's api_test and seed_test do for its environments. A
// researcher checks an algorithm in one line of a test:
//
//	func TestConformance(t *testing.T) { algotest.Check(t, myAlgorithm) }
//
// where myAlgorithm is the learning.Algorithm given to learning.Register.
// Check makes the algorithm's policy for each of the suite's own Specs
// (Specs: bounded and unbounded fields, an action space that does not start
// at 0, a single action), drives its agents with random observations (Random,
// with action masks half of the time) and random rewards, and reports each
// contract (Contracts) as a subtest. A failure names the contract, shows what
// happened, and says how to fix it. An algorithm made for one environment's
// observations (the classical load-balancing techniques) is checked on that
// environment's Spec and observations recorded from its episodes: CheckWith
// with Options.Specs and Options.Observe, or env/envtest.CheckAlgorithm, which
// does both.
//
// The suite is deterministic: the same algorithm and Options give the same
// verdicts. The sampling contract is a statistical test whose false-alarm
// rate (Options.Alpha, 1e-4 by default) is the probability that a correct
// algorithm fails it for a given seed; since the seed is fixed, a verdict
// does not change from run to run.
//
// Run returns the verdicts without a testing.T, for notebooks and tools.
//
// This package depends on learning (and gonum for the statistics). It must
// not depend on actors, env, any environment or any algorithm.
package algotest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/marlon-go/marlon/learning"
)

// The contracts, by the names verdicts and subtests carry.
const (
	// Make: New makes a policy for the Spec, with a name; an algorithm that
	// learns can be switched to acting greedily (learning.Trainable), one
	// that does not never reports that it learns.
	Make = "make"
	// Space: every action SampleAction returns is in the Spec's action
	// space.
	Space = "space"
	// Mask: an agent offered a mask only ever chooses an action the mask
	// allows, and gives the others probability 0.
	Mask = "mask"
	// Probabilities: ActionProbabilities has one finite, non-negative entry
	// per action, summing to 1, and asking twice changes nothing.
	Probabilities = "probabilities"
	// Sampling: SampleAction draws from ActionProbabilities: the actions
	// drawn match the probabilities reported before each draw (a
	// chi-squared test at Options.Alpha), and no action of probability 0 is
	// drawn.
	Sampling = "sampling"
	// Greedy: an algorithm that learns, switched off (SetLearning(false)),
	// acts greedily (all probability on the action it takes) and learns
	// nothing: rewards change nothing. One that does not learn (a
	// heuristic, a random baseline) learns nothing either, but may act at
	// random.
	Greedy = "greedy"
	// Checkpoint: a policy that is a learning.Model acts the same after its
	// model is saved and loaded into a fresh policy made with another seed,
	// and refuses a damaged model with an error.
	Checkpoint = "checkpoint"
	// Seed: two policies made with the same Spec and seed, given the same
	// calls, act the same, to the bit.
	Seed = "seed"
	// Concurrency: agents of one policy acting in parallel goroutines (as in
	// the live runtime) neither crash nor race (run the tests with -race).
	Concurrency = "concurrency"
)

// Contracts lists the contracts in the order they are checked.
func Contracts() []string {
	return []string{Make, Space, Mask, Probabilities, Sampling, Greedy, Checkpoint, Seed, Concurrency}
}

// fixes says, for each contract, how to honour it.
var fixes = map[string]string{
	Make:          "New must return a policy for any Spec it accepts (or an error saying which it refuses); an algorithm registered with Learns must implement learning.Trainable (found with learning.As) so that it can be evaluated greedily, and one without Learns must report IsLearning() == false",
	Space:         "return spec.Actions.Action(i) for the i-th action of the space (actions run from spec.Actions.Start to Start+N-1), not the index i itself",
	Mask:          "choose only actions obs.Allowed(spec.Actions.Index(a)) permits, for the latest observation's Mask, and give the others probability 0 in ActionProbabilities",
	Probabilities: "return a fresh slice of spec.Actions.N probabilities, indexed by spec.Actions.Index, finite, >= 0 and summing to 1, computed without changing the agent's state",
	Sampling:      "draw SampleAction's action from the very distribution ActionProbabilities reports for the latest observation (with exploration included while learning)",
	Greedy:        "when learning is switched off (IsLearning() false), put probability 1 on one action, return that action from SampleAction, and change no learnt state in Update or EndEpisode; an algorithm that does not learn changes nothing it reports in Update or EndEpisode",
	Checkpoint:    "MarshalBinary must capture everything the greedy policy depends on, UnmarshalBinary must restore it into a policy made for the same Spec whatever its seed, and return an error (not panic) on data it cannot read",
	Seed:          "draw every random number from a source seeded by Spec.Seed (and the agent's ID), never from math/rand's global source, the clock or map iteration order",
	Concurrency:   "agents of one Policy may act in parallel (calls for one agent never overlap): guard what they share (a model, counters, random sources) with a mutex or atomics",
}

// Fix says how to honour contract.
func Fix(contract string) string { return fixes[contract] }

// Options say how to check an algorithm. The zero Options check a generic
// algorithm on the suite's own Specs and random observations.
type Options struct {
	// Specs are what the algorithm is made for, one check of every contract
	// each (nil: Specs()).
	Specs []learning.Spec
	// Observe draws an observation for an agent of spec (nil: Random).
	Observe func(spec learning.Spec, rng *rand.Rand) learning.Observation
	// Seed seeds the suite's draws and is the Specs' seed (0: 1).
	Seed uint64
	// Draws is the number of actions the sampling contract draws per Spec
	// (0: 2000).
	Draws int
	// Alpha is the false-alarm rate of the sampling contract: the
	// probability that a correct algorithm fails it (0: 1e-4).
	Alpha float64
	// Skip names contracts not to check, with the reason, which the verdict
	// shows.
	Skip map[string]string
}

func (o Options) withDefaults() Options {
	if o.Specs == nil {
		o.Specs = Specs()
	}
	if o.Observe == nil {
		o.Observe = Random
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Draws <= 0 {
		o.Draws = 2000
	}
	if o.Alpha <= 0 {
		o.Alpha = 1e-4
	}
	return o
}

// Verdict is the outcome of one contract on one Spec (env/envtest's
// verdicts on an environment too, with no Spec).
type Verdict struct {
	Contract string
	// Spec is the name of the observation schema the policy was made for
	// ("": not about one, an environment's contract).
	Spec string
	// Skipped says why the contract was not checked ("" if it was).
	Skipped string
	// Problem says how the algorithm broke the contract, and how to fix it
	// ("" if it did not).
	Problem string
	// Note is anything else worth knowing (what was not exercised).
	Note string
}

// Passed reports whether the contract was checked and honoured.
func (v Verdict) Passed() bool { return v.Skipped == "" && v.Problem == "" }

func (v Verdict) String() string {
	what := fmt.Sprintf("%-13s %-24s", v.Contract, v.Spec)
	if v.Spec == "" {
		what = fmt.Sprintf("%-12s", v.Contract)
	}
	switch {
	case v.Skipped != "":
		return what + " skipped: " + v.Skipped
	case v.Problem != "":
		return what + " FAIL: " + v.Problem
	case v.Note != "":
		return what + " ok (" + v.Note + ")"
	}
	return what + " ok"
}

// Report reports v in t: a broken contract fails t with its problem, a
// skipped one skips t with its reason, a note is logged.
func (v Verdict) Report(t testing.TB) {
	t.Helper()
	switch {
	case v.Problem != "":
		t.Error(v.Problem)
	case v.Skipped != "":
		t.Skip(v.Skipped)
	case v.Note != "":
		t.Log(v.Note)
	}
}

// Failed returns the verdicts that did not pass and were not skipped.
func Failed(vs []Verdict) []Verdict {
	var out []Verdict
	for _, v := range vs {
		if v.Problem != "" {
			out = append(out, v)
		}
	}
	return out
}

// Run checks every contract on alg, for each of o's Specs, and returns the
// verdicts in order (for each Spec, the Contracts in order).
func Run(alg learning.Algorithm, o Options) []Verdict {
	o = o.withDefaults()
	var out []Verdict
	for _, spec := range o.Specs {
		out = append(out, runSpec(alg, spec, o)...)
	}
	return out
}

// Check runs every contract on the generic algorithm alg, for the suite's
// own Specs, each as a subtest named spec/contract.
func Check(t *testing.T, alg learning.Algorithm) { CheckWith(t, alg, Options{}) }

// CheckWith runs every contract on alg as o says, each as a subtest named
// spec/contract.
//
// The concurrency contract runs inside its own subtest, so that a data race
// the race detector finds fails that subtest.
func CheckWith(t *testing.T, alg learning.Algorithm, o Options) {
	t.Helper()
	o = o.withDefaults()
	_, skipped := o.Skip[Concurrency]
	skip := map[string]string{Concurrency: deferred}
	for c, why := range o.Skip {
		skip[c] = why
	}
	o.Skip = skip
	for _, v := range Run(alg, o) {
		if v.Contract == Concurrency && !skipped && v.Skipped == deferred {
			t.Run(subtest(v), func(t *testing.T) {
				concurrency(alg, v.Spec, o).Report(t)
			})
			continue
		}
		t.Run(subtest(v), func(t *testing.T) { v.Report(t) })
	}
}

// deferred marks the concurrency contract that CheckWith runs in a subtest.
const deferred = "\x00deferred"

func subtest(v Verdict) string { return strings.ReplaceAll(v.Spec, "/", "_") + "/" + v.Contract }

// Report turns verdicts into subtests named spec/contract: a failed one
// fails with its problem, a skipped one is skipped with its reason.
func Report(t *testing.T, vs []Verdict) {
	t.Helper()
	for _, v := range vs {
		t.Run(subtest(v), func(t *testing.T) { v.Report(t) })
	}
}

// problem formats a broken contract's message: what happened, and the fix.
func problem(contract, format string, args ...any) string {
	return fmt.Sprintf("contract %q broken: %s.\nFix: %s.", contract, fmt.Sprintf(format, args...), fixes[contract])
}
