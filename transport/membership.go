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
		if p.alive && p.joined {
			ms = append(ms, p.member())
		}
		p.mu.Unlock()
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	return ms
}

func (n *Node) self() Member {
	return Member{Name: n.name, Epoch: n.cur().epoch, Spawner: n.spawner}
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
// was sent to it and not acknowledged is reported to the senders, and
// nothing more from that incarnation is accepted (final: it said goodbye;
// otherwise it fell silent, and is told so if it speaks again, so that it
// comes back as a new incarnation).
func (n *Node) peerDown(p *peer, epoch uint64, reason string, final bool) {
	p.mu.Lock()
	if final && epoch == p.epoch {
		p.leftEpoch = epoch
	}
	if epoch == p.epoch {
		p.downEpoch = max(p.downEpoch, epoch)
	}
	if !p.alive || p.epoch != epoch {
		p.mu.Unlock()
		return
	}
	joined := p.joined
	p.alive, p.joined = false, false
	left := NodeLeft{Member: p.member(), Reason: reason}
	lost := p.out.bind(nil, 0, authNone, nil)
	p.mu.Unlock()
	n.stats.nodesDown.Add(1)
	n.live.NodeDown(p.name, reason)
	n.reportLost(p, lost)
	if joined {
		n.emit(left)
	}
}

// reincarnate starts a new incarnation of this node, if it is still
// incarnation epoch, after it was cut off for longer than the failure
// timeout (or a peer said it declared it down): its peers have declared
// it down, and accept it back only as a restarted node. It declares its
// peers down locally (watchers are told Down, membership watchers
// NodeLeft, unacknowledged envelopes are reported), takes a new epoch and
// session key, and says hello; the peers' current incarnations are taken
// back as soon as they are heard from. The node's actors keep running, and
// keep their addresses: new actors are numbered after them.
func (n *Node) reincarnate(epoch uint64, reason string) {
	n.incMu.Lock()
	defer n.incMu.Unlock()
	old := n.cur()
	if old.epoch != epoch || n.closing.Load() {
		return
	}
	me, err := n.newSelf(max(uint64(time.Now().UnixNano()), old.epoch+1))
	if err != nil {
		n.log.Error("cannot start a new incarnation", "err", err)
		return
	}
	n.me.Store(me)
	n.stats.reincarnations.Add(1)
	n.log.Warn("this node starts a new incarnation: its peers have declared it down", "reason", reason, "epoch", me.epoch)
	for _, p := range n.peerList() {
		p.mu.Lock()
		joined, alive := p.joined, p.alive
		p.alive, p.joined = false, false
		p.xkey, p.sendKey, p.recvKey = nil, nil, nil
		p.ackOwed = 0
		left := NodeLeft{Member: p.member(), Reason: "this node was cut off: " + reason}
		lost := p.out.bind(nil, 0, authNone, nil)
		p.mu.Unlock()
		if alive {
			n.stats.nodesDown.Add(1)
			n.live.NodeDown(p.name, left.Reason)
		}
		n.reportLost(p, lost)
		if joined {
			n.emit(left)
		}
	}
	n.memMu.Lock()
	n.lastHello = time.Time{}
	n.memMu.Unlock()
	n.hello()
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
	me := n.cur()
	hb := heartbeat{interval: uint64(max(n.cfg.Heartbeat/time.Millisecond, 1)), spawner: n.spawner.ID}
	if me.sess != nil {
		hb.xkey = me.sess.public[:]
	}
	n.broadcastAs(me, kindHeartbeat, appendHeartbeat(nil, &hb))
}

// broadcast publishes a heartbeat or goodbye, signed unless authentication
// is off.
func (n *Node) broadcast(kind frameKind, body []byte) { n.broadcastAs(n.cur(), kind, body) }

func (n *Node) broadcastAs(me *self, kind frameKind, body []byte) {
	n.bmu.Lock()
	defer n.bmu.Unlock()
	n.bseq++
	h := header{kind: kind, auth: authSig, from: n.name, fromEpoch: me.epoch, gen: 0, seq: n.bseq}
	if n.auth == AuthOff {
		h.auth = authNone
	}
	frame, _ := n.seal(me, &h, body, nil)
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
// retransmissions. It also watches this node's own connection and clock.
// While the node is disconnected from NATS it declares nobody down (it
// cannot tell its own isolation from their death) and, after reconnecting,
// gives every peer a fresh interval to be heard from; a pause of its own
// (the process stopped, or starved) does not count as the peers' silence
// either. But a node cut off for longer than the failure timeout
// (MissedHeartbeats heartbeat intervals), disconnected or paused, has been
// declared down by its peers: it starts a new incarnation (reincarnate).
func (n *Node) tickLoop() {
	defer n.wg.Done()
	period := max(n.cfg.Heartbeat/4, time.Millisecond)
	timeout := time.Duration(n.cfg.MissedHeartbeats) * n.cfg.Heartbeat
	tick := time.NewTicker(period)
	defer tick.Stop()
	n.heartbeat()
	nextBeat := time.Now().Add(n.cfg.Heartbeat)
	lastTick := time.Now()
	var cutSince time.Time // disconnected since; zero while connected
	cutOff := false        // a new incarnation was started for this disconnection
	for {
		select {
		case <-n.done:
			return
		case <-tick.C:
		}
		// The wall clock, not the tick's time: a tick buffered before a
		// pause carries the time it fired.
		now := time.Now()
		gap := now.Sub(lastTick)
		lastTick = now
		if gap > timeout {
			n.reincarnate(n.cur().epoch, fmt.Sprintf("no tick for %v (the process was paused or starved)", gap.Round(time.Millisecond)))
			nextBeat = now.Add(n.cfg.Heartbeat)
			n.freshInterval(now, 0)
			continue
		}
		if !now.Before(nextBeat) {
			n.heartbeat()
			nextBeat = now.Add(n.cfg.Heartbeat)
		}
		if !n.nc.IsConnected() {
			if cutSince.IsZero() {
				cutSince = now
			}
			if silent := now.Sub(cutSince); !cutOff && silent > timeout {
				cutOff = true
				n.reincarnate(n.cur().epoch, fmt.Sprintf("disconnected from NATS for %v", silent.Round(time.Millisecond)))
			}
			continue
		}
		if !cutSince.IsZero() {
			cutSince, cutOff = time.Time{}, false
			n.freshInterval(now, 0)
		} else if gap > 2*period {
			// This node's own pause is not the peers' silence.
			n.freshInterval(now, gap-period)
		}
		for _, p := range n.peerList() {
			p.mu.Lock()
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
	}
}

// freshInterval moves every peer's last-seen time forward by shift, or to
// now if shift is 0, so that a time this node could not hear them does not
// count as their silence.
func (n *Node) freshInterval(now time.Time, shift time.Duration) {
	for _, p := range n.peerList() {
		p.mu.Lock()
		if shift == 0 {
			p.lastSeen = now
		} else {
			p.lastSeen = p.lastSeen.Add(shift)
		}
		p.mu.Unlock()
	}
}
