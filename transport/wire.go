package transport

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/marlon-go/marlon/actors"
)

// Wire format, version 1. Integers are unsigned varints unless said
// otherwise; a string is a varint length and its bytes.
//
//	frame   = magic(0xA7) version(1) kind auth header body trailer
//	header  = from-node from-epoch(8 bytes, big endian)
//	          to-node to-epoch(8 bytes) gen seq
//	trailer = nothing                          (auth none)
//	        | signature(64)                    (auth sig: Ed25519 over all before it)
//	        | x25519-key(32) certificate(64) mac(32)
//	                                           (auth mac: HMAC-SHA256 over all before it)
//
// A data frame's body is a run of records:
//
//	envelope = 1 from-node from-id to-id corr flags err-code [err-text]
//	           [type-name payload]              (flags: 1 reply, 2 has message)
//	watch    = 2 target-id watcher-id           (target here, watcher at the sender)
//	unwatch  = 3 target-id watcher-id
//
// The envelope's To node is the frame's to-node; its From node is the frame's
// from-node or empty (a message injected from outside the actor system).
// An ack's body is the acknowledged seq and a flags byte (1: a gap was seen);
// a heartbeat's is the interval in milliseconds, the spawner's actor id and
// the node's session key (empty without session authentication); a goodbye's
// is empty, and so is a down notice's (a node tells the incarnation named by
// to-node and to-epoch that it declared it down: it is signed like a
// heartbeat, and true of that incarnation whoever replays it).
const (
	frameMagic  = 0xA7
	wireVersion = 1

	sigSize      = 64
	macSize      = 32
	xkeySize     = 32
	macTrailer   = xkeySize + sigSize + macSize
	maxHeaderLen = 4 + 2*(1+maxNameLen+8) + 2*binary.MaxVarintLen64
	maxErrText   = 4096 // an error's text is cut to this
)

type frameKind byte

const (
	kindData      frameKind = 1 // records for one node, in a reliable stream
	kindAck       frameKind = 2 // acknowledges a data stream
	kindHeartbeat frameKind = 3 // broadcast: I am alive
	kindGoodbye   frameKind = 4 // broadcast: I am leaving
	kindDown      frameKind = 5 // to one node: I declared your incarnation down
)

func (k frameKind) String() string {
	switch k {
	case kindData:
		return "data"
	case kindAck:
		return "ack"
	case kindHeartbeat:
		return "heartbeat"
	case kindGoodbye:
		return "goodbye"
	case kindDown:
		return "down notice"
	}
	return fmt.Sprintf("frameKind(%d)", byte(k))
}

type authKind byte

const (
	authNone authKind = 0
	authSig  authKind = 1
	authMAC  authKind = 2
)

const (
	recEnvelope = 1
	recWatch    = 2
	recUnwatch  = 3

	flagReply  = 1
	flagHasMsg = 2

	ackGap = 1
)

// Error codes of a failed reply. The sentinels of the actors package come
// back as themselves, so errors.Is works on the receiving node.
const (
	errNone = iota
	errNoActor
	errTimeout
	errUndeliverable
	errOther
)

// errMalformed and errWrongSender are the decoding failures a receiver
// counts.
var (
	errMalformed   = errors.New("malformed frame")
	errWrongSender = errors.New("envelope names a sender on another node")
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errMalformed}, args...)...)
}

type header struct {
	kind      frameKind
	auth      authKind
	from      string
	fromEpoch uint64
	to        string
	toEpoch   uint64
	gen, seq  uint64
}

// frame is a parsed frame; its slices alias the received bytes.
type frame struct {
	header
	body   []byte
	signed []byte // what the signature or MAC covers
	sig    []byte // the signature (auth sig) or the MAC (auth mac)
	xkey   []byte // auth mac: the sender's session key
	cert   []byte // auth mac: the sender's signature over xkey
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendHeader(b []byte, h *header) []byte {
	b = append(b, frameMagic, wireVersion, byte(h.kind), byte(h.auth))
	b = appendString(b, h.from)
	b = binary.BigEndian.AppendUint64(b, h.fromEpoch)
	b = appendString(b, h.to)
	b = binary.BigEndian.AppendUint64(b, h.toEpoch)
	b = binary.AppendUvarint(b, h.gen)
	return binary.AppendUvarint(b, h.seq)
}

// reader decodes the primitives of the wire format; the first failure sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = malformed("truncated or invalid %s", what)
	}
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte(what string) byte {
	if r.err != nil || len(r.b) < 1 {
		r.fail(what)
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uint64(what string) uint64 {
	if r.err != nil || len(r.b) < 8 {
		r.fail(what)
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) bytes(what string, max uint64) []byte {
	n := r.uvarint(what)
	if r.err != nil || n > max || n > uint64(len(r.b)) {
		r.fail(what)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) name(what string) string {
	b := r.bytes(what, maxNameLen)
	if r.err == nil && len(b) > 0 && !validName(string(b)) {
		r.err = malformed("invalid %s %q", what, b)
	}
	return string(b)
}

// parseFrame splits a frame into header, body and trailer. It checks the
// structure only; authentication is the caller's.
func parseFrame(b []byte) (frame, error) {
	var f frame
	if len(b) < 4 {
		return f, malformed("%d bytes", len(b))
	}
	if b[0] != frameMagic {
		return f, malformed("bad magic byte %#x", b[0])
	}
	if b[1] != wireVersion {
		return f, malformed("unsupported version %d", b[1])
	}
	f.kind, f.auth = frameKind(b[2]), authKind(b[3])
	if f.kind < kindData || f.kind > kindDown {
		return f, malformed("unknown kind %d", b[2])
	}
	trailer := 0
	switch f.auth {
	case authNone:
	case authSig:
		trailer = sigSize
	case authMAC:
		trailer = macTrailer
	default:
		return f, malformed("unknown authentication %d", b[3])
	}
	if len(b) < 4+trailer {
		return f, malformed("%d bytes", len(b))
	}
	end := len(b) - trailer
	r := reader{b: b[4:end]}
	f.from = r.name("sender node")
	f.fromEpoch = r.uint64("sender epoch")
	f.to = r.name("target node")
	f.toEpoch = r.uint64("target epoch")
	f.gen = r.uvarint("generation")
	f.seq = r.uvarint("sequence number")
	if r.err != nil {
		return f, r.err
	}
	if f.from == "" {
		return f, malformed("empty sender node")
	}
	if (f.to == "") != (f.kind == kindHeartbeat || f.kind == kindGoodbye) {
		return f, malformed("%v frame with target node %q", f.kind, f.to)
	}
	f.body = r.b
	switch f.auth {
	case authSig:
		f.signed, f.sig = b[:end], b[end:]
	case authMAC:
		f.signed = b[:len(b)-macSize]
		f.xkey = b[end : end+xkeySize]
		f.cert = b[end+xkeySize : end+xkeySize+sigSize]
		f.sig = b[len(b)-macSize:]
	}
	return f, nil
}

// record is one item of a data frame.
type record struct {
	kind     byte
	env      actors.Envelope // recEnvelope; Msg is set by the caller from payload
	typeName []byte          // recEnvelope with a message
	payload  []byte
	target   uint64 // recWatch, recUnwatch
	watcher  uint64
}

// appendEnvelope appends e as a record; typeName and payload are empty for an
// envelope without a message (a failed reply).
func appendEnvelope(b []byte, e *actors.Envelope, typeName string, payload []byte) []byte {
	b = append(b, recEnvelope)
	b = appendString(b, e.From.Node)
	b = binary.AppendUvarint(b, e.From.ID)
	b = binary.AppendUvarint(b, e.To.ID)
	b = binary.AppendUvarint(b, uint64(e.Corr))
	var flags byte
	if e.Reply {
		flags |= flagReply
	}
	if typeName != "" {
		flags |= flagHasMsg
	}
	code, text := errorCode(e.Err)
	if len(text) > maxErrText {
		text = text[:maxErrText]
	}
	b = append(b, flags, code)
	if code != errNone {
		b = appendString(b, text)
	}
	if typeName != "" {
		b = appendString(b, typeName)
		b = binary.AppendUvarint(b, uint64(len(payload)))
		b = append(b, payload...)
	}
	return b
}

func appendWatch(b []byte, kind byte, target, watcher uint64) []byte {
	b = append(b, kind)
	b = binary.AppendUvarint(b, target)
	return binary.AppendUvarint(b, watcher)
}

// parseRecords decodes the records of a data frame from sender to receiver,
// appending them to recs. Payloads are left encoded.
func parseRecords(body []byte, sender, receiver string, recs []record) ([]record, error) {
	r := reader{b: body}
	for len(r.b) > 0 {
		var rec record
		rec.kind = r.byte("record kind")
		switch rec.kind {
		case recEnvelope:
			fromNode := r.bytes("envelope sender node", maxNameLen)
			fromID := r.uvarint("envelope sender id")
			switch {
			case r.err != nil:
			case len(fromNode) == 0 && fromID == 0:
			case string(fromNode) == sender && fromID != 0:
				rec.env.From = actors.Addr{Node: sender, ID: fromID}
			default:
				return recs, fmt.Errorf("%w: %q/%d in a frame from %q", errWrongSender, fromNode, fromID, sender)
			}
			rec.env.To = actors.Addr{Node: receiver, ID: r.uvarint("envelope target id")}
			rec.env.Corr = actors.RequestID(r.uvarint("correlation id"))
			flags := r.byte("envelope flags")
			code := r.byte("error code")
			if flags&^(flagReply|flagHasMsg) != 0 || code > errOther {
				return recs, malformed("envelope flags %#x, error code %d", flags, code)
			}
			rec.env.Reply = flags&flagReply != 0
			if code != errNone {
				rec.env.Err = errorFromCode(code, string(r.bytes("error text", maxErrText)))
			}
			if flags&flagHasMsg != 0 {
				rec.typeName = r.bytes("type name", 255)
				rec.payload = r.bytes("payload", uint64(len(r.b)))
				if r.err == nil && len(rec.typeName) == 0 {
					return recs, malformed("empty type name")
				}
			}
		case recWatch, recUnwatch:
			rec.target = r.uvarint("watch target")
			rec.watcher = r.uvarint("watcher")
		default:
			if r.err == nil {
				return recs, malformed("unknown record kind %d", rec.kind)
			}
		}
		if r.err != nil {
			return recs, r.err
		}
		if rec.kind == recEnvelope && rec.env.To.ID == 0 || rec.kind != recEnvelope && (rec.target == 0 || rec.watcher == 0) {
			return recs, malformed("record with actor id 0")
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

func errorCode(err error) (byte, string) {
	switch {
	case err == nil:
		return errNone, ""
	case errors.Is(err, actors.ErrNoActor):
		return errNoActor, err.Error()
	case errors.Is(err, actors.ErrTimeout):
		return errTimeout, err.Error()
	case errors.Is(err, actors.ErrUndeliverable):
		return errUndeliverable, err.Error()
	}
	return errOther, err.Error()
}

// remoteError is an error that came over the wire: its text as the remote
// node formatted it, and the actors sentinel it wrapped, if any.
type remoteError struct {
	text     string
	sentinel error
}

func (e *remoteError) Error() string { return e.text }
func (e *remoteError) Unwrap() error { return e.sentinel }

func errorFromCode(code byte, text string) error {
	var sentinel error
	switch code {
	case errNoActor:
		sentinel = actors.ErrNoActor
	case errTimeout:
		sentinel = actors.ErrTimeout
	case errUndeliverable:
		sentinel = actors.ErrUndeliverable
	}
	if sentinel != nil && text == sentinel.Error() {
		return sentinel
	}
	return &remoteError{text: text, sentinel: sentinel}
}

type heartbeat struct {
	interval uint64 // milliseconds
	spawner  uint64
	xkey     []byte
}

func appendHeartbeat(b []byte, hb *heartbeat) []byte {
	b = binary.AppendUvarint(b, hb.interval)
	b = binary.AppendUvarint(b, hb.spawner)
	b = binary.AppendUvarint(b, uint64(len(hb.xkey)))
	return append(b, hb.xkey...)
}

func parseHeartbeat(body []byte) (heartbeat, error) {
	r := reader{b: body}
	hb := heartbeat{interval: r.uvarint("heartbeat interval"), spawner: r.uvarint("spawner id"), xkey: r.bytes("session key", xkeySize)}
	switch {
	case r.err != nil:
		return hb, r.err
	case len(r.b) != 0:
		return hb, malformed("%d trailing bytes in heartbeat", len(r.b))
	case hb.interval == 0 || hb.interval > 1<<32:
		return hb, malformed("heartbeat interval %dms", hb.interval)
	case len(hb.xkey) != 0 && len(hb.xkey) != xkeySize:
		return hb, malformed("session key of %d bytes", len(hb.xkey))
	}
	return hb, nil
}

func appendAck(b []byte, seq uint64, gap bool) []byte {
	b = binary.AppendUvarint(b, seq)
	if gap {
		return append(b, ackGap)
	}
	return append(b, 0)
}

func parseAck(body []byte) (seq uint64, gap bool, err error) {
	r := reader{b: body}
	seq = r.uvarint("acknowledged seq")
	flags := r.byte("ack flags")
	switch {
	case r.err != nil:
		return 0, false, r.err
	case len(r.b) != 0 || flags&^ackGap != 0:
		return 0, false, malformed("ack body")
	}
	return seq, flags&ackGap != 0, nil
}
