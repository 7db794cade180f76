package coordination

import (
	"math"
	"sort"

	"github.com/marlon-go/marlon/actors"
)

// KVModel is the simulated store: an actor that models one JetStream KV
// bucket as the package doc describes it, on its own simulated node. Spawn
// it with Sim.SpawnOn and give its address to the members' SimStores.
//
// Modelling choice: the quorum of JetStream servers is this one logical
// store. It is always consistent with itself (a Raft group's committed
// log); what the network model does to the messages between it and a
// member's node is what that member sees of a partition: a member cut off
// from the model's node is on the minority side (it cannot reach a quorum),
// the members that reach it are on the majority side. Killing the model's
// node is the loss of quorum for everyone.
//
// Semantics, as in JetStream KV (nats.go jetstream, nats-server 2.11+):
//   - One revision counter for the bucket (the stream sequence).
//   - Create (Cond Absent) succeeds if the key has no revision, or a
//     tombstone or expiry marker as its last; Update (AtRevision) if the
//     key's last revision, tombstones and markers included, is the one
//     given (0: none); Guarded if another key's last revision is.
//   - Delete appends a tombstone; the key's history keeps it.
//   - A value written with a TTL expires that long after it was stored: it
//     is removed and, if it was the key's last revision, an OpExpired
//     marker is appended (a new revision), which itself goes away, with no
//     further revision, MarkerTTL later (LimitMarkerTTL).
//   - Each key keeps its last History revisions.
//   - A watch first delivers the last revision of every matching key in
//     revision order, then a ready marker, then every new revision. Its
//     events are numbered; the SimStore asks for the numbers with its
//     periodic ping and reopens a watch from the last revision it got when
//     events were lost (as nats.go's ordered consumer does); a watch whose
//     store stopped pinging for WatchIdle is dropped (an ephemeral
//     consumer's inactivity threshold).
type KVModel struct {
	cfg     ModelConfig
	rev     uint64
	keys    map[string][]*modelMsg
	watches map[uint64]*modelWatch
	nextID  uint64
	gcOn    bool
	commits []Commit
}

// ModelConfig configures a KVModel. Times are in virtual time units.
type ModelConfig struct {
	// History is the revisions kept per key, 1 to 64; default 1 (JetStream
	// KV's default).
	History int
	// MarkerTTL is how long an expiry marker stays; default 1000.
	MarkerTTL float64
	// WatchIdle is how long a watch lives without a ping from its store;
	// default 1000.
	WatchIdle float64
	// Log keeps every committed write for Commits (for tests).
	Log bool
}

// Commit is a write the model applied, as Commits lists them.
type Commit struct {
	At    float64
	Entry Entry
	// Write is the request; Write.Expect says under which condition it
	// was applied. Zero for expiry markers.
	Write Write
}

type modelMsg struct {
	Entry
}

type modelWatch struct {
	store    actors.Addr
	pattern  string
	seq      uint64
	lastPing float64
}

// Internal messages between a SimStore and the model.
type (
	modelWatchReq struct {
		Pattern string
		From    uint64 // 0: the last revision of each key; else every kept revision from From on
	}
	modelWatchOK struct{ ID uint64 }
	modelUnwatch struct{ ID uint64 }
	modelPing    struct{ IDs []uint64 }
	modelPong    struct{ Seqs []uint64 } // per ID, 0: unknown watch
	modelEvent   struct {
		ID    uint64
		Seq   uint64
		Entry Entry
		Ready bool
	}
	modelExpire struct {
		Key string
		Rev uint64
	}
	modelGC struct{}
)

// NewKVModel returns a simulated bucket.
func NewKVModel(cfg ModelConfig) *KVModel {
	if cfg.History <= 0 {
		cfg.History = 1
	}
	if cfg.History > 64 {
		cfg.History = 64
	}
	if !(cfg.MarkerTTL > 0) {
		cfg.MarkerTTL = 1000
	}
	if !(cfg.WatchIdle > 0) {
		cfg.WatchIdle = 1000
	}
	return &KVModel{cfg: cfg, keys: map[string][]*modelMsg{}, watches: map[uint64]*modelWatch{}}
}

// Commits lists the writes applied so far, markers included, when
// ModelConfig.Log is set. Read it only while the Sim is not running.
func (m *KVModel) Commits() []Commit { return m.commits }

// Revision is the bucket's last revision.
func (m *KVModel) Revision() uint64 { return m.rev }

// Last is key's last revision, if it has one. Read it only while the Sim is
// not running.
func (m *KVModel) Last(key string) (Entry, bool) {
	if l := m.last(key); l != nil {
		return l.Entry, true
	}
	return Entry{}, false
}

func (m *KVModel) last(key string) *modelMsg {
	h := m.keys[key]
	if len(h) == 0 {
		return nil
	}
	return h[len(h)-1]
}

// Receive handles the store protocol's messages from SimStores.
func (m *KVModel) Receive(ctx actors.Context, msg any) {
	switch r := msg.(type) {
	case Get:
		ctx.Reply(ctx.ReplyTo(), m.get(r))
	case Write:
		rev, err := m.write(ctx, r)
		ctx.Reply(ctx.ReplyTo(), WriteReply{Revision: rev, Err: err})
	case modelWatchReq:
		m.watch(ctx, r)
	case modelUnwatch:
		delete(m.watches, r.ID)
	case modelPing:
		pong := modelPong{Seqs: make([]uint64, len(r.IDs))}
		for i, id := range r.IDs {
			if w := m.watches[id]; w != nil && w.store == ctx.Sender() {
				w.lastPing = ctx.Now()
				pong.Seqs[i] = w.seq
			}
		}
		ctx.Reply(ctx.ReplyTo(), pong)
	case modelExpire:
		m.expire(ctx, r)
	case modelGC:
		m.gcOn = false
		for id, w := range m.watches {
			if ctx.Now()-w.lastPing >= m.cfg.WatchIdle {
				delete(m.watches, id)
			}
		}
		m.armGC(ctx)
	case actors.Down:
		for id, w := range m.watches {
			if w.store == r.Actor {
				delete(m.watches, id)
			}
		}
	}
}

func (m *KVModel) get(g Get) GetReply {
	if !validKey(g.Key) {
		return GetReply{Err: ErrInvalid}
	}
	l := m.last(g.Key)
	switch {
	case l == nil:
		return GetReply{Err: ErrNotFound}
	case l.Op != OpPut:
		return GetReply{Entry: l.Entry, Err: ErrNotFound}
	}
	return GetReply{Entry: l.Entry}
}

func (m *KVModel) lastRev(key string) uint64 {
	if l := m.last(key); l != nil {
		return l.Revision
	}
	return 0
}

func (m *KVModel) write(ctx actors.Context, w Write) (uint64, error) {
	if !validKey(w.Key) || w.TTL < 0 || math.IsNaN(w.TTL) || math.IsInf(w.TTL, 0) || (w.Delete && w.TTL > 0) {
		return 0, ErrInvalid
	}
	switch w.Expect.Cond {
	case Always:
	case Absent:
		if l := m.last(w.Key); l != nil && l.Op == OpPut {
			return 0, ErrExists
		}
	case AtRevision:
		if m.lastRev(w.Key) != w.Expect.Revision {
			return 0, ErrRevision
		}
	case Guarded:
		if !validKey(w.Expect.Key) {
			return 0, ErrInvalid
		}
		if m.lastRev(w.Expect.Key) != w.Expect.Revision {
			return 0, ErrFenced
		}
	default:
		return 0, ErrInvalid
	}
	op := OpPut
	if w.Delete {
		op = OpDelete
	}
	e := m.append(ctx, Entry{Key: w.Key, Value: append([]byte(nil), w.Value...), Op: op}, w)
	if w.TTL > 0 {
		ctx.After(w.TTL, modelExpire{Key: w.Key, Rev: e.Revision})
	}
	return e.Revision, nil
}

// append stores e as the key's next revision and tells the watches.
func (m *KVModel) append(ctx actors.Context, e Entry, w Write) Entry {
	m.rev++
	e.Revision = m.rev
	h := append(m.keys[e.Key], &modelMsg{Entry: e})
	if len(h) > m.cfg.History {
		h = append(h[:0], h[len(h)-m.cfg.History:]...)
	}
	m.keys[e.Key] = h
	if m.cfg.Log {
		m.commits = append(m.commits, Commit{At: ctx.Now(), Entry: e, Write: w})
	}
	for _, id := range sortedKeys(m.watches) {
		if wt := m.watches[id]; matches(wt.pattern, e.Key) {
			m.send(ctx, id, wt, e, false)
		}
	}
	return e
}

func (m *KVModel) expire(ctx actors.Context, x modelExpire) {
	h := m.keys[x.Key]
	for i, msg := range h {
		if msg.Revision != x.Rev {
			continue
		}
		wasLast := i == len(h)-1
		h = append(h[:i], h[i+1:]...)
		if len(h) == 0 {
			delete(m.keys, x.Key)
		} else {
			m.keys[x.Key] = h
		}
		if wasLast && msg.Op != OpExpired {
			mk := m.append(ctx, Entry{Key: x.Key, Op: OpExpired}, Write{})
			ctx.After(m.cfg.MarkerTTL, modelExpire{Key: x.Key, Rev: mk.Revision})
		}
		return
	}
}

func (m *KVModel) watch(ctx actors.Context, r modelWatchReq) {
	if !validPattern(r.Pattern) {
		ctx.Reply(ctx.ReplyTo(), modelWatchOK{})
		return
	}
	m.nextID++
	id := m.nextID
	w := &modelWatch{store: ctx.Sender(), pattern: r.Pattern, lastPing: ctx.Now()}
	m.watches[id] = w
	ctx.Watch(w.store)
	ctx.Reply(ctx.ReplyTo(), modelWatchOK{ID: id})
	var initial []Entry
	for key, h := range m.keys {
		if !matches(r.Pattern, key) {
			continue
		}
		if r.From == 0 {
			initial = append(initial, h[len(h)-1].Entry)
			continue
		}
		for _, msg := range h {
			if msg.Revision >= r.From {
				initial = append(initial, msg.Entry)
			}
		}
	}
	sort.Slice(initial, func(i, j int) bool { return initial[i].Revision < initial[j].Revision })
	for _, e := range initial {
		m.send(ctx, id, w, e, false)
	}
	m.send(ctx, id, w, Entry{}, true)
	m.armGC(ctx)
}

func (m *KVModel) send(ctx actors.Context, id uint64, w *modelWatch, e Entry, ready bool) {
	w.seq++
	ctx.Send(w.store, modelEvent{ID: id, Seq: w.seq, Entry: e, Ready: ready})
}

// armGC schedules the next sweep of idle watches while there are any.
func (m *KVModel) armGC(ctx actors.Context) {
	if !m.gcOn && len(m.watches) > 0 {
		m.gcOn = true
		ctx.After(m.cfg.WatchIdle, modelGC{})
	}
}
