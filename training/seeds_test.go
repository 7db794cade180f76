package training_test

import (
	"fmt"
	"slices"
	"testing"
)

// Over many seeds (delays and election races differ): a learner killed at
// a random update, a rollout node killed, or a node cut off for a while; the
// run always finishes its updates, and every node that lives learns of it.
func TestFailuresOverSeeds(t *testing.T) {
	for seed := uint64(10); seed < 40; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			s := spec(t, "qlearning", 15)
			c := newSimCluster(t, seed, s)
			nodes := []string{"a", "b", "c"}
			for _, n := range nodes {
				c.node(n)
			}
			at := 2 + int(seed%9)
			var learner string
			c.runUntil(1e5, fmt.Sprintf("update %d", at), func() bool { var ok bool; learner, ok = c.learnerAt(at); return ok })
			alive := nodes
			switch seed % 3 {
			case 0: // the learner dies
				c.sim.KillNode(learner)
				alive = slices.DeleteFunc(slices.Clone(nodes), func(n string) bool { return n == learner })
			case 1: // a rollout node dies
				victim := nodes[(slices.Index(nodes, learner)+1)%3]
				c.sim.KillNode(victim)
				alive = slices.DeleteFunc(slices.Clone(nodes), func(n string) bool { return n == victim })
			case 2: // the learner is cut off for a while, then heals
				c.net.side[learner] = 1
				c.sim.RunUntil(c.sim.Now()+300, nil)
				c.net.side = map[string]int{}
			}
			c.runUntil(1e6, "the run finished", c.finished(alive...))
			for _, n := range alive {
				if f := c.owners[n].finished[0]; f.Err != nil || f.Done.Updates != 15 {
					t.Fatalf("%s: %+v, want the run done after 15 updates", n, f)
				}
			}
		})
	}
}
