package transport

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudflare/circl/sign/ed25519"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/marlon-go/marlon/actors"
)

// Auth says how a node authenticates the frames it sends and which frames it
// accepts.
type Auth int

const (
	// AuthSession, the default: heartbeats are signed with the node's
	// Ed25519 key; they carry an X25519 key made at boot and signed by it
	// (its certificate, also carried by every direct frame), and frames
	// between two nodes carry an HMAC-SHA256 under a key derived from the
	// two nodes' X25519 keys, one per direction. One signature check per
	// peer incarnation instead of one per frame.
	AuthSession Auth = iota
	// AuthSignFrames signs every frame with Ed25519: simpler to reason
	// about, and about 60µs of CPU per frame on each side.
	AuthSignFrames
	// AuthOff sends frames unauthenticated and accepts any frame. For
	// benchmarks and tests only.
	AuthOff
)

func (a Auth) String() string {
	switch a {
	case AuthSession:
		return "session"
	case AuthSignFrames:
		return "sign-frames"
	case AuthOff:
		return "off"
	}
	return fmt.Sprintf("Auth(%d)", int(a))
}

// Config configures a node. Name, and Key and Trusted unless Auth is
// AuthOff, are required.
type Config struct {
	// Name names the node: 1 to 64 letters, digits, '-' or '_', unique in
	// the cluster.
	Name string
	// URL is the NATS server (or comma-separated servers of a cluster) to
	// connect to. Empty: start an embedded server with Server and connect to
	// it; the node shuts it down on Close.
	URL string
	// Server configures the embedded server when URL is empty. Its Token
	// and NKeys default to this node's Token and NKeySeed's public key.
	Server ServerOptions

	// Key is this node's key pair; Key.Node must be Name.
	Key *Key
	// Trusted holds the public keys of the nodes this node accepts frames
	// from. A frame from a node not in it is rejected.
	Trusted Trusted
	// Auth selects how frames are authenticated; default AuthSession.
	Auth Auth

	// Token authenticates the connection to the NATS server.
	Token string
	// NKeySeed (an "SU..." user seed) authenticates the connection to the
	// NATS server with an nkey.
	NKeySeed string
	// NATSOptions are more connection options (TLS, credentials...).
	NATSOptions []nats.Option

	// Prefix starts every subject the node uses; default "marlon". Nodes
	// with different prefixes on one server do not see each other.
	Prefix string
	// Heartbeat is the interval between heartbeats; default 1s.
	Heartbeat time.Duration
	// MissedHeartbeats is how many of a peer's heartbeat intervals may pass
	// without a frame from it before it is declared down; default 3.
	MissedHeartbeats int
	// ReconnectWait is the pause between attempts to reconnect to NATS;
	// default 250ms.
	ReconnectWait time.Duration
	// MaxUnacked bounds, per peer, the bytes of envelopes queued or sent
	// and not yet acknowledged; past it Deliver fails. Default 64 MiB.
	MaxUnacked int

	// Scale and Seed configure the node's live runtime (actors.LiveOptions).
	Scale time.Duration
	Seed  uint64
	// Logger receives the node's log; default slog.Default().
	Logger *slog.Logger
	// Setup, if set, is called by Start once the node's runtime runs and
	// before anyone can see the node (it has not subscribed yet, so it
	// neither announces itself nor answers others' heartbeats): register
	// here the kinds others may spawn (RegisterKind), and start the actors
	// they may ask for, as soon as they see the node join. A kind
	// registered after Start returns can be asked for before it is.
	Setup func(*Node)
}

// Errors wrapped by Deliver's errors (which also wrap
// actors.ErrUndeliverable).
var (
	ErrUnknownNode = errors.New("transport: node is not a member of the cluster")
	ErrClosed      = errors.New("transport: node closed")
	ErrTooLarge    = errors.New("transport: message larger than a frame")
	errNodeDown    = errors.New("transport: node is down")
	errBacklog     = errors.New("transport: too many bytes unacknowledged by the node (Config.MaxUnacked)")
)

// Node is one process's member of a cluster: a live actor runtime whose
// envelopes for other nodes travel over NATS. It implements actors.Remote
// for its runtime.
type Node struct {
	cfg     Config
	name    string
	me      atomic.Pointer[self] // this incarnation
	incMu   sync.Mutex           // serializes reincarnate
	auth    Auth
	live    *actors.Live
	nc      *nats.Conn
	srv     *server.Server // embedded, owned
	log     *slog.Logger
	subjHB  string
	spawner actors.Addr

	batchBytes int // a frame body is cut at this size
	maxRecord  int // the largest record a frame can carry
	ackDelay   time.Duration
	rto        time.Duration

	mu    sync.RWMutex
	peers map[string]*peer

	bmu  sync.Mutex // orders broadcasts: their seq must grow on the wire
	bseq uint64

	memMu     sync.Mutex
	memSubs   map[actors.Addr]struct{}
	changed   chan struct{}
	lastHello time.Time
	helloDue  bool // a hello is scheduled

	kmu   sync.RWMutex
	kinds map[string]Factory

	stats stats
	recs  []record // scratch of the data subscription's goroutine

	closed  atomic.Bool // Close was called
	closing atomic.Bool // Deliver and Watch refuse: the node is leaving
	done    chan struct{}
	wg      sync.WaitGroup
}

var payloadPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Start connects a node to NATS (starting an embedded server if Config.URL is
// empty), starts its runtime and announces it to the cluster.
func Start(cfg Config) (*Node, error) {
	if err := checkName(cfg.Name); err != nil {
		return nil, err
	}
	if cfg.Auth < AuthSession || cfg.Auth > AuthOff {
		return nil, fmt.Errorf("transport: unknown Auth %d", cfg.Auth)
	}
	if cfg.Auth != AuthOff {
		if cfg.Key == nil {
			return nil, fmt.Errorf("transport: node %q: Config.Key is required unless Auth is AuthOff", cfg.Name)
		}
		if cfg.Key.Node != cfg.Name {
			return nil, fmt.Errorf("transport: node %q: Config.Key belongs to node %q", cfg.Name, cfg.Key.Node)
		}
		if len(cfg.Trusted) == 0 {
			return nil, fmt.Errorf("transport: node %q: Config.Trusted is empty", cfg.Name)
		}
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "marlon"
	}
	for _, tok := range bytes.Split([]byte(cfg.Prefix), []byte(".")) {
		if !validName(string(tok)) {
			return nil, fmt.Errorf("transport: invalid subject prefix %q", cfg.Prefix)
		}
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = time.Second
	}
	if cfg.MissedHeartbeats <= 0 {
		cfg.MissedHeartbeats = 3
	}
	if cfg.ReconnectWait <= 0 {
		cfg.ReconnectWait = 250 * time.Millisecond
	}
	if cfg.MaxUnacked <= 0 {
		cfg.MaxUnacked = 64 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &Node{
		cfg: cfg, name: cfg.Name, auth: cfg.Auth,
		log:    cfg.Logger.With("node", cfg.Name),
		subjHB: cfg.Prefix + ".hb",
		peers:  map[string]*peer{}, memSubs: map[actors.Addr]struct{}{}, changed: make(chan struct{}),
		kinds: map[string]Factory{}, done: make(chan struct{}),
		ackDelay: min(cfg.Heartbeat/10, 5*time.Millisecond),
		rto:      max(cfg.Heartbeat, 50*time.Millisecond),
	}
	n.stats.rejected = map[string]*Rejections{}
	me, err := n.newSelf(uint64(time.Now().UnixNano()))
	if err != nil {
		return nil, err
	}
	n.me.Store(me)

	url := cfg.URL
	if url == "" {
		so := cfg.Server
		if so.Token == "" {
			so.Token = cfg.Token
		}
		if len(so.NKeys) == 0 && cfg.NKeySeed != "" {
			kp, err := nkeys.FromSeed([]byte(cfg.NKeySeed))
			if err != nil {
				return nil, fmt.Errorf("transport: NKeySeed: %w", err)
			}
			pub, _ := kp.PublicKey()
			so.NKeys = []string{pub}
		}
		srv, err := StartServer(so)
		if err != nil {
			return nil, err
		}
		n.srv, url = srv, srv.ClientURL()
	}
	nc, err := nats.Connect(url, n.natsOptions()...)
	if err != nil {
		n.shutdownServer()
		return nil, fmt.Errorf("transport: node %q: connecting to %s: %w", n.name, url, err)
	}
	n.nc = nc
	n.maxRecord = int(nc.MaxPayload()) - maxHeaderLen - macTrailer
	n.batchBytes = min(n.maxRecord, 256<<10)

	// Actors are numbered from the boot time, so that an address of an
	// actor of a previous incarnation of this node names none of this one.
	n.live = actors.NewLive(actors.LiveOptions{Node: n.name, Scale: cfg.Scale, Seed: cfg.Seed, Remote: n, FirstID: me.epoch})
	n.spawner = n.live.Spawn(&spawner{n: n})
	if cfg.Setup != nil {
		cfg.Setup(n)
	}

	for _, s := range []struct {
		subject string
		handle  nats.MsgHandler
	}{{cfg.Prefix + ".n." + n.name, n.onDirect}, {n.subjHB, n.onBroadcast},
		{cfg.Prefix + ".metrics." + n.name, n.serveMetrics}, {cfg.Prefix + ".metrics", n.serveMetrics}} {
		sub, err := nc.Subscribe(s.subject, s.handle)
		if err == nil {
			// The runtime's mailboxes are unbounded; a NATS-side limit
			// would drop frames instead.
			err = sub.SetPendingLimits(-1, -1)
		}
		if err != nil {
			n.abort()
			return nil, fmt.Errorf("transport: node %q: subscribing to %s: %w", n.name, s.subject, err)
		}
	}
	if err := nc.Flush(); err != nil {
		n.abort()
		return nil, fmt.Errorf("transport: node %q: %w", n.name, err)
	}
	n.wg.Add(1)
	go n.tickLoop()
	return n, nil
}

func (n *Node) natsOptions() []nats.Option {
	opts := []nats.Option{
		nats.Name("marlon node " + n.name),
		nats.NoEcho(),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(n.cfg.ReconnectWait),
		// No reconnect buffer: a frame published while disconnected fails
		// at once and stays in its outbox, which sends it again after the
		// reconnect until the peer acknowledges it.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if !n.closed.Load() {
				n.stats.disconnects.Add(1)
				n.log.Warn("disconnected from NATS", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			n.stats.reconnects.Add(1)
			n.log.Info("reconnected to NATS", "url", nc.ConnectedUrlRedacted())
			n.afterReconnect()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			n.log.Error("NATS error", "subject", subject, "err", err)
		}),
	}
	if n.cfg.Token != "" {
		opts = append(opts, nats.Token(n.cfg.Token))
	}
	if n.cfg.NKeySeed != "" {
		opts = append(opts, nkeyOption(n.cfg.NKeySeed))
	}
	return append(opts, n.cfg.NATSOptions...)
}

// nkeyOption authenticates with an nkey user seed.
func nkeyOption(seed string) nats.Option {
	return func(o *nats.Options) error {
		kp, err := nkeys.FromSeed([]byte(seed))
		if err != nil {
			return fmt.Errorf("transport: NKeySeed: %w", err)
		}
		pub, err := kp.PublicKey()
		if err != nil {
			return err
		}
		return nats.Nkey(pub, kp.Sign)(o)
	}
}

// abort undoes a Start that failed after connecting.
func (n *Node) abort() {
	n.live.Close()
	n.nc.Close()
	n.shutdownServer()
}

func (n *Node) shutdownServer() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
}

// Name is the node's name.
func (n *Node) Name() string { return n.name }

// Epoch identifies this incarnation of the node (its boot time in Unix
// nanoseconds, or when it last started a new incarnation after it was cut
// off: see Membership in the package doc): a restarted node has a larger
// one.
func (n *Node) Epoch() uint64 { return n.cur().epoch }

// self is one incarnation of this node: its epoch and, with AuthSession,
// its session key, whose certificate names the epoch.
type self struct {
	epoch uint64
	sess  *session
}

func (n *Node) cur() *self { return n.me.Load() }

func (n *Node) newSelf(epoch uint64) (*self, error) {
	me := &self{epoch: epoch}
	if n.auth == AuthSession {
		s, err := newSession(n.cfg.Key, n.name, epoch)
		if err != nil {
			return nil, err
		}
		me.sess = s
	}
	return me, nil
}

// Runtime is the node's live actor runtime.
func (n *Node) Runtime() *actors.Live { return n.live }

// Conn is the node's NATS connection.
func (n *Node) Conn() *nats.Conn { return n.nc }

// Server is the embedded NATS server the node started, or nil.
func (n *Node) Server() *server.Server { return n.srv }

// Close stops the node's actors (as actors.Live.Close does), sends what they
// left for other nodes (waiting up to a second for it to be acknowledged),
// says goodbye so the others see it leave at once, and disconnects. It
// shuts down the embedded server if the node started one.
func (n *Node) Close() {
	if !n.closed.CompareAndSwap(false, true) {
		return
	}
	n.live.Close() // the actors' last words (Down to remote watchers) are queued
	deadline := time.Now().Add(time.Second)
	for n.unsent() && n.nc.IsConnected() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	n.closing.Store(true)
	if !n.nc.IsClosed() {
		n.broadcast(kindGoodbye, nil)
		if err := n.nc.FlushTimeout(time.Second); err != nil {
			n.log.Warn("goodbye not flushed", "err", err)
		}
	}
	close(n.done)
	n.wg.Wait()
	n.nc.Close()
	n.shutdownServer()
}

// unsent reports whether an outbox still holds records not yet framed, or
// frames not yet acknowledged: the goodbye must not overtake them, since a
// peer drops what comes from an incarnation that said goodbye.
func (n *Node) unsent() bool {
	for _, p := range n.peerList() {
		p.out.mu.Lock()
		waiting := p.out.epoch != 0 && (len(p.out.pending) > 0 || len(p.out.ready) > 0 || len(p.out.unacked) > 0)
		p.out.mu.Unlock()
		if waiting {
			return true
		}
	}
	return false
}

func (n *Node) peerList() []*peer {
	n.mu.RLock()
	defer n.mu.RUnlock()
	ps := make([]*peer, 0, len(n.peers))
	for _, p := range n.peers {
		ps = append(ps, p)
	}
	return ps
}

func (n *Node) lookup(name string) *peer {
	n.mu.RLock()
	p := n.peers[name]
	n.mu.RUnlock()
	return p
}

// peerFor returns the peer named name, creating it if name is trusted (or
// authentication is off); nil if frames from name are not accepted.
func (n *Node) peerFor(name string) *peer {
	if p := n.lookup(name); p != nil {
		return p
	}
	var pub ed25519.PublicKey
	if n.auth != AuthOff {
		if pub = n.cfg.Trusted[name]; pub == nil {
			return nil
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if p := n.peers[name]; p != nil {
		return p
	}
	p := &peer{n: n, name: name, subject: n.cfg.Prefix + ".n." + name, pub: pub, interval: n.cfg.Heartbeat}
	p.out.wake = make(chan struct{}, 1)
	n.peers[name] = p
	if !n.closing.Load() {
		n.wg.Add(1)
		go p.flushLoop()
	}
	return p
}

// Deliver implements actors.Remote: it queues e for its node's stream.
func (n *Node) Deliver(e actors.Envelope) error {
	if n.closing.Load() {
		return fmt.Errorf("%w: %w", actors.ErrUndeliverable, ErrClosed)
	}
	// Refuse here what the receiver would refuse: a frame it rejects is
	// sent again and again, holding up the stream.
	if !e.From.IsZero() && (e.From.Node != n.name || e.From.ID == 0) {
		return fmt.Errorf("%w: transport: envelope from %v cannot be sent by node %q", actors.ErrUndeliverable, e.From, n.name)
	}
	if e.To.ID == 0 {
		return fmt.Errorf("%w: %w: %v", actors.ErrUndeliverable, actors.ErrNoActor, e.To)
	}
	p := n.lookup(e.To.Node)
	if p == nil {
		return fmt.Errorf("%w: %w: %q", actors.ErrUndeliverable, ErrUnknownNode, e.To.Node)
	}
	buf := payloadPool.Get().(*bytes.Buffer)
	defer payloadPool.Put(buf)
	buf.Reset()
	var name string
	if e.Msg != nil {
		var err error
		if name, err = encodePayload(buf, e.Msg); err != nil {
			return fmt.Errorf("%w: %w", actors.ErrUndeliverable, err)
		}
	}
	payload := buf.Bytes()
	size := len(payload) + len(name) + len(e.From.Node) + 64
	if e.Err != nil {
		size += min(len(e.Err.Error()), maxErrText)
	}
	if size > n.maxRecord {
		return fmt.Errorf("%w: %w: %d bytes, at most %d", actors.ErrUndeliverable, ErrTooLarge, size, n.maxRecord)
	}
	if err := p.out.push(n, size, func(b []byte) []byte { return appendEnvelope(b, &e, name, payload) }); err != nil {
		return n.pushError(p, err)
	}
	p.sent.Add(1)
	n.stats.sent.Add(1)
	return nil
}

func (n *Node) pushError(p *peer, err error) error {
	if errors.Is(err, errNodeDown) {
		return fmt.Errorf("%w: %w: %q", actors.ErrUndeliverable, ErrUnknownNode, p.name)
	}
	return fmt.Errorf("%w: node %q: %w", actors.ErrUndeliverable, p.name, err)
}

// Watch implements actors.Remote: it asks target's node to tell watcher when
// target goes away.
func (n *Node) Watch(target, watcher actors.Addr) error {
	return n.pushWatch(recWatch, target, watcher)
}

// Unwatch implements actors.Remote.
func (n *Node) Unwatch(target, watcher actors.Addr) {
	if err := n.pushWatch(recUnwatch, target, watcher); err != nil {
		n.log.Debug("unwatch not sent", "target", target, "err", err)
	}
}

func (n *Node) pushWatch(kind byte, target, watcher actors.Addr) error {
	if n.closing.Load() {
		return ErrClosed
	}
	if watcher.Node != n.name || target.ID == 0 || watcher.ID == 0 {
		return fmt.Errorf("transport: cannot watch %v for %v from node %q", target, watcher, n.name)
	}
	p := n.lookup(target.Node)
	if p == nil {
		return fmt.Errorf("%w: %q", ErrUnknownNode, target.Node)
	}
	if err := p.out.push(n, 24, func(b []byte) []byte { return appendWatch(b, kind, target.ID, watcher.ID) }); err != nil {
		return n.pushError(p, err)
	}
	return nil
}

// seal builds a frame of incarnation me (h.fromEpoch is me.epoch): header,
// body, then the signature or MAC. It returns the frame and where the body
// starts in it.
func (n *Node) seal(me *self, h *header, body, key []byte) ([]byte, int) {
	b := make([]byte, 0, maxHeaderLen+len(body)+macTrailer)
	b = appendHeader(b, h)
	off := len(b)
	b = append(b, body...)
	switch h.auth {
	case authSig:
		b = append(b, ed25519.Sign(n.cfg.Key.private, b)...)
	case authMAC:
		b = append(b, me.sess.public[:]...)
		b = append(b, me.sess.cert...)
		m := hmac.New(sha256.New, key)
		m.Write(b)
		b = m.Sum(b)
	}
	return b, off
}

// publish sends a frame; a failure (disconnected, say) is left to the
// outbox's retransmission, or to the next heartbeat.
func (n *Node) publish(subject string, frame []byte) {
	if err := n.nc.Publish(subject, frame); err != nil {
		n.stats.publishErrors.Add(1)
	}
}

// frameAuth is how frames to a peer with session key xkey are authenticated.
func (n *Node) frameAuth(xkey []byte) authKind {
	switch {
	case n.auth == AuthOff:
		return authNone
	case n.auth == AuthSession && len(xkey) == xkeySize:
		return authMAC
	}
	return authSig
}

// reportLost tells the senders of the envelopes in bodies (records sent to p
// and never acknowledged) that they were not delivered.
func (n *Node) reportLost(p *peer, bodies [][]byte) {
	var recs []record
	cause := fmt.Errorf("%w: node %q went down before acknowledging the message", actors.ErrUndeliverable, p.name)
	for _, body := range bodies {
		recs, _ = parseRecords(body, n.name, p.name, recs[:0])
		for i := range recs {
			e := &recs[i].env
			if recs[i].kind != recEnvelope {
				continue
			}
			n.stats.lost.Add(1)
			switch {
			case e.From.IsZero() || e.Reply:
				// Nobody to tell, as for the runtime's own dead letters.
			case e.Corr != 0:
				n.live.Inject(actors.Envelope{From: e.To, To: e.From, Corr: e.Corr, Reply: true, Err: cause})
			default:
				msg, _ := decodePayload(recs[i].typeName, recs[i].payload)
				n.live.Inject(actors.Envelope{To: e.From, Msg: actors.Undeliverable{To: e.To, Msg: msg, Err: cause}})
			}
		}
	}
}
