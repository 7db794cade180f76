package env_test

import (
	"fmt"
	"sync"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/learning"
)

// counter is an environment: each of two agents says three times how many
// tokens (1 or 2) it takes from a shared pile of 10, which a pile actor
// keeps; the episode ends when both are done.
type counter struct{}

var schema = learning.NewSchemaOf("counter/v1", learning.Field{Name: "pile", About: "tokens left", Low: 0, High: 10})

func (counter) Name() string { return "counter/v1" }
func (counter) PossibleAgents() []learning.AgentID {
	return []learning.AgentID{"a", "b"}
}
func (counter) Spec(learning.AgentID) learning.Spec {
	return learning.Spec{Observation: schema, Actions: learning.ActionSpace{N: 2, Start: 1}}
}

type episode struct {
	env.Ending
	mu          sync.Mutex
	taken, done int
}

func (ep *episode) Metrics() env.Metrics {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return env.Metrics{"taken": float64(ep.taken)}
}

type take struct{ n int }

// took answers a take: the tokens taken and those left.
type took struct{ n, left int }

func (counter) Start(rt actors.Runtime, seed uint64, agents env.Agents) (env.Episode, error) {
	ep := &episode{}
	roster := rt.Spawn(env.NewRoster(nil))
	pile := 10
	pileActor := rt.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if t, ok := msg.(take); ok {
			n := min(t.n, pile)
			pile -= n
			ctx.Reply(ctx.ReplyTo(), took{n, pile})
		}
	}))
	for _, id := range []learning.AgentID{"a", "b"} {
		agent := env.Attach(id, agents(id))
		left, turns := 10, 0
		rt.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
			if agent.Handle(msg) { // Joined and Left, for the algorithm
				return
			}
			obs := func() learning.Observation {
				return learning.Observation{Schema: schema, Values: []float64{float64(left)}}
			}
			switch msg.(type) {
			case actors.Started:
				ctx.Send(roster, env.Join{ID: id})
				ctx.After(1, "turn")
			case string:
				n, _ := agent.Act(obs(), 0)
				ctx.Request(pileActor, take{int(n)}, actors.Forever, func(ctx actors.Context, reply any, _ error) {
					t := reply.(took)
					ep.mu.Lock()
					ep.taken += t.n
					ep.mu.Unlock()
					left, turns = t.left, turns+1
					if turns < 3 {
						ctx.After(1, "turn")
						return
					}
					agent.Finish(obs(), float64(10-left))
					ep.mu.Lock()
					ep.done++
					all := ep.done == 2
					ep.mu.Unlock()
					if all {
						ep.End()
					}
				})
			}
		}))
	}
	return ep, nil
}

// greedy always takes two tokens.
type greedy struct{ joined []learning.AgentID }

func (g *greedy) InitAgent(learning.Observation)       {}
func (g *greedy) Update(learning.Observation, float64) {}
func (g *greedy) IsLearning() bool                     { return false }
func (g *greedy) SampleAction() learning.Action        { return 2 }
func (g *greedy) ActionProbabilities() []float64       { return []float64{0, 1} }
func (g *greedy) AgentJoined(id learning.AgentID)      { g.joined = append(g.joined, id) }
func (g *greedy) AgentLeft(learning.AgentID)           {}

// An environment runs an episode in the simulator, with a LearningAlgorithm
// per agent; agents learn of each other through the Roster.
func ExampleRunSim() {
	algs := map[learning.AgentID]*greedy{"a": {}, "b": {}}
	out, err := env.RunSim(counter{}, 1, func(id learning.AgentID) learning.LearningAlgorithm { return algs[id] }, 0)
	if err != nil {
		panic(err)
	}
	fmt.Println("done:", out.Done, "at t =", out.Time, "tokens taken:", out.Metrics["taken"])
	fmt.Println("a was told of", algs["a"].joined, "and b of", algs["b"].joined)
	// Output:
	// done: true at t = 3 tokens taken: 10
	// a was told of [b] and b of [a]
}
