package lbnet

import (
	"slices"
	"strings"
	"testing"

	lb "github.com/marlon-go/marlon/examples/loadbalancing"
)

// three workers of speed 2, placed on a (the first node by name), for about
// 300 time units.
func threeOnA() lb.Scenario {
	return lb.Scenario{Workers: 3, Speeds: []float64{2, 2, 2}, Job: 1800, UnitTime: 1, CommTime: 0.5, Variability: 0.2}
}

// Workers move across nodes over NATS in the middle of the episode, with
// their chunks and agents, and back: the job is done once, every report
// agrees with the ledger, and the run says where each went.
func TestWorkersMigrateAcrossNodes(t *testing.T) {
	c := newCluster(t, "a", "b")
	master := c.node("master")
	_, ha := c.host("a", 3, 2)
	_, hb := c.host("b", 2, 2)
	moves := []Migration{{Worker: 0, At: 40, Node: "b"}, {Worker: 1, At: 60, Node: "b"}, {Worker: 0, At: 120, Node: "a"}}
	wait := c.run(master, Config{Scenario: threeOnA(), Nodes: 2, Algorithm: "factoring", Seed: 1, EpisodeSeed: 1, Migrations: moves, Logger: quiet()})
	out := wait()
	res := out.Result
	if len(res.Workers) != 3 || res.UnitsReported != res.Job {
		t.Fatalf("%d reports, %d units reported", len(res.Workers), res.UnitsReported)
	}
	if len(out.Migrations) != 3 {
		t.Fatalf("migrations %+v", out.Migrations)
	}
	for i, m := range out.Migrations {
		from := map[int]string{0: "a", 1: "a", 2: "b"}[i]
		if !m.Adopted || m.Err != "" || m.From != from || m.Migration != moves[i] {
			t.Errorf("migration %d: %+v", i, m)
		}
	}
	want := map[int][]string{0: {"a", "b"}, 1: {"a"}}
	ends := map[int]string{0: "a", 1: "b", 2: "a"}
	for _, p := range res.Placed {
		if !slices.Equal(p.MovedFrom, want[p.ID]) || p.Node != ends[p.ID] || p.Lost || p.Reason != "" {
			t.Errorf("worker %d placed %+v", p.ID, p)
		}
	}
	// Every old incarnation stopped and freed its slot.
	eventually(t, "the nodes to free their slots", func() bool { return ha.Hosted()+hb.Hosted() == 0 })
}

// A move to a node with no free slot, or to no node of the run, is
// refused and the worker carries on where it is.
func TestRefusedMigrationsCarryOn(t *testing.T) {
	c := newCluster(t, "a", "b")
	master := c.node("master")
	c.host("a", 3, 2)
	c.host("b", 1, 2)
	moves := []Migration{{Worker: 0, At: 40, Node: "b"}, {Worker: 1, At: 60, Node: "b"}, {Worker: 2, At: 70, Node: "nowhere"}}
	wait := c.run(master, Config{Scenario: threeOnA(), Nodes: 2, Algorithm: "factoring", Seed: 1, EpisodeSeed: 1, Migrations: moves, Logger: quiet()})
	out := wait()
	res := out.Result
	if len(res.Workers) != 3 || len(out.Migrations) != 3 {
		t.Fatalf("%d reports, migrations %+v", len(res.Workers), out.Migrations)
	}
	m := out.Migrations
	if !m[0].Adopted || m[1].Adopted || !strings.Contains(m[1].Err, "node b has no free slot") ||
		m[2].Adopted || !strings.Contains(m[2].Err, "node nowhere is not a hosting node") {
		t.Fatalf("migrations %+v", m)
	}
	for _, p := range res.Placed {
		if p.Lost || p.Reason != "" || p.Node != map[int]string{0: "b", 1: "a", 2: "a"}[p.ID] {
			t.Errorf("worker %d placed %+v", p.ID, p)
		}
	}
}

// The node workers moved to fails soon after: they are lost with it, their
// chunks go back to the pool, and the others finish the job.
func TestMigratedWorkersLostWithTheirNewNode(t *testing.T) {
	c := newCluster(t, "a", "b")
	master := c.node("master")
	_, ha := c.host("a", 3, 2)
	b, hb := c.host("b", 2, 2)
	moves := []Migration{{Worker: 0, At: 40, Node: "b"}, {Worker: 1, At: 40, Node: "b"}}
	wait := c.run(master, Config{Scenario: threeOnA(), Nodes: 2, Algorithm: "factoring", Seed: 1, EpisodeSeed: 1, Migrations: moves, Logger: quiet()})
	// Both moved, and their old incarnations were released (the others
	// knew).
	eventually(t, "both workers to move to b", func() bool { return hb.Hosted() == 2 && ha.Hosted() == 1 })
	b.Conn().Close() // b falls silent, as if killed
	out := wait()
	res := out.Result
	for _, p := range res.Placed[:2] {
		if !p.Lost || p.Node != "b" || !slices.Equal(p.MovedFrom, []string{"a"}) {
			t.Errorf("worker %d placed %+v", p.ID, p)
		}
	}
	if len(res.Workers) != 1 || res.LedgerUnits[2] == 0 {
		t.Fatalf("%d reports; ledger %v", len(res.Workers), res.LedgerUnits)
	}
}
