package coordination

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/transport"
)

var slow = flag.Bool("slow", false, "also run the slow live cases (stopping the JetStream stream leader of an R3 bucket: up to 10 s more)")

// startJetStream starts an embedded server with JetStream on a random port
// and a temporary store directory.
func startJetStream(t testing.TB, port int, dir string) *server.Server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := transport.StartServer(transport.ServerOptions{Port: port, JetStream: &transport.JetStreamOptions{StoreDir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// liveProc is what one process of a live run holds: a runtime, a NATS
// connection, the bucket and the member's store.
type liveProc struct {
	name  string
	rt    *actors.Live
	nc    *nats.Conn
	b     *Bucket
	store actors.Addr
}

func connect(t testing.TB, urls string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(urls, nats.MaxReconnects(-1), nats.ReconnectBufSize(-1), nats.ReconnectWait(50*time.Millisecond), nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return nc
}

func startProc(t testing.TB, name, urls string, bc BucketConfig) *liveProc {
	t.Helper()
	p := &liveProc{name: name, nc: connect(t, urls)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	for {
		if p.b, err = OpenBucket(ctx, p.nc, bc); err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	p.rt = actors.NewLive(actors.LiveOptions{Node: name, Scale: time.Millisecond})
	p.store = p.rt.Spawn(NewLiveStore(p.rt, p.b, StoreConfig{Timeout: 2000, ProbeEvery: 100}))
	t.Cleanup(p.crash)
	return p
}

// crash ends the process abruptly: the runtime stops without Stopping and
// the connection closes, as when a process is killed.
func (p *liveProc) crash() {
	p.rt.Close()
	p.nc.Close()
}

func (p *liveProc) call(t testing.TB, to actors.Addr, msg any) any {
	t.Helper()
	r, err := Call(p.rt, to, msg, 10*time.Second)
	if err != nil {
		t.Fatalf("%s: %T: %v", p.name, msg, err)
	}
	return r
}

// TestLiveStoreSemantics runs the simulator's store cases on JetStream (R1).
func TestOpenBucketRefusesReconnectBuffer(t *testing.T) {
	s := startJetStream(t, 0, "")
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := OpenBucket(context.Background(), nc, BucketConfig{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a connection with a reconnect buffer: %v", err)
	}
}

func TestLiveStoreSemantics(t *testing.T) {
	s := startJetStream(t, 0, "")
	p := startProc(t, "m1", s.ClientURL(), BucketConfig{History: 4, MarkerTTL: time.Second})
	checkStoreSemantics(t, storeHarness{
		write: func(x Write) WriteReply { t.Helper(); return p.call(t, p.store, x).(WriteReply) },
		get:   func(g Get) GetReply { t.Helper(); return p.call(t, p.store, g).(GetReply) },
		wait:  func(d float64) { time.Sleep(time.Duration(d) * time.Millisecond) },
		// One second, JetStream's least TTL; expiry runs on the server's
		// timers, so it is looked for 0.5s either side.
		ttl: 1000, slack: 500,
	})
}

// liveMember is one member process's election.
type liveMember struct {
	*liveProc
	election actors.Addr
	ev       chan any
}

func startMember(t testing.TB, name, urls string, bc BucketConfig, cfg ElectionConfig) *liveMember {
	t.Helper()
	m := &liveMember{liveProc: startProc(t, name, urls, bc), ev: make(chan any, 100)}
	owner := m.rt.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		switch msg.(type) {
		case Elected, Deposed:
			m.ev <- msg
		}
	}))
	cfg.Store, cfg.Member, cfg.Owner = m.store, name, owner
	m.election = m.rt.Spawn(must(NewElection(cfg)))
	m.rt.Send(m.election, Campaign{Value: []byte(name)})
	return m
}

// waitElected waits until one of ms is elected and returns it and its term.
func waitElected(t testing.TB, timeout time.Duration, ms ...*liveMember) (*liveMember, uint64) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		for _, m := range ms {
			select {
			case e := <-m.ev:
				if el, ok := e.(Elected); ok {
					return m, el.Term
				}
			default:
			}
		}
		select {
		case <-deadline:
			t.Fatalf("nobody elected within %v", timeout)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func liveElectionConfig() ElectionConfig {
	// 1s lease (JetStream's least TTL), renewed every 250ms.
	return ElectionConfig{Role: "learner", TTL: 1000, RenewEvery: 250, RetryEvery: 250}
}

// TestLiveElectionFailover: three member processes on one server (R1); the
// leader's process dies; another takes over, with a later term, and the
// dead leader's fence is refused.
func TestLiveElectionFailover(t *testing.T) {
	s := startJetStream(t, 0, "")
	var ms []*liveMember
	for i := 0; i < 3; i++ {
		ms = append(ms, startMember(t, fmt.Sprintf("m%d", i), s.ClientURL(), BucketConfig{}, liveElectionConfig()))
	}
	leader, term := waitElected(t, 10*time.Second, ms...)
	w := leader.call(t, leader.store, Fence{Role: "learner", Term: term}.Put("params", []byte("1"))).(WriteReply)
	if w.Err != nil {
		t.Fatalf("the leader's fenced write: %v", w.Err)
	}
	var rest []*liveMember
	for _, m := range ms {
		if m != leader {
			rest = append(rest, m)
		}
	}
	t0 := time.Now()
	leader.crash()
	next, term2 := waitElected(t, 15*time.Second, rest...)
	took := time.Since(t0)
	t.Logf("%s took over from %s after %v (lease TTL 1s, renewed every 250ms)", next.name, leader.name, took)
	if term2 <= term {
		t.Fatalf("new term %d, old %d", term2, term)
	}
	if w := next.call(t, next.store, Fence{Role: "learner", Term: term}.Put("params", []byte("old"))).(WriteReply); w.Err != ErrFenced {
		t.Fatalf("a write under the dead leader's term: %+v", w)
	}
	if w := next.call(t, next.store, Fence{Role: "learner", Term: term2}.Put("params", []byte("2"))).(WriteReply); w.Err != nil {
		t.Fatalf("the new leader's fenced write: %+v", w)
	}
	q := rest[0].call(t, rest[0].election, QueryLeader{}).(Leader)
	if q.Member != next.name || q.Term != term2 {
		t.Fatalf("QueryLeader: %+v", q)
	}
}

// TestLiveClusterFailover: a three-server cluster with an R3 bucket, one
// member process per server. The leader's process dies: another takes over.
// Then the server the new leader is connected to stops: the bucket keeps
// its quorum on the other two, the member reconnects, and there is again
// exactly one leader whose fenced writes are accepted.
func TestLiveClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster")
	}
	c, err := transport.StartCluster(transport.ClusterConfig{JetStream: &transport.JetStreamOptions{StoreDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Shutdown)
	bc := BucketConfig{Replicas: 3}
	var ms []*liveMember
	for i, s := range c.Servers {
		// Each member prefers its own server and knows the others.
		ms = append(ms, startMember(t, fmt.Sprintf("m%d", i), s.ClientURL()+","+c.URLs(), bc, liveElectionConfig()))
	}
	leader, term := waitElected(t, 15*time.Second, ms...)
	var rest []*liveMember
	for _, m := range ms {
		if m != leader {
			rest = append(rest, m)
		}
	}
	t0 := time.Now()
	leader.crash()
	next, term2 := waitElected(t, 20*time.Second, rest...)
	t.Logf("R3: %s took over from %s after %v (lease TTL 1s)", next.name, leader.name, time.Since(t0))
	if term2 <= term {
		t.Fatalf("new term %d, old %d", term2, term)
	}
	// Stop the server the new leader is connected to and, with -slow, then
	// the one that leads the bucket's stream (a Raft leader election among
	// the other two, 1 to 10 s): each time, within a while, some member
	// leads and its fenced write is accepted.
	cur, curTerm := next, term2
	phases := []string{"the leader's server"}
	if *slow {
		phases = append(phases, "the stream leader")
	}
	for _, which := range phases {
		var stop string
		if which == "the stream leader" {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			st, err := cur.b.JS.Stream(ctx, "KV_"+cur.b.Name)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			stop = st.CachedInfo().Cluster.Leader
		}
		for i, s := range c.Servers {
			if s.Running() && (s.Name() == stop || stop == "" && s.ClientURL() == cur.nc.ConnectedUrl()) {
				c.Stop(i)
				t.Logf("stopped %s, server %s", which, s.Name())
				defer func() {
					if err := c.Restart(i); err != nil {
						t.Error(err)
					}
				}()
				break
			}
		}
		t1 := time.Now()
		deadline := time.Now().Add(30 * time.Second)
		for {
			for _, m := range rest {
				for len(m.ev) > 0 {
					switch e := (<-m.ev).(type) {
					case Elected:
						cur, curTerm = m, e.Term
					case Deposed:
						if m == cur && e.Term == curTerm {
							cur = nil
						}
					}
				}
			}
			if cur != nil {
				if w := cur.call(t, cur.store, Fence{Role: "learner", Term: curTerm}.Put("params", []byte("x"))).(WriteReply); w.Err == nil {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no leader with an accepted fenced write within 30s of stopping %s", which)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("after stopping %s: %s leads term %d, a fenced write accepted after %v", which, cur.name, curTerm, time.Since(t1))
		if which == "the leader's server" {
			// Both servers down would leave no quorum: bring it back first.
			for i, s := range c.Servers {
				if !s.Running() {
					if err := c.Restart(i); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
}

// TestLiveIsolationAndRejoin: the server stops (the member has no quorum):
// writes are refused at once, eventual reads answer from the cache, marked
// stale; the server restarts on its port with its store: the member
// reconnects, its watch resumes and delivers what was written meanwhile,
// and it writes again.
func TestLiveIsolationAndRejoin(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	s := startJetStream(t, port, dir)
	url := s.ClientURL()
	a := startProc(t, "a", url, BucketConfig{})
	av := a.rt.Spawn(must(NewVar(VarConfig{Store: a.store, Name: "params", Member: "a"})))
	if w := a.call(t, av, SetVar{Data: []byte("v1")}).(VarWritten); w.Err != nil {
		t.Fatal(w.Err)
	}
	time.Sleep(100 * time.Millisecond) // the Var's watch has the value
	if v := a.call(t, av, GetVar{Level: Eventual}).(VarValue); string(v.Data) != "v1" || v.Stale {
		t.Fatalf("eventual read: %+v", v)
	}
	s.Shutdown()
	s.WaitForShutdown()
	if w := a.call(t, av, SetVar{Data: []byte("v2")}).(VarWritten); !isUnavailable(w.Err) {
		t.Fatalf("write with the server down: %+v", w)
	}
	if w := a.call(t, av, SetVar{Data: []byte("v2")}).(VarWritten); !errors.Is(w.Err, ErrUnavailable) {
		t.Fatalf("second write with the server down (isolated: refused at once): %+v", w)
	}
	if v := a.call(t, av, GetVar{Level: Eventual}).(VarValue); string(v.Data) != "v1" || !v.Stale {
		t.Fatalf("eventual read with the server down: %+v", v)
	}
	s2, err := transport.StartServer(transport.ServerOptions{Port: port, JetStream: &transport.JetStreamOptions{StoreDir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Shutdown(); s2.WaitForShutdown() })
	// Another process writes; a's watch must deliver it.
	b := startProc(t, "b", url, BucketConfig{})
	bv := b.rt.Spawn(must(NewVar(VarConfig{Store: b.store, Name: "params", Member: "b"})))
	if w := b.call(t, bv, SetVar{Data: []byte("v3")}).(VarWritten); w.Err != nil {
		t.Fatal(w.Err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		v := a.call(t, av, GetVar{Level: Eventual}).(VarValue)
		if string(v.Data) == "v3" && !v.Stale {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a never saw b's write after the restart: %+v", v)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if w := a.call(t, av, SetVar{Data: []byte("v4")}).(VarWritten); w.Err != nil {
		t.Fatalf("a's write after the restart: %+v", w)
	}
}

func isUnavailable(err error) bool { return err != nil && unreachable(err) }

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestLiveBarrierAndConsensus: the simulator's barrier and consensus cases
// that apply, on JetStream: three processes pass a barrier, and accept a
// proposal 2 to 1 (2/3 ≥ 0.6).
func TestLiveBarrierAndConsensus(t *testing.T) {
	s := startJetStream(t, 0, "")
	type proc struct {
		*liveProc
		members, barriers, cons actors.Addr
	}
	var ps []proc
	for i, choice := range []Choice{Accept, Accept, Reject} {
		p := proc{liveProc: startProc(t, fmt.Sprintf("p%d", i), s.ClientURL(), BucketConfig{})}
		p.members = p.rt.Spawn(must(NewMembership(MembersConfig{Store: p.store, Group: "g", Member: p.name, TTL: 2000})))
		p.barriers = p.rt.Spawn(must(NewBarriers(BarriersConfig{Store: p.store, Member: p.name, Members: p.members})))
		ch := choice
		p.cons = p.rt.Spawn(must(NewConsensus(ConsensusConfig{Store: p.store, Members: p.members, Member: p.name, Voter: func(Proposal) Choice { return ch }})))
		ps = append(ps, p)
	}
	results := make(chan BarrierResult, 3)
	for _, p := range ps {
		go func() {
			r, err := Call(p.rt, p.barriers, Arrive{Barrier: "epoch1", Count: 3, Timeout: 10000}, 15*time.Second)
			if err != nil {
				r = BarrierResult{Err: err}
			}
			results <- r.(BarrierResult)
		}()
	}
	for range ps {
		if r := <-results; !r.Released || len(r.Arrived) != 3 || r.Err != nil {
			t.Fatalf("barrier: %+v", r)
		}
	}
	// Wait until everyone sees three live members, then propose.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := ps[0].call(t, ps[0].members, ListMembers{}).(Members); len(m.Live) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("members never saw each other")
		}
		time.Sleep(20 * time.Millisecond)
	}
	d := ps[0].call(t, ps[0].cons, Propose{ID: "lr", Value: []byte("0.01"), Timeout: 5000}).(Decision)
	if d.Outcome != Accepted || d.Members != 3 {
		t.Fatalf("decision: %+v", d)
	}
}
