package coordination

import (
	"errors"
	"testing"
)

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		p, k string
		ok   bool
	}{
		{"a.b", "a.b", true}, {"a.b", "a.c", false}, {"a.*", "a.b", true}, {"a.*", "a.b.c", false},
		{"a.>", "a.b.c", true}, {"a.>", "a", false}, {"*.b", "a.b", true}, {"a", "a.b", false}, {"a.b", "a", false},
	} {
		if got := matches(c.p, c.k); got != c.ok {
			t.Errorf("matches(%q, %q) = %v, want %v", c.p, c.k, got, c.ok)
		}
	}
	for _, bad := range []string{"", "a..b", ".a", "a.", "a b", "a.>.b", "a.*"} {
		if validKey(bad) {
			t.Errorf("validKey(%q) = true", bad)
		}
	}
	if !validPattern("a.*.>") || validPattern("a.>.b") {
		t.Error("validPattern")
	}
}

// storeHarness drives a member's store from a test, in the simulator or
// live, so that both run the same cases.
type storeHarness struct {
	write func(Write) WriteReply
	get   func(Get) GetReply
	wait  func(units float64) // let virtual time pass
	ttl   float64             // a TTL the store can do
	slack float64             // how far off an expiry may be observed
}

// TestModelSemantics checks the simulated bucket against JetStream KV's
// semantics through a member's store; TestLiveStoreSemantics runs the same
// cases on JetStream.
func TestModelSemantics(t *testing.T) {
	c := newCluster(t, 1, ModelConfig{History: 4, MarkerTTL: 50})
	st := c.store("m1")
	cl, at := c.client("m1")
	checkStoreSemantics(t, storeHarness{
		write: func(x Write) WriteReply { t.Helper(); return c.ask(cl, at, st, x, 100).(WriteReply) },
		get:   func(g Get) GetReply { t.Helper(); return c.ask(cl, at, st, g, 100).(GetReply) },
		wait:  func(d float64) { c.run(c.sim.Now() + d) },
		ttl:   30, slack: 6, // network delays are 1 to 2 each way
	})
}

func checkStoreSemantics(t *testing.T, h storeHarness) {
	w := func(x Write) WriteReply { t.Helper(); return h.write(x) }
	g := func(k string) GetReply { t.Helper(); return h.get(Get{Key: k}) }

	r1 := w(Create("a", []byte("1"), 0))
	if r1.Err != nil {
		t.Fatalf("create: %+v", r1)
	}
	if r := w(Create("a", []byte("x"), 0)); !errors.Is(r.Err, ErrExists) {
		t.Fatalf("create on a live value: %+v", r)
	}
	rb := w(Put("b", []byte("b")))
	if rb.Revision != r1.Revision+1 {
		t.Fatalf("revisions are the bucket's: got %d after %d", rb.Revision, r1.Revision)
	}
	if r := w(Update("a", []byte("2"), rb.Revision, 0)); !errors.Is(r.Err, ErrRevision) {
		t.Fatalf("update at another key's revision: %+v", r)
	}
	r3 := w(Update("a", []byte("2"), r1.Revision, 0))
	if r3.Err != nil || r3.Revision != rb.Revision+1 {
		t.Fatalf("update: %+v", r3)
	}
	for _, lv := range []Level{Linearizable, Eventual} {
		if got := h.get(Get{Key: "a", Level: lv}); got.Err != nil || string(got.Entry.Value) != "2" || got.Entry.Revision != r3.Revision {
			t.Fatalf("get (%v): %+v", lv, got)
		}
	}
	rd := w(Delete("a", 0))
	if rd.Err != nil || rd.Revision != r3.Revision+1 {
		t.Fatalf("delete: %+v", rd)
	}
	if got := g("a"); !errors.Is(got.Err, ErrNotFound) || got.Entry.Op != OpDelete || got.Entry.Revision != rd.Revision {
		t.Fatalf("get after delete: %+v", got)
	}
	if got := h.get(Get{Key: "a", Level: Eventual}); !errors.Is(got.Err, ErrNotFound) {
		t.Fatalf("eventual get after delete: %+v", got)
	}
	if r := w(Update("a", []byte("3"), r3.Revision, 0)); !errors.Is(r.Err, ErrRevision) {
		t.Fatalf("update at the revision before the tombstone: %+v", r)
	}
	if r := w(Delete("a", r3.Revision)); !errors.Is(r.Err, ErrRevision) {
		t.Fatalf("delete at a stale revision: %+v", r)
	}
	if r := w(Create("a", []byte("4"), 0)); r.Err != nil {
		t.Fatalf("create over a tombstone: %+v", r)
	}
	if r := w(Update("fresh", []byte("1"), 0, 0)); r.Err != nil {
		t.Fatalf("update at revision 0 of a new key: %+v", r)
	}
	if got := g("never"); !errors.Is(got.Err, ErrNotFound) || got.Entry.Revision != 0 {
		t.Fatalf("get of a key never written: %+v", got)
	}
	// Guarded: against another key's last revision.
	if r := w(Write{Key: "c", Value: []byte("c"), Expect: Expect{Cond: Guarded, Key: "b", Revision: rb.Revision}}); r.Err != nil {
		t.Fatalf("guarded write: %+v", r)
	}
	w(Put("b", []byte("b2")))
	if r := w(Write{Key: "c", Value: []byte("c2"), Expect: Expect{Cond: Guarded, Key: "b", Revision: rb.Revision}}); !errors.Is(r.Err, ErrFenced) {
		t.Fatalf("guarded write after the guard moved: %+v", r)
	}
	// TTL: expires in virtual time, leaving a marker, which goes too.
	rt := w(Create("lease", []byte("l"), h.ttl))
	h.wait(h.ttl - h.slack)
	if got := g("lease"); got.Err != nil {
		t.Fatalf("lease before its TTL: %+v", got)
	}
	h.wait(2 * h.slack)
	got := g("lease")
	if !errors.Is(got.Err, ErrNotFound) || got.Entry.Op != OpExpired || got.Entry.Revision <= rt.Revision {
		t.Fatalf("lease after its TTL: %+v", got)
	}
	if r := w(Update("lease", []byte("late"), rt.Revision, h.ttl)); !errors.Is(r.Err, ErrRevision) {
		t.Fatalf("renewal after expiry: %+v", r)
	}
	// Renewal with a TTL keeps a lease alive past its first TTL.
	r := w(Create("lease", []byte("l"), h.ttl))
	if r.Err != nil {
		t.Fatalf("create over an expiry marker: %+v", r)
	}
	for i := 0; i < 3; i++ {
		h.wait(h.ttl / 2)
		if r = w(Update("lease", []byte("l"), r.Revision, h.ttl)); r.Err != nil {
			t.Fatalf("renewal %d: %+v", i, r)
		}
	}
	// Bad requests.
	for _, bad := range []Write{Put("a..b", nil), {Key: "a", TTL: -1}, {Key: "a", Delete: true, TTL: 1}, {Key: "a", Expect: Expect{Cond: Guarded, Key: "*"}}} {
		if r := w(bad); !errors.Is(r.Err, ErrInvalid) {
			t.Errorf("%+v: %+v", bad, r)
		}
	}
}

// TestWatch checks the order of a watch: the last revision of each key,
// then Ready, then updates, and that it resumes after a partition with
// what was written meanwhile.
func TestWatch(t *testing.T) {
	c := newCluster(t, 2, ModelConfig{History: 8})
	st := c.store("m1")
	cl, at := c.client("m1")
	w := func(x Write) WriteReply { t.Helper(); return c.ask(cl, at, st, x, 100).(WriteReply) }
	w(Put("x.a", []byte("1")))
	w(Put("x.b", []byte("1")))
	w(Put("x.a", []byte("2")))
	w(Put("y.a", []byte("1")))
	w(Delete("x.b", 0))
	wr := c.ask(cl, at, st, Watch{Keys: "x.*"}, 100).(WatchReply)
	c.run(c.sim.Now() + 10)
	var got []string
	for _, e := range cl.events {
		if ev, ok := e.(WatchEvent); ok && ev.ID == wr.ID {
			if ev.Ready {
				got = append(got, "ready")
			} else {
				got = append(got, ev.Entry.Key+"@"+itoa(ev.Entry.Revision)+":"+ev.Entry.Op.String())
			}
		}
	}
	want := []string{"x.a@3:put", "x.b@5:delete", "ready"}
	if len(got) != len(want) {
		t.Fatalf("initial watch events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("initial watch events %v, want %v", got, want)
		}
	}

	// Cut the member off; write from another member; heal: the watch
	// delivers what it missed, in order, once.
	st2 := c.store("m2")
	cl2, at2 := c.client("m2")
	c.net.cut("m1")
	for i := 0; i < 5; i++ {
		c.ask(cl2, at2, st2, Put("x.a", []byte{byte('a' + i)}), 100)
	}
	c.run(c.sim.Now() + 50)
	n := len(cl.events)
	c.net.heal()
	c.run(c.sim.Now() + 100)
	var revs []uint64
	var isolated []bool
	for _, e := range cl.events[n:] {
		switch ev := e.(type) {
		case WatchEvent:
			revs = append(revs, ev.Entry.Revision)
		case Connectivity:
			isolated = append(isolated, ev.Isolated)
		}
	}
	for _, e := range cl.events[:n] {
		if ev, ok := e.(Connectivity); ok {
			isolated = append([]bool{ev.Isolated}, isolated...)
		}
	}
	if len(revs) != 5 {
		t.Fatalf("after the partition the watch delivered revisions %v, want the 5 written meanwhile", revs)
	}
	for i := 1; i < len(revs); i++ {
		if revs[i] <= revs[i-1] {
			t.Fatalf("revisions out of order: %v", revs)
		}
	}
	if len(isolated) != 2 || !isolated[0] || isolated[1] {
		t.Fatalf("connectivity events %v, want [true false]", isolated)
	}
}

// TestIsolatedStore: a member cut off from the store refuses writes at once,
// answers eventual reads of what it has, marked stale, and refuses
// linearizable ones; back in reach, it writes again.
func TestIsolatedStore(t *testing.T) {
	c := newCluster(t, 3, ModelConfig{})
	st := c.store("m1")
	cl, at := c.client("m1")
	c.ask(cl, at, st, Put("k", []byte("v1")), 100)
	c.net.cut("m1")
	c.run(c.sim.Now() + 50) // a ping times out
	if r := c.ask(cl, at, st, Put("k", []byte("v2")), 100).(WriteReply); !errors.Is(r.Err, ErrUnavailable) {
		t.Fatalf("write while isolated: %+v", r)
	}
	if r := c.ask(cl, at, st, Get{Key: "k", Level: Eventual}, 100).(GetReply); r.Err != nil || !r.Stale || string(r.Entry.Value) != "v1" {
		t.Fatalf("eventual read while isolated: %+v", r)
	}
	if r := c.ask(cl, at, st, Get{Key: "k"}, 100).(GetReply); !errors.Is(r.Err, ErrUnavailable) {
		t.Fatalf("linearizable read while isolated: %+v", r)
	}
	c.net.heal()
	c.run(c.sim.Now() + 50)
	if r := c.ask(cl, at, st, Put("k", []byte("v3")), 100).(WriteReply); r.Err != nil {
		t.Fatalf("write after healing: %+v", r)
	}
	if e, _ := c.model.Last("k"); string(e.Value) != "v3" {
		t.Fatalf("store holds %q", e.Value)
	}
}

// TestWatchResyncAfterLongPartition: a value expires, and its expiry marker
// too, while a watcher is cut off: there is no revision left to resume
// with, yet the watcher learns the key is gone.
func TestWatchResyncAfterLongPartition(t *testing.T) {
	c := newCluster(t, 4, ModelConfig{MarkerTTL: 20})
	st := c.store("m1")
	cl, at := c.client("m1")
	st2 := c.store("m2")
	cl2, at2 := c.client("m2")
	c.ask(cl2, at2, st2, Create("mem.g.m2", nil, 30), 100)
	c.ask(cl2, at2, st2, Put("mem.g.m3", nil), 100)
	wr := c.ask(cl, at, st, Watch{Keys: "mem.g.*"}, 100).(WatchReply)
	c.run(c.sim.Now() + 10)
	c.net.cut("m1")
	c.run(c.sim.Now() + 100) // m2's key expires, then its marker
	if _, ok := c.model.Last("mem.g.m2"); ok {
		t.Fatal("the marker is still there: the test tests nothing")
	}
	n := len(cl.events)
	c.net.heal()
	c.run(c.sim.Now() + 60)
	var gone []string
	for _, e := range cl.events[n:] {
		if ev, ok := e.(WatchEvent); ok && ev.ID == wr.ID && !ev.Ready && !ev.Entry.Live() {
			gone = append(gone, ev.Entry.Key)
		}
	}
	if len(gone) != 1 || gone[0] != "mem.g.m2" {
		t.Fatalf("after the partition, keys reported gone: %v, want [mem.g.m2]", gone)
	}
	if r := c.ask(cl, at, st, Get{Key: "mem.g.m2", Level: Eventual}, 100).(GetReply); !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("eventual read of the vanished key: %+v", r)
	}
}
