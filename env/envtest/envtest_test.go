package envtest_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/env/envtest"
	"github.com/marlon-go/marlon/learning"
)

// relay is a small correct environment: four agents, three starting and
// one joining at t=3, one of them leaving at t=5; each acts once per time
// unit, six times, on an observation of the time and a load drawn from the
// episode's seed, with a mask of the three actions (1, 2, 3) drawn the same
// way. flaw breaks one contract on purpose.
type relay struct {
	flaw     string
	episodes int // Start calls so far
}

const (
	relaySteps  = 6
	seedIgnored = "seed-ignored" // a second flaw of the reproducible contract
)

var relaySchema = learning.NewSchemaOf("relay/v1",
	learning.Field{Name: "time", About: "the time", Low: 0, High: 100},
	learning.Field{Name: "load", About: "a load", Low: 0, High: 1},
)

var relayFeatures = learning.NewSchemaOf("relay-features/v1",
	learning.Field{Name: "load", About: "the load", Low: 0, High: 1},
)

func relayID(i int) learning.AgentID { return learning.AgentID(fmt.Sprintf("a%d", i)) }

func (r *relay) Name() string { return "relay/v1" }

func (r *relay) PossibleAgents() []learning.AgentID {
	return []learning.AgentID{relayID(0), relayID(1), relayID(2), relayID(3)}
}

func (r *relay) Spec(learning.AgentID) learning.Spec {
	return learning.Spec{Observation: relaySchema, Actions: learning.ActionSpace{N: 3, Start: 1}}
}

func (r *relay) Adapters() []string { return []string{"ends"} }

func (r *relay) Adapter(name string) (learning.Adapter, error) {
	if name == "" || name == "ends" {
		return ends{flaw: r.flaw}, nil
	}
	return nil, fmt.Errorf("unknown adapter %q; one of ends", name)
}

// ends offers the learner two actions: the lowest and the highest allowed.
type ends struct{ flaw string }

func (a ends) Spec() learning.Spec {
	return learning.Spec{Observation: relayFeatures, Actions: learning.Discrete(2)}
}

func (a ends) Observe(obs learning.Observation) learning.Observation {
	return learning.Observation{Schema: relayFeatures, Values: []float64{obs.Values[1]}, Terminal: obs.Terminal}
}

func (a ends) Act(obs learning.Observation, k learning.Action) learning.Action {
	if k == 1 && a.flaw == envtest.Adapters {
		return 4 // the flaw: outside the agent's actions 1..3
	}
	lo, hi := -1, -1
	for i := range 3 {
		if obs.Allowed(i) {
			if lo < 0 {
				lo = i
			}
			hi = i
		}
	}
	if k == 0 {
		return learning.Action(1 + lo)
	}
	return learning.Action(1 + hi)
}

type relayEpisode struct {
	env.Ending
	mu       sync.Mutex
	finished int
	steps    int
	reward   float64
	last     float64
	flaw     string
}

func (ep *relayEpisode) Metrics() env.Metrics {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	m := env.Metrics{"reward": ep.reward, "steps": float64(ep.steps), "end": ep.last}
	if ep.flaw == envtest.Metrics {
		m["mean_wait"] = math.NaN() // the flaw: a mean over nothing
	}
	return m
}

func (ep *relayEpisode) agentDone(now float64) {
	ep.mu.Lock()
	ep.finished++
	ep.last = now
	all := ep.finished == 4
	ep.mu.Unlock()
	if all && ep.flaw != envtest.Completes { // the flaw: never ends
		ep.End()
	}
}

func (r *relay) Start(rt actors.Runtime, seed uint64, agents env.Agents) (env.Episode, error) {
	if _, sim := rt.(*actors.Sim); !sim && r.flaw == envtest.Live {
		return nil, errors.New("relay runs in the simulator only") // the flaw
	}
	r.episodes++
	if r.flaw == seedIgnored {
		seed = 42 // the flaw
	}
	ep := &relayEpisode{flaw: r.flaw}
	roster := rt.Spawn(env.NewRoster(nil))
	rt.Spawn(&relayDirector{r: r, ep: ep, seed: seed, roster: roster, agents: agents})
	if r.flaw == envtest.Crash {
		rt.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
			switch msg.(type) {
			case actors.Started:
				ctx.After(2, "boom")
			case string:
				panic("the monitor's flaw") // the flaw
			}
		}))
	}
	return ep, nil
}

type relayDirector struct {
	r       *relay
	ep      *relayEpisode
	seed    uint64
	roster  actors.Addr
	agents  env.Agents
	spawned []actors.Addr
}

type joinLater struct{}
type leaveNow struct{}

func (d *relayDirector) Receive(ctx actors.Context, msg any) {
	switch msg.(type) {
	case actors.Started:
		for range 3 {
			d.spawn(ctx)
		}
		ctx.After(3, joinLater{})
		ctx.After(5, leaveNow{})
	case joinLater:
		d.spawn(ctx)
	case leaveNow:
		ctx.Stop(d.spawned[1])
	}
}

func (d *relayDirector) spawn(ctx actors.Context) {
	i := len(d.spawned)
	id := relayID(i)
	alg := d.agents(id)
	if d.r.flaw == envtest.Agents && i == 0 {
		alg = d.agents(id) // the flaw: asked twice
	}
	d.spawned = append(d.spawned, ctx.Spawn(&relayAgent{
		id: id, agent: env.Attach(id, alg), roster: d.roster, ep: d.ep, r: d.r,
		rng: rand.New(rand.NewPCG(d.seed, uint64(i))),
	}))
}

type tick struct{}

type relayAgent struct {
	id     learning.AgentID
	agent  *env.Agent
	roster actors.Addr
	ep     *relayEpisode
	r      *relay
	rng    *rand.Rand
	step   int
	reward float64
	done   bool
}

func (a *relayAgent) observe(now float64) learning.Observation {
	if a.r.flaw == envtest.Reproducible {
		now += 0.01 * float64(a.r.episodes) // the flaw: state kept across episodes
	}
	obs := learning.Observation{Schema: relaySchema, Values: []float64{now, a.rng.Float64()}, Mask: make([]bool, 3)}
	if a.r.flaw == envtest.Specs {
		obs.Values = append(obs.Values, 0) // the flaw: a value too many
	}
	if a.r.flaw == envtest.Masks {
		obs.Mask = append(obs.Mask, true) // the flaw: an entry too many
	}
	obs.Mask[a.rng.IntN(3)] = true
	for i := range 3 {
		obs.Mask[i] = obs.Mask[i] || a.rng.IntN(2) == 0
	}
	return obs
}

func (a *relayAgent) finish(ctx actors.Context) {
	if a.done {
		return
	}
	a.done = true
	if a.r.flaw != envtest.Protocol { // the flaw: no last, terminal update
		a.agent.Finish(a.observe(ctx.Now()), a.reward)
	}
	a.ep.agentDone(ctx.Now())
}

func (a *relayAgent) Receive(ctx actors.Context, msg any) {
	if a.r.flaw == envtest.Membership {
		switch msg.(type) {
		case env.Joined, env.Left:
			return // the flaw: the news never reaches the algorithm
		}
	}
	if a.agent.Handle(msg) {
		return
	}
	switch msg.(type) {
	case actors.Started:
		ctx.Send(a.roster, env.Join{ID: a.id})
		ctx.After(1, tick{})
	case tick:
		obs := a.observe(ctx.Now())
		act, ok := a.agent.Act(obs, a.reward)
		if ok && !obs.Allowed(int(act)-1) {
			panic(fmt.Sprintf("agent %s took action %d, which its mask %v forbids", a.id, act, obs.Mask))
		}
		a.ep.mu.Lock()
		a.ep.steps++
		a.ep.mu.Unlock()
		a.reward = -float64(act) * a.rng.Float64()
		a.ep.mu.Lock()
		a.ep.reward += a.reward
		a.ep.mu.Unlock()
		if a.step++; a.step == relaySteps {
			a.finish(ctx)
			ctx.Stop(ctx.Self())
			return
		}
		ctx.After(1, tick{})
	case actors.Stopping:
		a.finish(ctx)
	}
}

func TestCorrectEnvironmentPasses(t *testing.T) {
	for _, v := range envtest.Run(&relay{}, envtest.Options{}) {
		t.Log(v)
		if !v.Passed() {
			t.Errorf("%s: %s%s", v.Contract, v.Problem, v.Skipped)
		}
		if v.Contract == envtest.Membership && v.Note != "" {
			t.Errorf("membership was not exercised: %s", v.Note)
		}
	}
}

// Every contract catches the environment made to break it, naming it and
// saying how to fix it; also lists the other contracts the same flaw
// breaks of necessity (an episode that crashes live does not run live).
func TestBrokenEnvironmentsAreCaught(t *testing.T) {
	cases := []struct {
		flaw, contract string
		also           []string
	}{
		{envtest.Agents, envtest.Agents, nil},
		{envtest.Specs, envtest.Specs, nil},
		{envtest.Protocol, envtest.Protocol, nil},
		{envtest.Masks, envtest.Masks, nil},
		{envtest.Adapters, envtest.Adapters, nil},
		{envtest.Completes, envtest.Completes, []string{envtest.Live}},
		{envtest.Crash, envtest.Crash, []string{envtest.Live}},
		{envtest.Metrics, envtest.Metrics, []string{envtest.Live}},
		{envtest.Reproducible, envtest.Reproducible, nil},
		{seedIgnored, envtest.Reproducible, nil},
		{envtest.Membership, envtest.Membership, nil},
		{envtest.Live, envtest.Live, nil},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.contract] = true
		t.Run(c.flaw, func(t *testing.T) {
			o := envtest.Options{LiveTimeout: 2e9}
			failed := map[string]bool{}
			for _, v := range envtest.Failed(envtest.Run(&relay{flaw: c.flaw}, o)) {
				failed[v.Contract] = true
				if v.Contract == c.contract {
					t.Log(v.Problem)
					if !strings.Contains(v.Problem, `contract "`+c.contract+`" broken`) || !strings.Contains(v.Problem, "Fix: "+envtest.Fix(c.contract)) {
						t.Errorf("the problem does not name the contract and its fix: %s", v.Problem)
					}
				}
			}
			if !failed[c.contract] {
				t.Errorf("the %s contract did not catch an environment that breaks it", c.contract)
			}
			for got := range failed {
				if got != c.contract && !contains(c.also, got) {
					t.Errorf("an environment broken for %s also failed %s", c.contract, got)
				}
			}
		})
	}
	for _, c := range envtest.Contracts() {
		if !covered[c] {
			t.Errorf("no broken environment for the %s contract", c)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The algorithm suite runs through the environment: the suite's uniform
// agents' recorded observations, and the adapter for a generic algorithm.
func TestAlgorithmThroughEnvironment(t *testing.T) {
	learning.RegisterFor("relay", learning.Algorithm{
		Name: "first-allowed", About: "the lowest allowed action", Native: true,
		New: func(spec learning.Spec) (learning.Policy, error) { return firstAllowed{spec.Actions}, nil },
	})
	vs, err := envtest.RunAlgorithm(&relay{}, "first-allowed")
	if err != nil {
		t.Fatal(err)
	}
	masked := false
	for _, v := range vs {
		t.Log(v)
		if v.Problem != "" {
			t.Error(v.Problem)
		}
		masked = masked || (v.Contract == "mask" && v.Passed())
	}
	if !masked {
		t.Error("the recorded observations' masks did not reach the algorithm suite")
	}
	obs, err := envtest.Observations(&relay{}, envtest.Options{Seeds: []uint64{1}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(obs[relayID(0)]); n != relaySteps+1 {
		t.Errorf("agent a0 got %d observations in one episode, want %d", n, relaySteps+1)
	}
	if math.IsNaN(obs[relayID(3)][0].Values[0]) || obs[relayID(3)][0].Values[0] != 4 {
		t.Errorf("agent a3's first observation %v, want time 4 (it joins at 3 and first acts a time unit later)", obs[relayID(3)][0].Values)
	}
}

// firstAllowed takes the lowest allowed action, greedily.
type firstAllowed struct{ space learning.ActionSpace }

func (p firstAllowed) Name() string                                         { return "first-allowed" }
func (p firstAllowed) NewAgent(learning.AgentID) learning.LearningAlgorithm { return &firstAgent{p: p} }

type firstAgent struct {
	p   firstAllowed
	obs learning.Observation
}

func (a *firstAgent) InitAgent(obs learning.Observation)         { a.obs = obs }
func (a *firstAgent) Update(obs learning.Observation, _ float64) { a.obs = obs }
func (a *firstAgent) IsLearning() bool                           { return false }
func (a *firstAgent) AgentJoined(learning.AgentID)               {}
func (a *firstAgent) AgentLeft(learning.AgentID)                 {}
func (a *firstAgent) SampleAction() learning.Action              { return a.p.space.Action(a.first()) }
func (a *firstAgent) ActionProbabilities() []float64 {
	p := make([]float64, a.p.space.N)
	p[a.first()] = 1
	return p
}

func (a *firstAgent) first() int {
	for i := range a.p.space.N {
		if a.obs.Allowed(i) {
			return i
		}
	}
	return 0
}
