package transport

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/marlon-go/marlon/actors"
)

// deferredServer answers ping{N} with ping{2N} in a later turn, and never
// answers ping{-1}.
type deferredServer struct{ ev *events }

func (s *deferredServer) Receive(ctx actors.Context, msg any) {
	switch m := msg.(type) {
	case ping:
		if s.ev != nil {
			s.ev.add("server got %d from %v", m.N, ctx.Sender())
		}
		if m.N == -1 || ctx.ReplyTo().IsZero() {
			return
		}
		ctx.After(5, deferredReply{to: ctx.ReplyTo(), n: 2 * m.N})
	case deferredReply:
		ctx.Reply(m.to, ping{N: m.n})
	}
}

type deferredReply struct {
	to actors.ReplyTo
	n  int
}

func TestRequestsAcrossNodes(t *testing.T) {
	c := newCluster(t, "a", "b")
	a := c.start(t, "a", "") // embedded server
	b := c.start(t, "b", a.Server().ClientURL())
	waitMembers(t, 2, a, b)

	srvEv := newEvents()
	srv := b.Runtime().Spawn(&deferredServer{ev: srvEv})
	ev := newEvents()
	client := a.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		switch m := msg.(type) {
		case actors.Started:
			ctx.Request(srv, ping{N: 21}, 1e4, func(ctx actors.Context, reply any, err error) {
				ev.add("reply %v %v", reply, err)
			})
			ctx.Request(srv, ping{N: -1}, 100, func(ctx actors.Context, reply any, err error) {
				ev.add("timeout %v %v", reply, err == actors.ErrTimeout)
			})
			ctx.Request(actors.Addr{Node: "b", ID: 9999}, ping{}, 1e4, func(ctx actors.Context, reply any, err error) {
				ev.add("no actor %v %v", err == actors.ErrNoActor, errors.Is(err, actors.ErrNoActor))
			})
			ctx.Request(actors.Addr{Node: "b"}, ping{}, 1e4, func(ctx actors.Context, reply any, err error) {
				ev.add("actor id 0 %v", errors.Is(err, actors.ErrNoActor))
			})
			ctx.Request(actors.Addr{Node: "nowhere", ID: 1}, ping{}, 1e4, func(ctx actors.Context, reply any, err error) {
				ev.add("unknown node %v %v", errors.Is(err, actors.ErrUndeliverable), errors.Is(err, ErrUnknownNode))
			})
			ctx.Request(srv, unregistered{N: 1}, 1e4, func(ctx actors.Context, reply any, err error) {
				ev.add("unregistered request %v %v", errors.Is(err, actors.ErrUndeliverable), errors.Is(err, ErrUnregistered))
			})
			ctx.Send(srv, unregistered{N: 2})
			ctx.Send(srv, ping{N: 7})
		case actors.Undeliverable:
			ev.add("undeliverable %v %v", m.Msg, errors.Is(m.Err, ErrUnregistered))
		}
	}))
	for _, want := range []string{
		"reply {42 } <nil>",
		"timeout <nil> true",
		"no actor true true",
		"actor id 0 true",
		"unknown node true true",
		"unregistered request true true",
		"undeliverable {2} true",
	} {
		ev.waitEq(t, 10*time.Second, want)
	}
	srvEv.waitEq(t, 10*time.Second, fmt.Sprintf("server got 7 from %v", client))
	// The request that timed out did arrive.
	srvEv.waitEq(t, 10*time.Second, fmt.Sprintf("server got -1 from %v", client))

	// Nothing was rejected (but a frame retransmitted because its ack was
	// late counts as replayed).
	for _, n := range []*Node{a, b} {
		if m := n.Metrics(); m.Sent == 0 || m.Received == 0 || m.Rejected.Total() != m.Rejected.Replayed {
			t.Fatalf("node %s metrics %+v", n.Name(), m)
		}
	}
}

func TestRemoteWatchSeesStop(t *testing.T) {
	c := newCluster(t, "a", "b")
	a := c.start(t, "a", "")
	b := c.start(t, "b", a.Server().ClientURL())
	waitMembers(t, 2, a, b)

	target := b.Runtime().Spawn(actors.ActorFunc(func(actors.Context, any) {}))
	ev := newEvents()
	watcher := a.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		switch m := msg.(type) {
		case actors.Started:
			ctx.Watch(target)
			// The reply proves the watch (queued before it) has arrived.
			ctx.Request(target, ping{}, actors.Forever, func(ctx actors.Context, reply any, err error) {
				ev.add("request answered %v", err == actors.ErrNoActor)
			})
		case actors.Down:
			ev.add("down %v %v", m.Actor, m.Reason)
		}
	}))
	_ = watcher
	// target never replies; stop it once the watch is in place.
	eventually(t, 10*time.Second, "watch registered", func() bool { return b.Metrics().Received >= 1 })
	b.Runtime().Stop(target)
	ev.waitEq(t, 10*time.Second, fmt.Sprintf("down %v stopped", target))

	// Watching an actor that does not exist answers NoActor.
	ghost := actors.Addr{Node: "b", ID: 9999}
	a.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		switch m := msg.(type) {
		case actors.Started:
			ctx.Watch(ghost)
		case actors.Down:
			ev.add("down %v %v", m.Actor, m.Reason)
		}
	}))
	ev.waitEq(t, 10*time.Second, fmt.Sprintf("down %v no such actor", ghost))
}

// Nodes that start together learn of each other at once, not at their next
// heartbeat: a node's hello to one newcomer, sent a moment before the next
// newcomer appears, is followed by another a quarter interval later.
func TestNodesStartingTogetherMeetWithinAQuarterInterval(t *testing.T) {
	c := newCluster(t, "a", "b", "c")
	slow := func(cfg *Config) { cfg.Heartbeat = 4 * time.Second }
	a := c.start(t, "a", "", slow)
	url := a.Server().ClientURL()
	b := c.start(t, "b", url, slow)
	cn := c.start(t, "c", url, slow)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second) // half an interval
	defer cancel()
	for _, n := range []*Node{a, b, cn} {
		if _, err := n.WaitMembers(ctx, 3); err != nil {
			t.Fatalf("node %s after %v: %v; knows %v", n.Name(), time.Since(start), err, n.Members())
		}
	}
}

func TestSilentNodeIsDetected(t *testing.T) {
	c := newCluster(t, "a", "b")
	quick := func(cfg *Config) { cfg.Heartbeat, cfg.MissedHeartbeats = 50*time.Millisecond, 4 }
	a := c.start(t, "a", "", quick)
	url := a.Server().ClientURL()
	b := c.start(t, "b", url, quick)
	waitMembers(t, 2, a, b)

	target := b.Runtime().Spawn(actors.ActorFunc(func(actors.Context, any) {}))
	ev := newEvents()
	w := a.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if _, ok := msg.(actors.Started); ok {
			ctx.Watch(target)
		}
		recorder(ev).Receive(ctx, msg)
	}))
	a.WatchMembers(w)
	ev.waitEq(t, 10*time.Second, "joined b")
	eventually(t, 10*time.Second, "watch registered", func() bool { return b.Metrics().FramesReceived >= 1 })

	// b falls silent: no goodbye, no more heartbeats.
	silent := time.Now()
	b.nc.Close()
	ev.waitEq(t, 10*time.Second, fmt.Sprintf("down %v node down", target))
	elapsed := time.Since(silent)
	ev.waitEq(t, 10*time.Second, "left b")
	// Bound: MissedHeartbeats intervals plus a tick; allow for a loaded
	// machine, but not for an unbounded wait.
	if bound := 4*50*time.Millisecond + 50*time.Millisecond; elapsed > 10*bound {
		t.Fatalf("node down after %v, bound %v", elapsed, bound)
	}
	t.Logf("silent node detected after %v", elapsed)
	for _, m := range a.Members() {
		if m.Name == "b" {
			t.Fatalf("b still a member: %v", a.Members())
		}
	}
	if err := a.Deliver(actors.Envelope{To: target, Msg: ping{}}); !errors.Is(err, actors.ErrUndeliverable) || !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("Deliver to a down node: %v", err)
	}

	// A node of that name that comes back joins again.
	b2 := c.start(t, "b", url, quick)
	eventually(t, 10*time.Second, "b joins again", func() bool { return ev.count("joined b") == 2 })
	waitMembers(t, 2, a, b2)
}

func TestGoodbye(t *testing.T) {
	c := newCluster(t, "a", "b")
	a := c.start(t, "a", "")
	b := c.start(t, "b", a.Server().ClientURL(), func(cfg *Config) {
		cfg.Heartbeat = 10 * time.Second // only the goodbye can tell a quickly
	})
	waitMembers(t, 2, a, b)
	target := b.Runtime().Spawn(actors.ActorFunc(func(actors.Context, any) {}))
	ev := newEvents()
	w := a.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if _, ok := msg.(actors.Started); ok {
			ctx.Watch(target)
		}
		recorder(ev).Receive(ctx, msg)
	}))
	a.WatchMembers(w)
	eventually(t, 10*time.Second, "watch registered", func() bool { return b.Metrics().FramesReceived >= 1 })
	start := time.Now()
	b.Close()
	ev.waitEq(t, 5*time.Second, "left b")
	ev.waitFor(t, 5*time.Second, "Down", func(s string) bool { return strings.HasPrefix(s, fmt.Sprintf("down %v", target)) })
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("goodbye took %v", d)
	}
}

// An address of an actor of a node's previous incarnation names no actor
// of the next one, although the new runtime numbers its actors afresh: a
// request to it fails with ErrNoActor instead of reaching a stranger.
func TestAddressOfAPreviousIncarnationNamesNoActor(t *testing.T) {
	c := newCluster(t, "a", "b")
	a := c.start(t, "a", "")
	b := c.start(t, "b", a.Server().ClientURL())
	waitMembers(t, 2, a, b)
	old := b.Runtime().Spawn(&deferredServer{})
	b.Close()
	b2 := c.start(t, "b", a.Server().ClientURL())
	eventually(t, 10*time.Second, "b's new incarnation", func() bool {
		for _, m := range a.Members() {
			if m.Name == "b" && m.Epoch == b2.Epoch() {
				return true
			}
		}
		return false
	})
	// Spawn as many actors as b had: with IDs from 1, one would be old's.
	var fresh []actors.Addr
	for len(fresh) == 0 || fresh[len(fresh)-1].ID < old.ID && len(fresh) < 10 {
		fresh = append(fresh, b2.Runtime().Spawn(&deferredServer{}))
	}
	for _, f := range fresh {
		if f == old {
			t.Fatalf("b's new incarnation reuses the address %v", old)
		}
	}
	ev := newEvents()
	a.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if _, ok := msg.(actors.Started); ok {
			ctx.Request(old, ping{N: 1}, 1e4, func(ctx actors.Context, reply any, err error) {
				ev.add("old address: %v %v", reply, errors.Is(err, actors.ErrNoActor))
			})
			ctx.Request(fresh[0], ping{N: 1}, 1e4, func(ctx actors.Context, reply any, err error) {
				ev.add("new address: %v %v", reply, err)
			})
		}
	}))
	ev.waitEq(t, 10*time.Second, "old address: <nil> true")
	ev.waitEq(t, 10*time.Second, "new address: {2 } <nil>")
}

// An ack armed for a peer that went down before it was sent must not stay
// armed: the peer's next incarnation would then be acknowledged only every
// 16 frames, and retransmit its frames meanwhile.
func TestAckArmedForADownPeerIsDisarmed(t *testing.T) {
	c := newCluster(t, "a", "b")
	a := c.start(t, "a", "")
	b := c.start(t, "b", a.Server().ClientURL())
	waitMembers(t, 2, a, b)
	p := a.lookup("b")
	p.mu.Lock()
	p.alive, p.ackArmed = false, true
	p.mu.Unlock()
	a.sendAck(p, false)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ackArmed {
		t.Fatal("the ack timer of a down peer stays armed")
	}
}

// A kind registered in Config.Setup is there when others first see the
// node: a member watcher that asks for one as soon as the node joins gets
// it, however long Setup takes.
func TestKindsRegisteredInSetupAreThereWhenTheNodeJoins(t *testing.T) {
	c := newCluster(t, "a", "b")
	a := c.start(t, "a", "")
	ev := newEvents()
	w := a.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if m, ok := msg.(NodeJoined); ok && m.Member.Name == "b" {
			ctx.Request(m.Member.Spawner, SpawnRequest{Kind: "doubler"}, 1e4, func(ctx actors.Context, reply any, err error) {
				_, err = SpawnResult(reply, err)
				ev.add("spawn: %v", err)
			})
		}
	}))
	a.WatchMembers(w)
	c.start(t, "b", a.Server().ClientURL(), func(cfg *Config) {
		cfg.Setup = func(n *Node) {
			time.Sleep(200 * time.Millisecond) // a slow setup
			n.RegisterKind("doubler", func([]byte) (actors.Actor, error) { return &deferredServer{}, nil })
		}
	})
	ev.waitEq(t, 10*time.Second, "spawn: <nil>")
}

func TestRemoteSpawn(t *testing.T) {
	c := newCluster(t, "a", "b")
	a := c.start(t, "a", "")
	b := c.start(t, "b", a.Server().ClientURL())
	b.RegisterKind("doubler", func(args []byte) (actors.Actor, error) {
		if string(args) == "bad" {
			return nil, errors.New("bad args")
		}
		return &deferredServer{}, nil
	})
	waitMembers(t, 2, a, b)
	ms := a.Members()
	if len(ms) != 2 || ms[0].Name != "a" || ms[1].Name != "b" || ms[1].Spawner.Node != "b" || ms[1].Epoch != b.Epoch() {
		t.Fatalf("members %+v", ms)
	}
	spawnerB := ms[1].Spawner

	ev := newEvents()
	a.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if _, ok := msg.(actors.Started); !ok {
			return
		}
		ctx.Request(spawnerB, SpawnRequest{Kind: "doubler"}, 1e4, func(ctx actors.Context, reply any, err error) {
			addr, err := SpawnResult(reply, err)
			if err != nil {
				ev.add("spawn failed %v", err)
				return
			}
			ev.add("spawned on %s", addr.Node)
			ctx.Request(addr, ping{N: 4}, 1e4, func(ctx actors.Context, reply any, err error) {
				ev.add("worker replied %v %v", reply, err)
			})
		})
		ctx.Request(spawnerB, SpawnRequest{Kind: "nope"}, 1e4, func(ctx actors.Context, reply any, err error) {
			_, err = SpawnResult(reply, err)
			var se SpawnError
			ev.add("unknown kind %v %v", errors.As(err, &se), se.Reason)
		})
		ctx.Request(spawnerB, SpawnRequest{Kind: "doubler", Args: []byte("bad")}, 1e4, func(ctx actors.Context, reply any, err error) {
			_, err = SpawnResult(reply, err)
			ev.add("factory error %v", err)
		})
	}))
	ev.waitEq(t, 10*time.Second, "spawned on b")
	ev.waitEq(t, 10*time.Second, "worker replied {8 } <nil>")
	ev.waitEq(t, 10*time.Second, "unknown kind true kind not registered")
	ev.waitEq(t, 10*time.Second, `factory error transport: node "b" cannot spawn a "doubler": bad args`)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addr, err := a.Spawn(ctx, "b", "doubler", nil)
	if err != nil || addr.Node != "b" {
		t.Fatalf("Spawn: %v %v", addr, err)
	}
	if _, err := a.Spawn(ctx, "a", "doubler", nil); err == nil || !strings.Contains(err.Error(), "kind not registered") {
		t.Fatalf("Spawn of a kind a lacks: %v", err)
	}
	if _, err := a.Spawn(ctx, "zzz", "doubler", nil); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("Spawn on an unknown node: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	c := newCluster(t, "a")
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Name: "a.b"}, "invalid node name"},
		{Config{Name: "a"}, "Config.Key is required"},
		{Config{Name: "x", Key: c.keys["a"], Trusted: c.trusted}, `belongs to node "a"`},
		{Config{Name: "a", Key: c.keys["a"]}, "Config.Trusted is empty"},
		{Config{Name: "a", Key: c.keys["a"], Trusted: c.trusted, Prefix: "bad prefix"}, "invalid subject prefix"},
	} {
		if _, err := Start(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start(%+v): %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestNATSAuthentication(t *testing.T) {
	c := newCluster(t, "a", "b")
	// Token: the embedded server takes the node's token by default.
	a := c.start(t, "a", "", func(cfg *Config) { cfg.Token = "s3cret" })
	url := a.Server().ClientURL()
	if _, err := Start(c.config("b", url)); err == nil || !strings.Contains(err.Error(), "connecting") {
		t.Fatalf("Start without the token: %v", err)
	}
	b := c.start(t, "b", url, func(cfg *Config) { cfg.Token = "s3cret" })
	waitMembers(t, 2, a, b)

	// NKeys.
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := user.Seed()
	pub, _ := user.PublicKey()
	srv := startServer(t, ServerOptions{NKeys: []string{pub}})
	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	if _, err := Start(c.config("a", srv.ClientURL())); err == nil {
		t.Fatal("Start without an nkey succeeded")
	}
	if _, err := Start(func() Config { cfg := c.config("a", srv.ClientURL()); cfg.NKeySeed = string(otherSeed); return cfg }()); err == nil {
		t.Fatal("Start with an unknown nkey succeeded")
	}
	na := c.start(t, "a", srv.ClientURL(), func(cfg *Config) { cfg.NKeySeed = string(seed) })
	nb := c.start(t, "b", srv.ClientURL(), func(cfg *Config) { cfg.NKeySeed = string(seed) })
	waitMembers(t, 2, na, nb)

	if _, err := StartServer(ServerOptions{Token: "x", NKeys: []string{pub}}); err == nil {
		t.Fatal("StartServer with both a token and nkeys succeeded")
	}
}
