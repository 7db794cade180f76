package actors

import (
	"errors"
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
