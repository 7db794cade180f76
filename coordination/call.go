package coordination

import (
	"errors"
	"time"

	"github.com/marlon-go/marlon/actors"
)

// ErrCallTimeout is Call's error when no reply came in time.
var ErrCallTimeout = errors.New("coordination: call timed out")

// Call sends msg to an actor of the live runtime rt as a request and waits
// for the reply, for code outside the actors (a command, a test, a
// benchmark). It blocks: actors must use Context.Request instead.
func Call(rt *actors.Live, to actors.Addr, msg any, timeout time.Duration) (any, error) {
	type result struct {
		reply any
		err   error
	}
	ch := make(chan result, 1)
	units := float64(timeout) / float64(rt.Scale())
	rt.Spawn(actors.ActorFunc(func(ctx actors.Context, m any) {
		if _, ok := m.(actors.Started); !ok {
			return
		}
		ctx.Request(to, msg, units, func(ctx actors.Context, reply any, err error) {
			ch <- result{reply, err}
			ctx.Stop(ctx.Self())
		})
	}))
	select {
	case r := <-ch:
		if errors.Is(r.err, actors.ErrTimeout) {
			r.err = ErrCallTimeout
		}
		return r.reply, r.err
	case <-time.After(timeout + time.Second):
		return nil, ErrCallTimeout
	}
}
