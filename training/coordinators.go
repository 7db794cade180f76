package training

import (
	"fmt"
	"math"

	"github.com/marlon-go/marlon/actors"
)

// The coordinator pattern (seed 002): n agents send their experience to m
// learner shards. Directly, every agent has a link to every shard: n*m
// links, n*m messages a step, and every shard hears from n senders.
// Through p coordinators, each agent sends to its coordinator (agents are
// partitioned among them) and each coordinator sends one aggregate to each
// shard: n + p*m links. In distributed training the coordinators are the
// rollout nodes (Batch: one value per node per epoch, whatever the number
// of its agents) and m = 1; LinkCount measures the pattern in general, in
// the simulator, by counting the messages actors actually deliver.

// Aggregation says how a coordinator combines its agents' payloads.
type Aggregation int

const (
	// Concat: the aggregate carries every agent's payload (experience):
	// its size is their sum plus one header.
	Concat Aggregation = iota
	// Sum: the aggregate is one payload the size of an agent's (summed
	// gradients, say).
	Sum
)

// Flow is what one step of a topology sent: its links (distinct
// sender-receiver pairs), messages and bytes, and the largest number of
// messages one actor received (in-degree) and sent (out-degree).
type Flow struct {
	Links, Messages, Bytes int
	MaxIn, MaxOut          int
}

// LinkCount runs steps steps of n agents sending a payload of size bytes
// to m shards, directly and through p coordinators, in the simulator, and
// returns each topology's flow per step (the same every step: the counts
// of the last one). Every message carries a header of header bytes.
func LinkCount(n, m, p, size, header, steps int, agg Aggregation) (direct, coordinated Flow, err error) {
	switch {
	case n < 1 || m < 1 || steps < 1:
		return direct, coordinated, fmt.Errorf("training: LinkCount needs n, m and steps >= 1, got %d, %d, %d", n, m, steps)
	case p < 1 || p > n:
		return direct, coordinated, fmt.Errorf("training: LinkCount needs 1 <= p <= n, got p = %d, n = %d", p, n)
	case size < 0 || header < 0:
		return direct, coordinated, fmt.Errorf("training: negative sizes")
	}
	direct = flow(n, m, 0, size, header, steps, agg)
	coordinated = flow(n, m, p, size, header, steps, agg)
	return direct, coordinated, nil
}

// LogCoordinators is seed 002's p = log(n*m), with the natural logarithm
// (its code's) or log10 (its table's), at least 1 and at most n.
func LogCoordinators(n, m int, base10 bool) int {
	x := math.Log(float64(n) * float64(m))
	if base10 {
		x = math.Log10(float64(n) * float64(m))
	}
	return min(max(1, int(x)), n)
}

// payload is a message of the pattern: its size in bytes.
type payload struct{ bytes int }

type step struct{}

// flow simulates the topology: p = 0 is direct.
func flow(n, m, p, size, header, steps int, agg Aggregation) Flow {
	sim := actors.NewSim(1)
	shards := make([]actors.Addr, m)
	for i := range shards {
		shards[i] = sim.Spawn(actors.ActorFunc(func(actors.Context, any) {}))
	}
	var coords []actors.Addr
	for c := 0; c < p; c++ {
		members := 0
		for i := c; i < n; i += p {
			members++
		}
		got, bytes := 0, 0
		coords = append(coords, sim.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
			pl, ok := msg.(payload)
			if !ok {
				return
			}
			got++
			bytes += pl.bytes - header
			if got < members {
				return
			}
			out := bytes
			if agg == Sum {
				out = size
			}
			for _, s := range shards {
				ctx.Send(s, payload{out + header})
			}
			got, bytes = 0, 0
		})))
	}
	agents := make([]actors.Addr, n)
	for i := range agents {
		var to []actors.Addr
		if p == 0 {
			to = shards
		} else {
			to = []actors.Addr{coords[i%p]}
		}
		agents[i] = sim.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
			if _, ok := msg.(step); ok {
				for _, a := range to {
					ctx.Send(a, payload{size + header})
				}
			}
		}))
	}
	var f Flow
	for s := 0; s < steps; s++ {
		f = Flow{}
		links := map[[2]actors.Addr]bool{}
		in, out := map[actors.Addr]int{}, map[actors.Addr]int{}
		sim.SetTracer(func(e actors.TraceEvent) {
			pl, ok := e.Msg.(payload)
			if !ok {
				return
			}
			f.Messages++
			f.Bytes += pl.bytes
			links[[2]actors.Addr{e.From, e.To}] = true
			in[e.To]++
			out[e.From]++
		})
		for _, a := range agents {
			sim.Send(a, step{})
		}
		sim.Run()
		f.Links = len(links)
		for _, v := range in {
			f.MaxIn = max(f.MaxIn, v)
		}
		for _, v := range out {
			f.MaxOut = max(f.MaxOut, v)
		}
	}
	return f
}
