package transport

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/marlon-go/marlon/actors"
)

// Factory makes an actor of a registered kind from the arguments of a
// SpawnRequest (encoded as the caller chose). It runs inside the spawner
// actor's turn, so it must not block.
type Factory func(args []byte) (actors.Actor, error)

// SpawnRequest, sent as a request to a node's spawner (Member.Spawner), asks
// it to start an actor of a registered kind. The reply is the new actor's
// actors.Addr, or a SpawnError; SpawnResult folds both, and the request's own
// error, into one result.
type SpawnRequest struct {
	Kind string
	Args []byte
}

// SpawnError is the reply to a SpawnRequest that failed.
type SpawnError struct {
	Node   string
	Kind   string
	Reason string
}

func (e SpawnError) Error() string {
	return fmt.Sprintf("transport: node %q cannot spawn a %q: %s", e.Node, e.Kind, e.Reason)
}

// SpawnResult interprets the reply to a SpawnRequest in a continuation.
func SpawnResult(reply any, err error) (actors.Addr, error) {
	if err != nil {
		return actors.Addr{}, err
	}
	switch r := reply.(type) {
	case actors.Addr:
		return r, nil
	case SpawnError:
		return actors.Addr{}, r
	}
	return actors.Addr{}, fmt.Errorf("transport: unexpected reply %T to a SpawnRequest", reply)
}

// RegisterKind lets other nodes (and this one) spawn actors made by f under
// the name kind. Registering a kind again replaces its factory.
func (n *Node) RegisterKind(kind string, f Factory) {
	n.kmu.Lock()
	n.kinds[kind] = f
	n.kmu.Unlock()
}

// spawner is the actor behind Member.Spawner.
type spawner struct{ n *Node }

func (s *spawner) Receive(ctx actors.Context, msg any) {
	req, ok := msg.(SpawnRequest)
	if !ok || ctx.ReplyTo().IsZero() {
		return
	}
	s.n.kmu.RLock()
	f := s.n.kinds[req.Kind]
	s.n.kmu.RUnlock()
	if f == nil {
		ctx.Reply(ctx.ReplyTo(), SpawnError{Node: s.n.name, Kind: req.Kind, Reason: "kind not registered"})
		return
	}
	a, err := f(req.Args)
	if err == nil && a == nil {
		err = errors.New("factory returned no actor")
	}
	if err != nil {
		ctx.Reply(ctx.ReplyTo(), SpawnError{Node: s.n.name, Kind: req.Kind, Reason: err.Error()})
		return
	}
	ctx.Reply(ctx.ReplyTo(), ctx.Spawn(a))
}

// Spawn asks node (this one or another member) to start an actor of a
// registered kind, and waits for its address. It is for code outside the
// actors; an actor sends the SpawnRequest itself and handles the reply in a
// continuation.
func (n *Node) Spawn(ctx context.Context, node, kind string, args []byte) (actors.Addr, error) {
	var target actors.Addr
	for _, m := range n.Members() {
		if m.Name == node {
			target = m.Spawner
		}
	}
	if target.IsZero() {
		return actors.Addr{}, fmt.Errorf("%w: %q", ErrUnknownNode, node)
	}
	timeout := math.Inf(1)
	if d, ok := ctx.Deadline(); ok {
		timeout = max(float64(time.Until(d))/float64(n.live.Scale()), 1e-9)
	}
	type result struct {
		addr actors.Addr
		err  error
	}
	done := make(chan result, 1)
	asker := n.live.Spawn(actors.ActorFunc(func(c actors.Context, msg any) {
		if _, ok := msg.(actors.Started); !ok {
			return
		}
		c.Request(target, SpawnRequest{Kind: kind, Args: args}, timeout, func(c actors.Context, reply any, err error) {
			a, err := SpawnResult(reply, err)
			done <- result{a, err}
			c.Stop(c.Self())
		})
	}))
	select {
	case r := <-done:
		return r.addr, r.err
	case <-ctx.Done():
		n.live.Stop(asker)
		return actors.Addr{}, fmt.Errorf("transport: spawning a %q on %q: %w", kind, node, ctx.Err())
	}
}
