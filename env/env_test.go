package env

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/learning"
)

// recorder is a LearningAlgorithm that writes down every call.
type recorder struct {
	id    learning.AgentID
	calls *[]string
}

func (r *recorder) log(f string, a ...any) {
	*r.calls = append(*r.calls, string(r.id)+": "+fmt.Sprintf(f, a...))
}
func (r *recorder) InitAgent(obs learning.Observation) { r.log("init %v", obs.Values) }
func (r *recorder) IsLearning() bool                   { return true }
func (r *recorder) SampleAction() learning.Action      { r.log("sample"); return 7 }
func (r *recorder) Update(obs learning.Observation, reward float64) {
	r.log("update %v %v terminal=%v", obs.Values, reward, obs.Terminal)
}
func (r *recorder) ActionProbabilities() []float64  { return nil }
func (r *recorder) AgentJoined(id learning.AgentID) { r.log("joined %s", id) }
func (r *recorder) AgentLeft(id learning.AgentID)   { r.log("left %s", id) }

var schema = learning.NewSchema("test/v1", "x")

func obs(x float64) learning.Observation {
	return learning.Observation{Schema: schema, Values: []float64{x}}
}

func TestAgentTurnsActsIntoTheLearningAlgorithmProtocol(t *testing.T) {
	var calls []string
	a := Attach("a", &recorder{id: "a", calls: &calls})
	if got, ok := a.Act(obs(1), 99); got != 7 || !ok {
		t.Fatalf("action %v %v", got, ok)
	}
	a.Act(obs(2), -3)
	a.Finish(obs(3), -4)
	a.Finish(obs(4), -5) // once only
	want := "a: init [1]|a: sample|a: update [2] -3 terminal=false|a: sample|a: update [3] -4 terminal=true"
	if got := strings.Join(calls, "|"); got != want {
		t.Fatalf("calls\n got %s\nwant %s", got, want)
	}
	if a.Steps() != 2 || a.Return() != -7 {
		t.Fatalf("steps %d return %v; want 2 and -7 (the first reward is not one: no action earned it)", a.Steps(), a.Return())
	}
	var none *Agent
	none.Finish(obs(1), 0) // a nil agent does nothing
	if _, ok := none.Act(obs(1), 0); ok || none.Steps() != 0 || none.Return() != 0 {
		t.Fatal("a nil agent must report that it has no choice, and count nothing")
	}
	if Attach("x", nil) != nil {
		t.Fatal("Attach(nil) must give a nil agent")
	}
}

// member carries an agent and joins the roster; it stops on "leave".
type member struct {
	roster actors.Addr
	agent  *Agent
}

func (m *member) Receive(ctx actors.Context, msg any) {
	if m.agent.Handle(msg) {
		return
	}
	switch msg {
	case "leave":
		ctx.Stop(ctx.Self())
	case "crash":
		panic("crash")
	}
	if _, ok := msg.(actors.Started); ok {
		ctx.Send(m.roster, JoinOf(m.agent.ID, m.agent))
	}
}

func TestRosterTellsLiveAgentsWhoJoinsAndLeaves(t *testing.T) {
	sim := actors.NewSim(1)
	var members Membership
	roster := sim.Spawn(NewRoster(&members))
	logs := map[learning.AgentID]*[]string{}
	spawn := func(id learning.AgentID) actors.Addr {
		var calls []string
		logs[id] = &calls
		return sim.Spawn(&member{roster: roster, agent: Attach(id, &recorder{id: id, calls: &calls})})
	}
	a := spawn("a")
	spawn("b")
	sim.Run()
	c := spawn("c")
	sim.Run()
	if got := fmt.Sprint(members.Live()); got != "[a b c]" {
		t.Fatalf("live %s", got)
	}
	sim.Send(a, "leave")
	sim.Run()
	sim.Send(c, "crash") // a crash is a leave too
	sim.Run()
	if got := fmt.Sprint(members.Live()); got != "[b]" {
		t.Fatalf("live %s", got)
	}
	if j, l := members.Counts(); j != 3 || l != 2 {
		t.Fatalf("joins %d leaves %d", j, l)
	}
	want := map[learning.AgentID]string{
		"a": "a: joined b|a: joined c",
		"b": "b: joined a|b: joined c|b: left a|b: left c",
		"c": "c: joined a|c: joined b|c: left a",
	}
	for id, w := range want {
		got := append([]string(nil), *logs[id]...)
		sort.Strings(got)
		ws := strings.Split(w, "|")
		sort.Strings(ws)
		if strings.Join(got, "|") != strings.Join(ws, "|") {
			t.Errorf("%s was told %v, want %v", id, got, ws)
		}
	}
}

// deaf is a recorder that says it does not use AgentJoined and AgentLeft.
type deaf struct{ recorder }

func (deaf) UsesMembership() bool { return false }

func TestRosterTellsOnlyListeningAgentsInOrder(t *testing.T) {
	sim := actors.NewSim(1)
	var members Membership
	roster := sim.Spawn(NewRoster(&members))
	var calls []string
	addrs := map[learning.AgentID]actors.Addr{}
	deafAddrs := map[actors.Addr]bool{}
	spawn := func(id learning.AgentID, listens bool) {
		var alg learning.LearningAlgorithm = &recorder{id: id, calls: &calls}
		if !listens {
			alg = &deaf{recorder{id: id, calls: &calls}}
		}
		a := sim.Spawn(&member{roster: roster, agent: Attach(id, alg)})
		addrs[id] = a
		if !listens {
			deafAddrs[a] = true
		}
		sim.Run()
	}
	told := 0
	sim.SetTracer(func(e actors.TraceEvent) {
		switch e.Msg.(type) {
		case Joined, Left:
			if deafAddrs[e.To] {
				t.Errorf("a deaf agent was sent %#v", e.Msg)
			}
			told++
		}
	})
	spawn("a", true)
	spawn("b", false)
	spawn("c", true)
	spawn("d", false)
	spawn("e", true)
	for _, m := range []struct {
		id  learning.AgentID
		msg string
	}{{"b", "leave"}, {"a", "leave"}, {"d", "crash"}} {
		sim.Send(addrs[m.id], m.msg)
		sim.Run()
	}
	// A listener that joins is told of everyone there, deaf or not, in join
	// order, and each listener there is told of it as the Roster walks them;
	// a deaf one's join and every leave go to the listeners alone.
	want := strings.Join([]string{
		"a: joined b",
		"a: joined c", "c: joined a", "c: joined b",
		"a: joined d", "c: joined d",
		"a: joined e", "e: joined a", "e: joined b", "c: joined e", "e: joined c", "e: joined d",
		"a: left b", "c: left b", "e: left b",
		"c: left a", "e: left a",
		"c: left d", "e: left d",
	}, "\n")
	if got := strings.Join(calls, "\n"); got != want {
		t.Fatalf("calls, in order:\n%s\nwant\n%s", got, want)
	}
	if told != 19 {
		t.Fatalf("%d Joined and Left messages, want 19 (one per call above)", told)
	}
	if got := fmt.Sprint(members.Live()); got != "[c e]" || members.Count() != 2 {
		t.Fatalf("live %s (Count %d), want [c e]", got, members.Count())
	}
	if j, l := members.Counts(); j != 5 || l != 3 {
		t.Fatalf("joins %d leaves %d, want 5 and 3", j, l)
	}
}

func TestDeafAgentsCostTheRosterNoMessages(t *testing.T) {
	// P deaf agents joining: the only messages are theirs to the roster
	// (and the Started each actor gets), not P^2.
	const p = 300
	sim := actors.NewSim(1)
	var members Membership
	roster := sim.Spawn(NewRoster(&members))
	var calls []string
	for i := 0; i < p; i++ {
		id := learning.AgentID(fmt.Sprint(i))
		sim.Spawn(&member{roster: roster, agent: Attach(id, &deaf{recorder{id: id, calls: &calls}})})
	}
	sim.Run()
	if got, want := sim.Stats().Delivered, uint64(1+2*p); got != want {
		t.Fatalf("%d messages delivered, want %d", got, want)
	}
	if members.Count() != p || len(calls) != 0 {
		t.Fatalf("%d live, calls %v", members.Count(), calls)
	}
}

// counter is an environment whose single actor counts to a target, one step
// per time unit.
type counter struct{ target, crashAt int }

type countEpisode struct {
	Ending
	mu sync.Mutex
	n  int
}

func (e *countEpisode) Metrics() Metrics {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Metrics{"count": float64(e.n)}
}

func (c counter) Name() string                       { return "counter/v1" }
func (c counter) PossibleAgents() []learning.AgentID { return nil }
func (c counter) Spec(learning.AgentID) learning.Spec {
	return learning.Spec{Observation: schema, Actions: learning.Discrete(1)}
}
func (c counter) Start(rt actors.Runtime, seed uint64, agents Agents) (Episode, error) {
	ep := &countEpisode{}
	rt.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if msg == "boom" {
			panic("boom")
		}
		ep.mu.Lock()
		ep.n++
		n := ep.n
		ep.mu.Unlock()
		if n >= c.target {
			ep.End()
		}
		if n == c.crashAt {
			ctx.Send(ctx.Self(), "boom")
		}
		ctx.After(1, nil)
	}))
	return ep, nil
}

func TestRunSimStopsWhenDoneAtTheLimitOrOnACrash(t *testing.T) {
	out, err := RunSim(counter{target: 5}, 1, nil, 0)
	if err != nil || !out.Done || out.Metrics["count"] != 5 || out.Time != 4 {
		t.Fatalf("done run: %+v %v", out, err)
	}
	out, err = RunSim(counter{target: 50}, 1, nil, 10)
	if err != nil || out.Done || out.Time != 10 {
		t.Fatalf("limited run: done=%v time=%v err=%v", out.Done, out.Time, err)
	}
	if _, err = RunSim(counter{target: 50, crashAt: 3}, 1, nil, 10); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("a crash must be an error naming the panic, got %v", err)
	}
}

func TestRunLiveEndsWhenTheEpisodeSaysSoOrAnActorCrashes(t *testing.T) {
	rt := actors.NewLive(actors.LiveOptions{Scale: time.Millisecond})
	defer rt.Close()
	out, err := RunLive(counter{target: 5}, rt, 1, nil, time.Minute)
	if err != nil || !out.Done || out.Metrics["count"] < 5 {
		t.Fatalf("done run: %+v %v", out, err)
	}
	crt := actors.NewLive(actors.LiveOptions{Scale: time.Millisecond})
	defer crt.Close()
	out, err = RunLive(counter{target: 1 << 30, crashAt: 3}, crt, 1, nil, time.Minute)
	if err == nil || out.Done || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("a crash must end the wait with an error naming the panic, got done=%v %v", out.Done, err)
	}
	srt := actors.NewLive(actors.LiveOptions{})
	defer srt.Close()
	out, err = RunLive(counter{target: 1 << 30}, srt, 1, nil, 20*time.Millisecond)
	if err != nil || out.Done {
		t.Fatalf("a run past its timeout must report that it is not done: done=%v %v", out.Done, err)
	}
}
