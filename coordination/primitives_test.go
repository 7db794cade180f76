package coordination

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/marlon-go/marlon/actors"
)

// node is a member's actors in the simulator: store, membership, barriers,
// consensus, and a client for the test.
type node struct {
	name                           string
	store, members, barriers, cons actors.Addr
	cl                             *client
	at                             actors.Addr
}

func (c *cluster) node(name string, voter func(Proposal) Choice) *node {
	n := &node{name: name, store: c.store(name)}
	n.cl, n.at = c.client(name)
	n.members = c.sim.SpawnOn(name, must(NewMembership(MembersConfig{Store: n.store, Group: "g", Member: name, TTL: 30, RenewEvery: 10})))
	n.barriers = c.sim.SpawnOn(name, must(NewBarriers(BarriersConfig{Store: n.store, Member: name, Members: n.members})))
	n.cons = c.sim.SpawnOn(name, must(NewConsensus(ConsensusConfig{Store: n.store, Members: n.members, Member: name, Owner: n.at, Voter: voter})))
	c.sim.Send(n.at, send{to: n.members, msg: SubscribeMembers{}})
	return n
}

// lastMembers is the last Members a node's client received.
func (n *node) lastMembers() (Members, bool) {
	for i := len(n.cl.events) - 1; i >= 0; i-- {
		if m, ok := n.cl.events[i].(Members); ok {
			return m, true
		}
	}
	return Members{}, false
}

func (n *node) sees(live ...string) bool {
	m, ok := n.lastMembers()
	return ok && !m.Stale && slices.Equal(m.Live, live)
}

func TestMembershipCrashPartitionRestart(t *testing.T) {
	c := newCluster(t, 1, ModelConfig{})
	ns := map[string]*node{}
	for _, n := range []string{"a", "b", "c"} {
		ns[n] = c.node(n, nil)
	}
	all := func(live ...string) func() bool {
		return func() bool {
			for _, n := range live {
				if !ns[n].sees(live...) {
					return false
				}
			}
			return true
		}
	}
	c.runUntil(50, "everyone sees a, b, c", all("a", "b", "c"))
	t0 := c.sim.Now()
	c.sim.KillNode("c")
	c.runUntil(t0+30+15, "a and b see c gone within the TTL", all("a", "b"))
	ns["c"] = c.node("c", nil) // restart
	c.runUntil(c.sim.Now()+20, "c back", all("a", "b", "c"))
	c.net.cut("b")
	t1 := c.sim.Now()
	c.runUntil(t1+45, "b dropped by a and c", all("a", "c"))
	if m, _ := ns["b"].lastMembers(); !m.Stale {
		t.Fatalf("the cut-off member's view is not marked stale: %+v", m)
	}
	c.net.heal()
	c.runUntil(c.sim.Now()+40, "b rejoined", all("a", "b", "c"))
}

func result(t *testing.T, n *node, i int) BarrierResult {
	t.Helper()
	if len(n.cl.replies) <= i {
		t.Fatalf("%s: no barrier result", n.name)
	}
	r, ok := n.cl.replies[i].(BarrierResult)
	if !ok {
		t.Fatalf("%s: reply %v", n.name, n.cl.replies[i])
	}
	return r
}

func arrive(c *cluster, n *node, a Arrive, after float64) {
	c.sim.SendAfter(after, n.at, call{to: n.barriers, msg: a, timeout: actors.Forever})
}

func TestBarrierNamedParties(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		c := newCluster(t, seed, ModelConfig{})
		names := []string{"a", "b", "c"}
		var ns []*node
		for i, name := range names {
			n := c.node(name, nil)
			ns = append(ns, n)
			arrive(c, n, Arrive{Barrier: "e1", Parties: names, Timeout: 100}, float64(10*i))
		}
		c.runUntil(100, "every party released", func() bool {
			for _, n := range ns {
				if len(n.cl.replies) == 0 {
					return false
				}
			}
			return true
		})
		if c.sim.Now() > 20+10 {
			t.Fatalf("seed %d: released at %v, the last party arrived at 20", seed, c.sim.Now())
		}
		for _, n := range ns {
			r := result(t, n, 0)
			if !r.Released || !slices.Equal(r.Arrived, names) || len(r.Missing) != 0 || r.Short != 0 || r.Err != nil {
				t.Fatalf("seed %d: %s: %+v", seed, n.name, r)
			}
		}
	}
}

// TestBarrierTimeoutReportsMissing: a party that crashed before arriving,
// one cut off from the store, and a count barrier short of one.
func TestBarrierTimeoutReportsMissing(t *testing.T) {
	c := newCluster(t, 2, ModelConfig{})
	names := []string{"a", "b", "c", "d"}
	ns := map[string]*node{}
	for _, name := range names {
		ns[name] = c.node(name, nil)
	}
	c.run(5)
	c.sim.KillNode("c")
	c.net.cut("d")
	for _, name := range []string{"a", "b", "d"} {
		arrive(c, ns[name], Arrive{Barrier: "e2", Parties: names, Timeout: 60}, 0)
		arrive(c, ns[name], Arrive{Barrier: "n2", Count: 3, Timeout: 60}, 0)
	}
	c.run(100)
	for _, name := range []string{"a", "b"} {
		for i, want := range []BarrierResult{
			{Barrier: "e2", Arrived: []string{"a", "b"}, Missing: []string{"c", "d"}, Short: 2},
			{Barrier: "n2", Arrived: []string{"a", "b"}, Short: 1},
		} {
			var got BarrierResult
			for _, r := range ns[name].cl.replies {
				if br := r.(BarrierResult); br.Barrier == want.Barrier {
					got = br
				}
			}
			if got.Released || !slices.Equal(got.Arrived, want.Arrived) || !slices.Equal(got.Missing, want.Missing) || got.Short != want.Short || got.Err != nil {
				t.Fatalf("%s, barrier %d: %+v, want %+v", name, i, got, want)
			}
		}
	}
	for _, r := range ns["d"].cl.replies {
		if br := r.(BarrierResult); !errors.Is(br.Err, ErrUnavailable) || br.Released {
			t.Fatalf("the cut-off party got %+v, want ErrUnavailable", br)
		}
	}
}

// TestBarrierAllLiveMembers: a barrier of all live members releases when the
// members that did not arrive are no longer live (crashed: their presence
// expired), and reports who is missing at its deadline.
func TestBarrierAllLiveMembers(t *testing.T) {
	c := newCluster(t, 3, ModelConfig{})
	ns := map[string]*node{}
	for _, name := range []string{"a", "b", "c"} {
		ns[name] = c.node(name, nil)
	}
	c.run(20)
	c.sim.KillNode("c")
	t0 := c.sim.Now()
	arrive(c, ns["a"], Arrive{Barrier: "live1", Timeout: 200}, 0)
	arrive(c, ns["b"], Arrive{Barrier: "live1", Timeout: 200}, 5)
	c.runUntil(t0+60, "released without the crashed member", func() bool { return len(ns["a"].cl.replies) > 0 && len(ns["b"].cl.replies) > 0 })
	for _, name := range []string{"a", "b"} {
		if r := result(t, ns[name], 0); !r.Released || !slices.Equal(r.Arrived, []string{"a", "b"}) {
			t.Fatalf("%s: %+v", name, r)
		}
	}
	// b never arrives at the next one: a times out, b missing.
	arrive(c, ns["a"], Arrive{Barrier: "live2", Timeout: 40}, 0)
	c.run(c.sim.Now() + 60)
	if r := result(t, ns["a"], 1); r.Released || !slices.Equal(r.Missing, []string{"b"}) || r.Short != 1 {
		t.Fatalf("a: %+v", r)
	}
}

func TestBarrierUnderDelay(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		c := newCluster(t, seed, ModelConfig{})
		c.net.base, c.net.jitter, c.net.loss = 2, 8, 0.05
		var ns []*node
		for i := 0; i < 5; i++ {
			n := c.node(fmt.Sprintf("p%d", i), nil)
			ns = append(ns, n)
			arrive(c, n, Arrive{Barrier: "slow", Count: 5, Timeout: 400}, float64(i))
		}
		c.run(600)
		var first BarrierResult
		for i, n := range ns {
			r := result(t, n, 0)
			if !r.Released || len(r.Arrived) != 5 {
				t.Fatalf("seed %d: %s: %+v", seed, n.name, r)
			}
			if i == 0 {
				first = r
			} else if !slices.Equal(r.Arrived, first.Arrived) {
				t.Fatalf("seed %d: parties disagree: %+v and %+v", seed, r, first)
			}
		}
	}
}

func TestTally(t *testing.T) {
	d := DefaultThresholds
	for _, c := range []struct {
		a, r, ab, pending int
		final             bool
		want              Outcome
		ok                bool
	}{
		// Accept edge: exactly 0.6 of votes cast accepts; just below does not.
		{3, 2, 0, 0, false, Accepted, true}, // 0.6 and 0.4 both hold: accept first
		{6, 4, 0, 0, false, Accepted, true},
		{5, 4, 0, 0, false, Rejected, true}, // 0.556 < 0.6; reject 0.444
		{59, 41, 0, 0, false, Rejected, true},
		{60, 40, 0, 0, false, Accepted, true},
		// Reject edge with abstentions: exactly 0.4 rejects; just below is no decision.
		{5, 4, 1, 0, false, Rejected, true},    // accept 0.5, reject 0.4
		{5, 3, 2, 0, false, NoDecision, true},  // reject 0.3
		{11, 7, 2, 0, false, NoDecision, true}, // accept 0.55, reject 0.35
		{10, 8, 2, 0, false, Rejected, true},   // reject 0.4 exactly
		{10, 7, 3, 0, false, NoDecision, true},
		// Participation: a majority of the members must have voted.
		{2, 0, 0, 2, true, TimedOut, true},  // 2 of 4
		{3, 0, 0, 1, true, Accepted, true},  // 3 of 4
		{2, 0, 0, 3, false, 0, false},       // 2 of 5, before the deadline: wait
		{2, 0, 0, 3, true, TimedOut, true},  // at the deadline
		{3, 0, 0, 2, false, Accepted, true}, // 3 of 5 accept: 2 rejections cannot undo it
		{2, 1, 0, 2, false, 0, false},       // 2 of 5 accept, 1 reject: could go either way
		{0, 2, 1, 2, false, Rejected, true}, // even 2 more accepts make 2/5 < 0.6, reject 2/5 ≥ 0.4
		{1, 2, 0, 2, false, 0, false},       // 3/5 accepts possible
		{1, 2, 0, 2, true, Rejected, true},  // at the deadline, 3 of 5 voted: 1/3 accept
		{0, 0, 3, 2, false, 0, false},       // abstentions: anything can still happen
		{0, 0, 0, 0, true, TimedOut, true},
	} {
		got, ok := Tally(d, c.a, c.r, c.ab, c.pending, c.final)
		if got != c.want || ok != c.ok {
			t.Errorf("Tally(%d accept, %d reject, %d abstain, %d pending, final %v) = %v %v, want %v %v", c.a, c.r, c.ab, c.pending, c.final, got, ok, c.want, c.ok)
		}
	}
	// Configurable thresholds.
	if got, _ := Tally(Thresholds{AcceptAt: 0.75, RejectAt: 0.5}, 7, 3, 0, 0, true); got != NoDecision {
		t.Errorf("0.7 accept under a 0.75 threshold, 0.3 reject under 0.5: %v", got)
	}
	if got, _ := Tally(Thresholds{AcceptAt: 0.75, RejectAt: 0.5}, 3, 1, 0, 0, true); got != Accepted {
		t.Errorf("0.75 accept under a 0.75 threshold: %v", got)
	}
}

// votes makes a voter that votes by member name.
func votes(m map[string]Choice) func(name string) func(Proposal) Choice {
	return func(name string) func(Proposal) Choice {
		return func(Proposal) Choice { return m[name] }
	}
}

func decisions(n *node) []Decision {
	var ds []Decision
	for _, e := range n.cl.events {
		if d, ok := e.(Decision); ok {
			ds = append(ds, d)
		}
	}
	return ds
}

func TestConsensusThresholds(t *testing.T) {
	for _, tc := range []struct {
		votes map[string]Choice
		want  Outcome
	}{
		{map[string]Choice{"a": Accept, "b": Accept, "c": Accept, "d": Reject, "e": Reject}, Accepted},
		{map[string]Choice{"a": Accept, "b": Accept, "c": Reject, "d": Reject, "e": Reject}, Rejected},
		{map[string]Choice{"a": Accept, "b": Accept, "c": Reject, "d": Reject, "e": Abstain}, Rejected},    // accept 0.4, reject 0.4
		{map[string]Choice{"a": Accept, "b": Accept, "c": Reject, "d": Abstain, "e": Abstain}, NoDecision}, // accept 0.4, reject 0.2
	} {
		c := newCluster(t, 4, ModelConfig{})
		vote := votes(tc.votes)
		var ns []*node
		for _, name := range []string{"a", "b", "c", "d", "e"} {
			ns = append(ns, c.node(name, vote(name)))
		}
		c.run(30) // everyone sees everyone
		d := c.ask(ns[0].cl, ns[0].at, ns[0].cons, Propose{ID: "lr", Value: []byte("0.01"), Timeout: 200}, 300).(Decision)
		if d.Outcome != tc.want || d.Members != 5 || d.Err != nil {
			t.Fatalf("votes %v: %+v, want %v", tc.votes, d, tc.want)
		}
		c.run(c.sim.Now() + 20)
		for _, n := range ns {
			if ds := decisions(n); len(ds) != 1 || ds[0] != d {
				t.Fatalf("%s saw decisions %+v, the proposer %+v", n.name, ds, d)
			}
		}
		if r := c.ask(ns[1].cl, ns[1].at, ns[1].cons, Propose{ID: "lr", Timeout: 10}, 100).(Decision); !errors.Is(r.Err, ErrExists) {
			t.Fatalf("the same proposal again: %+v", r)
		}
	}
}

// TestConsensusPartition: with three of five members cut off and still
// counted live (their presence outlives the vote), the two that reach the
// store are not a majority: the proposal times out. With a vote that
// outlasts the presence TTL, the cut-off members stop being live and the
// others decide (as soon as two accepts are a majority of the members
// still live, and 0.6 of them whatever the rest would vote).
func TestConsensusPartition(t *testing.T) {
	for _, tc := range []struct {
		timeout float64
		want    Outcome
		members int
	}{{20, TimedOut, 5}, {100, Accepted, 3}} {
		c := newCluster(t, 5, ModelConfig{})
		var ns []*node
		for _, name := range []string{"a", "b", "c", "d", "e"} {
			ns = append(ns, c.node(name, func(Proposal) Choice { return Accept }))
		}
		c.run(30)
		c.net.cut("c", "d", "e")
		d := c.ask(ns[0].cl, ns[0].at, ns[0].cons, Propose{ID: "p", Timeout: tc.timeout}, 300).(Decision)
		if d.Outcome != tc.want || d.Members != tc.members {
			t.Fatalf("vote of %v: %+v, want %v over %d members", tc.timeout, d, tc.want, tc.members)
		}
		// Healed, the cut-off members learn the same decision.
		c.net.heal()
		c.run(c.sim.Now() + 60)
		for _, n := range ns[2:] {
			if ds := decisions(n); len(ds) != 1 || ds[0] != d {
				t.Fatalf("%s after healing saw %+v, want %+v", n.name, ds, d)
			}
		}
	}
}

func TestConsensusProposerCrash(t *testing.T) {
	c := newCluster(t, 6, ModelConfig{})
	var ns []*node
	for _, name := range []string{"a", "b", "c"} {
		ns = append(ns, c.node(name, func(Proposal) Choice { return Reject }))
	}
	c.run(30)
	c.sim.Send(ns[0].at, call{to: ns[0].cons, msg: Propose{ID: "x", Timeout: 50}, timeout: actors.Forever})
	c.run(c.sim.Now() + 3) // the proposal is written, the proposer dies
	c.sim.KillNode("a")
	c.run(c.sim.Now() + 100)
	for _, n := range ns[1:] {
		ds := decisions(n)
		if len(ds) != 1 || ds[0].Outcome != Rejected {
			t.Fatalf("%s: %+v", n.name, ds)
		}
	}
}

// TestBarrierCompleterDies: the party whose arrival completes the barrier
// dies before it can write the outcome: the others write it at their
// deadline, released, since everyone arrived.
func TestBarrierCompleterDies(t *testing.T) {
	c := newCluster(t, 8, ModelConfig{})
	names := []string{"a", "b", "c"}
	ns := map[string]*node{}
	for _, name := range names {
		ns[name] = c.node(name, nil)
	}
	arrive(c, ns["a"], Arrive{Barrier: "x", Parties: names, Timeout: 50}, 0)
	arrive(c, ns["b"], Arrive{Barrier: "x", Parties: names, Timeout: 50}, 0)
	arrive(c, ns["c"], Arrive{Barrier: "x", Parties: names, Timeout: 50}, 10)
	c.runUntil(40, "c's arrival stored", func() bool { _, ok := c.model.Last("bar.x.a.c"); return ok })
	c.sim.KillNode("c")
	c.run(c.sim.Now() + 5)
	if len(ns["a"].cl.replies) > 0 {
		t.Fatalf("a released before its deadline without an outcome: %+v", ns["a"].cl.replies)
	}
	c.run(100)
	for _, name := range []string{"a", "b"} {
		if r := result(t, ns[name], 0); !r.Released || !slices.Equal(r.Arrived, names) {
			t.Fatalf("%s: %+v", name, r)
		}
	}
}

func TestConstructorsRefuseBadConfig(t *testing.T) {
	st := actors.Addr{Node: "n", ID: 1}
	for name, err := range map[string]error{
		"election, no store":       second(NewElection(ElectionConfig{Role: "r", Member: "m"})),
		"election, bad role":       second(NewElection(ElectionConfig{Store: st, Role: "a.b", Member: "m"})),
		"election, renew >= TTL":   second(NewElection(ElectionConfig{Store: st, Role: "r", Member: "m", TTL: 10, RenewEvery: 10})),
		"var, bad name":            second(NewVar(VarConfig{Store: st, Name: "", Member: "m"})),
		"membership, bad group":    second(NewMembership(MembersConfig{Store: st, Group: "g*", Member: "m"})),
		"barriers, bad member":     second(NewBarriers(BarriersConfig{Store: st, Member: "m m"})),
		"consensus, bad threshold": second(NewConsensus(ConsensusConfig{Store: st, Member: "m", Thresholds: Thresholds{AcceptAt: 1.5, RejectAt: 0.4}})),
	} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// TestConsensusUnderDelay: slow, jittery, lossy links: every member learns
// the same decision, and it is the one the votes make.
func TestConsensusUnderDelay(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		c := newCluster(t, seed, ModelConfig{})
		c.net.base, c.net.jitter, c.net.loss = 2, 8, 0.05
		var ns []*node
		for i, ch := range []Choice{Accept, Accept, Accept, Reject, Reject} {
			ch := ch
			ns = append(ns, c.node(fmt.Sprintf("m%d", i), func(Proposal) Choice { return ch }))
		}
		c.run(80)
		c.sim.Send(ns[4].at, call{to: ns[4].cons, msg: Propose{ID: "p", Timeout: 300}, timeout: actors.Forever})
		c.run(500)
		for _, n := range ns {
			ds := decisions(n)
			if len(ds) != 1 || ds[0].Outcome != Accepted || ds[0] != decisions(ns[0])[0] {
				t.Fatalf("seed %d: %s saw %+v", seed, n.name, ds)
			}
		}
	}
}
