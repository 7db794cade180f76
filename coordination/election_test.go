package coordination

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/marlon-go/marlon/actors"
)

// leadLog records what the members' election owners saw.
type leadLog struct {
	events []leadEvent
	writes []fencedWrite
}

type leadEvent struct {
	at     float64
	member string
	kind   string // "elected", "deposed", "killed"
	term   uint64
}

type fencedWrite struct {
	member string
	term   uint64
	zombie bool // written after its writer was deposed
	rev    uint64
	err    error
}

// leader is the owner of a member's Election in tests: it records Elected
// and Deposed and, while leader (and, as a zombie, after), writes under its
// fence every writeEvery.
type leader struct {
	member     string
	log        *leadLog
	store      actors.Addr
	writeEvery float64
	fence      *Fence
	zombie     *Fence
	n          int
}

type writeTick struct{}

func (l *leader) Receive(ctx actors.Context, msg any) {
	switch m := msg.(type) {
	case actors.Started:
		if l.writeEvery > 0 {
			ctx.After(l.writeEvery, writeTick{})
		}
	case Elected:
		l.log.events = append(l.log.events, leadEvent{at: ctx.Now(), member: l.member, kind: "elected", term: m.Term})
		f := m.Fence
		l.fence, l.zombie = &f, nil
	case Deposed:
		l.log.events = append(l.log.events, leadEvent{at: ctx.Now(), member: l.member, kind: "deposed", term: m.Term})
		l.zombie, l.fence = l.fence, nil
	case writeTick:
		for _, f := range []*Fence{l.fence, l.zombie} {
			if f == nil {
				continue
			}
			l.n++
			zombie := f == l.zombie
			term := f.Term
			ctx.Request(l.store, f.Put("data.x", []byte(fmt.Sprintf("%s-%d", l.member, l.n))), actors.Forever, func(ctx actors.Context, reply any, err error) {
				r := writeResult(reply, err)
				l.log.writes = append(l.log.writes, fencedWrite{member: l.member, term: term, zombie: zombie, rev: r.Revision, err: r.Err})
			})
		}
		ctx.After(l.writeEvery, writeTick{})
	}
}

type member struct {
	store, election, owner actors.Addr
	lead                   *leader
}

// candidate starts (or restarts) a member's store, election and owner on
// its node and makes it campaign.
func (c *cluster) candidate(name string, cfg ElectionConfig, log *leadLog, writeEvery float64) member {
	st := c.store(name)
	l := &leader{member: name, log: log, store: st, writeEvery: writeEvery}
	owner := c.sim.SpawnOn(name, l)
	cfg.Store, cfg.Member, cfg.Owner = st, name, owner
	e := c.sim.SpawnOn(name, must(NewElection(cfg)))
	c.sim.Send(e, Campaign{Value: []byte(name)})
	return member{store: st, election: e, owner: owner, lead: l}
}

func (c *cluster) kill(log *leadLog, name string) {
	c.sim.KillNode(name)
	log.events = append(log.events, leadEvent{at: c.sim.Now(), member: name, kind: "killed"})
}

// leaders returns who believes it leads now.
func (log *leadLog) leaders() map[string]uint64 {
	now := map[string]uint64{}
	for _, e := range log.events {
		switch e.kind {
		case "elected":
			now[e.member] = e.term
		default:
			delete(now, e.member)
		}
	}
	return now
}

// check verifies, over a run: at most one leader per term; terms grow; at
// no time two members believe they lead; every accepted fenced write was
// made while its term was the newest in the store (no deposed leader's
// write accepted).
func (log *leadLog) check(t testing.TB, c *cluster) {
	t.Helper()
	seed := c.sim.Seed()
	byTerm := map[uint64]string{}
	leading := map[string]uint64{}
	var last uint64
	for _, e := range log.events {
		switch e.kind {
		case "elected":
			if m, ok := byTerm[e.term]; ok && m != e.member {
				t.Fatalf("seed %d: term %d has two leaders, %s and %s", seed, e.term, m, e.member)
			}
			byTerm[e.term] = e.member
			if e.term <= last {
				t.Fatalf("seed %d: term %d elected after term %d", seed, e.term, last)
			}
			last = e.term
			for m, term := range leading {
				if m != e.member {
					t.Fatalf("seed %d: at %v %s elected for term %d while %s still leads term %d", seed, e.at, e.member, e.term, m, term)
				}
			}
			leading[e.member] = e.term
		default:
			delete(leading, e.member)
		}
	}
	// The term in force at each revision, from the store's log.
	var termRevs []uint64
	for _, cm := range c.model.Commits() {
		if cm.Entry.Key == TermKey("r") {
			termRevs = append(termRevs, cm.Entry.Revision)
		}
	}
	accepted := 0
	for _, w := range log.writes {
		if w.err != nil {
			continue
		}
		accepted++
		i := sort.Search(len(termRevs), func(i int) bool { return termRevs[i] >= w.rev }) - 1
		if i < 0 || termRevs[i] != w.term {
			t.Fatalf("seed %d: %s's write at revision %d under term %d was accepted, but the term then was %v", seed, w.member, w.rev, w.term, termRevs)
		}
	}
}

func electionConfig() ElectionConfig {
	return ElectionConfig{Role: "r", TTL: 30, RenewEvery: 10, RetryEvery: 10}
}

func TestElectionOneLeaderAndObservers(t *testing.T) {
	c := newCluster(t, 1, ModelConfig{})
	log := &leadLog{}
	var ms []member
	for _, n := range []string{"a", "b", "c"} {
		ms = append(ms, c.candidate(n, electionConfig(), log, 0))
	}
	obs, at := c.client("b")
	c.sim.Send(at, send{to: ms[1].election, msg: Observe{}})
	c.run(200)
	ls := log.leaders()
	if len(ls) != 1 {
		t.Fatalf("leaders after 200: %v (events %v)", ls, log.events)
	}
	var who string
	for m := range ls {
		who = m
	}
	var seen []Leader
	for _, e := range obs.events {
		if lc, ok := e.(LeaderChanged); ok {
			seen = append(seen, lc.Leader)
		}
	}
	if len(seen) == 0 || seen[len(seen)-1].Member != who || seen[len(seen)-1].Term != ls[who] || string(seen[len(seen)-1].Value) != who {
		t.Fatalf("observer saw %+v, leader is %s term %d", seen, who, ls[who])
	}
	q := c.ask(obs, at, ms[2].election, QueryLeader{}, 100).(Leader)
	if q.Member != who || q.Term != ls[who] || q.Stale {
		t.Fatalf("QueryLeader: %+v, leader is %s", q, who)
	}
	log.check(t, c)
}

// failover kills or cuts off the leader and returns who took over and
// how long after.
func failover(t *testing.T, seed uint64, cut bool) {
	c := newCluster(t, seed, ModelConfig{})
	log := &leadLog{}
	cfg := electionConfig()
	ms := map[string]member{}
	for _, n := range []string{"a", "b", "c"} {
		ms[n] = c.candidate(n, cfg, log, 3)
	}
	c.runUntil(100, "a first leader", func() bool { return len(log.leaders()) == 1 })
	c.run(c.sim.Now() + 50)
	var old string
	var oldTerm uint64
	for m, term := range log.leaders() {
		old, oldTerm = m, term
	}
	t0 := c.sim.Now()
	if cut {
		c.net.cut(old)
	} else {
		c.kill(log, old)
	}
	var next string
	c.runUntil(t0+200, "a new leader", func() bool {
		for m := range log.leaders() {
			if m != old {
				next = m
				return true
			}
		}
		return false
	})
	took := c.sim.Now() - t0
	// Bound: the lease outlives the holder by at most its TTL from its last
	// renewal; a candidate sees the expiry marker at once (or retries within
	// RetryEvery); then a create and the term write, two round trips of at
	// most 4.
	if bound := cfg.TTL + cfg.RetryEvery + 4*4; took > bound {
		t.Fatalf("seed %d: failover took %v, bound %v", seed, took, bound)
	}
	if ls := log.leaders(); ls[next] <= oldTerm {
		t.Fatalf("new term %d not after %d", ls[next], oldTerm)
	}
	if cut {
		// The cut-off leader deposed itself before the new one was elected.
		deposed := false
		for _, e := range log.events {
			if e.member == old && e.kind == "deposed" && e.term == oldTerm {
				deposed = true
			}
		}
		if !deposed {
			t.Fatalf("seed %d: the cut-off leader %s never deposed itself: %v", seed, old, log.events)
		}
		// Heal: it stays a candidate; its zombie writes are refused.
		c.net.heal()
		c.run(c.sim.Now() + 200)
		if ls := log.leaders(); len(ls) != 1 || ls[next] == 0 {
			t.Fatalf("after healing, leaders %v, want only %s", ls, next)
		}
		refused := 0
		for _, w := range log.writes {
			if w.member == old && w.zombie && errors.Is(w.err, ErrFenced) {
				refused++
			}
		}
		if refused == 0 {
			t.Fatalf("seed %d: no zombie write of the old leader was refused: %+v", seed, log.writes)
		}
	}
	t.Logf("seed %d: %s took over from %s after %.1f (TTL %v)", seed, next, old, took, cfg.TTL)
	log.check(t, c)
}

func TestElectionFailoverOnCrash(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		failover(t, seed, false)
	}
}

func TestElectionFailoverOnPartition(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		failover(t, seed, true)
	}
}

// TestElectionRestartAndResign: a killed member restarted on its node
// campaigns again; the leader resigns, which fences its term at once and
// lets a candidate in without waiting for the TTL.
func TestElectionRestartAndResign(t *testing.T) {
	c := newCluster(t, 7, ModelConfig{})
	log := &leadLog{}
	cfg := electionConfig()
	ms := map[string]member{}
	for _, n := range []string{"a", "b"} {
		ms[n] = c.candidate(n, cfg, log, 0)
	}
	c.runUntil(100, "a leader", func() bool { return len(log.leaders()) == 1 })
	var first string
	for m := range log.leaders() {
		first = m
	}
	other := map[string]string{"a": "b", "b": "a"}[first]
	c.kill(log, other)
	c.run(c.sim.Now() + 10)
	ms[other] = c.candidate(other, cfg, log, 0) // restart on the same node
	c.run(c.sim.Now() + 100)
	if ls := log.leaders(); len(ls) != 1 || ls[first] == 0 {
		t.Fatalf("after restarting %s: leaders %v", other, ls)
	}
	term := log.leaders()[first]
	cl, at := c.client(first)
	t0 := c.sim.Now()
	if r := c.ask(cl, at, ms[first].election, Resign{}, 100).(Resigned); r.Err != nil {
		t.Fatalf("resign: %v", r.Err)
	}
	fence := Fence{Role: "r", Term: term}
	if r := c.ask(cl, at, ms[first].store, fence.Put("data.x", []byte("late")), 100).(WriteReply); !errors.Is(r.Err, ErrFenced) {
		t.Fatalf("write under a resigned term: %+v", r)
	}
	c.runUntil(t0+cfg.TTL, "the restarted member elected", func() bool { return log.leaders()[other] > term })
	log.check(t, c)
}

// TestElectionUnderDelay: slow, jittery links (up to 8 time units each way
// against a TTL of 30) and lost messages: the election still converges to
// one leader, and the invariants hold.
func TestElectionUnderDelay(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		c := newCluster(t, seed, ModelConfig{})
		c.net.base, c.net.jitter, c.net.loss = 2, 6, 0.05
		log := &leadLog{}
		for _, n := range []string{"a", "b", "c"} {
			c.candidate(n, electionConfig(), log, 3)
		}
		c.run(500)
		if ls := log.leaders(); len(ls) > 1 {
			t.Fatalf("seed %d: leaders %v", seed, ls)
		}
		elected := 0
		for _, e := range log.events {
			if e.kind == "elected" {
				elected++
			}
		}
		if elected == 0 {
			t.Fatalf("seed %d: nobody elected under delay", seed)
		}
		log.check(t, c)
	}
}

// TestElectionProperty runs hundreds of seeds of random crashes, restarts,
// partitions and delays: at most one leader per term and at any time, and
// no write of a deposed leader accepted.
func TestElectionProperty(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 50
	}
	zombieRefused, accepted := 0, 0
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		c := newCluster(t, seed, ModelConfig{})
		c.net.base, c.net.jitter = rng.Float64()*2, rng.Float64()*4
		if rng.IntN(3) == 0 {
			c.net.loss = 0.02
		}
		log := &leadLog{}
		cfg := electionConfig()
		n := 3 + rng.IntN(3)
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("m%d", i)
			c.candidate(names[i], cfg, log, 2+rng.Float64()*4)
		}
		down := map[string]bool{}
		for at := 20.0; at < 500; at += 10 + rng.Float64()*40 {
			c.run(at)
			victim := names[rng.IntN(n)]
			switch rng.IntN(4) {
			case 0: // crash, and maybe restart later
				if !down[victim] {
					c.kill(log, victim)
					down[victim] = true
				}
			case 1:
				if down[victim] {
					c.candidate(victim, cfg, log, 2+rng.Float64()*4)
					down[victim] = false
				}
			case 2:
				c.net.cut(victim)
			case 3:
				c.net.heal()
			}
		}
		c.net.heal()
		c.run(700)
		log.check(t, c)
		for _, w := range log.writes {
			if w.err == nil {
				accepted++
			} else if w.zombie && errors.Is(w.err, ErrFenced) {
				zombieRefused++
			}
		}
	}
	if zombieRefused == 0 || accepted == 0 {
		t.Fatalf("the runs tested nothing: %d fenced writes accepted, %d zombie writes refused", accepted, zombieRefused)
	}
	t.Logf("%d seeds: %d fenced writes accepted, %d writes of deposed leaders refused", seeds, accepted, zombieRefused)
}
