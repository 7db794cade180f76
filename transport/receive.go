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

// onDirect handles a frame on this node's own subject: a data frame or an
// ack. It runs on the subscription's one goroutine, so frames are handled in
// the order they arrived.
func (n *Node) onDirect(m *nats.Msg) {
	f, err := parseFrame(m.Data)
	if err != nil {
		n.reject(f.from, Malformed, err)
		return
	}
	if f.kind != kindData && f.kind != kindAck {
		n.reject(f.from, Malformed, fmt.Errorf("%v frame on a node subject", f.kind))
		return
	}
	if f.to != n.name || f.toEpoch != n.epoch {
		n.reject(f.from, Stale, fmt.Errorf("frame for %s incarnation %d, this is %s incarnation %d", f.to, f.toEpoch, n.name, n.epoch))
		return
	}
	p := n.authenticate(&f, nil)
	if p == nil {
		return
	}
	if f.kind == kindAck {
		n.onAck(p, &f)
		return
	}
	n.onData(p, &f)
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
	if f.from == n.name {
		if f.fromEpoch != n.epoch && f.auth == authSig && n.cfg.Key != nil && ed25519.Verify(n.cfg.Key.Public(), f.signed, f.sig) {
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
	p := n.authenticate(&f, beat)
	if p != nil && f.kind == kindGoodbye {
		n.peerDown(p, f.fromEpoch, "node left", true)
	}
}

// authenticate checks f's signature or MAC against the trusted key of its
// sender, then its incarnation and sequence number, and returns the sender's
// peer; nil if f was rejected (and counted). hb is f's body if f is a
// heartbeat.
func (n *Node) authenticate(f *frame, hb *heartbeat) *peer {
	p := n.peerFor(f.from)
	if p == nil {
		n.reject(f.from, UnknownSigner, fmt.Errorf("node %q is not in the trusted keys", f.from))
		return nil
	}
	if n.auth != AuthOff {
		switch f.auth {
		case authNone:
			n.reject(f.from, Unsigned, fmt.Errorf("unsigned %v frame", f.kind))
			return nil
		case authSig:
			if !ed25519.Verify(p.pub, f.signed, f.sig) {
				n.reject(f.from, BadSignature, fmt.Errorf("%v frame: bad Ed25519 signature", f.kind))
				return nil
			}
		case authMAC:
			if err := n.checkMAC(p, f); err != nil {
				n.reject(f.from, BadSignature, fmt.Errorf("%v frame: %w", f.kind, err))
				return nil
			}
		}
	}
	var reason Reason
	var err error
	p.mu.Lock()
	switch {
	case f.fromEpoch < p.epoch:
		reason, err = Replayed, fmt.Errorf("%v frame from a past incarnation (%d, current %d)", f.kind, f.fromEpoch, p.epoch)
	case f.fromEpoch == p.leftEpoch:
		reason, err = Stale, fmt.Errorf("%v frame from an incarnation that said goodbye", f.kind)
	case f.fromEpoch > p.epoch:
		// Nothing from this incarnation was accepted yet: no seq to check.
	case f.kind == kindAck && f.seq <= p.inCtrl:
		reason, err = Replayed, fmt.Errorf("ack seq %d, last accepted %d", f.seq, p.inCtrl)
	case (f.kind == kindHeartbeat || f.kind == kindGoodbye) && f.seq <= p.inBcast:
		reason, err = Replayed, fmt.Errorf("%v seq %d, last accepted %d", f.kind, f.seq, p.inBcast)
	case f.kind == kindData && f.gen < p.inGen:
		reason, err = Replayed, fmt.Errorf("data frame of stream generation %d, current %d", f.gen, p.inGen)
	}
	p.mu.Unlock()
	if err != nil {
		n.reject(f.from, reason, err)
		return nil
	}
	n.incarnation(p, f, hb)
	p.mu.Lock()
	switch f.kind {
	case kindAck:
		p.inCtrl = f.seq
	case kindHeartbeat, kindGoodbye:
		p.inBcast = f.seq
	}
	p.lastSeen = time.Now()
	p.mu.Unlock()
	return p
}

// checkMAC verifies f's MAC with the key shared with the incarnation of p
// that f names, deriving it (after checking the certificate) the first time.
func (n *Node) checkMAC(p *peer, f *frame) error {
	if n.sess == nil {
		return fmt.Errorf("session MAC, but this node does not use sessions")
	}
	p.mu.Lock()
	key := p.recvKey
	if f.fromEpoch != p.epoch || !bytes.Equal(f.xkey, p.xkey) {
		key = nil
	}
	p.mu.Unlock()
	if key == nil {
		if !ed25519.Verify(p.pub, certMessage(f.from, f.fromEpoch, f.xkey), f.cert) {
			return fmt.Errorf("bad session key certificate")
		}
		var err error
		if _, key, err = n.sess.keys(n.name, n.epoch, f.from, f.fromEpoch, f.xkey); err != nil {
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

// incarnation takes note of an authenticated frame's sender incarnation: a
// new one replaces the old (which is reported down), and a peer declared
// down by silence comes back. It also learns the sender's session key, and
// from a heartbeat its interval and spawner.
func (n *Node) incarnation(p *peer, f *frame, hb *heartbeat) {
	p.mu.Lock()
	if hb != nil && f.fromEpoch >= p.epoch {
		p.interval = time.Duration(hb.interval) * time.Millisecond
		p.spawner = hb.spawner
	}
	if f.fromEpoch == p.epoch && p.alive {
		if f.xkey != nil {
			n.learnSessionLocked(p, f.xkey)
		}
		p.mu.Unlock()
		return
	}
	var left *NodeLeft
	if f.fromEpoch > p.epoch {
		if p.alive {
			left = &NodeLeft{Member: p.member(), Reason: "node restarted"}
		}
		p.epoch = f.fromEpoch
		p.xkey, p.sendKey, p.recvKey = nil, nil, nil
		p.inGen, p.inSeq, p.inCtrl, p.inBcast = 0, 0, 0, 0
		p.ackOwed = 0
	}
	p.alive = true
	p.lastSeen = time.Now()
	joined := NodeJoined{Member: p.member()}
	lost := p.out.bind(p.epoch, n.frameAuth(p.xkey), p.sendKey)
	if f.xkey != nil {
		n.learnSessionLocked(p, f.xkey)
	}
	p.mu.Unlock()
	if left != nil {
		n.live.NodeDown(p.name, left.Reason)
	}
	n.reportLost(p, lost)
	if left != nil {
		n.emit(*left)
	}
	n.emit(joined)
	n.hello()
}

// learnSessionLocked records p's session key for its current epoch, derives
// the keys of both directions and switches our stream to p to MACs.
func (n *Node) learnSessionLocked(p *peer, xkey []byte) {
	if n.sess == nil || len(xkey) != xkeySize || bytes.Equal(p.xkey, xkey) {
		return
	}
	send, recv, err := n.sess.keys(n.name, n.epoch, p.name, p.epoch, xkey)
	if err != nil {
		n.log.Warn("peer session key refused", "peer", p.name, "err", err)
		return
	}
	p.xkey, p.sendKey, p.recvKey = bytes.Clone(xkey), send, recv
	p.out.rekey(authMAC, send)
}

// onData accepts the next data frame of p's stream and delivers its records;
// a duplicate is acknowledged again, a frame after a gap asks for the gap.
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
		last := p.inSeq
		p.mu.Unlock()
		n.reject(f.from, Replayed, fmt.Errorf("data frame seq %d, last accepted %d", f.seq, last))
		n.scheduleAck(p, false) // a retransmission: its ack was lost or late
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
	h := header{kind: kindAck, auth: n.frameAuth(p.xkey), from: n.name, fromEpoch: n.epoch, to: p.name, toEpoch: p.epoch, gen: p.inGen}
	seq := p.inSeq
	p.ackOwed, p.ackArmed = 0, false
	key := p.sendKey
	p.mu.Unlock()
	p.out.mu.Lock()
	p.out.ctrlSeq++
	h.seq = p.out.ctrlSeq
	p.out.mu.Unlock()
	frame, _ := n.seal(&h, appendAck(nil, seq, gap), key)
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
