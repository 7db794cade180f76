package transport

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/ed25519"
	"github.com/nats-io/nats.go"

	"github.com/marlon-go/marlon/actors"
)

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// signedFrame builds a frame signed with key, whoever h claims to be from.
func signedFrame(h header, body []byte, key *Key) []byte {
	h.auth = authSig
	b := appendHeader(nil, &h)
	b = append(b, body...)
	return append(b, ed25519.Sign(key.private, b)...)
}

// TestRejectedFrames injects forged, replayed, unsigned, truncated and
// otherwise bad frames into node b's subject: each is rejected, counted
// against the sender it claims, logged once per sender, and never reaches
// an actor; a's genuine traffic still flows afterwards.
func TestRejectedFrames(t *testing.T) {
	c := newCluster(t, "a", "b", "c")
	evil, err := GenerateKey("a") // claims to be a, not trusted
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := GenerateKey("evil")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	// A long heartbeat means a long retransmission timeout: a late ack
	// must not make a resend a frame, which b would count as replayed.
	a := c.start(t, "a", "", func(cfg *Config) { cfg.Heartbeat = 5 * time.Second })
	b := c.start(t, "b", a.Server().ClientURL(), func(cfg *Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	waitMembers(t, 2, a, b)

	var mu sync.Mutex
	var got []int
	sink := b.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if p, ok := msg.(ping); ok {
			mu.Lock()
			got = append(got, p.N)
			mu.Unlock()
		}
	}))
	gotCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}

	// A spy on the NATS server captures a's frames to b.
	spy, err := nats.Connect(a.Server().ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Close()
	captured := make(chan []byte, 64)
	subject := "marlon.n.b"
	if _, err := spy.Subscribe(subject, func(m *nats.Msg) {
		if f, err := parseFrame(m.Data); err == nil && f.kind == kindData {
			captured <- bytes.Clone(m.Data)
		}
	}); err != nil {
		t.Fatal(err)
	}
	beats := make(chan []byte, 64)
	if _, err := spy.Subscribe("marlon.hb", func(m *nats.Msg) {
		if f, err := parseFrame(m.Data); err == nil && f.kind == kindHeartbeat && f.from == "a" {
			select {
			case beats <- bytes.Clone(m.Data):
			default:
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}

	a.Runtime().Send(sink, ping{N: 1})
	eventually(t, 10*time.Second, "genuine message", func() bool { return gotCount() == 1 })
	var genuine []byte
	select {
	case genuine = <-captured:
	case <-time.After(10 * time.Second):
		t.Fatal("no data frame captured")
	}
	gf, err := parseFrame(genuine)
	if err != nil || gf.auth != authMAC {
		t.Fatalf("captured frame: %v, auth %d", err, gf.auth)
	}

	a.heartbeat()
	var oldBeat []byte
	select {
	case oldBeat = <-beats:
	case <-time.After(20 * time.Second):
		t.Fatal("no heartbeat of a captured")
	}
	// A heartbeat is accepted once: wait for a's next one, after which
	// the captured one is old.
	select {
	case <-beats:
	case <-time.After(20 * time.Second):
		t.Fatal("no second heartbeat of a")
	}

	// The data frame accepted already, sent again: a duplicate (a resend
	// after a lost ack looks the same), harmless under at-most-once
	// delivery: counted, not delivered, not a rejection.
	if err := spy.Publish(subject, genuine); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "duplicate counted", func() bool { return b.Metrics().Duplicates == 1 })
	if m := b.Metrics(); m.Rejected.Total() != 0 || m.Peers["a"].Duplicates != 1 {
		t.Fatalf("a duplicate: rejections %+v, a's duplicates %d", m.Rejected, m.Peers["a"].Duplicates)
	}

	forgedBody := appendEnvelope(nil, &actors.Envelope{To: sink}, "transport_test.ping", mustCBOR(t, ping{N: 666}))
	h := header{kind: kindData, from: "a", fromEpoch: a.Epoch(), to: "b", toEpoch: b.Epoch(), gen: gf.gen, seq: gf.seq + 1}
	tampered := bytes.Clone(genuine)
	tampered[len(tampered)-macTrailer-1] ^= 1 // last body byte

	wrongSender := appendEnvelope(nil, &actors.Envelope{From: actors.Addr{Node: "c", ID: 5}, To: sink}, "transport_test.ping", mustCBOR(t, ping{N: 666}))
	unsigned := appendHeader(nil, &h)
	unsigned = append(unsigned, forgedBody...)

	hb := header{kind: kindHeartbeat, from: "a", fromEpoch: a.Epoch(), seq: 1 << 40}
	hbBody := appendHeartbeat(nil, &heartbeat{interval: 50})
	goodbye := header{kind: kindGoodbye, from: "a", fromEpoch: a.Epoch(), seq: 1 << 40}

	for _, step := range []struct {
		name    string
		subject string
		frame   []byte
		check   func(r Rejections) bool // all rejections so far
	}{
		{"replayed heartbeat", "marlon.hb", oldBeat, func(r Rejections) bool { return r.Replayed == 1 }},
		{"truncated header", subject, genuine[:10], func(r Rejections) bool { return r.Malformed == 1 }},
		{"truncated trailer", subject, genuine[:len(genuine)-1], func(r Rejections) bool { return r.Total() == 3 }},
		{"tampered body", subject, tampered, func(r Rejections) bool { return r.Total() == 4 && r.BadSignature >= 1 }},
		{"unsigned", subject, unsigned, func(r Rejections) bool { return r.Unsigned == 1 }},
		{"signed by an untrusted key", subject, signedFrame(h, forgedBody, evil), func(r Rejections) bool { return r.Total() == 6 }},
		{"signed by another trusted node", subject, signedFrame(h, forgedBody, c.keys["c"]), func(r Rejections) bool { return r.Total() == 7 }},
		{"envelope from another node's actor", subject, signedFrame(h, wrongSender, c.keys["a"]), func(r Rejections) bool { return r.WrongSender == 1 }},
		{"forged heartbeat", "marlon.hb", signedFrame(hb, hbBody, c.keys["c"]), func(r Rejections) bool { return r.Total() == 9 }},
		{"forged goodbye", "marlon.hb", signedFrame(goodbye, nil, evil), func(r Rejections) bool { return r.Total() == 10 }},
		{"unknown sender", subject, signedFrame(header{kind: kindData, from: "evil", fromEpoch: 1, to: "b", toEpoch: b.Epoch(), gen: 1, seq: 1}, forgedBody, stranger),
			func(r Rejections) bool { return r.UnknownSigner == 1 }},
		{"garbage", subject, []byte("hello"), func(r Rejections) bool { return r.Malformed == 2 }},
	} {
		if err := spy.Publish(step.subject, step.frame); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, step.name+" rejected and counted", func() bool { return step.check(b.Metrics().Rejected) })
	}
	m := b.Metrics()
	if r := m.Rejected; r.Total() != 12 || r.BadSignature != 6 {
		t.Errorf("rejections %+v, want 12 with 6 bad signatures", r)
	}
	if r := m.Peers["a"].Rejected; r.Total() != 9 || r.Replayed != 1 || r.Unsigned != 1 || r.WrongSender != 1 {
		t.Errorf("rejections of frames claiming to be from a: %+v", r)
	}
	if m.Peers["evil"].Rejected.UnknownSigner != 1 || m.Peers["<unknown>"].Rejected.Malformed != 2 {
		t.Errorf("per-sender rejections %+v", m.Peers)
	}

	// Genuine traffic still flows; nothing forged was delivered, and the
	// goodbye forged for a did not make b drop it.
	a.Runtime().Send(sink, ping{N: 2})
	eventually(t, 10*time.Second, "genuine message after the attacks", func() bool { return gotCount() == 2 })
	mu.Lock()
	if got[0] != 1 || got[1] != 2 {
		t.Errorf("sink received %v, want [1 2]", got)
	}
	mu.Unlock()
	if len(b.Members()) != 2 {
		t.Errorf("members after a forged goodbye: %v", b.Members())
	}
	if n := strings.Count(logs.String(), "sender=a "); n != 1 {
		t.Errorf("rejections from a logged %d times, want once:\n%s", n, logs.String())
	}
}

func mustCBOR(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := encodePayload(&buf, v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestAuthModes runs a node that signs every frame with one that uses
// sessions, and checks that a node with authentication off is not heard.
func TestAuthModes(t *testing.T) {
	c := newCluster(t, "a", "b", "off")
	a := c.start(t, "a", "", func(cfg *Config) { cfg.Auth = AuthSignFrames })
	url := a.Server().ClientURL()
	b := c.start(t, "b", url)
	waitMembers(t, 2, a, b)
	srv := b.Runtime().Spawn(&deferredServer{})
	ev := newEvents()
	a.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if _, ok := msg.(actors.Started); ok {
			ctx.Request(srv, ping{N: 5}, 1e4, func(ctx actors.Context, reply any, err error) { ev.add("reply %v %v", reply, err) })
		}
	}))
	ev.waitEq(t, 10*time.Second, "reply {10 } <nil>")

	off := c.start(t, "off", url, func(cfg *Config) { cfg.Auth = AuthOff })
	waitMembers(t, 3, off) // it accepts anything
	off.Runtime().Send(srv, ping{N: 1})
	eventually(t, 10*time.Second, "unsigned frames rejected", func() bool {
		return b.Metrics().Peers["off"].Rejected.Unsigned > 0 && a.Metrics().Peers["off"].Rejected.Unsigned > 0
	})
	for _, m := range b.Members() {
		if m.Name == "off" {
			t.Fatalf("b admitted a node with authentication off: %v", b.Members())
		}
	}
}
