package transport

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudflare/circl/sign/ed25519"

	"github.com/marlon-go/marlon/actors"
)

// peer is what a node knows of another node: its incarnation and liveness,
// the session keys shared with it, the state of the stream it sends us
// (inbound) and of the stream we send it (out).
//
// Lock order: peer.mu before outbox.mu, never the reverse.
type peer struct {
	n       *Node
	name    string
	subject string            // where its data frames go
	pub     ed25519.PublicKey // nil when authentication is off
	sent    atomic.Uint64     // envelopes handed to the stream
	recv    atomic.Uint64     // envelopes delivered from it
	dups    atomic.Uint64     // duplicate data frames from it
	out     outbox            // our stream to it
	ackMu   sync.Mutex        // orders ack frames: their seq must grow on the wire

	mu        sync.Mutex
	epoch     uint64 // its current incarnation; 0 before we hear from it
	alive     bool   // its stream is bound: frames of epoch are accepted and acknowledged
	joined    bool   // a heartbeat of epoch was accepted: it is a member, its spawner known
	leftEpoch uint64 // an incarnation that said goodbye: ignored from then on
	downEpoch uint64 // the last incarnation declared down: it and older are refused
	lastSeen  time.Time
	notified  time.Time // when a down notice was last sent to it
	keysFor   uint64    // this node's epoch sendKey and recvKey were derived for
	interval  time.Duration
	spawner   uint64
	xkey      []byte // its session key for epoch
	sendKey   []byte // HMAC key of frames to it
	recvKey   []byte // HMAC key of frames from it
	inGen     uint64 // inbound data stream: generation and last seq accepted
	inSeq     uint64
	inCtrl    uint64 // last ack seq accepted
	inBcast   uint64 // last heartbeat seq accepted
	ackOwed   int    // frames accepted since the last ack
	ackArmed  bool
	lastNack  time.Time
}

func (p *peer) member() Member {
	return Member{Name: p.name, Epoch: p.epoch, Spawner: actors.Addr{Node: p.name, ID: p.spawner}}
}

// sentFrame is a data frame kept until the peer acknowledges it.
type sentFrame struct {
	seq   uint64
	frame []byte
	body  []byte // the records, within frame
	at    time.Time
}

// outbox is the reliable stream of data frames from this node to one peer.
// Deliver appends records to pending; the peer's flusher goroutine cuts them
// into frames, authenticates and publishes them, and keeps each frame until
// an ack covers it. Frames not acknowledged within the retransmission timeout
// (or reported missing by the peer) are sent again, in order; the receiver
// accepts only the next seq, so nothing is lost or reordered silently. When
// the peer goes down or restarts, everything not acknowledged is reported to
// its senders and the stream starts a new generation.
type outbox struct {
	mu      sync.Mutex
	epoch   uint64 // the peer incarnation frames are for; 0: the peer is down
	me      *self  // this node's incarnation they are from
	gen     uint64
	seq     uint64 // last seq assigned in gen
	auth    authKind
	key     []byte // HMAC key (auth mac)
	pending []byte
	spare   []byte   // the buffer the flusher gave back, next pending
	ready   [][]byte // full bodies waiting for the flusher
	unacked []sentFrame
	bytes   int // bytes in pending, ready and unacked
	resend  bool
	resent  time.Time
	ctrlSeq uint64 // seq of our ack frames to this peer
	wake    chan struct{}
}

// bind points the stream at a peer incarnation (0: none) and returns what was
// waiting or unacknowledged in the previous generation, to be reported.
func (o *outbox) bind(me *self, epoch uint64, auth authKind, key []byte) (lost [][]byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	lost = o.drainLocked()
	o.me, o.epoch, o.auth, o.key = me, epoch, auth, key
	o.gen++
	o.seq = 0
	return lost
}

func (o *outbox) drainLocked() [][]byte {
	var lost [][]byte
	for _, f := range o.unacked {
		lost = append(lost, f.body)
	}
	lost = append(lost, o.ready...)
	if len(o.pending) > 0 {
		lost = append(lost, o.pending)
	}
	o.unacked, o.ready, o.pending, o.bytes = nil, nil, nil, 0
	return lost
}

// boundTo is this node's incarnation the stream is bound to; nil if the
// peer is down.
func (o *outbox) boundTo() *self {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.epoch == 0 {
		return nil
	}
	return o.me
}

// rekey changes the authentication of the frames not yet cut.
func (o *outbox) rekey(auth authKind, key []byte) {
	o.mu.Lock()
	o.auth, o.key = auth, key
	o.mu.Unlock()
}

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// push appends one record (written by write) to the stream.
func (o *outbox) push(n *Node, size int, write func([]byte) []byte) error {
	o.mu.Lock()
	if o.epoch == 0 {
		o.mu.Unlock()
		return errNodeDown
	}
	if o.bytes+size > n.cfg.MaxUnacked {
		o.mu.Unlock()
		return errBacklog
	}
	if len(o.pending) > 0 && len(o.pending)+size > n.batchBytes {
		o.ready = append(o.ready, o.pending)
		o.pending, o.spare = o.spare, nil
	}
	before := len(o.pending)
	o.pending = write(o.pending)
	o.bytes += len(o.pending) - before
	o.mu.Unlock()
	o.signal()
	return nil
}

// ack drops the frames of generation gen up to seq; a gap asks for the rest
// again.
func (o *outbox) ack(gen, seq uint64, gap bool, rto time.Duration) {
	o.mu.Lock()
	if gen != o.gen {
		o.mu.Unlock()
		return
	}
	i := 0
	for i < len(o.unacked) && o.unacked[i].seq <= seq {
		o.bytes -= len(o.unacked[i].body)
		o.unacked[i] = sentFrame{}
		i++
	}
	o.unacked = o.unacked[i:]
	kick := gap && len(o.unacked) > 0 && time.Since(o.resent) > rto/4
	if kick {
		o.resend = true
	}
	o.mu.Unlock()
	if kick {
		o.signal()
	}
}

// due marks the stream for retransmission when its oldest frame has waited
// longer than rto for an ack.
func (o *outbox) due(now time.Time, rto time.Duration) {
	o.mu.Lock()
	kick := len(o.unacked) > 0 && now.Sub(o.unacked[0].at) > rto && now.Sub(o.resent) > rto
	if kick {
		o.resend = true
	}
	o.mu.Unlock()
	if kick {
		o.signal()
	}
}

// flushLoop is the peer's sender: it cuts, seals and publishes frames and
// retransmits on request, so frames leave in seq order.
func (p *peer) flushLoop() {
	n, o := p.n, &p.out
	defer n.wg.Done()
	var resend [][]byte
	for {
		select {
		case <-o.wake:
		case <-n.done:
			return
		}
		for {
			o.mu.Lock()
			resend = resend[:0]
			if o.resend {
				o.resend = false
				o.resent = time.Now()
				for _, f := range o.unacked {
					resend = append(resend, f.frame)
				}
			}
			var body []byte
			if len(o.ready) > 0 {
				body = o.ready[0]
				o.ready[0] = nil
				o.ready = o.ready[1:]
			} else if len(o.pending) > 0 {
				body, o.pending, o.spare = o.pending, o.spare, nil
			}
			me := o.me
			h := header{kind: kindData, auth: o.auth, from: n.name, to: p.name, toEpoch: o.epoch, gen: o.gen}
			if me != nil {
				h.fromEpoch = me.epoch
			}
			key := o.key
			if body != nil {
				o.seq++
				h.seq = o.seq
			}
			o.mu.Unlock()

			for _, f := range resend {
				n.publish(p.subject, f)
				n.stats.retransmitted.Add(1)
			}
			if body == nil {
				break
			}
			frame, off := n.seal(me, &h, body, key)
			o.mu.Lock()
			current := h.gen == o.gen
			if current {
				o.unacked = append(o.unacked, sentFrame{seq: h.seq, frame: frame, body: frame[off : off+len(body)], at: time.Now()})
				// The body was copied into the frame: its buffer is
				// reused, so that steady traffic allocates no buffers.
				if o.spare == nil && cap(body) <= 2*n.batchBytes {
					o.spare = body[:0]
				}
			}
			o.mu.Unlock()
			if !current {
				// The peer went down or restarted while this frame was
				// being sealed: report its records like the rest.
				n.reportLost(p, [][]byte{body})
				continue
			}
			n.publish(p.subject, frame)
			n.stats.framesSent.Add(1)
		}
	}
}
