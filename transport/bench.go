package transport

import (
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/marlon-go/marlon/actors"
)

// BenchOptions configure Bench.
type BenchOptions struct {
	// Messages is the number of one-way messages timed; default 200000.
	Messages int
	// Requests is the number of sequential request/reply round trips
	// timed; default 2000.
	Requests int
	// PayloadBytes is the size of each message's payload; default 64.
	PayloadBytes int
	// Auth is the nodes' authentication; default AuthSession.
	Auth Auth
	// Rounds is how many times each path is measured, alternating raw and
	// remote; the best round of each counts. Default 3.
	Rounds int
}

// BenchResult compares the transport with raw NATS on the same embedded
// server, in one process: one-way throughput of PayloadBytes payloads (an
// actor sending []byte messages to an actor on another node, against a
// nats.go publisher and subscriber), and the round trip of a request (an
// actor's request answered by an actor on another node, against
// nats.Conn.Request answered by a subscriber).
type BenchResult struct {
	Auth         string `json:"auth"`
	PayloadBytes int    `json:"payload_bytes"`
	Messages     int    `json:"messages"`
	Requests     int    `json:"requests"`
	Rounds       int    `json:"rounds"`

	RemotePerSec float64 `json:"remote_msgs_per_sec"`
	RawPerSec    float64 `json:"raw_nats_msgs_per_sec"`
	// ThroughputRatio is RemotePerSec / RawPerSec (target: at least 0.5).
	ThroughputRatio float64 `json:"throughput_ratio"`

	RemoteRequestMicros float64 `json:"remote_request_us"`
	RawRequestMicros    float64 `json:"raw_nats_request_us"`
	// LatencyRatio is RemoteRequestMicros / RawRequestMicros (target: at
	// most 1.5).
	LatencyRatio float64 `json:"latency_ratio"`
}

// Bench measures the transport against raw NATS; see BenchResult. It takes
// about a second per round with the default sizes.
func Bench(o BenchOptions) (BenchResult, error) {
	if o.Messages <= 0 {
		o.Messages = 200_000
	}
	if o.Requests <= 0 {
		o.Requests = 2_000
	}
	if o.PayloadBytes <= 0 {
		o.PayloadBytes = 64
	}
	if o.Rounds <= 0 {
		o.Rounds = 3
	}
	r := BenchResult{Auth: o.Auth.String(), PayloadBytes: o.PayloadBytes, Messages: o.Messages, Requests: o.Requests, Rounds: o.Rounds}
	srv, err := StartServer(ServerOptions{})
	if err != nil {
		return r, err
	}
	defer srv.Shutdown()
	url := srv.ClientURL()
	payload := make([]byte, o.PayloadBytes)

	a, b, err := benchNodes(url, o.Auth)
	if err != nil {
		return r, err
	}
	defer a.Close()
	defer b.Close()
	best := func(d *time.Duration, got time.Duration) {
		if *d == 0 || got < *d {
			*d = got
		}
	}
	var raw, rawRTT, remote, remoteRTT time.Duration
	for range o.Rounds {
		d, err := rawThroughput(url, payload, o.Messages)
		if err != nil {
			return r, err
		}
		best(&raw, d)
		best(&remote, remoteThroughput(a, b, payload, o.Messages))
		if d, err = rawRequests(url, payload, o.Requests); err != nil {
			return r, err
		}
		best(&rawRTT, d)
		best(&remoteRTT, remoteRequests(a, b, payload, o.Requests))
	}
	r.RawPerSec = float64(o.Messages) / raw.Seconds()
	r.RemotePerSec = float64(o.Messages) / remote.Seconds()
	r.ThroughputRatio = r.RemotePerSec / r.RawPerSec
	r.RawRequestMicros = float64(rawRTT.Microseconds()) / float64(o.Requests)
	r.RemoteRequestMicros = float64(remoteRTT.Microseconds()) / float64(o.Requests)
	r.LatencyRatio = r.RemoteRequestMicros / r.RawRequestMicros
	return r, nil
}

func benchNodes(url string, auth Auth) (*Node, *Node, error) {
	trusted := Trusted{}
	keys := map[string]*Key{}
	for _, name := range []string{"bench-a", "bench-b"} {
		k, err := GenerateKey(name)
		if err != nil {
			return nil, nil, err
		}
		keys[name] = k
		trusted.Add(k)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := func(name string) (*Node, error) {
		return Start(Config{Name: name, URL: url, Key: keys[name], Trusted: trusted, Auth: auth, Prefix: "marlon.bench", Logger: quiet})
	}
	a, err := start("bench-a")
	if err != nil {
		return nil, nil, err
	}
	b, err := start("bench-b")
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(a.Members()) < 2 || len(b.Members()) < 2 {
		if time.Now().After(deadline) {
			a.Close()
			b.Close()
			return nil, nil, fmt.Errorf("transport: bench nodes did not see each other within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	return a, b, nil
}

func rawConns(url string) (*nats.Conn, *nats.Conn, error) {
	pub, err := nats.Connect(url)
	if err != nil {
		return nil, nil, err
	}
	sub, err := nats.Connect(url)
	if err != nil {
		pub.Close()
		return nil, nil, err
	}
	return pub, sub, nil
}

func rawThroughput(url string, payload []byte, count int) (time.Duration, error) {
	pub, sub, err := rawConns(url)
	if err != nil {
		return 0, err
	}
	defer pub.Close()
	defer sub.Close()
	var got atomic.Int64
	done := make(chan struct{})
	s, err := sub.Subscribe("bench.raw", func(*nats.Msg) {
		if got.Add(1) == int64(count) {
			close(done)
		}
	})
	if err != nil {
		return 0, err
	}
	if err := s.SetPendingLimits(-1, -1); err != nil {
		return 0, err
	}
	if err := sub.Flush(); err != nil {
		return 0, err
	}
	start := time.Now()
	for range count {
		if err := pub.Publish("bench.raw", payload); err != nil {
			return 0, err
		}
	}
	if err := pub.Flush(); err != nil {
		return 0, err
	}
	<-done
	return time.Since(start), nil
}

func rawRequests(url string, payload []byte, count int) (time.Duration, error) {
	req, rep, err := rawConns(url)
	if err != nil {
		return 0, err
	}
	defer req.Close()
	defer rep.Close()
	if _, err := rep.Subscribe("bench.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		return 0, err
	}
	if err := rep.Flush(); err != nil {
		return 0, err
	}
	var start time.Time
	for i := -count / 10; i < count; i++ { // the first tenth warms up
		if i == 0 {
			start = time.Now()
		}
		if _, err := req.Request("bench.echo", payload, 10*time.Second); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// remoteThroughput times count messages from an actor on a to one on b.
// The sender keeps at most 16000 messages or 4 MiB (and at least 4000
// messages) unconfirmed: the receiver confirms every 1000, as an actor
// protocol must when a producer can outrun the receiver.
func remoteThroughput(a, b *Node, payload []byte, count int) time.Duration {
	const chunk = 1000
	window := max(4*chunk, min(16*chunk, (4<<20)/len(payload)))
	done := make(chan struct{})
	got := 0
	sink := b.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if _, ok := msg.([]byte); !ok {
			return
		}
		got++
		if got%chunk == 0 {
			ctx.Send(ctx.Sender(), got)
		}
		if got == count {
			close(done)
		}
	}))
	sent, confirmed := 0, 0
	source := a.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		switch m := msg.(type) {
		case bool:
		case int:
			confirmed = m
		default:
			return
		}
		for sent < count && sent-confirmed < window {
			ctx.Send(sink, payload)
			sent++
		}
	}))
	start := time.Now()
	a.Runtime().Send(source, true)
	<-done
	return time.Since(start)
}

func remoteRequests(a, b *Node, payload []byte, count int) time.Duration {
	echo := b.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if _, ok := msg.([]byte); ok {
			ctx.Reply(ctx.ReplyTo(), msg)
		}
	}))
	done := make(chan time.Duration)
	a.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if _, ok := msg.(actors.Started); !ok {
			return
		}
		i := -count / 10 // the first tenth warms up
		var start time.Time
		var ask func(ctx actors.Context)
		ask = func(ctx actors.Context) {
			if i == 0 {
				start = time.Now()
			}
			if i == count {
				done <- time.Since(start)
				return
			}
			i++
			ctx.Request(echo, payload, actors.Forever, func(ctx actors.Context, _ any, _ error) { ask(ctx) })
		}
		ask(ctx)
	}))
	return <-done
}
