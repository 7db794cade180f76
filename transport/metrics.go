package transport

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Reason is why a received frame was rejected.
type Reason int

const (
	// Malformed: the frame or a record in it does not parse.
	Malformed Reason = iota
	// Unsigned: the frame carries no signature or MAC.
	Unsigned
	// UnknownSigner: the sender is not in the trusted keys.
	UnknownSigner
	// BadSignature: the signature, session certificate or MAC does not
	// verify against the sender's trusted key: forged, altered, or signed
	// by another node than the one it names.
	BadSignature
	// WrongSender: an authentic frame carries an envelope from an actor of
	// another node.
	WrongSender
	// Replayed: the frame's incarnation, stream generation or sequence
	// number is older than what was accepted: a replay. (A data frame of
	// the current stream accepted before, sent again because its ack was
	// lost or late, is a duplicate, counted in Metrics.Duplicates, not a
	// rejection.)
	Replayed
	// Stale: the frame is for another node or an earlier incarnation of
	// this one, or comes from an incarnation that said goodbye (frames
	// overtaken by the goodbye, or sent again after a restart: harmless).
	Stale
	// DownIncarnation: the frame is authentic, but from an incarnation
	// this node declared down after a silence (a node that was paused or
	// cut off, or a replay of its frames). The sender is told, and comes
	// back as a new incarnation.
	DownIncarnation
)

func (r Reason) String() string {
	switch r {
	case Malformed:
		return "malformed"
	case Unsigned:
		return "unsigned"
	case UnknownSigner:
		return "unknown signer"
	case BadSignature:
		return "bad signature"
	case WrongSender:
		return "wrong sender"
	case Replayed:
		return "replayed"
	case Stale:
		return "stale"
	case DownIncarnation:
		return "down incarnation"
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// Rejections counts rejected frames by reason.
type Rejections struct {
	Malformed     uint64 `json:"malformed"`
	Unsigned      uint64 `json:"unsigned"`
	UnknownSigner uint64 `json:"unknown_signer"`
	BadSignature  uint64 `json:"bad_signature"`
	WrongSender   uint64 `json:"wrong_sender"`
	Replayed      uint64 `json:"replayed"`
	Stale         uint64 `json:"stale"`
	Down          uint64 `json:"down_incarnation"`
}

func (r *Rejections) add(reason Reason) {
	switch reason {
	case Malformed:
		r.Malformed++
	case Unsigned:
		r.Unsigned++
	case UnknownSigner:
		r.UnknownSigner++
	case BadSignature:
		r.BadSignature++
	case WrongSender:
		r.WrongSender++
	case Replayed:
		r.Replayed++
	case Stale:
		r.Stale++
	case DownIncarnation:
		r.Down++
	}
}

// Total is the number of rejected frames.
func (r Rejections) Total() uint64 {
	return r.Malformed + r.Unsigned + r.UnknownSigner + r.BadSignature + r.WrongSender + r.Replayed + r.Stale + r.Down
}

// PeerMetrics is what a node exchanged with one peer. Rejections are keyed
// by the sender a frame claims, which is all a forged frame tells.
type PeerMetrics struct {
	Sent       uint64     `json:"sent"`
	Received   uint64     `json:"received"`
	Duplicates uint64     `json:"duplicates"`
	Rejected   Rejections `json:"rejected"`
}

// Metrics counts what a node's transport did. A running node also answers
// a NATS request on PREFIX.metrics.NAME (and on PREFIX.metrics, where every
// node answers) with its Metrics as JSON: see Subjects in the package doc.
type Metrics struct {
	// Node and Epoch name the node and its current incarnation.
	Node  string `json:"node"`
	Epoch uint64 `json:"epoch"`
	// Sent and Received count envelopes handed to and delivered from the
	// transport; Lost counts envelopes sent to a node that went down before
	// acknowledging them (their senders were told).
	Sent     uint64 `json:"sent"`
	Received uint64 `json:"received"`
	Lost     uint64 `json:"lost"`
	// FramesSent and FramesReceived count data frames (batches of
	// envelopes); Retransmitted counts data frames sent again.
	FramesSent     uint64 `json:"frames_sent"`
	FramesReceived uint64 `json:"frames_received"`
	Retransmitted  uint64 `json:"retransmitted"`
	// Gaps are data frames received after a missing one, dropped until the
	// missing one is sent again.
	Gaps uint64 `json:"gaps"`
	// Undecodable counts envelopes whose message type is not registered
	// on this node (or whose payload does not decode).
	Undecodable uint64 `json:"undecodable"`
	// PublishErrors counts frames NATS refused (while disconnected, say);
	// data frames among them are sent again.
	PublishErrors uint64 `json:"publish_errors"`
	// Accepted counts the frames of every kind that were authentic and
	// fresh; Duplicates the data frames accepted before and received again
	// (resends after a lost ack, harmless: not delivered twice); Rejected
	// the frames refused, by reason.
	Accepted   uint64     `json:"frames_accepted"`
	Duplicates uint64     `json:"duplicates"`
	Rejected   Rejections `json:"rejected"`
	// NodesDown counts peer incarnations declared down (silent, gone,
	// restarted, or dropped when this node started a new incarnation).
	NodesDown uint64 `json:"nodes_down"`
	// Disconnects and Reconnects count the NATS connection's losses and
	// recoveries.
	Disconnects uint64 `json:"disconnects"`
	Reconnects  uint64 `json:"reconnects"`
	// Reincarnations counts the new incarnations this node started after
	// it was cut off (Membership in the package doc); NoticesSent and
	// NoticesReceived the down notices (a node telling another that it
	// declared it down).
	Reincarnations  uint64                 `json:"reincarnations"`
	NoticesSent     uint64                 `json:"down_notices_sent"`
	NoticesReceived uint64                 `json:"down_notices_received"`
	Peers           map[string]PeerMetrics `json:"peers"`
}

// maxRejectNames bounds the sender names rejections are kept under, since a
// flood of forged frames can claim any name.
const maxRejectNames = 256

type stats struct {
	sent, received, lost                      atomic.Uint64
	framesSent, framesReceived, retransmitted atomic.Uint64
	gaps, undecodable, publishErrors          atomic.Uint64
	accepted, duplicates, nodesDown           atomic.Uint64
	disconnects, reconnects, reincarnations   atomic.Uint64
	noticesSent, noticesReceived              atomic.Uint64

	mu       sync.Mutex
	rejected map[string]*Rejections // by claimed sender
	total    Rejections
	logged   map[string]bool
}

// reject counts a rejected frame and logs the first rejection of each
// claimed sender.
func (n *Node) reject(from string, reason Reason, err error) {
	if from == "" {
		from = "<unknown>"
	}
	s := &n.stats
	s.mu.Lock()
	s.total.add(reason)
	r := s.rejected[from]
	if r == nil {
		if len(s.rejected) >= maxRejectNames {
			from = "<other>"
			r = s.rejected[from]
		}
		if r == nil {
			r = &Rejections{}
			s.rejected[from] = r
		}
	}
	r.add(reason)
	s.mu.Unlock()
	level := slog.LevelWarn
	if reason == Stale {
		level = slog.LevelDebug
	}
	n.logOnce(level, "peer:"+from, "frame rejected (further rejections from this sender are only counted)",
		"sender", from, "reason", reason.String(), "err", err)
}

// logOnce logs the first time key is seen.
func (n *Node) logOnce(level slog.Level, key, msg string, args ...any) {
	s := &n.stats
	s.mu.Lock()
	if s.logged == nil {
		s.logged = map[string]bool{}
	}
	first := !s.logged[key] && len(s.logged) < 4*maxRejectNames
	if first {
		s.logged[key] = true
	}
	s.mu.Unlock()
	if first {
		n.log.Log(context.Background(), level, msg, args...)
	}
}

// Metrics returns the node's counters.
func (n *Node) Metrics() Metrics {
	s := &n.stats
	m := Metrics{
		Node: n.name, Epoch: n.cur().epoch,
		Accepted: s.accepted.Load(), Duplicates: s.duplicates.Load(), NodesDown: s.nodesDown.Load(),
		Disconnects: s.disconnects.Load(), Reconnects: s.reconnects.Load(), Reincarnations: s.reincarnations.Load(),
		NoticesSent: s.noticesSent.Load(), NoticesReceived: s.noticesReceived.Load(),
		Sent: s.sent.Load(), Received: s.received.Load(), Lost: s.lost.Load(),
		FramesSent: s.framesSent.Load(), FramesReceived: s.framesReceived.Load(), Retransmitted: s.retransmitted.Load(),
		Gaps: s.gaps.Load(), Undecodable: s.undecodable.Load(), PublishErrors: s.publishErrors.Load(),
		Peers: map[string]PeerMetrics{},
	}
	for _, p := range n.peerList() {
		m.Peers[p.name] = PeerMetrics{Sent: p.sent.Load(), Received: p.recv.Load(), Duplicates: p.dups.Load()}
	}
	s.mu.Lock()
	m.Rejected = s.total
	for name, r := range s.rejected {
		pm := m.Peers[name]
		pm.Rejected = *r
		m.Peers[name] = pm
	}
	s.mu.Unlock()
	return m
}

// serveMetrics answers requests for the node's metrics.
func (n *Node) serveMetrics(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	b, err := json.Marshal(n.Metrics())
	if err != nil {
		return
	}
	if err := m.Respond(b); err != nil {
		n.log.Debug("metrics request not answered", "err", err)
	}
}

// RequestMetrics asks the node named node, through the NATS connection nc,
// for its metrics; prefix is the cluster's subject prefix ("" for
// "marlon").
func RequestMetrics(ctx context.Context, nc *nats.Conn, prefix, node string) (Metrics, error) {
	if prefix == "" {
		prefix = "marlon"
	}
	var m Metrics
	msg, err := nc.RequestWithContext(ctx, prefix+".metrics."+node, nil)
	if err != nil {
		return m, fmt.Errorf("transport: metrics of node %q: %w", node, err)
	}
	if err := json.Unmarshal(msg.Data, &m); err != nil {
		return m, fmt.Errorf("transport: metrics of node %q: %w", node, err)
	}
	return m, nil
}

// GatherMetrics asks every node of the cluster for its metrics (a request on
// PREFIX.metrics, which every node answers) and returns the answers that
// came within wait, by node name, this node's included.
func (n *Node) GatherMetrics(wait time.Duration) map[string]Metrics {
	out := GatherMetrics(n.nc, n.cfg.Prefix, wait)
	out[n.name] = n.Metrics() // a node does not hear its own requests
	return out
}

// GatherMetrics asks every node of the cluster with subject prefix prefix
// ("" for "marlon"), through the NATS connection nc, for its metrics, and
// returns the answers that came within wait, by node name.
func GatherMetrics(nc *nats.Conn, prefix string, wait time.Duration) map[string]Metrics {
	if prefix == "" {
		prefix = "marlon"
	}
	out := map[string]Metrics{}
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return out
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(prefix+".metrics", inbox, nil); err != nil {
		return out
	}
	deadline := time.Now().Add(wait)
	for {
		msg, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			return out
		}
		var m Metrics
		if json.Unmarshal(msg.Data, &m) == nil && m.Node != "" {
			out[m.Node] = m
		}
	}
}
