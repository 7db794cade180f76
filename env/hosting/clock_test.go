package hosting

import (
	"testing"
	"time"

	"github.com/marlon-go/marlon/actors"
)

func TestClockedActorsSeeTheEpisodesTime(t *testing.T) {
	rt := actors.NewLive(actors.LiveOptions{Scale: time.Millisecond})
	defer rt.Close()
	echo := rt.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if _, ok := msg.(string); ok {
			ctx.Reply(ctx.ReplyTo(), msg)
		}
	}))
	// Episode time 100 now; the runtime's unit is half the episode's.
	c := Clock{At: 100, From: rt.Now(), Ratio: 0.5}
	times := make(chan float64, 3)
	rt.Spawn(c.Wrap(actors.ActorFunc(func(ctx actors.Context, msg any) {
		switch msg.(type) {
		case actors.Started:
			times <- ctx.Now()
			ctx.Request(echo, "ping", 1000, func(ctx actors.Context, _ any, _ error) {
				times <- ctx.Now()
				ctx.After(10, "tick")
			})
		case string:
			times <- ctx.Now()
		}
	})))
	started, replied, ticked := <-times, <-times, <-times
	if started < 100 || started > 150 || replied < started || ticked < replied+10 {
		t.Fatalf("episode times: started %v, reply %v, timer of 10 after it %v", started, replied, ticked)
	}
	if c.Now(c.From+4) != 102 || c.span(10) != 20 {
		t.Fatalf("clock: now %v span %v", c.Now(c.From+4), c.span(10))
	}
}
