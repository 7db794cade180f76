package loadbalancing

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
)

// node stands for another node in the simulator: it starts the workers it
// is asked for, as a host does, worker 1 after a delay of 3, and refuses
// worker refuse.
type node struct {
	refuse int
	addrs  map[int]actors.Addr // if not nil, the workers' addresses by ID
}

type placeReq struct{ spec WorkerSpec }

type delayed struct {
	m     placeReq
	reply actors.ReplyTo
}

func (n node) Receive(ctx actors.Context, msg any) {
	switch m := msg.(type) {
	case placeReq:
		switch m.spec.ID {
		case n.refuse:
			ctx.Reply(ctx.ReplyTo(), errors.New("no room"))
		case 1:
			ctx.After(3, delayed{m, ctx.ReplyTo()})
		default:
			ctx.Reply(ctx.ReplyTo(), n.spawn(ctx, m.spec))
		}
	case delayed:
		ctx.Reply(m.reply, n.spawn(ctx, m.m.spec))
	}
}

func (n node) spawn(ctx actors.Context, s WorkerSpec) actors.Addr {
	w := s.Worker(s.Costs(), env.Attach(AgentID(s.ID), &fixed{25}), nil)
	// Reports go by message, as from another node.
	w.Report = func(r WorkerReport) { ctx.Send(s.Reports, r) }
	a := ctx.Spawn(w)
	if n.addrs != nil {
		n.addrs[s.ID] = a
	}
	return a
}

// at does something inside an actor's turn at time t.
type at struct {
	t  float64
	do func(ctx actors.Context)
}

type atNow struct{}

func (a at) Receive(ctx actors.Context, msg any) {
	switch msg.(type) {
	case actors.Started:
		ctx.After(a.t, atNow{})
	case atNow:
		a.do(ctx)
	}
}

func placedEpisode(t *testing.T, refuse int) (*Episode, Result) {
	sc := Scenario{Workers: 3, Speeds: []float64{1, 2, 3}, Job: 1000, UnitTime: 1, CommTime: 1, Variability: 0.2,
		Leaves: []Leave{{At: 50, Worker: 1}}}
	e, err := New(sc, 1)
	if err != nil {
		t.Fatal(err)
	}
	e.StartBy = 10
	sim := actors.NewSim(1)
	host := sim.Spawn(node{refuse: refuse})
	place := func(ctx actors.Context, spec WorkerSpec, placed func(actors.Context, actors.Addr, error)) {
		ctx.Request(host, placeReq{spec}, actors.Forever, func(ctx actors.Context, reply any, _ error) {
			switch r := reply.(type) {
			case actors.Addr:
				placed(ctx, r, nil)
			case error:
				placed(ctx, actors.Addr{}, r)
			}
		})
	}
	ep := e.StartPlaced(sim, 9, place)
	sim.Spawn(at{30, func(ctx actors.Context) { ctx.Send(ep.Director(), AddWorkers{Speeds: []float64{4}}) }})
	if !sim.RunUntil(math.Inf(1), ep.Ended) {
		t.Fatal("the episode did not end")
	}
	return ep, ep.Result()
}

func TestPlacedWorkers(t *testing.T) {
	ep, res := placedEpisode(t, 2)
	if err := res.CheckLedger(); err != nil || res.Job != 1000 || res.UnitsReported != 1000 || res.Seed != 9 {
		t.Fatalf("%v; job %d, reported %d, seed %d", err, res.Job, res.UnitsReported, res.Seed)
	}
	want := []PlacedWorker{
		{ID: 0, Speed: 1, Node: "sim"},
		{ID: 1, Speed: 2, Node: "sim", Gone: 50, Reason: "stopped"},
		{ID: 2, Speed: 3, Error: "no room"},
		{ID: 3, Speed: 4, Node: "sim", Joined: 30},
	}
	if len(res.Placed) != len(want) {
		t.Fatalf("placed %+v", res.Placed)
	}
	for i, w := range want {
		if !reflect.DeepEqual(res.Placed[i], w) {
			t.Errorf("placed %+v, want %+v", res.Placed[i], w)
		}
	}
	if r := res.Workers[1]; !r.Left || r.LeftAt != 50 || len(res.Workers) != 3 {
		t.Fatalf("worker 1 was dismissed at 50: %+v; %d reports", r, len(res.Workers))
	}
	// The bound counts the workers that were placed, as they came and went.
	lb := LowerBound([]float64{1, 2, 4}, []float64{0, 0, 30}, []float64{math.Inf(1), 50, math.Inf(1)}, 1, NewCosts(ep.env.scenario.Job, ep.env.scenario.Variability, ep.seed).Total())
	if res.LowerBound != lb || res.Ratio < 1 {
		t.Fatalf("lower bound %v, want %v; ratio %v", res.LowerBound, lb, res.Ratio)
	}
	// The Master waited for the three starting workers until StartBy: one
	// was never placed.
	if res.History[0].Granted != 10+1 {
		t.Fatalf("first chunk granted at %v, want 11", res.History[0].Granted)
	}
	// With all three placed, it serves once the last one (placed at 3) has
	// asked.
	if _, res := placedEpisode(t, -1); res.History[0].Granted != 3+1 || res.UnitsDone != 1000 {
		t.Fatalf("first chunk granted at %v, want 4", res.History[0].Granted)
	}
}

// A worker the Master writes off, though it is alive, is told so: at once
// if it is waiting for the Master, or when it next asks. It stops, and
// takes off its account the chunk the Master handed back, so that its
// report agrees with the ledger.
func TestWorkerWrittenOffAliveStopsAndAgreesWithTheLedger(t *testing.T) {
	waiting, working := 0, 0
	for down := 2.0; down < 120; down += 3.7 { // down while it waits, and while it works
		sc := Scenario{Workers: 3, Speeds: []float64{1, 2, 3}, Job: 600, UnitTime: 1, CommTime: 1, Variability: 0.2}
		e, err := New(sc, 1)
		if err != nil {
			t.Fatal(err)
		}
		sim := actors.NewSim(1)
		addrs := map[int]actors.Addr{}
		host := sim.Spawn(node{refuse: -1, addrs: addrs})
		place := func(ctx actors.Context, spec WorkerSpec, placed func(actors.Context, actors.Addr, error)) {
			ctx.Request(host, placeReq{spec}, actors.Forever, func(ctx actors.Context, reply any, _ error) {
				placed(ctx, reply.(actors.Addr), nil)
			})
		}
		ep := e.StartPlaced(sim, 9, place)
		// At time down, the Master and the director are told that worker 0's
		// node is down, as the transport does when a node falls silent for
		// too long; but the worker lives on.
		sim.Spawn(at{down, func(ctx actors.Context) {
			d := actors.Down{Actor: addrs[0], Reason: actors.NodeDown, Detail: "no heartbeat"}
			ctx.Send(ep.master, d)
			ctx.Send(ep.Director(), d)
		}})
		if !sim.RunUntil(math.Inf(1), ep.Ended) {
			t.Fatalf("down at %v: the episode did not end", down)
		}
		res := ep.Result()
		if err := res.CheckLedger(); err != nil || res.Job != 600 || len(res.Workers) != 3 {
			t.Fatalf("down at %v: %v; job %d, %d reports", down, err, res.Job, len(res.Workers))
		}
		w0 := res.Workers[0]
		if !w0.Left || w0.LeftAt < down || !res.Placed[0].Lost {
			t.Fatalf("down at %v: worker 0 %+v, placed %+v", down, w0, res.Placed[0])
		}
		if w0.LeftAt == down {
			waiting++
		} else {
			working++
		}
	}
	if waiting == 0 || working == 0 {
		t.Fatalf("written off while waiting %d times, while working %d: both cases must be tried", waiting, working)
	}
}
