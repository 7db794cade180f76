package envtest

import (
	"fmt"
	"testing"

	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/learning"
	"github.com/marlon-go/marlon/learning/algotest"
)

// Observations records the observations the agents of e are given (by
// InitAgent and Update) in episodes of each seed of o driven by the suite's
// uniformly random agents, by agent.
func Observations(e env.Environment, o Options) (map[learning.AgentID][]learning.Observation, error) {
	o = o.withDefaults()
	out := map[learning.AgentID][]learning.Observation{}
	for _, seed := range o.Seeds {
		ep := simulate(e, seed, 7, o)
		if ep.startErr != nil {
			return nil, ep.startErr
		}
		if len(ep.crashes) > 0 {
			return nil, fmt.Errorf("%w: %v at t=%v: %s", env.ErrCrashed, ep.crashes[0].Actor, ep.crashes[0].At, ep.crashes[0].Value)
		}
		for _, id := range ep.order {
			for _, c := range ep.agents[id].calls {
				if c.kind != callSample {
					out[id] = append(out[id], c.obs)
				}
			}
		}
	}
	return out, nil
}

// Algorithm returns algorithm name of e's family as e runs it, and the
// algotest Options that check it: made for the Spec of e's first agent
// (a generic algorithm through e's default adapter, as env.NewTeam makes
// it), on observations of the agents with that Spec recorded from episodes
// of e (Observations).
func Algorithm(e env.Environment, name string, o Options) (learning.Algorithm, algotest.Options, error) {
	alg, err := env.Lookup(e, name)
	if err != nil {
		return alg, algotest.Options{}, err
	}
	agents := e.PossibleAgents()
	if len(agents) == 0 {
		return alg, algotest.Options{}, fmt.Errorf("%s has no agents", e.Name())
	}
	native := e.Spec(agents[0])
	spec, adapter, err := env.AlgorithmSpec(e, alg, "")
	if err != nil {
		return alg, algotest.Options{}, err
	}
	recorded, err := Observations(e, o)
	if err != nil {
		return alg, algotest.Options{}, err
	}
	var obs []learning.Observation
	for _, id := range agents {
		if e.Spec(id).Same(native) {
			obs = append(obs, recorded[id]...)
		}
	}
	if len(obs) == 0 {
		return alg, algotest.Options{}, fmt.Errorf("%s: no agent was given an observation in %d episodes", e.Name(), len(o.withDefaults().Seeds))
	}
	checked := alg
	if adapter != nil {
		inner := alg.New
		checked.New = func(s learning.Spec) (learning.Policy, error) {
			as := spec
			as.Seed = s.Seed
			p, err := inner(as)
			if err != nil {
				return nil, err
			}
			return learning.Adapt(p, adapter, s.Actions), nil
		}
	}
	return checked, algotest.Options{Specs: []learning.Spec{native}, Observe: algotest.From(obs)}, nil
}

// RunAlgorithm checks algorithm name of e's family as e runs it (see
// Algorithm) and returns the verdicts.
func RunAlgorithm(e env.Environment, name string) ([]algotest.Verdict, error) {
	alg, ao, err := Algorithm(e, name, Options{})
	if err != nil {
		return nil, err
	}
	return algotest.Run(alg, ao), nil
}

// CheckAlgorithm checks algorithm name of e's family as e runs it (see
// Algorithm), each contract as a subtest.
func CheckAlgorithm(t *testing.T, e env.Environment, name string) {
	t.Helper()
	alg, ao, err := Algorithm(e, name, Options{})
	if err != nil {
		t.Fatal(err)
	}
	algotest.CheckWith(t, alg, ao)
}
