package actors

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// harness runs the same behaviour test against the Sim and the Live runtime.
type harness struct {
	name string
	rt   Runtime
	// settle runs the system until cond holds (or, for the Sim, until no
	// event is left) and fails the test if it never does.
	settle func(t *testing.T, cond func() bool)
	stats  func() Stats
}

func runtimes(t *testing.T) []harness {
	sim := NewSim(1)
	live := NewLive(LiveOptions{Scale: time.Millisecond})
	t.Cleanup(live.Close)
	return []harness{
		{name: "sim", rt: sim, stats: sim.Stats, settle: func(t *testing.T, cond func() bool) {
			t.Helper()
			sim.Run()
			if !cond() {
				t.Fatalf("condition not reached when the simulation ran out of events at t=%v", sim.Now())
			}
		}},
		{name: "live", rt: live, stats: live.Stats, settle: func(t *testing.T, cond func() bool) {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for !cond() {
				if time.Now().After(deadline) {
					t.Fatal("condition not reached within 10s")
				}
				time.Sleep(time.Millisecond)
			}
		}},
	}
}

// log is a thread-safe record of what happened, shared between test actors
// and the test (the only state they share, and only for the test's sake).
type log struct {
	mu      sync.Mutex
	entries []string
	times   []float64
}

func (l *log) add(now float64, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, fmt.Sprintf(format, args...))
	l.times = append(l.times, now)
}

func (l *log) snapshot() ([]string, []float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.entries...), append([]float64(nil), l.times...)
}

func (l *log) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// deferredServer keeps the reply handle of each request and answers it 5
// time units later, doubling the int it was asked about.
type deferredServer struct{ waiting map[Timer]ReplyTo }

type answerLater struct{ n int }

func (s *deferredServer) Receive(ctx Context, msg any) {
	switch m := msg.(type) {
	case int:
		if s.waiting == nil {
			s.waiting = map[Timer]ReplyTo{}
		}
		t := ctx.After(5, answerLater{m})
		s.waiting[t] = ctx.ReplyTo()
	case answerLater:
		for t, r := range s.waiting {
			delete(s.waiting, t)
			ctx.Reply(r, m.n*2)
			return
		}
	}
}

func TestDeferredReplyRunsContinuation(t *testing.T) {
	for _, h := range runtimes(t) {
		t.Run(h.name, func(t *testing.T) {
			var l log
			server := h.rt.Spawn(&deferredServer{})
			h.rt.Spawn(ActorFunc(func(ctx Context, msg any) {
				if _, ok := msg.(Started); ok {
					ctx.Request(server, 21, 1000, func(ctx Context, reply any, err error) {
						l.add(ctx.Now(), "reply %v err %v from %v", reply, err, ctx.Sender() == server)
					})
				}
			}))
			h.settle(t, func() bool { return l.len() == 1 })
			got, at := l.snapshot()
			if got[0] != "reply 42 err <nil> from true" {
				t.Fatalf("got %q", got[0])
			}
			if at[0] < 5 || (h.name == "sim" && at[0] != 5) {
				t.Fatalf("reply at t=%v, want 5 (the server answers 5 units later)", at[0])
			}
		})
	}
}

func TestRequestTimesOutAndLateReplyIsCounted(t *testing.T) {
	for _, h := range runtimes(t) {
		t.Run(h.name, func(t *testing.T) {
			var l log
			server := h.rt.Spawn(&deferredServer{}) // answers after 5
			h.rt.Spawn(ActorFunc(func(ctx Context, msg any) {
				if _, ok := msg.(Started); ok {
					ctx.Request(server, 1, 2, func(ctx Context, reply any, err error) {
						l.add(ctx.Now(), "reply %v err %v", reply, err)
					})
				}
			}))
			h.settle(t, func() bool { return l.len() == 1 && h.stats().LateReplies == 1 })
			got, at := l.snapshot()
			if got[0] != fmt.Sprintf("reply <nil> err %v", ErrTimeout) {
				t.Fatalf("got %q", got[0])
			}
			if h.name == "sim" && at[0] != 2 {
				t.Fatalf("timeout at t=%v, want 2", at[0])
			}
		})
	}
}

func TestRequestWithoutContinuationArrivesAsResponse(t *testing.T) {
	for _, h := range runtimes(t) {
		t.Run(h.name, func(t *testing.T) {
			var l log
			server := h.rt.Spawn(&deferredServer{})
			h.rt.Spawn(ActorFunc(func(ctx Context, msg any) {
				switch m := msg.(type) {
				case Started:
					id := ctx.Request(server, 4, Forever, nil)
					l.add(ctx.Now(), "asked %d", id)
				case Response:
					l.add(ctx.Now(), "response %d %v %v", m.ID, m.Reply, m.Err)
				}
			}))
			h.settle(t, func() bool { return l.len() == 2 })
			got, _ := l.snapshot()
			var id int
			fmt.Sscanf(got[0], "asked %d", &id)
			if want := fmt.Sprintf("response %d 8 <nil>", id); got[1] != want {
				t.Fatalf("got %q, want %q", got[1], want)
			}
		})
	}
}

func TestRequestToStoppedActorFailsAtOnce(t *testing.T) {
	for _, h := range runtimes(t) {
		t.Run(h.name, func(t *testing.T) {
			var l log
			gone := h.rt.Spawn(ActorFunc(func(ctx Context, msg any) {
				if _, ok := msg.(Started); ok {
					ctx.Stop(ctx.Self())
				}
			}))
			h.rt.Spawn(ActorFunc(func(ctx Context, msg any) {
				switch msg.(type) {
				case Started:
					ctx.Watch(gone)
				case Down:
					ctx.Request(gone, "hello", 1e9, func(ctx Context, reply any, err error) {
						l.add(ctx.Now(), "%v", errors.Is(err, ErrNoActor))
					})
				}
			}))
			h.settle(t, func() bool { return l.len() == 1 })
			if got, _ := l.snapshot(); got[0] != "true" {
				t.Fatalf("request to a stopped actor: want ErrNoActor")
			}
		})
	}
}

func TestTimersFireInOrderAndCancelledOnesDoNot(t *testing.T) {
	for _, h := range runtimes(t) {
		t.Run(h.name, func(t *testing.T) {
			var l log
			h.rt.Spawn(ActorFunc(func(ctx Context, msg any) {
				switch m := msg.(type) {
				case Started:
					ctx.After(20, "late")
					drop := ctx.After(10, "cancelled")
					ctx.After(5, "early")
					if !ctx.Cancel(drop) {
						l.add(ctx.Now(), "cancel reported not pending")
					}
					if ctx.Cancel(drop) {
						l.add(ctx.Now(), "second cancel reported pending")
					}
				case string:
					l.add(ctx.Now(), "%s", m)
				}
			}))
			h.settle(t, func() bool { return l.len() >= 2 })
			if h.name == "live" {
				time.Sleep(30 * time.Millisecond) // give a wrongly kept timer the chance to fire
			}
			got, at := l.snapshot()
			if fmt.Sprint(got) != "[early late]" {
				t.Fatalf("got %v", got)
			}
			if h.name == "sim" && fmt.Sprint(at) != "[5 20]" {
				t.Fatalf("fired at %v, want [5 20]", at)
			}
		})
	}
}

func TestWatchersSeeStopCrashAndMissingActor(t *testing.T) {
	for _, h := range runtimes(t) {
		t.Run(h.name, func(t *testing.T) {
			var l log
			stopped := h.rt.Spawn(ActorFunc(func(ctx Context, msg any) {
				if _, ok := msg.(Stopping); ok {
					l.add(ctx.Now(), "stopping")
				}
			}))
			crasher := h.rt.Spawn(ActorFunc(func(ctx Context, msg any) {
				if msg == "boom" {
					panic("boom")
				}
			}))
			h.rt.Spawn(ActorFunc(func(ctx Context, msg any) {
				switch m := msg.(type) {
				case Started:
					ctx.Watch(stopped)
					ctx.Watch(crasher)
					ctx.Send(crasher, "boom")
					ctx.Stop(stopped)
				case Down:
					l.add(ctx.Now(), "down %v %v", m.Actor == stopped, m.Reason)
					if m.Actor == stopped && m.Reason == Stopped {
						ctx.Watch(stopped) // gone already
					}
				}
			}))
			h.settle(t, func() bool { return l.len() == 4 })
			got, _ := l.snapshot()
			want := map[string]bool{"stopping": true, "down true stopped": true, "down false crashed": true, "down true no such actor": true}
			for _, g := range got {
				if !want[g] {
					t.Fatalf("unexpected %q in %v", g, got)
				}
				delete(want, g)
			}
			if h.stats().Crashes != 1 {
				t.Fatalf("crashes = %d, want 1", h.stats().Crashes)
			}
		})
	}
}

func TestMessagesBetweenTwoActorsKeepTheirOrder(t *testing.T) {
	const n = 2000
	for _, h := range runtimes(t) {
		t.Run(h.name, func(t *testing.T) {
			var l log
			next := 0
			sink := h.rt.Spawn(ActorFunc(func(ctx Context, msg any) {
				if i, ok := msg.(int); ok {
					if i != next {
						l.add(ctx.Now(), "got %d want %d", i, next)
					}
					next++
					if next == n {
						l.add(ctx.Now(), "done")
					}
				}
			}))
			h.rt.Spawn(ActorFunc(func(ctx Context, msg any) {
				if _, ok := msg.(Started); ok {
					for i := 0; i < n; i++ {
						ctx.Send(sink, i)
					}
				}
			}))
			h.settle(t, func() bool { return l.len() >= 1 })
			if got, _ := l.snapshot(); fmt.Sprint(got) != "[done]" {
				t.Fatalf("%v", got)
			}
		})
	}
}

func TestSpawnedChildrenAndStopFromOutside(t *testing.T) {
	for _, h := range runtimes(t) {
		t.Run(h.name, func(t *testing.T) {
			var l log
			parent := h.rt.Spawn(ActorFunc(func(ctx Context, msg any) {
				switch m := msg.(type) {
				case Started:
					child := ctx.Spawn(ActorFunc(func(ctx Context, msg any) {
						if s, ok := msg.(string); ok {
							ctx.Reply(ctx.ReplyTo(), s+"!")
						}
					}))
					ctx.Watch(child)
					ctx.Request(child, "hi", 1e6, func(ctx Context, reply any, err error) {
						l.add(ctx.Now(), "%v", reply)
						ctx.Stop(child)
					})
				case Down:
					l.add(ctx.Now(), "child %v", m.Reason)
				case Stopping:
					l.add(ctx.Now(), "parent stopping")
				}
			}))
			h.settle(t, func() bool { return l.len() == 2 })
			h.rt.Stop(parent)
			h.settle(t, func() bool { return l.len() == 3 })
			if got, _ := l.snapshot(); fmt.Sprint(got) != "[hi! child stopped parent stopping]" {
				t.Fatalf("%v", got)
			}
		})
	}
}
