package transport

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/marlon-go/marlon/actors"
)

// capture subscribes a client of the server at url to subject and keeps a
// copy of every frame of the kinds given.
type capture struct {
	nc     *nats.Conn
	mu     sync.Mutex
	frames [][]byte
}

func newCapture(t *testing.T, url, subject string, kinds ...frameKind) *capture {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c := &capture{nc: nc}
	if _, err := nc.Subscribe(subject, func(m *nats.Msg) {
		f, err := parseFrame(m.Data)
		if err != nil {
			return
		}
		for _, k := range kinds {
			if f.kind == k {
				c.mu.Lock()
				c.frames = append(c.frames, bytes.Clone(m.Data))
				c.mu.Unlock()
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *capture) all() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.frames...)
}

// replay publishes the frames to subject again and again, every pause,
// until ctx is done.
func (c *capture) replay(ctx context.Context, subject string, frames [][]byte, pause time.Duration) {
	for {
		for _, f := range frames {
			c.nc.Publish(subject, f)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
}

func isMember(n *Node, name string) bool {
	for _, m := range n.Members() {
		if m.Name == name {
			return true
		}
	}
	return false
}

// Issue 12, failure 2: frames of a dead node replayed by anyone who can
// publish on the NATS server (no node key needed) must not keep it alive,
// nor bring it back once it is declared down. Liveness is decided by
// authenticated fresh traffic only.
func TestReplayedFramesOfADeadNodeDoNotKeepItAlive(t *testing.T) {
	c := newCluster(t, "a", "b")
	quick := func(cfg *Config) { cfg.Heartbeat, cfg.MissedHeartbeats = 50*time.Millisecond, 4 }
	a := c.start(t, "a", "", quick)
	url := a.Server().ClientURL()
	spy := newCapture(t, url, "marlon.n.a", kindData, kindAck)
	hbSpy := newCapture(t, url, "marlon.hb", kindHeartbeat)
	b := c.start(t, "b", url, quick)
	waitMembers(t, 2, a, b)

	ev := newEvents()
	sink := a.Runtime().Spawn(recorder(ev))
	for i := range 5 {
		b.Runtime().Send(sink, ping{N: i})
	}
	eventually(t, 10*time.Second, "b's messages", func() bool { return ev.count("msg {4 } from <nobody>") == 1 })
	eventually(t, 10*time.Second, "frames captured", func() bool { return len(spy.all()) >= 1 })
	var bHeartbeats [][]byte
	for _, f := range hbSpy.all() {
		if pf, err := parseFrame(f); err == nil && pf.from == "b" {
			bHeartbeats = append(bHeartbeats, f)
		}
	}

	// b dies without a goodbye; its captured frames are replayed to a.
	b.nc.Close()
	killed := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go spy.replay(ctx, "marlon.n.a", spy.all(), 10*time.Millisecond)
	go spy.replay(ctx, "marlon.hb", bHeartbeats, 10*time.Millisecond)

	eventually(t, 5*time.Second, "b declared down despite the replays", func() bool { return !isMember(a, "b") })
	t.Logf("b declared down %v after it died, its frames replayed meanwhile", time.Since(killed).Round(time.Millisecond))
	// The replays go on: b stays down.
	time.Sleep(500 * time.Millisecond)
	if isMember(a, "b") {
		t.Fatalf("replayed frames brought b back: %v", a.Members())
	}
	m := a.Metrics()
	if r := m.Peers["b"].Rejected; r.Total() == 0 {
		t.Fatalf("the replays were not counted as rejections: %+v", m.Peers["b"])
	}
	if got := ev.count("msg {4 } from <nobody>"); got != 1 {
		t.Fatalf("a replayed message was delivered again: %d", got)
	}
}

// watchOn spawns on n an actor that watches target and records what it
// sees, membership included.
func watchOn(n *Node, target actors.Addr) *events {
	ev := newEvents()
	w := n.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if _, ok := msg.(actors.Started); ok && !target.IsZero() {
			ctx.Watch(target)
		}
		recorder(ev).Receive(ctx, msg)
	}))
	n.WatchMembers(w)
	return ev
}

// A node cut off from NATS for longer than the failure timeout has been
// declared down by its peers: it declares them down too (its watchers are
// told), and once it is back it joins as a new incarnation, which the peers
// take back; nobody is left waiting for the other.
func TestNodeCutOffLongerThanTheTimeoutComesBackAsANewIncarnation(t *testing.T) {
	s1 := startServer(t, ServerOptions{Name: "s1", Cluster: &ClusterOptions{Name: "test"}})
	route := "nats-route://" + s1.ClusterAddr().String()
	s2, err := StartServer(ServerOptions{Name: "s2", Cluster: &ClusterOptions{Name: "test", Routes: []string{route}}})
	if err != nil {
		t.Fatal(err)
	}
	port := s2.Addr().(*net.TCPAddr).Port
	eventually(t, 10*time.Second, "route", func() bool { return s1.NumRoutes() >= 1 && s2.NumRoutes() >= 1 })

	c := newCluster(t, "a", "b")
	quick := func(cfg *Config) { cfg.Heartbeat, cfg.MissedHeartbeats = 50*time.Millisecond, 4 }
	a := c.start(t, "a", s1.ClientURL(), quick)
	// b knows of s2 only: no failing over to s1.
	b := c.start(t, "b", s2.ClientURL(), quick, func(cfg *Config) { cfg.NATSOptions = []nats.Option{nats.IgnoreDiscoveredServers()} })
	waitMembers(t, 2, a, b)
	onA := a.Runtime().Spawn(actors.ActorFunc(func(actors.Context, any) {}))
	onB := b.Runtime().Spawn(actors.ActorFunc(func(actors.Context, any) {}))
	evA, evB := watchOn(a, onB), watchOn(b, onA)
	eventually(t, 10*time.Second, "watches registered", func() bool {
		return a.Metrics().FramesReceived >= 1 && b.Metrics().FramesReceived >= 1
	})
	epoch := b.Epoch()

	// b's server goes away for five failure timeouts.
	s2.Shutdown()
	s2.WaitForShutdown()
	evA.waitEq(t, 10*time.Second, fmt.Sprintf("down %v node down", onB))
	evB.waitEq(t, 10*time.Second, fmt.Sprintf("down %v node down", onA))
	evB.waitEq(t, 10*time.Second, "left a")
	time.Sleep(time.Second)
	s2, err = StartServer(ServerOptions{Name: "s2", Port: port, Cluster: &ClusterOptions{Name: "test", Routes: []string{route}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Shutdown()

	eventually(t, 10*time.Second, "b back as a new incarnation", func() bool {
		for _, m := range a.Members() {
			if m.Name == "b" && m.Epoch > epoch && !m.Spawner.IsZero() {
				return true
			}
		}
		return false
	})
	waitMembers(t, 2, a, b)
	if b.Epoch() <= epoch {
		t.Fatalf("b's epoch %d, was %d", b.Epoch(), epoch)
	}
	if m := b.Metrics(); m.Reincarnations != 1 || m.Disconnects == 0 || m.Reconnects == 0 {
		t.Fatalf("b's metrics: %d reincarnations, %d disconnects, %d reconnects", m.Reincarnations, m.Disconnects, m.Reconnects)
	}
	// Messages flow both ways again; an actor spawned now has a new address.
	sink := newEvents()
	onB2 := b.Runtime().Spawn(recorder(sink))
	if onB2 == onB || onB2.ID <= onB.ID {
		t.Fatalf("address %v after %v", onB2, onB)
	}
	a.Runtime().Send(onB2, ping{N: 7})
	sink.waitEq(t, 10*time.Second, "msg {7 } from <nobody>")
}

// A node that a peer declared down while it did not notice being cut off
// (paused for a little less than its own timeout, say) is told so by the
// peer's down notice when it next speaks, and comes back as a new
// incarnation instead of being refused for ever.
func TestDownNoticeMakesANodeStartANewIncarnation(t *testing.T) {
	c := newCluster(t, "a", "b")
	a := c.start(t, "a", "")
	b := c.start(t, "b", a.Server().ClientURL())
	waitMembers(t, 2, a, b)
	onA := a.Runtime().Spawn(actors.ActorFunc(func(actors.Context, any) {}))
	evB := watchOn(b, onA)
	eventually(t, 10*time.Second, "watch registered", func() bool { return a.Metrics().FramesReceived >= 1 })
	epoch := b.Epoch()

	// a declares b down, as after a silence; b did not see it coming.
	pb := a.lookup("b")
	a.peerDown(pb, epoch, "test", false)
	b.heartbeat() // refused by a, which tells b

	evB.waitEq(t, 10*time.Second, fmt.Sprintf("down %v node down", onA))
	eventually(t, 10*time.Second, "b back as a new incarnation", func() bool {
		for _, m := range a.Members() {
			if m.Name == "b" && m.Epoch > epoch {
				return true
			}
		}
		return false
	})
	ma, mb := a.Metrics(), b.Metrics()
	if ma.Rejected.Down == 0 || ma.NoticesSent == 0 || mb.NoticesReceived == 0 || mb.Reincarnations != 1 {
		t.Fatalf("a: %d down-incarnation rejections, %d notices sent; b: %d notices received, %d reincarnations",
			ma.Rejected.Down, ma.NoticesSent, mb.NoticesReceived, mb.Reincarnations)
	}
}

// Issue 12, failure 3: a node's first frame to reach a peer may be a data
// frame (a Down for an actor of the peer's previous incarnation, on its own
// subscription, racing the node's heartbeat). It is delivered, but the node
// becomes a member only with a heartbeat, which names its spawner: a member
// with no spawner could not be asked for anything (the master restarted
// within the failure timeout logged "no such actor: nX/0" and waited).
func TestADataFrameBeforeTheHeartbeatMakesNoMemberWithoutSpawner(t *testing.T) {
	c := newCluster(t, "a", "b")
	a := c.start(t, "a", "")
	// b uses another prefix: a hears nothing from it but the frame below.
	b := c.start(t, "b", a.Server().ClientURL(), func(cfg *Config) { cfg.Prefix = "elsewhere" })
	ev := newEvents()
	sink := a.Runtime().Spawn(recorder(ev))
	a.WatchMembers(sink)
	ev.waitEq(t, 10*time.Second, "joined a")

	var payload bytes.Buffer
	name, err := encodePayload(&payload, ping{N: 5})
	if err != nil {
		t.Fatal(err)
	}
	body := appendEnvelope(nil, &actors.Envelope{To: sink, Msg: ping{N: 5}}, name, payload.Bytes())
	me := b.cur()
	h := header{kind: kindData, auth: authSig, from: "b", fromEpoch: me.epoch, to: "a", toEpoch: a.Epoch(), gen: 1, seq: 1}
	frame, _ := b.seal(me, &h, body, nil)
	if err := b.nc.Publish("marlon.n.a", frame); err != nil {
		t.Fatal(err)
	}
	ev.waitEq(t, 10*time.Second, "msg {5 } from <nobody>")
	for _, m := range a.Members() {
		if m.Name == "b" {
			t.Fatalf("b is a member before its heartbeat: %+v", m)
		}
	}
	if ev.count("joined b") != 0 {
		t.Fatalf("b joined before its heartbeat: %q", ev.snapshot())
	}
	// Its heartbeat makes it a member, with its spawner.
	hb := heartbeat{interval: 1000, spawner: b.spawner.ID, xkey: me.sess.public[:]}
	hh := header{kind: kindHeartbeat, auth: authSig, from: "b", fromEpoch: me.epoch, seq: 1 << 30}
	beat, _ := b.seal(me, &hh, appendHeartbeat(nil, &hb), nil)
	if err := b.nc.Publish("marlon.hb", beat); err != nil {
		t.Fatal(err)
	}
	ev.waitEq(t, 10*time.Second, "joined b")
	for _, m := range a.Members() {
		if m.Name == "b" && m.Spawner != b.spawner {
			t.Fatalf("b's spawner %v, want %v", m.Spawner, b.spawner)
		}
	}
}
