package transport

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/marlon-go/marlon/actors"
)

type rich struct {
	F    float64
	Inf  float64
	V    []float64
	M    map[string]int
	B    []byte
	S    string
	At   time.Time
	Addr actors.Addr
}

func init() { Register[rich]("transport_test.rich") }

func TestEnvelopeRoundTrip(t *testing.T) {
	wrapped := fmt.Errorf("%w: node x is down", actors.ErrUndeliverable)
	at := time.Date(2025, 3, 4, 5, 6, 7, 89, time.UTC)
	for _, e := range []actors.Envelope{
		{From: actors.Addr{Node: "a", ID: 3}, To: actors.Addr{Node: "b", ID: 4}, Msg: ping{N: -5, Text: "hé\xff"}},
		{To: actors.Addr{Node: "b", ID: 1}, Msg: 42},
		{From: actors.Addr{Node: "a", ID: 1}, To: actors.Addr{Node: "b", ID: 2}, Msg: rich{F: 0.1, Inf: math.Inf(-1), V: []float64{1, 2.5}, M: map[string]int{"x": 1}, B: []byte{0, 1}, S: "s", At: at, Addr: actors.Addr{Node: "c", ID: 9}}, Corr: 77},
		{From: actors.Addr{Node: "a", ID: 1}, To: actors.Addr{Node: "b", ID: 2}, Corr: 77, Reply: true, Err: actors.ErrNoActor},
		{From: actors.Addr{Node: "a", ID: 1}, To: actors.Addr{Node: "b", ID: 2}, Corr: 78, Reply: true, Err: wrapped},
		{From: actors.Addr{Node: "a", ID: 1}, To: actors.Addr{Node: "b", ID: 2}, Msg: actors.Down{Actor: actors.Addr{Node: "a", ID: 1}, Reason: actors.Crashed, Detail: "boom"}},
		{From: actors.Addr{Node: "a", ID: 1}, To: actors.Addr{Node: "b", ID: 2}},
	} {
		var payload bytes.Buffer
		name := ""
		if e.Msg != nil {
			var err error
			if name, err = encodePayload(&payload, e.Msg); err != nil {
				t.Fatal(err)
			}
		}
		recs, err := parseRecords(appendEnvelope(nil, &e, name, payload.Bytes()), "a", "b", nil)
		if err != nil || len(recs) != 1 {
			t.Fatalf("%+v: %v %v", e, recs, err)
		}
		got := recs[0].env
		if recs[0].typeName != nil {
			if got.Msg, err = decodePayload(recs[0].typeName, recs[0].payload); err != nil {
				t.Fatal(err)
			}
		}
		wantErr, gotErr := e.Err, got.Err
		e.Err, got.Err = nil, nil
		if !reflect.DeepEqual(got, e) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, e)
		}
		switch {
		case wantErr == nil && gotErr != nil, wantErr != nil && gotErr == nil:
			t.Errorf("error %v came back as %v", wantErr, gotErr)
		case wantErr == actors.ErrNoActor && gotErr != actors.ErrNoActor:
			t.Errorf("sentinel %v came back as %#v", wantErr, gotErr)
		case wantErr != nil && (gotErr.Error() != wantErr.Error() || !errors.Is(gotErr, actors.ErrUndeliverable) && errors.Is(wantErr, actors.ErrUndeliverable)):
			t.Errorf("error %v came back as %v", wantErr, gotErr)
		}
	}
	if _, err := encodePayload(&bytes.Buffer{}, unregistered{}); !errors.Is(err, ErrUnregistered) {
		t.Errorf("unregistered type: %v", err)
	}
	if _, err := decodePayload([]byte("nope"), nil); !errors.Is(err, ErrUnregistered) {
		t.Errorf("unknown type name: %v", err)
	}
}

func TestErrorCodes(t *testing.T) {
	for _, err := range []error{actors.ErrTimeout, actors.ErrNoActor, actors.ErrUndeliverable} {
		code, text := errorCode(err)
		if got := errorFromCode(code, text); got != err {
			t.Errorf("%v came back as %v", err, got)
		}
		wrapped := fmt.Errorf("ctx: %w", err)
		code, text = errorCode(wrapped)
		if got := errorFromCode(code, text); !errors.Is(got, err) || got.Error() != wrapped.Error() {
			t.Errorf("%v came back as %v", wrapped, got)
		}
	}
	code, text := errorCode(errors.New("plain"))
	if got := errorFromCode(code, text); got.Error() != "plain" || errors.Is(got, actors.ErrUndeliverable) {
		t.Errorf("plain error came back as %v", got)
	}
}

func TestRegisterConflicts(t *testing.T) {
	for _, f := range []func(){
		func() { Register[struct{ X int }]("transport_test.ping") },
		func() { Register[ping]("transport_test.ping2") },
		func() { Register[struct{ Y int }]("") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("Register did not panic")
				}
			}()
			f()
		}()
	}
}

// testNode is enough of a Node to seal frames.
func testNode(t testing.TB, auth Auth) *Node {
	k, err := GenerateKey("a")
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{cfg: Config{Key: k}, name: "a", auth: auth}
	me, err := n.newSelf(1)
	if err != nil {
		t.Fatal(err)
	}
	n.me.Store(me)
	return n
}

// seedFrames are valid frames of every kind and authentication.
func seedFrames(t testing.TB) [][]byte {
	n := testNode(t, AuthSession)
	var body []byte
	for _, e := range []actors.Envelope{
		{From: actors.Addr{Node: "a", ID: 3}, To: actors.Addr{Node: "b", ID: 4}, Msg: ping{N: 1, Text: "x"}},
		{To: actors.Addr{Node: "b", ID: 4}, Msg: 7, Corr: 9},
		{From: actors.Addr{Node: "a", ID: 3}, To: actors.Addr{Node: "b", ID: 4}, Corr: 9, Reply: true, Err: actors.ErrTimeout},
		{From: actors.Addr{Node: "a", ID: 3}, To: actors.Addr{Node: "b", ID: 4}, Msg: actors.Down{Actor: actors.Addr{Node: "a", ID: 3}, Reason: actors.Stopped}},
	} {
		var payload bytes.Buffer
		name := ""
		if e.Msg != nil {
			name, _ = encodePayload(&payload, e.Msg)
		}
		body = appendEnvelope(body, &e, name, payload.Bytes())
	}
	body = appendWatch(body, recWatch, 4, 3)
	body = appendWatch(body, recUnwatch, 4, 3)
	var frames [][]byte
	for _, auth := range []authKind{authNone, authSig, authMAC} {
		data := header{kind: kindData, auth: auth, from: "a", fromEpoch: 1, to: "b", toEpoch: 2, gen: 1, seq: 1}
		f, _ := n.seal(n.cur(), &data, body, make([]byte, 32))
		frames = append(frames, f)
		ack := header{kind: kindAck, auth: auth, from: "a", fromEpoch: 1, to: "b", toEpoch: 2, gen: 1, seq: 5}
		f, _ = n.seal(n.cur(), &ack, appendAck(nil, 3, true), make([]byte, 32))
		frames = append(frames, f)
	}
	hb := header{kind: kindHeartbeat, auth: authSig, from: "a", fromEpoch: 1, seq: 1}
	f, _ := n.seal(n.cur(), &hb, appendHeartbeat(nil, &heartbeat{interval: 1000, spawner: 1, xkey: n.cur().sess.public[:]}), nil)
	frames = append(frames, f)
	bye := header{kind: kindGoodbye, auth: authSig, from: "a", fromEpoch: 1, seq: 2}
	f, _ = n.seal(n.cur(), &bye, nil, nil)
	frames = append(frames, f)
	down := header{kind: kindDown, auth: authSig, from: "a", fromEpoch: 1, to: "b", toEpoch: 2}
	f, _ = n.seal(n.cur(), &down, nil, nil)
	return append(frames, f)
}

// decodeAll runs every decoder a received frame goes through.
func decodeAll(data []byte) {
	f, err := parseFrame(data)
	if err != nil {
		return
	}
	switch f.kind {
	case kindData:
		recs, _ := parseRecords(f.body, f.from, "b", nil)
		for _, r := range recs {
			if r.typeName != nil {
				_, _ = decodePayload(r.typeName, r.payload)
			}
		}
	case kindAck:
		_, _, _ = parseAck(f.body)
	case kindHeartbeat:
		_, _ = parseHeartbeat(f.body)
	}
}

func TestSeedFramesDecode(t *testing.T) {
	for i, frame := range seedFrames(t) {
		f, err := parseFrame(frame)
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		switch f.kind {
		case kindData:
			recs, err := parseRecords(f.body, "a", "b", nil)
			if err != nil || len(recs) != 6 {
				t.Fatalf("seed %d: %d records, %v", i, len(recs), err)
			}
		case kindAck:
			if seq, gap, err := parseAck(f.body); err != nil || seq != 3 || !gap {
				t.Fatalf("seed %d: ack %d %v %v", i, seq, gap, err)
			}
		case kindHeartbeat:
			if hb, err := parseHeartbeat(f.body); err != nil || hb.interval != 1000 || len(hb.xkey) != xkeySize {
				t.Fatalf("seed %d: heartbeat %+v %v", i, hb, err)
			}
		}
		// Every prefix of a valid frame is rejected or decodes without
		// panicking.
		for end := range frame {
			decodeAll(frame[:end])
		}
	}
}

// FuzzDecodeFrame feeds arbitrary bytes to the frame, record, ack,
// heartbeat and payload decoders: they must never panic. Its seeds are valid
// frames of every kind, so `go test` runs it briefly.
func FuzzDecodeFrame(f *testing.F) {
	for _, frame := range seedFrames(f) {
		f.Add(frame)
	}
	f.Add([]byte{})
	f.Add([]byte{frameMagic, wireVersion, byte(kindData), byte(authNone)})
	f.Fuzz(func(t *testing.T, data []byte) { decodeAll(data) })
}
