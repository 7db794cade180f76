package scheduling

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func cores(n int) Resources { return Resources{Cores: n} }

// The schedule worked by hand, at time 0 (memory and GPUs play no part):
//
//	node 0: 8 cores; running A (2 cores, requested end 10) and B (2 cores,
//	        end 20): 4 cores free.
//	node 1: 4 cores; running C (3 cores, end 30): 1 core free.
//	queue, in order:
//	  J1  6 cores, requested 100
//	  J2  2 cores, requested 50
//	  J3  2 cores, requested 8
//	  J4  1 core,  requested 30
//	  J5  2 cores, requested 10
//
// EASY: J1 fits no node now (4 and 1 cores free): it is the head. Node 1
// can never hold it (4 cores); on node 0, A ends at 10 and leaves 4 + 2 = 6
// cores free: the reservation is node 0 at the shadow time 10, with no
// extra (6 - 6 = 0).
//
//	J2 fits node 0 now, but would run until 50 > 10 and the extra is 0:
//	   it would delay J1. Node 1 has 1 core. J2 waits.
//	J3 fits node 0 and ends by 8 <= 10: it starts there (node 0: 2 free).
//	J4 fits node 0 (2 free; fit 1/2) and node 1 (1 free; fit 1): the best
//	   fit is node 1, not the reservation's node: it starts there.
//	J5 fits node 0 (2 free) and ends by 10 <= 10: it starts there.
//
// So EASY starts J3 on node 0, J4 on node 1, J5 on node 0, in that order;
// FCFS starts nothing: J1 blocks the queue.
func handWorked() ([]Waiting, []NodeState) {
	nodes := []NodeState{
		{Index: 0, Capacity: cores(8), Free: cores(4), Running: []Reservation{{cores(2), 10}, {cores(2), 20}}},
		{Index: 1, Capacity: cores(4), Free: cores(1), Running: []Reservation{{cores(3), 30}}},
	}
	queue := []Waiting{
		{ID: 1, Needs: cores(6), Requested: 100},
		{ID: 2, Needs: cores(2), Requested: 50},
		{ID: 3, Needs: cores(2), Requested: 8},
		{ID: 4, Needs: cores(1), Requested: 30},
		{ID: 5, Needs: cores(2), Requested: 10},
	}
	return queue, nodes
}

func TestEASYAgainstHandWorkedSchedule(t *testing.T) {
	queue, nodes := handWorked()
	got := EASY{}.Schedule(0, queue, nodes)
	want := []Placement{{Job: 3, Node: 0}, {Job: 4, Node: 1}, {Job: 5, Node: 0}}
	if !slices.Equal(got, want) {
		t.Errorf("EASY started %v, want %v", got, want)
	}
	if got := (FCFS{}).Schedule(0, queue, nodes); len(got) != 0 {
		t.Errorf("FCFS started %v, want nothing: the head blocks", got)
	}
}

// With room for the head, both start jobs in order; FCFS stops at the
// first that does not fit, EASY backfills behind it.
func TestFCFSStopsAtFirstMisfit(t *testing.T) {
	nodes := []NodeState{{Index: 3, Capacity: cores(8), Free: cores(8)}}
	queue := []Waiting{
		{ID: 1, Needs: cores(4), Requested: 10},
		{ID: 2, Needs: cores(6), Requested: 10},
		{ID: 3, Needs: cores(2), Requested: 5},
	}
	if got, want := (FCFS{}).Schedule(0, queue, nodes), []Placement{{1, 3}}; !slices.Equal(got, want) {
		t.Errorf("FCFS: %v, want %v", got, want)
	}
	// EASY: J2's shadow time is 10 (J1 ends, 8 cores then free, extra 2);
	// J3 ends by 5 <= 10.
	if got, want := (EASY{}).Schedule(0, queue, nodes), []Placement{{1, 3}, {3, 3}}; !slices.Equal(got, want) {
		t.Errorf("EASY: %v, want %v", got, want)
	}
}

// EASY's promise, on random states: what it starts does not push back the
// earliest start of the head (the first job it does not start).
func TestEASYNeverDelaysTheHead(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	checked := 0
	for trial := 0; trial < 2000; trial++ {
		var nodes []NodeState
		for k := range 1 + rng.IntN(4) {
			c := Resources{Cores: 1 + rng.IntN(16), Memory: 1 + rng.IntN(64), GPUs: rng.IntN(3)}
			n := NodeState{Index: k, Capacity: c, Free: c}
			for range rng.IntN(4) {
				need := Resources{Cores: rng.IntN(c.Cores + 1), Memory: rng.IntN(c.Memory + 1), GPUs: rng.IntN(c.GPUs + 1)}
				if n.Free.Covers(need) {
					n.Free = n.Free.Minus(need)
					n.Running = append(n.Running, Reservation{Needs: need, End: float64(rng.IntN(100))})
				}
			}
			nodes = append(nodes, n)
		}
		var queue []Waiting
		for i := range 1 + rng.IntN(8) {
			c := nodes[rng.IntN(len(nodes))].Capacity
			queue = append(queue, Waiting{ID: i, Needs: Resources{Cores: rng.IntN(c.Cores + 1), Memory: rng.IntN(c.Memory + 1), GPUs: rng.IntN(c.GPUs + 1)}, Requested: float64(1 + rng.IntN(100))})
		}
		started := EASY{}.Schedule(0, queue, nodes)
		// The head: the first job not started, if every job before it was.
		head := -1
		for i, j := range queue {
			if i >= len(started) || started[i].Job != j.ID {
				head = i
				break
			}
		}
		if head < 0 {
			continue
		}
		before := earliest(queue[head].Needs, nodes, started[:head], queue) // the jobs ahead of it go first
		after := earliest(queue[head].Needs, nodes, started, queue)
		if after > before+1e-9 {
			t.Fatalf("trial %d: EASY started %v and pushed the head %v from %v to %v\nnodes %+v\nqueue %+v", trial, started, queue[head], before, after, nodes, queue)
		}
		checked++
	}
	if checked < 500 {
		t.Fatalf("only %d trials had a head", checked)
	}
}

// earliest is when a job needing needs could start the earliest, with the
// nodes' running jobs and the jobs placements started at 0.
func earliest(needs Resources, nodes []NodeState, placements []Placement, queue []Waiting) float64 {
	best := math.Inf(1)
	for _, n := range nodes {
		rs := slices.Clone(n.Running)
		free := n.Free
		for _, p := range placements {
			if p.Node != n.Index {
				continue
			}
			for _, j := range queue {
				if j.ID == p.Job {
					free = free.Minus(j.Needs)
					rs = append(rs, Reservation{Needs: j.Needs, End: j.Requested})
				}
			}
		}
		if !n.Capacity.Covers(needs) {
			continue
		}
		slices.SortFunc(rs, func(a, b Reservation) int { return int(a.End - b.End) })
		t := 0.0
		for i := 0; !free.Covers(needs) && i < len(rs); i++ {
			free, t = free.Plus(rs[i].Needs), rs[i].End
		}
		best = math.Min(best, t)
	}
	return best
}
