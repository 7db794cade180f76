package transport

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cloudflare/circl/sign/ed25519"
	"github.com/nats-io/nats.go"

	"github.com/marlon-go/marlon/actors"
)

// onDirect handles a frame on this node's own subject: a data frame, an ack
// or a down notice. It runs on the subscription's one goroutine, so frames
// are handled in the order they arrived.
func (n *Node) onDirect(m *nats.Msg) {
	f, err := parseFrame(m.Data)
	if err != nil {
		n.reject(f.from, Malformed, err)
		return
	}
	if f.kind != kindData && f.kind != kindAck && f.kind != kindDown {
		n.reject(f.from, Malformed, fmt.Errorf("%v frame on a node subject", f.kind))
		return
	}
	me := n.cur()
	if f.to != n.name || f.toEpoch != me.epoch {
		n.reject(f.from, Stale, fmt.Errorf("%v frame for %s incarnation %d, this is %s incarnation %d", f.kind, f.to, f.toEpoch, n.name, me.epoch))
		return
	}
	if f.kind == kindDown {
		n.onDownNotice(&f)
		return
	}
	p, v := n.authenticate(me, &f, nil)
	switch {
	case v == rejected:
	case f.kind == kindAck:
		n.onAck(p, &f)
	case v == duplicate:
		n.duplicate(p, &f)
	default:
		n.onData(p, &f)
	}
}

// onBroadcast handles a heartbeat or a goodbye.
func (n *Node) onBroadcast(m *nats.Msg) {
	f, err := parseFrame(m.Data)
	if err != nil {
		n.reject(f.from, Malformed, err)
		return
	}
	if f.kind != kindHeartbeat && f.kind != kindGoodbye {
		n.reject(f.from, Malformed, fmt.Errorf("%v frame on the heartbeat subject", f.kind))
		return
	}
	me := n.cur()
	if f.from == n.name {
		if f.fromEpoch > me.epoch && f.auth == authSig && n.cfg.Key != nil && ed25519.Verify(n.cfg.Key.Public(), f.signed, f.sig) {
			n.logOnce(slog.LevelError, "name:"+n.name, "another process runs a node with this name", "other_epoch", f.fromEpoch)
		}
		return
	}
	if f.auth == authMAC {
		n.reject(f.from, BadSignature, fmt.Errorf("%v frame authenticated with a session MAC", f.kind))
		return
	}
	var hb heartbeat
	if f.kind == kindHeartbeat {
		if hb, err = parseHeartbeat(f.body); err != nil {
			n.reject(f.from, Malformed, err)
			return
		}
	} else if len(f.body) != 0 {
		n.reject(f.from, Malformed, fmt.Errorf("goodbye with a %d-byte body", len(f.body)))
		return
	}
	f.xkey = hb.xkey // signed with the rest of the heartbeat
	var beat *heartbeat
	if f.kind == kindHeartbeat {
		beat = &hb
	}
	p, v := n.authenticate(me, &f, beat)
	if v == fresh && f.kind == kindGoodbye {
		n.peerDown(p, f.fromEpoch, "node left", true)
	}
}

// verdict is what authenticate makes of a frame.
type verdict int

const (
	rejected  verdict = iota // counted as a rejection, and dropped
	duplicate                // a data frame accepted before: acknowledged again, not delivered
	fresh                    // authentic and new: it shows the sender is alive
)

// dupWindow is how far behind the last accepted data frame a frame of the
// same stream may be and still count as a duplicate (a resend whose ack was
// lost or late, after a NATS reconnect say) rather than a replay.
const dupWindow = 1024

// authenticate checks f's signature or MAC against the trusted key of its
// sender, then its incarnation and sequence number, and returns the sender's
// peer and what f is. Only a fresh frame (authentic, of an incarnation not
// declared down, and newer than what was accepted) tells that the sender is
// alive: a replayed, forged or duplicate frame refreshes nothing. hb is f's
// body if f is a heartbeat.
func (n *Node) authenticate(me *self, f *frame, hb *heartbeat) (*peer, verdict) {
	p := n.peerFor(f.from)
	if p == nil {
		n.reject(f.from, UnknownSigner, fmt.Errorf("node %q is not in the trusted keys", f.from))
		return nil, rejected
	}
	if n.auth != AuthOff {
		switch f.auth {
		case authNone:
			n.reject(f.from, Unsigned, fmt.Errorf("unsigned %v frame", f.kind))
			return nil, rejected
		case authSig:
			if !ed25519.Verify(p.pub, f.signed, f.sig) {
				n.reject(f.from, BadSignature, fmt.Errorf("%v frame: bad Ed25519 signature", f.kind))
				return nil, rejected
			}
		case authMAC:
			if err := n.checkMAC(me, p, f); err != nil {
				n.reject(f.from, BadSignature, fmt.Errorf("%v frame: %w", f.kind, err))
				return nil, rejected
			}
		}
	}
	var reason Reason
	var err error
	notify, dup := false, false
	p.mu.Lock()
	switch {
	case f.fromEpoch < p.epoch:
		reason, err = Replayed, fmt.Errorf("%v frame from a past incarnation (%d, current %d)", f.kind, f.fromEpoch, p.epoch)
	case f.fromEpoch == p.leftEpoch:
		reason, err = Stale, fmt.Errorf("%v frame from an incarnation that said goodbye", f.kind)
	case f.fromEpoch <= p.downEpoch:
		reason, err = DownIncarnation, fmt.Errorf("%v frame from incarnation %d, declared down", f.kind, f.fromEpoch)
		// Tell it, at most every half retransmission timeout: it may not
		// know (it was paused, say), and rejoins with a new incarnation.
		if now := time.Now(); now.Sub(p.notified) > n.rto/2 {
			p.notified, notify = now, true
		}
	case f.fromEpoch > p.epoch:
		// Nothing from this incarnation was accepted yet: no seq to check.
	case f.kind == kindAck && f.seq <= p.inCtrl:
		reason, err = Replayed, fmt.Errorf("ack seq %d, last accepted %d", f.seq, p.inCtrl)
	case (f.kind == kindHeartbeat || f.kind == kindGoodbye) && f.seq <= p.inBcast:
		reason, err = Replayed, fmt.Errorf("%v seq %d, last accepted %d", f.kind, f.seq, p.inBcast)
	case f.kind == kindData && f.gen < p.inGen:
		reason, err = Replayed, fmt.Errorf("data frame of stream generation %d, current %d", f.gen, p.inGen)
	case f.kind == kindData && f.gen == p.inGen && f.seq <= p.inSeq:
		if p.alive && p.inSeq-f.seq < dupWindow {
			dup = true
		} else {
			reason, err = Replayed, fmt.Errorf("data frame seq %d, last accepted %d", f.seq, p.inSeq)
		}
	}
	p.mu.Unlock()
	if notify {
		n.sendDownNotice(p, f.fromEpoch)
	}
	if err != nil {
		n.reject(f.from, reason, err)
		return nil, rejected
	}
	if dup {
		return p, duplicate
	}
	n.incarnation(me, p, f, hb)
	p.mu.Lock()
	switch f.kind {
	case kindAck:
		p.inCtrl = f.seq
	case kindHeartbeat, kindGoodbye:
		p.inBcast = f.seq
	}
	p.lastSeen = time.Now()
	p.mu.Unlock()
	n.stats.accepted.Add(1)
	return p, fresh
}

// checkMAC verifies f's MAC with the key shared between the incarnation of p
// that f names and this node's incarnation me, deriving it (after checking
// the certificate) the first time.
func (n *Node) checkMAC(me *self, p *peer, f *frame) error {
	if me.sess == nil {
		return fmt.Errorf("session MAC, but this node does not use sessions")
	}
	p.mu.Lock()
	key := p.recvKey
	if f.fromEpoch != p.epoch || !bytes.Equal(f.xkey, p.xkey) || p.keysFor != me.epoch {
		key = nil
	}
	p.mu.Unlock()
	if key == nil {
		if !ed25519.Verify(p.pub, certMessage(f.from, f.fromEpoch, f.xkey), f.cert) {
			return fmt.Errorf("bad session key certificate")
		}
		var err error
		if _, key, err = me.sess.keys(n.name, me.epoch, f.from, f.fromEpoch, f.xkey); err != nil {
			return err
		}
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(f.signed)
	if !hmac.Equal(mac.Sum(nil), f.sig) {
		return fmt.Errorf("bad MAC")
	}
	return nil
}

// incarnation takes note of a fresh frame's sender incarnation: a new one
// replaces the old (which is reported down); a peer this node dropped when
// it started a new incarnation of its own is taken back. The peer becomes a
// member (NodeJoined) with its first heartbeat, which tells its spawner:
// a data frame or an ack can come first (a Down for an actor of this node's
// previous incarnation, say), and a member without a spawner could not be
// asked for anything. It also learns the sender's session key, and from a
// heartbeat its interval and spawner.
func (n *Node) incarnation(me *self, p *peer, f *frame, hb *heartbeat) {
	p.mu.Lock()
	if hb != nil && f.fromEpoch >= p.epoch {
		p.interval = time.Duration(hb.interval) * time.Millisecond
		p.spawner = hb.spawner
	}
	if f.fromEpoch == p.epoch && p.alive && (p.joined || hb == nil) {
		if f.xkey != nil {
			n.learnSessionLocked(me, p, f.xkey)
		}
		p.mu.Unlock()
		return
	}
	var left *NodeLeft
	restarted := false
	if f.fromEpoch > p.epoch {
		restarted = p.alive
		if p.joined {
			left = &NodeLeft{Member: p.member(), Reason: "node restarted"}
		}
		p.epoch = f.fromEpoch
		p.alive, p.joined = false, false
		p.xkey, p.sendKey, p.recvKey = nil, nil, nil
		p.inGen, p.inSeq, p.inCtrl, p.inBcast = 0, 0, 0, 0
		p.ackOwed = 0
	}
	var lost [][]byte
	revived := !p.alive
	if revived {
		p.alive = true
		p.lastSeen = time.Now()
		if p.keysFor != me.epoch {
			p.xkey, p.sendKey, p.recvKey = nil, nil, nil
		}
		lost = p.out.bind(me, p.epoch, n.frameAuth(p.xkey), p.sendKey)
	}
	if f.xkey != nil {
		n.learnSessionLocked(me, p, f.xkey)
	}
	var joined *NodeJoined
	if hb != nil && !p.joined {
		p.joined = true
		joined = &NodeJoined{Member: p.member()}
	}
	p.mu.Unlock()
	if restarted {
		n.stats.nodesDown.Add(1)
		n.live.NodeDown(p.name, "node restarted")
	}
	n.reportLost(p, lost)
	if left != nil {
		n.emit(*left)
	}
	if joined != nil {
		n.emit(*joined)
	}
	if revived {
		n.hello()
	}
}

// learnSessionLocked records p's session key for its current epoch, derives
// the keys of both directions with this node's incarnation me and switches
// our stream to p to MACs.
func (n *Node) learnSessionLocked(me *self, p *peer, xkey []byte) {
	if me.sess == nil || len(xkey) != xkeySize || bytes.Equal(p.xkey, xkey) && p.keysFor == me.epoch {
		return
	}
	send, recv, err := me.sess.keys(n.name, me.epoch, p.name, p.epoch, xkey)
	if err != nil {
		n.log.Warn("peer session key refused", "peer", p.name, "err", err)
		return
	}
	p.xkey, p.sendKey, p.recvKey, p.keysFor = bytes.Clone(xkey), send, recv, me.epoch
	p.out.rekey(authMAC, send)
}

// duplicate handles a data frame accepted before, of the current stream: a
// resend whose ack was lost or late (after a NATS reconnect, say), or a copy
// replayed within the window. Delivery is at most once, so it is harmless:
// counted, logged at debug level, acknowledged again, and dropped.
func (n *Node) duplicate(p *peer, f *frame) {
	n.stats.duplicates.Add(1)
	p.dups.Add(1)
	n.log.Debug("duplicate data frame dropped", "sender", p.name, "gen", f.gen, "seq", f.seq)
	n.scheduleAck(p, false)
}

// onDownNotice handles a peer's notice that it declared this incarnation
// down: this node starts a new one, as it would after a silence of its own.
func (n *Node) onDownNotice(f *frame) {
	p := n.peerFor(f.from)
	switch {
	case p == nil:
		n.reject(f.from, UnknownSigner, fmt.Errorf("node %q is not in the trusted keys", f.from))
		return
	case len(f.body) != 0:
		n.reject(f.from, Malformed, fmt.Errorf("down notice with a %d-byte body", len(f.body)))
		return
	case n.auth == AuthOff:
	case f.auth != authSig:
		n.reject(f.from, Unsigned, fmt.Errorf("down notice not signed"))
		return
	case !ed25519.Verify(p.pub, f.signed, f.sig):
		n.reject(f.from, BadSignature, fmt.Errorf("down notice: bad Ed25519 signature"))
		return
	}
	n.stats.accepted.Add(1)
	n.stats.noticesReceived.Add(1)
	n.reincarnate(f.toEpoch, fmt.Sprintf("node %s declared this node down", f.from))
}

// sendDownNotice tells incarnation epoch of p that this node declared it
// down.
func (n *Node) sendDownNotice(p *peer, epoch uint64) {
	if n.closing.Load() {
		return
	}
	me := n.cur()
	h := header{kind: kindDown, auth: authSig, from: n.name, fromEpoch: me.epoch, to: p.name, toEpoch: epoch}
	if n.auth == AuthOff {
		h.auth = authNone
	}
	frame, _ := n.seal(me, &h, nil, nil)
	n.stats.noticesSent.Add(1)
	n.publish(p.subject, frame)
}

// onData accepts the next data frame of p's stream and delivers its records;
// a frame after a gap asks for the gap.
func (n *Node) onData(p *peer, f *frame) {
	recs, err := parseRecords(f.body, f.from, n.name, n.recs[:0])
	n.recs = recs[:0]
	if err != nil {
		reason := Malformed
		if errors.Is(err, errWrongSender) {
			reason = WrongSender
		}
		n.reject(f.from, reason, err)
		return
	}
	p.mu.Lock()
	if f.gen > p.inGen {
		p.inGen, p.inSeq = f.gen, 0
	}
	switch {
	case f.seq <= p.inSeq:
		p.mu.Unlock()
		n.duplicate(p, f)
		return
	case f.seq > p.inSeq+1:
		nack := time.Since(p.lastNack) > n.rto/4
		if nack {
			p.lastNack = time.Now()
		}
		p.mu.Unlock()
		n.stats.gaps.Add(1)
		if nack {
			n.sendAck(p, true)
		}
		return
	}
	p.inSeq = f.seq
	p.mu.Unlock()
	n.stats.framesReceived.Add(1)
	for i := range recs {
		n.deliverRecord(p, &recs[i])
		recs[i] = record{}
	}
	n.scheduleAck(p, true)
}

// deliverRecord hands one record to the runtime.
func (n *Node) deliverRecord(p *peer, r *record) {
	switch r.kind {
	case recWatch:
		n.live.WatchFor(actors.Addr{Node: n.name, ID: r.target}, actors.Addr{Node: p.name, ID: r.watcher})
		return
	case recUnwatch:
		n.live.UnwatchFor(actors.Addr{Node: n.name, ID: r.target}, actors.Addr{Node: p.name, ID: r.watcher})
		return
	}
	e := r.env
	if r.typeName != nil {
		msg, err := decodePayload(r.typeName, r.payload)
		if err != nil {
			n.stats.undecodable.Add(1)
			n.logOnce(slog.LevelWarn, "type:"+string(r.typeName), "message dropped: cannot decode its payload", "peer", p.name, "err", err)
			if e.Corr != 0 && !e.Reply && !e.From.IsZero() {
				// Fail the request now rather than let it time out.
				n.live.Inject(actors.Envelope{From: e.To, To: e.From, Corr: e.Corr, Reply: true,
					Err: fmt.Errorf("%w: %w", actors.ErrUndeliverable, err)})
			}
			return
		}
		e.Msg = msg
	}
	p.recv.Add(1)
	n.stats.received.Add(1)
	n.live.Inject(e)
}

// scheduleAck acknowledges p's stream soon: at once after 16 frames,
// otherwise after the ack delay, so that a burst of frames costs one ack.
func (n *Node) scheduleAck(p *peer, accepted bool) {
	p.mu.Lock()
	if accepted {
		p.ackOwed++
	}
	now := p.ackOwed >= 16
	arm := !now && !p.ackArmed
	if arm {
		p.ackArmed = true
	}
	p.mu.Unlock()
	switch {
	case now:
		n.sendAck(p, false)
	case arm:
		time.AfterFunc(n.ackDelay, func() { n.sendAck(p, false) })
	}
}

// sendAck acknowledges everything accepted from p's stream so far.
func (n *Node) sendAck(p *peer, gap bool) {
	if n.closing.Load() {
		return
	}
	p.ackMu.Lock()
	defer p.ackMu.Unlock()
	p.mu.Lock()
	if !p.alive {
		// Disarmed, or the peer's next incarnation (or itself, back) would
		// be acknowledged only every 16 frames.
		p.ackArmed = false
		p.mu.Unlock()
		return
	}
	me := p.out.boundTo()
	if me == nil {
		p.ackArmed = false
		p.mu.Unlock()
		return
	}
	h := header{kind: kindAck, auth: n.frameAuth(p.xkey), from: n.name, fromEpoch: me.epoch, to: p.name, toEpoch: p.epoch, gen: p.inGen}
	seq := p.inSeq
	p.ackOwed, p.ackArmed = 0, false
	key := p.sendKey
	p.mu.Unlock()
	p.out.mu.Lock()
	p.out.ctrlSeq++
	h.seq = p.out.ctrlSeq
	p.out.mu.Unlock()
	frame, _ := n.seal(me, &h, appendAck(nil, seq, gap), key)
	n.publish(p.subject, frame)
}

// onAck applies an ack to our stream to p.
func (n *Node) onAck(p *peer, f *frame) {
	seq, gap, err := parseAck(f.body)
	if err != nil {
		n.reject(f.from, Malformed, err)
		return
	}
	p.out.ack(f.gen, seq, gap, n.rto)
}
