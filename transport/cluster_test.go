package transport

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/marlon-go/marlon/actors"
)

func TestClusterOfThreeServers(t *testing.T) {
	s1 := startServer(t, ServerOptions{Name: "s1", Cluster: &ClusterOptions{Name: "test"}})
	route := "nats-route://" + s1.ClusterAddr().String()
	s2 := startServer(t, ServerOptions{Name: "s2", Cluster: &ClusterOptions{Name: "test", Routes: []string{route}}})
	s3 := startServer(t, ServerOptions{Name: "s3", Cluster: &ClusterOptions{Name: "test", Routes: []string{route}}})
	eventually(t, 10*time.Second, "full mesh of routes", func() bool {
		return s1.NumRoutes() >= 2 && s2.NumRoutes() >= 2 && s3.NumRoutes() >= 2
	})

	c := newCluster(t, "a", "b", "c")
	a := c.start(t, "a", s1.ClientURL())
	b := c.start(t, "b", s2.ClientURL())
	cn := c.start(t, "c", s3.ClientURL())
	waitMembers(t, 3, a, b, cn)

	onB := b.Runtime().Spawn(&deferredServer{})
	onC := cn.Runtime().Spawn(&deferredServer{})
	victim := cn.Runtime().Spawn(actors.ActorFunc(func(actors.Context, any) {}))
	ev := newEvents()
	a.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if _, ok := msg.(actors.Started); !ok {
			return
		}
		ctx.Request(onB, ping{N: 1}, 1e4, func(ctx actors.Context, reply any, err error) { ev.add("b %v %v", reply, err) })
		ctx.Request(onC, ping{N: 2}, 1e4, func(ctx actors.Context, reply any, err error) { ev.add("c %v %v", reply, err) })
	}))
	b.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		switch m := msg.(type) {
		case actors.Started:
			ctx.Watch(victim)
			ctx.Request(onC, ping{N: 3}, 1e4, func(ctx actors.Context, reply any, err error) { ev.add("watch set %v", err) })
		case actors.Down:
			ev.add("down %v", m.Reason)
		}
	}))
	ev.waitEq(t, 10*time.Second, "b {2 } <nil>")
	ev.waitEq(t, 10*time.Second, "c {4 } <nil>")
	ev.waitEq(t, 10*time.Second, "watch set <nil>")
	cn.Runtime().Stop(victim)
	ev.waitEq(t, 10*time.Second, "down stopped")
}

// TestServerRestart stops the NATS server in the middle of a stream of
// messages and requests and starts it again on the same port: every message
// sent meanwhile is delivered once and in order, or reported to its sender.
func TestServerRestart(t *testing.T) {
	srv, err := StartServer(ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	port := srv.Addr().(*net.TCPAddr).Port
	var srvMu sync.Mutex
	t.Cleanup(func() {
		srvMu.Lock()
		srv.Shutdown()
		srvMu.Unlock()
	})
	c := newCluster(t, "a", "b")
	a := c.start(t, "a", srv.ClientURL())
	b := c.start(t, "b", srv.ClientURL())
	waitMembers(t, 2, a, b)

	const total = 300
	var mu sync.Mutex
	var received, reported []int
	sink := b.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if p, ok := msg.(ping); ok {
			mu.Lock()
			received = append(received, p.N)
			mu.Unlock()
		}
	}))
	echo := b.Runtime().Spawn(&deferredServer{})
	ev := newEvents()
	type tick struct{}
	next := 1
	source := a.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		switch m := msg.(type) {
		case actors.Started, tick:
			ctx.Send(sink, ping{N: next})
			if next%20 == 0 {
				n := next
				ctx.Request(echo, ping{N: n}, 1e4, func(ctx actors.Context, reply any, err error) {
					ev.add("request %d: %v %v", n, reply, err)
				})
			}
			if next++; next <= total {
				ctx.After(3, tick{})
			}
		case actors.Undeliverable:
			mu.Lock()
			reported = append(reported, m.Msg.(ping).N)
			mu.Unlock()
		}
	}))
	_ = source
	eventually(t, 10*time.Second, "traffic before the restart", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(received) >= 50
	})
	srvMu.Lock()
	srv.Shutdown()
	srv.WaitForShutdown()
	srvMu.Unlock()
	time.Sleep(200 * time.Millisecond)
	srv2, err := StartServer(ServerOptions{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	srvMu.Lock()
	srv = srv2
	srvMu.Unlock()

	eventually(t, 20*time.Second, "every message delivered or reported", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(received)+len(reported) >= total
	})
	mu.Lock()
	seen := map[int]bool{}
	last := 0
	for _, n := range received {
		if n <= last {
			t.Errorf("message %d received after %d", n, last)
		}
		last = n
		seen[n] = true
	}
	for _, n := range reported {
		if seen[n] {
			t.Errorf("message %d both delivered and reported", n)
		}
		seen[n] = true
	}
	t.Logf("%d delivered, %d reported undeliverable; a: %+v", len(received), len(reported), a.Metrics())
	mu.Unlock()
	if len(seen) != total {
		t.Fatalf("%d distinct messages accounted for, want %d", len(seen), total)
	}
	for n := 20; n <= total; n += 20 {
		ev.waitFor(t, 10*time.Second, fmt.Sprintf("answer to request %d", n), func(s string) bool {
			var k int
			_, err := fmt.Sscanf(s, "request %d:", &k)
			return err == nil && k == n
		})
	}
	// Traffic still flows after the restart.
	a.Runtime().Send(sink, ping{N: total + 1})
	eventually(t, 10*time.Second, "message after the restart", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(received) > 0 && received[len(received)-1] == total+1
	})
}
