package actors

import (
	"errors"
	"fmt"
	"testing"
)

// linkTable is a Network with a fixed delay per message and a set of lost
// message values.
type linkTable struct {
	delay func(n int) float64 // by the message's number
	lose  map[int]bool
	calls []string
}

func (l *linkTable) Link(from, to string, msg any) (float64, bool) {
	n, _ := msg.(int)
	l.calls = append(l.calls, from+">"+to)
	if l.lose[n] {
		return 0, true
	}
	return l.delay(n), false
}

type arrival struct {
	n  int
	at float64
}

// recorder keeps what it receives and when.
type recorder struct{ got *[]arrival }

func (r recorder) Receive(ctx Context, msg any) {
	if n, ok := msg.(int); ok {
		*r.got = append(*r.got, arrival{n, ctx.Now()})
	}
}

// sender sends its numbers to the target when started.
type sender struct {
	to   Addr
	msgs []int
}

func (s sender) Receive(ctx Context, msg any) {
	if _, ok := msg.(Started); ok {
		for _, n := range s.msgs {
			ctx.Send(s.to, n)
		}
	}
}

func TestNetworkDelaysKeepOrderPerLink(t *testing.T) {
	s := NewSim(1)
	// Message 1 is slow, 2 and 3 fast: 2 and 3 must still arrive after 1.
	net := &linkTable{delay: func(n int) float64 {
		if n == 1 {
			return 10
		}
		return 1
	}, lose: map[int]bool{}}
	s.SetNetwork(net)
	var got []arrival
	r := s.SpawnOn("b", recorder{&got})
	s.SpawnOn("a", sender{to: r, msgs: []int{1, 2, 3}})
	s.Run()
	want := []arrival{{1, 10}, {2, 10}, {3, 10}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestNetworkLeavesLocalMessagesAlone(t *testing.T) {
	s := NewSim(1)
	net := &linkTable{delay: func(int) float64 { return 5 }, lose: map[int]bool{1: true}}
	s.SetNetwork(net)
	var got []arrival
	r := s.SpawnOn("a", recorder{&got})
	s.SpawnOn("a", sender{to: r, msgs: []int{1, 2}})
	s.Send(r, 3) // from outside: no link either
	s.Run()
	if len(got) != 3 || got[0].at != 0 || got[2].at != 0 || len(net.calls) != 0 {
		t.Fatalf("local messages went through the network: got %v, calls %v", got, net.calls)
	}
}

func TestNetworkLostRequestTimesOut(t *testing.T) {
	s := NewSim(1)
	net := &linkTable{delay: func(int) float64 { return 0 }, lose: map[int]bool{7: true}}
	s.SetNetwork(net)
	var got []arrival
	r := s.SpawnOn("b", recorder{&got})
	var err error
	answered := false
	s.SpawnOn("a", ActorFunc(func(ctx Context, msg any) {
		if _, ok := msg.(Started); ok {
			ctx.Request(r, 7, 3, func(ctx Context, reply any, e error) { answered, err = true, e })
		}
	}))
	s.Run()
	if len(got) != 0 || !answered || !errors.Is(err, ErrTimeout) || s.Stats().Lost != 1 || s.Now() != 3 {
		t.Fatalf("lost request: delivered %v, answered %v with %v, lost %d, now %v", got, answered, err, s.Stats().Lost, s.Now())
	}
}

func TestNetworkDelaysDownOfKilledNode(t *testing.T) {
	s := NewSim(1)
	s.SetNetwork(&linkTable{delay: func(int) float64 { return 4 }})
	target := s.SpawnOn("b", ActorFunc(func(Context, any) {}))
	var downAt float64 = -1
	s.SpawnOn("a", ActorFunc(func(ctx Context, msg any) {
		switch m := msg.(type) {
		case Started:
			ctx.Watch(target)
		case Down:
			if m.Reason == NodeDown {
				downAt = ctx.Now()
			}
		}
	}))
	s.Run()
	s.KillNode("b")
	s.Run()
	if downAt != 4 {
		t.Fatalf("Down of a killed node arrived at %v, want 4 (the link's delay)", downAt)
	}
}

// downLog records the Down messages an actor receives and when.
type downLog struct {
	watch []Addr
	got   *[]string
}

func (d downLog) Receive(ctx Context, msg any) {
	switch m := msg.(type) {
	case Started:
		for _, a := range d.watch {
			ctx.Watch(a)
		}
	case Down:
		*d.got = append(*d.got, fmt.Sprintf("%s %v %s %s @%v", ctx.Self().Node, m.Actor, m.Reason, m.Detail, ctx.Now()))
	}
}

func TestDeclareDownTellsTheObserversOnlyAndKeepsTheActorRunning(t *testing.T) {
	s := NewSim(1)
	// Every link is slow: the declared Downs must not wait for it.
	s.SetNetwork(&linkTable{delay: func(int) float64 { return 7 }})
	var got []arrival
	target := s.SpawnOn("b", recorder{&got})
	var downs []string
	s.SpawnOn("a", downLog{watch: []Addr{target}, got: &downs})
	s.SpawnOn("b", downLog{watch: []Addr{target}, got: &downs})
	s.SpawnOn("c", downLog{watch: []Addr{target}, got: &downs})
	s.SendAfter(100, target, "tick") // keeps the clock going
	s.RunUntil(2, nil)
	if n := s.DeclareDown(func(node string) bool { return node == "b" }, func(node string) bool { return node == "a" || node == "b" }, "partitioned"); n != 1 {
		t.Fatalf("DeclareDown sent %d Downs, want 1 (a's; b's watcher is on the node itself, c is not an observer)", n)
	}
	s.RunUntil(3, nil)
	want := []string{"a b/1 node down partitioned @2"}
	if fmt.Sprint(downs) != fmt.Sprint(want) {
		t.Fatalf("after DeclareDown: %v, want %v", downs, want)
	}
	// The actor still runs: a message from c reaches it.
	s.SpawnOn("c", sender{to: target, msgs: []int{5}})
	s.RunUntil(20, nil)
	if len(got) != 1 || got[0].n != 5 {
		t.Fatalf("the declared-down actor received %v, want message 5", got)
	}
	// Killing the node now tells b's and c's watchers, not a's again.
	s.KillNode("b")
	s.Run()
	want = []string{"a b/1 node down partitioned @2", "c b/1 node down node b killed @27"}
	if fmt.Sprint(downs) != fmt.Sprint(want) {
		t.Fatalf("after KillNode: %v, want %v", downs, want)
	}
}

// refuser refuses everything from a to b after a fixed delay.
type refuser struct{ after float64 }

func (r refuser) Link(from, to string, msg any) (float64, bool) { return 0, false }
func (r refuser) Refuse(from, to string, msg any) (float64, bool) {
	return r.after, from == "a" && to == "b"
}

func TestRefusedMessagesAreReportedToTheirSenders(t *testing.T) {
	s := NewSim(1)
	s.SetNetwork(refuser{after: 4})
	var got []arrival
	r := s.SpawnOn("b", recorder{&got})
	var reqErr error
	reqAt := -1.0
	var bounced []Undeliverable
	bouncedAt := -1.0
	s.SpawnOn("a", ActorFunc(func(ctx Context, msg any) {
		switch m := msg.(type) {
		case Started:
			ctx.Send(r, 1)
			ctx.Request(r, 2, Forever, func(ctx Context, _ any, err error) { reqErr, reqAt = err, ctx.Now() })
		case Undeliverable:
			bounced, bouncedAt = append(bounced, m), ctx.Now()
		}
	}))
	// Replies from b to a are not refused (only a to b is): the request
	// above is refused on its way.
	s.Run()
	if len(got) != 0 {
		t.Fatalf("refused messages were delivered: %v", got)
	}
	if !errors.Is(reqErr, ErrUndeliverable) || reqAt != 4 {
		t.Fatalf("refused request: %v at %v, want ErrUndeliverable at 4", reqErr, reqAt)
	}
	if len(bounced) != 1 || bounced[0].To != r || bounced[0].Msg != 1 || !errors.Is(bounced[0].Err, ErrUndeliverable) || bouncedAt != 4 {
		t.Fatalf("refused message came back as %+v at %v, want Undeliverable of 1 at 4", bounced, bouncedAt)
	}
	if st := s.Stats(); st.Refused != 2 || st.Lost != 0 {
		t.Fatalf("stats %+v: want 2 refused, 0 lost", st)
	}
}

func TestRefusedReplyIsDropped(t *testing.T) {
	s := NewSim(1)
	s.SetNetwork(refuser{after: 0})
	// The server is on a, the client on b: b's request goes, a's reply is
	// refused and the client's timeout fires.
	server := s.SpawnOn("a", ActorFunc(func(ctx Context, msg any) {
		if _, ok := msg.(int); ok {
			ctx.Reply(ctx.ReplyTo(), "pong")
		}
	}))
	var err error
	s.SpawnOn("b", ActorFunc(func(ctx Context, msg any) {
		if _, ok := msg.(Started); ok {
			ctx.Request(server, 1, 5, func(_ Context, _ any, e error) { err = e })
		}
	}))
	s.Run()
	if !errors.Is(err, ErrTimeout) || s.Stats().Refused != 1 || s.Stats().DeadLetters != 0 {
		t.Fatalf("refused reply: request ended with %v, stats %+v; want a timeout and 1 refused", err, s.Stats())
	}
}
