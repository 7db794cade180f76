package actors_test

import (
	"fmt"

	"github.com/marlon-go/marlon/actors"
)

// ping is what the pinger sends and the ponger answers.
type ping struct{ N int }

// An actor answers requests; another asks three times, a time unit apart,
// in the simulator's virtual time. The same actors run unchanged in the live
// runtime (actors.NewLive) and across machines (package transport).
func Example() {
	sim := actors.NewSim(1)
	ponger := sim.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if p, ok := msg.(ping); ok {
			ctx.Reply(ctx.ReplyTo(), p.N*p.N)
		}
	}))
	sim.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		switch m := msg.(type) {
		case actors.Started:
			ctx.After(1, 1)
		case int:
			ctx.Request(ponger, ping{N: m}, actors.Forever, func(ctx actors.Context, reply any, err error) {
				fmt.Printf("t=%v: %d squared is %v\n", ctx.Now(), m, reply)
				if m < 3 {
					ctx.After(1, m+1)
				}
			})
		}
	}))
	sim.Run()
	fmt.Println("delivered:", sim.Stats().Delivered)
	// Output:
	// t=1: 1 squared is 1
	// t=2: 2 squared is 4
	// t=3: 3 squared is 9
	// delivered: 11
}

// A watcher is told when the actor it watches stops, with the reason.
func ExampleContext_Watch() {
	sim := actors.NewSim(1)
	worker := sim.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if _, ok := msg.(actors.Stopping); ok {
			fmt.Println("worker: stopping at", ctx.Now())
		}
	}))
	sim.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		switch m := msg.(type) {
		case actors.Started:
			ctx.Watch(worker)
			ctx.After(5, "stop it")
		case string:
			ctx.Stop(worker)
		case actors.Down:
			fmt.Printf("watcher: %v went away (%v) at %v\n", m.Actor, m.Reason, ctx.Now())
		}
	}))
	sim.Run()
	// Output:
	// worker: stopping at 5
	// watcher: sim/1 went away (stopped) at 5
}
