package coordination

import (
	"errors"
	"math"

	"github.com/marlon-go/marlon/actors"
)

// Store is a member's end of the store protocol: an actor on the member's
// own node that its primitives send Get, Write and Watch to. NewSimStore
// makes one that talks to a KVModel across the simulated network,
// NewLiveStore one that calls JetStream through nats.go. Both keep the
// same member-side state:
//
//   - Connectivity. A request that times out or finds no quorum marks the
//     member isolated: until the store answers again (a probe every
//     StoreConfig.ProbeEvery) writes and linearizable reads are refused at
//     once with ErrUnavailable (the minority side stops writing), and
//     eventual reads are answered from the cache, marked Stale. Watchers
//     are told (Connectivity) when this changes.
//   - A cache of the keys it watches: an eventual read of a key covered by
//     a watch that has delivered its initial values is answered locally.
//   - Watches, which end when their watcher stops.
type Store struct {
	cfg      StoreConfig
	be       backend
	isolated bool
	probing  bool
	nextID   WatchID
	watches  map[WatchID]*storeWatch
	cache    map[string]Entry
	watching map[actors.Addr]int // subscribers watched for Down, with their watch count
}

// StoreConfig configures a Store. Times are in virtual time units.
type StoreConfig struct {
	// Timeout bounds each request to the store; default 1000.
	Timeout float64
	// ProbeEvery is the interval between probes of the store while the
	// member is isolated (and, in the simulator, between pings that
	// check the watches); default 100.
	ProbeEvery float64
}

func (c *StoreConfig) defaults() {
	if !(c.Timeout > 0) {
		c.Timeout = 1000
	}
	if !(c.ProbeEvery > 0) {
		c.ProbeEvery = 100
	}
}

// backend performs a Store's requests. Its callbacks run inside later turns
// of the Store's actor.
type backend interface {
	start(ctx actors.Context, s *Store)
	get(ctx actors.Context, g Get, done func(actors.Context, GetReply))
	write(ctx actors.Context, w Write, done func(actors.Context, WriteReply))
	// watch opens watch id; events go to s.watchEntry and s.watchReady.
	watch(ctx actors.Context, id WatchID, pattern string)
	unwatch(ctx actors.Context, id WatchID)
	// probe checks whether the store answers and tells s.reachable.
	probe(ctx actors.Context)
	// rejoined is called when the store answers again after the member
	// was cut off.
	rejoined(ctx actors.Context)
	// receive handles the backend's own messages.
	receive(ctx actors.Context, msg any) bool
	stop()
}

type storeWatch struct {
	sub     actors.Addr
	pattern string
	lastRev uint64
	ready   bool
	live    map[string]uint64 // keys whose last delivered revision holds a value
}

type probeTick struct{}

func newStore(cfg StoreConfig, be backend) *Store {
	cfg.defaults()
	return &Store{cfg: cfg, be: be, watches: map[WatchID]*storeWatch{}, cache: map[string]Entry{}, watching: map[actors.Addr]int{}}
}

// Receive handles the store protocol.
func (s *Store) Receive(ctx actors.Context, msg any) {
	switch m := msg.(type) {
	case actors.Started:
		s.be.start(ctx, s)
	case actors.Stopping:
		s.be.stop()
	case Get:
		s.get(ctx, m, ctx.ReplyTo())
	case Write:
		s.write(ctx, m, ctx.ReplyTo())
	case Watch:
		s.watch(ctx, m, ctx.ReplyTo())
	case Unwatch:
		if w := s.watches[m.ID]; w != nil && w.sub == ctx.Sender() {
			s.drop(ctx, m.ID)
		}
	case StatusRequest:
		ctx.Reply(ctx.ReplyTo(), Connectivity{Isolated: s.isolated})
	case actors.Down:
		for _, id := range sortedKeys(s.watches) {
			if s.watches[id].sub == m.Actor {
				s.drop(ctx, id)
			}
		}
	case probeTick:
		s.probing = false
		if s.isolated {
			s.be.probe(ctx)
			s.armProbe(ctx)
		}
	default:
		s.be.receive(ctx, msg)
	}
}

// failed reports whether err says the store could not be reached.
func unreachable(err error) bool {
	return errors.Is(err, ErrTimeout) || errors.Is(err, ErrUnavailable)
}

func (s *Store) get(ctx actors.Context, g Get, r actors.ReplyTo) {
	if !validKey(g.Key) {
		ctx.Reply(r, GetReply{Err: ErrInvalid})
		return
	}
	if s.isolated {
		if g.Level == Eventual {
			if e, ok := s.cache[g.Key]; ok {
				ctx.Reply(r, cachedReply(e, true))
				return
			}
		}
		ctx.Reply(r, GetReply{Err: ErrUnavailable})
		return
	}
	if g.Level == Eventual && s.covered(g.Key) {
		e, ok := s.cache[g.Key]
		if !ok {
			ctx.Reply(r, GetReply{Err: ErrNotFound})
			return
		}
		ctx.Reply(r, cachedReply(e, false))
		return
	}
	s.be.get(ctx, g, func(ctx actors.Context, rep GetReply) {
		s.reachable(ctx, !unreachable(rep.Err))
		if rep.Err == nil || errors.Is(rep.Err, ErrNotFound) {
			s.remember(rep.Entry)
		}
		ctx.Reply(r, rep)
	})
}

func cachedReply(e Entry, stale bool) GetReply {
	rep := GetReply{Entry: e, Stale: stale}
	if !e.Live() {
		rep.Err = ErrNotFound
	}
	return rep
}

// covered reports whether a ready watch matches key, so that the cache
// follows it.
func (s *Store) covered(key string) bool {
	for _, w := range s.watches {
		if w.ready && matches(w.pattern, key) {
			return true
		}
	}
	return false
}

// remember caches e unless the cache has a later revision of its key.
func (s *Store) remember(e Entry) {
	if e.Key == "" {
		return
	}
	if c, ok := s.cache[e.Key]; !ok || c.Revision < e.Revision {
		s.cache[e.Key] = e
	}
}

func (s *Store) write(ctx actors.Context, w Write, r actors.ReplyTo) {
	if !validKey(w.Key) || (w.Expect.Cond == Guarded && !validKey(w.Expect.Key)) || w.Expect.Cond > Guarded ||
		w.TTL < 0 || math.IsNaN(w.TTL) || math.IsInf(w.TTL, 0) || (w.Delete && w.TTL > 0) {
		ctx.Reply(r, WriteReply{Err: ErrInvalid})
		return
	}
	if s.isolated {
		ctx.Reply(r, WriteReply{Err: ErrUnavailable})
		return
	}
	s.be.write(ctx, w, func(ctx actors.Context, rep WriteReply) {
		s.reachable(ctx, !unreachable(rep.Err))
		if rep.Err == nil {
			op := OpPut
			if w.Delete {
				op = OpDelete
			}
			s.remember(Entry{Key: w.Key, Value: w.Value, Revision: rep.Revision, Op: op})
		}
		ctx.Reply(r, rep)
	})
}

func (s *Store) watch(ctx actors.Context, m Watch, r actors.ReplyTo) {
	if !validPattern(m.Keys) {
		ctx.Reply(r, WatchReply{Err: ErrInvalid})
		return
	}
	sub := ctx.Sender()
	s.nextID++
	id := s.nextID
	s.watches[id] = &storeWatch{sub: sub, pattern: m.Keys, live: map[string]uint64{}}
	if s.watching[sub] == 0 && !sub.IsZero() {
		ctx.Watch(sub)
	}
	s.watching[sub]++
	ctx.Reply(r, WatchReply{ID: id})
	if s.isolated {
		ctx.Send(sub, Connectivity{Isolated: true})
	}
	s.be.watch(ctx, id, m.Keys)
}

func (s *Store) drop(ctx actors.Context, id WatchID) {
	w := s.watches[id]
	delete(s.watches, id)
	s.be.unwatch(ctx, id)
	if s.watching[w.sub]--; s.watching[w.sub] <= 0 {
		delete(s.watching, w.sub)
		if !w.sub.IsZero() {
			ctx.Unwatch(w.sub)
		}
	}
}

// watchEntry delivers a backend's event for watch id, once and in order.
func (s *Store) watchEntry(ctx actors.Context, id WatchID, e Entry) {
	w := s.watches[id]
	if w == nil || e.Revision <= w.lastRev {
		return
	}
	w.lastRev = e.Revision
	if e.Live() {
		w.live[e.Key] = e.Revision
	} else {
		delete(w.live, e.Key)
	}
	s.remember(e)
	ctx.Send(w.sub, WatchEvent{ID: id, Entry: e})
}

// watchReady delivers the end of watch id's initial values, once. A later
// one ends a reopened watch's catching up: see resync.
func (s *Store) watchReady(ctx actors.Context, id WatchID) {
	w := s.watches[id]
	if w == nil {
		return
	}
	if w.ready {
		s.resync(ctx, id)
		return
	}
	w.ready = true
	ctx.Send(w.sub, WatchEvent{ID: id, Ready: true})
}

// resync finds the keys a reopened watch still believes hold values but
// that vanished while the member was cut off: a value that expired, and
// whose expiry marker expired too (MarkerTTL), leaves no revision for the
// watch to resume with. Each such key is read again, and a key found
// without a value is delivered as expired.
func (s *Store) resync(ctx actors.Context, id WatchID) {
	w := s.watches[id]
	for _, key := range sortedKeys(w.live) {
		rev := w.live[key]
		s.be.get(ctx, Get{Key: key}, func(ctx actors.Context, rep GetReply) {
			if s.watches[id] != w || w.live[key] != rev || rep.Err == nil || !errors.Is(rep.Err, ErrNotFound) {
				return // changed meanwhile, still there, or not known
			}
			e := rep.Entry
			if e.Revision == 0 {
				e = Entry{Key: key, Op: OpExpired}
			}
			if e.Revision != 0 && e.Revision <= w.lastRev {
				return // the watch has delivered it
			}
			delete(w.live, key)
			delete(s.cache, key)
			ctx.Send(w.sub, WatchEvent{ID: id, Entry: e})
		})
	}
}

// watchRev is the last revision watch id delivered.
func (s *Store) watchRev(id WatchID) uint64 {
	if w := s.watches[id]; w != nil {
		return w.lastRev
	}
	return 0
}

// reachable records whether the store just answered (ok) or could not be
// reached, and tells the watchers when that changes.
func (s *Store) reachable(ctx actors.Context, ok bool) {
	if ok != s.isolated {
		return
	}
	s.isolated = !ok
	subs := map[actors.Addr]bool{}
	for _, id := range sortedKeys(s.watches) {
		if w := s.watches[id]; !subs[w.sub] {
			subs[w.sub] = true
			ctx.Send(w.sub, Connectivity{Isolated: s.isolated})
		}
	}
	if s.isolated {
		s.armProbe(ctx)
	} else {
		s.be.rejoined(ctx)
	}
}

func (s *Store) armProbe(ctx actors.Context) {
	if !s.probing {
		s.probing = true
		ctx.After(s.cfg.ProbeEvery, probeTick{})
	}
}
