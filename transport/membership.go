package transport

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/marlon-go/marlon/actors"
)

// Member is a node of the cluster as this node sees it.
type Member struct {
	Name string
	// Epoch identifies the incarnation: a restarted node joins again with
	// a larger one.
	Epoch uint64
	// Spawner is the node's spawner actor: send it a SpawnRequest as a
	// request to start an actor of a registered kind there.
	Spawner actors.Addr
}

// NodeJoined tells a membership watcher that a node joined (or, for the
// members present when it started watching, is there).
type NodeJoined struct{ Member Member }

// NodeLeft tells a membership watcher that a node left, restarted or fell
// silent. Watchers of its actors receive actors.Down{Reason: NodeDown}.
type NodeLeft struct {
	Member Member
	Reason string
}

// Members lists the nodes alive now, this one included, sorted by name.
func (n *Node) Members() []Member {
	ms := []Member{n.self()}
	for _, p := range n.peerList() {
		p.mu.Lock()
		if p.alive {
			ms = append(ms, p.member())
		}
		p.mu.Unlock()
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	return ms
}

func (n *Node) self() Member {
	return Member{Name: n.name, Epoch: n.epoch, Spawner: n.spawner}
}

// WatchMembers sends the actor a NodeJoined for every current member, this
// node included, then a NodeJoined or NodeLeft whenever membership changes,
// until UnwatchMembers.
func (n *Node) WatchMembers(a actors.Addr) {
	n.memMu.Lock()
	defer n.memMu.Unlock()
	n.memSubs[a] = struct{}{}
	for _, m := range n.Members() {
		n.live.Send(a, NodeJoined{Member: m})
	}
}

// UnwatchMembers cancels WatchMembers.
func (n *Node) UnwatchMembers(a actors.Addr) {
	n.memMu.Lock()
	delete(n.memSubs, a)
	n.memMu.Unlock()
}

// WaitMembers waits until at least count nodes (this one included) are
// members and returns them.
func (n *Node) WaitMembers(ctx context.Context, count int) ([]Member, error) {
	for {
		n.memMu.Lock()
		changed := n.changed
		n.memMu.Unlock()
		ms := n.Members()
		if len(ms) >= count {
			return ms, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ms, fmt.Errorf("transport: waiting for %d members, have %d: %w", count, len(ms), ctx.Err())
		}
	}
}

// emit tells the membership watchers and wakes WaitMembers.
func (n *Node) emit(ev any) {
	switch ev := ev.(type) {
	case NodeJoined:
		n.log.Info("node joined", "peer", ev.Member.Name, "epoch", ev.Member.Epoch)
	case NodeLeft:
		n.log.Info("node left", "peer", ev.Member.Name, "epoch", ev.Member.Epoch, "reason", ev.Reason)
	}
	n.memMu.Lock()
	defer n.memMu.Unlock()
	for a := range n.memSubs {
		n.live.Send(a, ev)
	}
	close(n.changed)
	n.changed = make(chan struct{})
}

// peerDown declares an incarnation of p down: its watchers are told, what
// was sent to it and not acknowledged is reported to the senders. With
// final (it said goodbye) nothing more from that incarnation is accepted;
// otherwise it is welcome back if it turns out to be alive.
func (n *Node) peerDown(p *peer, epoch uint64, reason string, final bool) {
	p.mu.Lock()
	if final && epoch == p.epoch {
		p.leftEpoch = epoch
	}
	if !p.alive || p.epoch != epoch {
		p.mu.Unlock()
		return
	}
	p.alive = false
	left := NodeLeft{Member: p.member(), Reason: reason}
	lost := p.out.bind(0, authNone, nil)
	p.mu.Unlock()
	n.live.NodeDown(p.name, reason)
	n.reportLost(p, lost)
	n.emit(left)
}

// hello sends a heartbeat now so that a node that just joined learns of
// this one without waiting for the next interval. Hellos are at least a
// quarter of an interval apart: one asked for sooner is sent then, covering
// every node that joined meanwhile, so that nodes starting together all
// learn of each other at once, not at the next interval.
func (n *Node) hello() {
	n.memMu.Lock()
	now := time.Now()
	wait := n.lastHello.Add(n.cfg.Heartbeat / 4).Sub(now)
	send := !n.helloDue && wait <= 0
	switch {
	case send:
		n.lastHello = now
	case !n.helloDue:
		n.helloDue = true
		time.AfterFunc(wait, func() {
			n.memMu.Lock()
			n.helloDue = false
			n.memMu.Unlock()
			if !n.closing.Load() {
				n.hello()
			}
		})
	}
	n.memMu.Unlock()
	if send {
		n.heartbeat()
	}
}

func (n *Node) heartbeat() {
	hb := heartbeat{interval: uint64(max(n.cfg.Heartbeat/time.Millisecond, 1)), spawner: n.spawner.ID}
	if n.sess != nil {
		hb.xkey = n.sess.public[:]
	}
	n.broadcast(kindHeartbeat, appendHeartbeat(nil, &hb))
}

// broadcast publishes a heartbeat or goodbye, signed unless authentication
// is off.
func (n *Node) broadcast(kind frameKind, body []byte) {
	n.bmu.Lock()
	defer n.bmu.Unlock()
	n.bseq++
	h := header{kind: kind, auth: authSig, from: n.name, fromEpoch: n.epoch, gen: 0, seq: n.bseq}
	if n.auth == AuthOff {
		h.auth = authNone
	}
	frame, _ := n.seal(&h, body, nil)
	n.publish(n.subjHB, frame)
}

// afterReconnect announces the node and resends what is unacknowledged at
// once instead of at the next tick.
func (n *Node) afterReconnect() {
	n.heartbeat()
	for _, p := range n.peerList() {
		p.out.mu.Lock()
		if len(p.out.unacked) > 0 {
			p.out.resend = true
		}
		p.out.mu.Unlock()
		p.out.signal()
	}
}

// tickLoop sends heartbeats, declares silent peers down and asks for
// retransmissions. While this node is disconnected from NATS it declares
// nobody down (it cannot tell its own isolation from their death), and after
// reconnecting it gives every peer a fresh interval to be heard from.
func (n *Node) tickLoop() {
	defer n.wg.Done()
	tick := time.NewTicker(max(n.cfg.Heartbeat/4, time.Millisecond))
	defer tick.Stop()
	n.heartbeat()
	nextBeat := time.Now().Add(n.cfg.Heartbeat)
	wasDisconnected := false
	for {
		var now time.Time
		select {
		case <-n.done:
			return
		case now = <-tick.C:
		}
		if !now.Before(nextBeat) {
			n.heartbeat()
			nextBeat = now.Add(n.cfg.Heartbeat)
		}
		if !n.nc.IsConnected() {
			wasDisconnected = true
			continue
		}
		for _, p := range n.peerList() {
			p.mu.Lock()
			if wasDisconnected && p.lastSeen.Before(now) {
				p.lastSeen = now
			}
			silent := now.Sub(p.lastSeen)
			bound := time.Duration(n.cfg.MissedHeartbeats) * p.interval
			down := p.alive && silent > bound
			epoch := p.epoch
			p.mu.Unlock()
			if down {
				n.peerDown(p, epoch, fmt.Sprintf("no heartbeat for %v", silent.Round(time.Millisecond)), false)
				continue
			}
			p.out.due(now, n.rto)
		}
		wasDisconnected = false
	}
}
