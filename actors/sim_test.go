package actors

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"testing"
)

// gossip is a small random system: each hop picks a random peer and a random
// delay, so any nondeterminism in the Sim shows up in the trace.
type gossip struct {
	peers *[]Addr
	hops  *int
}

type rumour struct{ ttl int }

func (g gossip) Receive(ctx Context, msg any) {
	switch m := msg.(type) {
	case rumour:
		*g.hops++
		if m.ttl == 0 {
			return
		}
		r := ctx.Rand()
		to := (*g.peers)[r.IntN(len(*g.peers))]
		if r.IntN(3) == 0 {
			ctx.Send(to, rumour{m.ttl - 1})
		} else {
			ctx.After(r.Float64()*10, rumour{m.ttl - 1}) // come back to self later
			ctx.Send(to, rumour{m.ttl - 1})
		}
	}
}

func traceOf(seed uint64) (uint64, int) {
	s := NewSim(seed)
	h := fnv.New64a()
	s.SetTracer(func(e TraceEvent) {
		fmt.Fprintf(h, "%v|%d|%v|%v|%#v\n", e.At, e.Seq, e.From, e.To, e.Msg)
	})
	var peers []Addr
	hops := 0
	for i := 0; i < 20; i++ {
		peers = append(peers, s.Spawn(gossip{peers: &peers, hops: &hops}))
	}
	for i := 0; i < 5; i++ {
		s.Send(peers[i], rumour{ttl: 12})
	}
	s.RunUntil(1000, nil)
	return h.Sum64(), hops
}

func TestSimSameSeedSameTrace(t *testing.T) {
	a, hopsA := traceOf(7)
	b, hopsB := traceOf(7)
	if a != b || hopsA != hopsB {
		t.Fatalf("same seed gave different traces: %x/%d vs %x/%d", a, hopsA, b, hopsB)
	}
	c, _ := traceOf(8)
	if a == c {
		t.Fatalf("seeds 7 and 8 gave the same trace; the random sources ignore the seed")
	}
	if hopsA < 100 {
		t.Fatalf("only %d hops: the system under test did too little to prove anything", hopsA)
	}
}

func TestSimOrdersByTimeThenBySendOrder(t *testing.T) {
	s := NewSim(1)
	var got []string
	rec := s.Spawn(ActorFunc(func(ctx Context, msg any) {
		if str, ok := msg.(string); ok {
			got = append(got, fmt.Sprintf("%s@%v", str, ctx.Now()))
		}
	}))
	s.Spawn(ActorFunc(func(ctx Context, msg any) {
		switch msg.(type) {
		case Started:
			ctx.After(3, "wake")
			ctx.Send(rec, "a")
			ctx.Send(rec, "b")
		case string: // woken at 3: a message sent now goes after earlier events at 3
			ctx.Send(rec, "e")
		}
	}))
	s.SendAfter(3, rec, "d")
	s.SendAfter(1, rec, "c")
	s.Run()
	if fmt.Sprint(got) != "[a@0 b@0 c@1 d@3 e@3]" {
		t.Fatalf("order %v", got)
	}
}

func TestSimKillNodeTellsWatchersAndDropsMessages(t *testing.T) {
	s := NewSim(1)
	var downs []string
	victim := s.SpawnOn("n1", ActorFunc(func(ctx Context, msg any) {
		if _, ok := msg.(Stopping); ok {
			t.Error("a killed node's actors must not receive Stopping")
		}
	}))
	watcher := s.Spawn(ActorFunc(func(ctx Context, msg any) {
		switch m := msg.(type) {
		case Started:
			ctx.Watch(victim)
		case Down:
			downs = append(downs, fmt.Sprintf("%v %v", m.Actor, m.Reason))
		}
	}))
	_ = watcher
	s.Run()
	s.KillNode("n1")
	s.Send(victim, "lost")
	s.Run()
	if fmt.Sprint(downs) != "[n1/1 node down]" {
		t.Fatalf("downs %v", downs)
	}
	if st := s.Stats(); st.DeadLetters != 1 {
		t.Fatalf("dead letters %d, want 1", st.DeadLetters)
	}
}

func TestSimDownGoesToEachWatcherOnceInWatchOrder(t *testing.T) {
	// Enough watchers that the set indexes them, some watching twice, and
	// enough unwatching that it compacts.
	s := NewSim(1)
	victim := s.SpawnOn("n1", ActorFunc(func(Context, any) {}))
	survivor := s.SpawnOn("n2", ActorFunc(func(Context, any) {}))
	var got []int
	const n = 40
	var watchers []Addr
	for i := 0; i < n; i++ {
		watchers = append(watchers, s.Spawn(ActorFunc(func(ctx Context, msg any) {
			switch m := msg.(type) {
			case Started:
				ctx.Watch(victim)
				ctx.Watch(survivor)
				if i%3 == 0 {
					ctx.Watch(victim) // twice: still one Down
				}
			case string:
				ctx.Unwatch(victim)
				if i == 5 {
					ctx.Watch(victim) // back, at the end of the order
				}
			case Down:
				if m.Actor != victim {
					t.Errorf("watcher %d told that %v went down", i, m.Actor)
				}
				got = append(got, i)
			}
		})))
	}
	s.Run()
	for i := 0; i < n; i++ {
		if i < 36 && i%3 != 0 {
			s.Send(watchers[i], "unwatch")
		}
	}
	s.Run()
	s.KillNode("n1")
	s.Run()
	var want []int
	for i := 0; i < n; i++ {
		if !(i < 36 && i%3 != 0) {
			want = append(want, i)
		}
	}
	want = append(want, 5)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Down went to\n%v\nwant\n%v", got, want)
	}
	if s.cell(survivor) == nil {
		t.Fatal("KillNode killed an actor of another node")
	}
	// A node killed again: the actors spawned on it since go too.
	again := s.SpawnOn("n1", ActorFunc(func(Context, any) {}))
	s.Run()
	s.KillNode("n1")
	if s.cell(again) != nil {
		t.Fatal("an actor spawned on a node after it was killed survived its next kill")
	}
}

func TestSimKeepsManyTimersAndRequestsOfOneActor(t *testing.T) {
	// More timers and requests at once than a cell keeps inline, cancelled
	// and answered in an order that frees inline slots and map entries.
	s := NewSim(1)
	server := s.Spawn(ActorFunc(func(ctx Context, msg any) {
		if n, ok := msg.(int); ok {
			r := ctx.ReplyTo()
			ctx.After(float64(n), r) // answers n later
		}
		if r, ok := msg.(ReplyTo); ok {
			ctx.Reply(r, "done")
		}
	}))
	var got []string
	s.Spawn(ActorFunc(func(ctx Context, msg any) {
		switch m := msg.(type) {
		case Started:
			var ts []Timer
			for i := 1; i <= 6; i++ {
				ts = append(ts, ctx.After(float64(10*i), fmt.Sprint("timer ", i)))
			}
			for _, i := range []int{0, 3, 5} { // inline, map, map
				if !ctx.Cancel(ts[i]) || ctx.Cancel(ts[i]) {
					t.Errorf("cancel of timer %d: pending once, then not", i+1)
				}
			}
			if ctx.Cancel(Timer(0)) {
				t.Error("the zero Timer was pending")
			}
			for i, d := range []int{7, 1, 12, 3, 30} { // request 5 times out at 20
				ctx.Request(server, d, 20, func(ctx Context, reply any, err error) {
					got = append(got, fmt.Sprintf("request %d at %v: %v %v", i+1, ctx.Now(), reply, err))
				})
			}
		case string:
			got = append(got, fmt.Sprintf("%s at %v", m, ctx.Now()))
		}
	}))
	s.Run()
	want := []string{
		"request 2 at 1: done <nil>", "request 4 at 3: done <nil>", "request 1 at 7: done <nil>",
		"timer 2 at 20", "request 3 at 12: done <nil>", "request 5 at 20: <nil> " + ErrTimeout.Error(),
		"timer 3 at 30", "timer 5 at 50",
	}
	// Each at its time (the order among those of one time is the simulator's).
	if len(got) != len(want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st := s.Stats(); st.LateReplies != 1 {
		t.Fatalf("late replies %d, want 1 (request 5's, at 30)", st.LateReplies)
	}
}

func TestSimRunUntilStopsAtLimitAndOnCondition(t *testing.T) {
	s := NewSim(1)
	n := 0
	s.Spawn(ActorFunc(func(ctx Context, msg any) {
		n++
		ctx.After(1, nil)
	}))
	if s.RunUntil(10.5, nil) {
		t.Fatal("RunUntil reported a stop condition it was not given")
	}
	if s.Now() != 10.5 || n != 11 {
		t.Fatalf("now %v after %d turns, want 10.5 after 11", s.Now(), n)
	}
	if !s.RunUntil(100, func() bool { return n == 15 }) || s.Now() != 14 {
		t.Fatalf("stop condition: now %v n %d", s.Now(), n)
	}
}
