package hosting

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors Await wraps: every hosting node was gone for too long; the
// episode outlasted its timeout.
var (
	ErrNoNodes = errors.New("hosting: no hosting node left")
	ErrTimeout = errors.New("hosting: the episode was not done in time")
)

// Await waits until done is closed (the episode is over), timeout passes,
// ctx is done, an actor of the placer's node crashes, or no hosting node
// has been ready for noNodes (they all died, or this node was cut off and
// they have not come back: nodes that come back within it get a host
// again). It is what a master does once its episode has started.
func (p *Placer) Await(ctx context.Context, done <-chan struct{}, timeout, noNodes time.Duration) error {
	rt := p.node.Runtime()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	var none time.Time // since when no hosting node is ready
	for {
		select {
		case <-done:
			return nil
		case <-deadline.C:
			return fmt.Errorf("%w: not done after %v", ErrTimeout, timeout)
		case <-ctx.Done():
			return fmt.Errorf("hosting: episode interrupted: %w", ctx.Err())
		case <-rt.Crashed():
			c := rt.Crashes()[0]
			return fmt.Errorf("hosting: actor %v crashed at t=%v: %s\n%s", c.Actor, c.At, c.Value, c.Stack)
		case now := <-poll.C:
			switch {
			case p.Ready() > 0:
				none = time.Time{}
			case none.IsZero():
				none = now
			case now.Sub(none) > noNodes:
				return fmt.Errorf("%w: every hosting node was gone for %v (the master or they were cut off, or they died)", ErrNoNodes, noNodes)
			}
		}
	}
}
