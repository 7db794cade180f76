package coordination

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/marlon-go/marlon/actors"
)

// BucketConfig configures the JetStream KV bucket of the live stores.
type BucketConfig struct {
	// Name of the bucket; default "marlon".
	Name string
	// Replicas: 1 (one server, not highly available) or 3 (a cluster of
	// three or more servers; survives the loss of one); default 1.
	Replicas int
	// History is the revisions kept per key, 1 to 64; default 1.
	History int
	// MarkerTTL is how long the marker of an expired key stays
	// (LimitMarkerTTL); at least 1s; default 10s. It enables per-key TTLs.
	MarkerTTL time.Duration
	// Memory keeps the bucket in memory instead of files (faster; lost
	// when every replica's server stops).
	Memory bool
}

// Bucket is an opened KV bucket and the connection the live stores use.
type Bucket struct {
	Name string
	KV   jetstream.KeyValue
	JS   jetstream.JetStream
	NC   *nats.Conn
}

// OpenBucket creates the coordination bucket on the JetStream behind nc, or
// opens it if it exists with the same configuration. It blocks (it is
// called at a process's edge, before actors use the bucket).
//
// nc must not buffer publishes while it reconnects (connect with
// nats.ReconnectBufSize(-1)): a buffered write that timed out would be
// applied when the connection comes back, long after its writer was told
// it may not have been; without the buffer it fails at once and the member
// knows it is cut off.
func OpenBucket(ctx context.Context, nc *nats.Conn, cfg BucketConfig) (*Bucket, error) {
	if nc.Opts.ReconnectBufSize >= 0 {
		return nil, fmt.Errorf("%w: the NATS connection buffers publishes while reconnecting: connect with nats.ReconnectBufSize(-1)", ErrInvalid)
	}
	if cfg.Name == "" {
		cfg.Name = "marlon"
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.History == 0 {
		cfg.History = 1
	}
	if cfg.MarkerTTL == 0 {
		cfg.MarkerTTL = 10 * time.Second
	}
	switch {
	case !validName(cfg.Name):
		return nil, fmt.Errorf("%w: bucket name %q: 1 to 64 letters, digits, '-' or '_'", ErrInvalid, cfg.Name)
	case cfg.Replicas < 1 || cfg.Replicas > 5:
		return nil, fmt.Errorf("%w: bucket replicas %d: 1 to 5", ErrInvalid, cfg.Replicas)
	case cfg.History < 1 || cfg.History > 64:
		return nil, fmt.Errorf("%w: bucket history %d: 1 to 64", ErrInvalid, cfg.History)
	case cfg.MarkerTTL < time.Second:
		return nil, fmt.Errorf("%w: bucket marker TTL %v: at least 1s", ErrInvalid, cfg.MarkerTTL)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	kc := jetstream.KeyValueConfig{Bucket: cfg.Name, Replicas: cfg.Replicas, History: uint8(cfg.History), LimitMarkerTTL: cfg.MarkerTTL}
	if cfg.Memory {
		kc.Storage = jetstream.MemoryStorage
	}
	kv, err := js.CreateKeyValue(ctx, kc)
	if err != nil {
		return nil, fmt.Errorf("coordination: bucket %s: %w", cfg.Name, err)
	}
	return &Bucket{Name: cfg.Name, KV: kv, JS: js, NC: nc}, nil
}

// NewLiveStore returns a member's store for the live runtime rt: it
// performs the protocol's requests on b with nats.go in goroutines and
// posts the results back to itself as messages, so its turns never block.
// Virtual time units (timeouts, TTLs) last rt's Scale if rt has one
// (actors.Live does), else 1ms; a TTL is rounded up to whole seconds, at
// least one (JetStream's per-message TTL has a resolution of a second).
//
// Writes to one key are made one after another, in the order they were
// asked for; writes to different keys and reads run concurrently. Stop the
// store actor (or close the connection) to end its watches.
//
// Linearizable reads go to the stream leader ($JS.API.STREAM.MSG.GET),
// eventual reads to any replica (the KV's direct get) unless the store's
// cache answers.
func NewLiveStore(rt actors.Runtime, b *Bucket, cfg StoreConfig) *Store {
	unit := time.Millisecond
	if sc, ok := rt.(interface{ Scale() time.Duration }); ok {
		unit = sc.Scale()
	}
	return newStore(cfg, &liveBackend{rt: rt, b: b, unit: unit, pending: map[uint64]func(actors.Context, any){},
		queued: map[string][]func(){}, watches: map[WatchID]*liveWatch{}})
}

type liveBackend struct {
	rt     actors.Runtime
	b      *Bucket
	s      *Store
	self   actors.Addr
	unit   time.Duration
	base   context.Context
	cancel context.CancelFunc

	next       uint64
	pending    map[uint64]func(actors.Context, any)
	queued     map[string][]func() // writes waiting for the one in flight on their key
	watches    map[WatchID]*liveWatch
	gen        uint64
	reconnects uint64
}

type liveWatch struct {
	pattern string
	gen     uint64 // events of older goroutines are dropped
	cancel  context.CancelFunc
}

// Messages from the backend's goroutines to the store actor.
type (
	liveDone struct {
		ID     uint64
		Result any
	}
	liveEvent struct {
		ID    WatchID
		Gen   uint64
		Entry Entry
		Ready bool
	}
	liveReach struct{ OK bool }
	liveCheck struct{}
)

func (b *liveBackend) start(ctx actors.Context, s *Store) {
	b.s, b.self = s, ctx.Self()
	b.base, b.cancel = context.WithCancel(context.Background())
	b.reconnects = b.b.NC.Stats().Reconnects
	ctx.After(s.cfg.ProbeEvery, liveCheck{})
}

// check looks at the connection (without I/O): while it is down the member
// is isolated; after it reconnected, the watches are opened again from the
// last revision they delivered, because a KV watcher does not always
// resume by itself after a server restart (nats.go issue 1094).
func (b *liveBackend) check(ctx actors.Context) {
	if b.b.NC.Status() != nats.CONNECTED {
		b.s.reachable(ctx, false)
	}
	if r := b.b.NC.Stats().Reconnects; r != b.reconnects {
		b.reconnects = r
		b.rejoined(ctx)
	}
}

// rejoined reopens every watch from the revision after the last it
// delivered.
func (b *liveBackend) rejoined(ctx actors.Context) {
	for _, id := range sortedKeys(b.watches) {
		b.open(id)
	}
}

func (b *liveBackend) stop() {
	if b.cancel != nil {
		b.cancel()
	}
}

func (b *liveBackend) dur(d float64) time.Duration {
	if math.IsInf(d, 1) || d*float64(b.unit) > float64(math.MaxInt64) {
		return math.MaxInt64
	}
	return time.Duration(d * float64(b.unit))
}

// ttl converts a TTL to JetStream's: whole seconds, at least one.
func (b *liveBackend) ttl(d float64) time.Duration {
	if d <= 0 {
		return 0
	}
	t := b.dur(d)
	return max(time.Second, (t+time.Second-1)/time.Second*time.Second)
}

// run runs f in a goroutine with the request timeout and calls done with
// its result inside a later turn of the store.
func (b *liveBackend) run(f func(ctx context.Context) any, done func(actors.Context, any)) {
	b.next++
	id := b.next
	b.pending[id] = done
	base, timeout, rt, self := b.base, b.dur(b.s.cfg.Timeout), b.rt, b.self
	go func() {
		ctx, cancel := context.WithTimeout(base, timeout)
		r := f(ctx)
		cancel()
		rt.Send(self, liveDone{ID: id, Result: r})
	}()
}

func (b *liveBackend) get(ctx actors.Context, g Get, done func(actors.Context, GetReply)) {
	bucket, kv, nc := b.b.Name, b.b.KV, b.b.NC
	b.run(func(c context.Context) any {
		if g.Level == Eventual {
			e, err := kv.Get(c, g.Key)
			if err != nil {
				return GetReply{Err: mapLiveErr(err, Always)}
			}
			return GetReply{Entry: Entry{Key: g.Key, Value: e.Value(), Revision: e.Revision(), Op: OpPut}}
		}
		return leaderGet(c, nc, bucket, g.Key)
	}, func(ctx actors.Context, r any) { done(ctx, r.(GetReply)) })
}

// leaderGet reads key's last revision from the stream leader.
func leaderGet(ctx context.Context, nc *nats.Conn, bucket, key string) GetReply {
	req, _ := json.Marshal(struct {
		LastBy string `json:"last_by_subj"`
	}{"$KV." + bucket + "." + key})
	msg, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return GetReply{Err: mapLiveErr(err, Always)}
	}
	var resp struct {
		Error *jetstream.APIError `json:"error"`
		Msg   *struct {
			Seq    uint64 `json:"seq"`
			Header []byte `json:"hdrs"`
			Data   []byte `json:"data"`
		} `json:"message"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return GetReply{Err: fmt.Errorf("%w: leader get: %v", ErrUnavailable, err)}
	}
	if resp.Error != nil {
		if resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound {
			return GetReply{Err: ErrNotFound}
		}
		return GetReply{Err: mapLiveErr(resp.Error, Always)}
	}
	if resp.Msg == nil {
		return GetReply{Err: fmt.Errorf("%w: leader get: empty answer", ErrUnavailable)}
	}
	e := Entry{Key: key, Value: resp.Msg.Data, Revision: resp.Msg.Seq, Op: OpPut}
	if len(resp.Msg.Header) > 0 {
		if h, err := nats.DecodeHeadersMsg(resp.Msg.Header); err == nil {
			e.Op = headerOp(h)
		}
	}
	if e.Op != OpPut {
		return GetReply{Entry: e, Err: ErrNotFound}
	}
	return GetReply{Entry: e}
}

// headerOp reads the operation of a KV message from its headers.
func headerOp(h nats.Header) Op {
	switch h.Get("KV-Operation") {
	case "DEL", "PURGE":
		return OpDelete
	}
	switch h.Get(jetstream.MarkerReasonHeader) {
	case "MaxAge":
		return OpExpired
	case "Remove", "Purge":
		return OpDelete
	}
	return OpPut
}

func (b *liveBackend) write(ctx actors.Context, w Write, done func(actors.Context, WriteReply)) {
	start := func() {
		b.run(func(c context.Context) any { return b.do(c, w) }, func(ctx actors.Context, r any) {
			done(ctx, r.(WriteReply))
			b.nextWrite(w.Key)
		})
	}
	if q, busy := b.queued[w.Key]; busy {
		b.queued[w.Key] = append(q, start)
		return
	}
	b.queued[w.Key] = nil
	start()
}

// nextWrite starts the next write queued on key, if any.
func (b *liveBackend) nextWrite(key string) {
	q := b.queued[key]
	if len(q) == 0 {
		delete(b.queued, key)
		return
	}
	b.queued[key] = q[1:]
	q[0]()
}

// do performs w (in a goroutine).
func (b *liveBackend) do(c context.Context, w Write) WriteReply {
	kv, js := b.b.KV, b.b.JS
	subject := "$KV." + b.b.Name + "." + w.Key
	ttl := b.ttl(w.TTL)
	var opts []jetstream.PublishOpt
	if ttl > 0 {
		opts = append(opts, jetstream.WithMsgTTL(ttl))
	}
	switch {
	case w.Delete:
		// nats.go's kv.Delete does not return the tombstone's revision: the
		// same message, published here, does.
		m := &nats.Msg{Subject: subject, Header: nats.Header{}}
		m.Header.Set("KV-Operation", "DEL")
		if w.Expect.Cond == AtRevision {
			opts = append(opts, jetstream.WithExpectLastSequencePerSubject(w.Expect.Revision))
		}
		ack, err := js.PublishMsg(c, m, opts...)
		if err != nil {
			return WriteReply{Err: mapLiveErr(err, w.Expect.Cond)}
		}
		return WriteReply{Revision: ack.Sequence}
	case w.Expect.Cond == Absent:
		var copts []jetstream.KVCreateOpt
		if ttl > 0 {
			copts = append(copts, jetstream.KeyTTL(ttl))
		}
		rev, err := kv.Create(c, w.Key, w.Value, copts...)
		return WriteReply{Revision: rev, Err: mapLiveErr(err, Absent)}
	case w.Expect.Cond == AtRevision:
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(w.Expect.Revision))
	case w.Expect.Cond == Guarded:
		opts = append(opts, jetstream.WithExpectLastSequenceForSubject(w.Expect.Revision, "$KV."+b.b.Name+"."+w.Expect.Key))
	}
	ack, err := js.PublishMsg(c, &nats.Msg{Subject: subject, Data: w.Value, Header: nats.Header{}}, opts...)
	if err != nil {
		return WriteReply{Err: mapLiveErr(err, w.Expect.Cond)}
	}
	return WriteReply{Revision: ack.Sequence}
}

// mapLiveErr maps nats.go's errors onto the protocol's. A wrong last
// sequence is the failed condition of the write: cond says which.
func mapLiveErr(err error, cond Cond) error {
	var api *jetstream.APIError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &api) && (api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant):
		// (jetstream.ErrKeyExists has the same code: check the condition.)
		switch cond {
		case Absent:
			return ErrExists
		case Guarded:
			return ErrFenced
		}
		return ErrRevision
	case errors.Is(err, jetstream.ErrKeyExists):
		return ErrExists
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrMsgNotFound):
		return ErrNotFound
	case errors.Is(err, jetstream.ErrInvalidKey):
		return ErrInvalid
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout), errors.Is(err, jetstream.ErrAsyncPublishTimeout):
		return ErrTimeout
	}
	// No responders, no quorum, a closed or reconnecting connection, a
	// cancelled store...: the write did not reach a quorum.
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

func (b *liveBackend) watch(ctx actors.Context, id WatchID, pattern string) {
	b.watches[id] = &liveWatch{pattern: pattern}
	b.open(id)
}

// open starts (or restarts) watch id's goroutine, from the revision after
// the last one delivered.
func (b *liveBackend) open(id WatchID) {
	lw := b.watches[id]
	if lw.cancel != nil {
		lw.cancel()
	}
	b.gen++
	gen := b.gen
	lw.gen = gen
	wctx, cancel := context.WithCancel(b.base)
	lw.cancel = cancel
	var opts []jetstream.WatchOpt
	if rev := b.s.watchRev(id); rev > 0 {
		opts = append(opts, jetstream.IncludeHistory(), jetstream.ResumeFromRevision(rev+1))
	}
	kv, rt, self, pattern := b.b.KV, b.rt, b.self, lw.pattern
	retry := b.dur(b.s.cfg.ProbeEvery)
	go func() {
		var w jetstream.KeyWatcher
		for {
			var err error
			if w, err = kv.Watch(wctx, pattern, opts...); err == nil {
				break
			}
			rt.Send(self, liveReach{OK: false})
			select {
			case <-wctx.Done():
				return
			case <-time.After(retry):
			}
		}
		defer w.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					rt.Send(self, liveEvent{ID: id, Gen: gen, Ready: true})
					continue
				}
				op := OpPut
				switch e.Operation() {
				case jetstream.KeyValueDelete:
					op = OpDelete
				case jetstream.KeyValuePurge:
					op = OpExpired // this package never purges: a purge is an expiry marker
				}
				rt.Send(self, liveEvent{ID: id, Gen: gen, Entry: Entry{Key: e.Key(), Value: e.Value(), Revision: e.Revision(), Op: op}})
			}
		}
	}()
}

func (b *liveBackend) unwatch(ctx actors.Context, id WatchID) {
	if lw := b.watches[id]; lw != nil {
		lw.cancel()
		delete(b.watches, id)
	}
}

func (b *liveBackend) probe(ctx actors.Context) {
	bucket, nc := b.b.Name, b.b.NC
	b.run(func(c context.Context) any {
		r := leaderGet(c, nc, bucket, "probe")
		return liveReach{OK: r.Err == nil || errors.Is(r.Err, ErrNotFound)}
	}, func(ctx actors.Context, r any) { b.s.reachable(ctx, r.(liveReach).OK) })
}

func (b *liveBackend) receive(ctx actors.Context, msg any) bool {
	switch m := msg.(type) {
	case liveDone:
		if done := b.pending[m.ID]; done != nil {
			delete(b.pending, m.ID)
			done(ctx, m.Result)
		}
	case liveEvent:
		if lw := b.watches[m.ID]; lw == nil || lw.gen != m.Gen {
			return true
		}
		if m.Ready {
			b.s.watchReady(ctx, m.ID)
		} else {
			b.s.watchEntry(ctx, m.ID, m.Entry)
		}
	case liveReach:
		b.s.reachable(ctx, m.OK)
	case liveCheck:
		b.check(ctx)
		ctx.After(b.s.cfg.ProbeEvery, liveCheck{})
	default:
		return false
	}
	return true
}
