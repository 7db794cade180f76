package coordination

import (
	"github.com/marlon-go/marlon/actors"
)

// NewSimStore returns a member's store for the simulator: it forwards
// requests to the KVModel at model, across the Sim's network model, and
// keeps the watches whole across lost messages as nats.go's ordered
// consumers do: it pings the model every ProbeEvery with its watches, and
// reopens a watch from the last revision it delivered when the model has
// sent events it did not get. A ping that times out marks the member
// isolated; the next answered one ends it. The pings (and the primitives'
// renewals) never stop: drive the Sim with RunUntil, not Run.
func NewSimStore(model actors.Addr, cfg StoreConfig) *Store {
	return newStore(cfg, &simBackend{model: model, byModel: map[uint64]WatchID{}, watches: map[WatchID]*simWatch{}})
}

type simBackend struct {
	s       *Store
	model   actors.Addr
	watches map[WatchID]*simWatch
	byModel map[uint64]WatchID
	pinging bool
}

type simWatch struct {
	pattern string
	modelID uint64
	seq     uint64 // the last event number received from the model
	opening bool
}

type simPingTick struct{}

func (b *simBackend) start(ctx actors.Context, s *Store) {
	b.s = s
	ctx.After(s.cfg.ProbeEvery, simPingTick{})
}

func (b *simBackend) stop() {}

func (b *simBackend) get(ctx actors.Context, g Get, done func(actors.Context, GetReply)) {
	ctx.Request(b.model, g, b.s.cfg.Timeout, func(ctx actors.Context, reply any, err error) {
		if err != nil {
			done(ctx, GetReply{Err: mapSimErr(err)})
			return
		}
		done(ctx, reply.(GetReply))
	})
}

func (b *simBackend) write(ctx actors.Context, w Write, done func(actors.Context, WriteReply)) {
	ctx.Request(b.model, w, b.s.cfg.Timeout, func(ctx actors.Context, reply any, err error) {
		if err != nil {
			done(ctx, WriteReply{Err: mapSimErr(err)})
			return
		}
		done(ctx, reply.(WriteReply))
	})
}

// mapSimErr maps the runtime's request errors: no answer in time is a
// timeout; no model (its node killed) is no quorum.
func mapSimErr(err error) error {
	if err == actors.ErrTimeout {
		return ErrTimeout
	}
	return ErrUnavailable
}

func (b *simBackend) watch(ctx actors.Context, id WatchID, pattern string) {
	b.watches[id] = &simWatch{pattern: pattern}
	b.open(ctx, id)
}

// open asks the model for watch id, from the revision after the last one
// delivered (or from the current values if none was).
func (b *simBackend) open(ctx actors.Context, id WatchID) {
	w := b.watches[id]
	if w == nil || w.opening {
		return
	}
	if w.modelID != 0 {
		ctx.Send(b.model, modelUnwatch{ID: w.modelID})
		delete(b.byModel, w.modelID)
		w.modelID = 0
	}
	w.opening, w.seq = true, 0
	from := uint64(0)
	if rev := b.s.watchRev(id); rev > 0 {
		from = rev + 1
	}
	ctx.Request(b.model, modelWatchReq{Pattern: w.pattern, From: from}, b.s.cfg.Timeout, func(ctx actors.Context, reply any, err error) {
		w.opening = false
		if b.watches[id] != w {
			if err == nil {
				ctx.Send(b.model, modelUnwatch{ID: reply.(modelWatchOK).ID})
			}
			return
		}
		if err != nil {
			b.s.reachable(ctx, false) // the next ping retries
			return
		}
		w.modelID = reply.(modelWatchOK).ID
		b.byModel[w.modelID] = id
	})
}

func (b *simBackend) unwatch(ctx actors.Context, id WatchID) {
	if w := b.watches[id]; w != nil {
		if w.modelID != 0 {
			ctx.Send(b.model, modelUnwatch{ID: w.modelID})
			delete(b.byModel, w.modelID)
		}
		delete(b.watches, id)
	}
}

func (b *simBackend) probe(ctx actors.Context) {} // the pings probe

func (b *simBackend) rejoined(ctx actors.Context) {} // the pings reopen what they must

func (b *simBackend) receive(ctx actors.Context, msg any) bool {
	switch m := msg.(type) {
	case modelEvent:
		id, ok := b.byModel[m.ID]
		if !ok {
			return true
		}
		w := b.watches[id]
		if m.Seq != w.seq+1 { // events were lost: start again from what was delivered
			b.open(ctx, id)
			return true
		}
		w.seq = m.Seq
		if m.Ready {
			b.s.watchReady(ctx, id)
		} else {
			b.s.watchEntry(ctx, id, m.Entry)
		}
	case simPingTick:
		b.ping(ctx)
		ctx.After(b.s.cfg.ProbeEvery, simPingTick{})
	default:
		return false
	}
	return true
}

// ping asks the model how many events each watch has sent; a watch it no
// longer knows, or one that sent more than arrived, is opened again.
func (b *simBackend) ping(ctx actors.Context) {
	if b.pinging {
		return
	}
	b.pinging = true
	var ids []WatchID
	var modelIDs []uint64
	for _, id := range sortedKeys(b.watches) {
		if w := b.watches[id]; w.modelID != 0 {
			ids = append(ids, id)
			modelIDs = append(modelIDs, w.modelID)
		}
	}
	ctx.Request(b.model, modelPing{IDs: modelIDs}, b.s.cfg.Timeout, func(ctx actors.Context, reply any, err error) {
		b.pinging = false
		if err != nil {
			b.s.reachable(ctx, false)
			return
		}
		b.s.reachable(ctx, true)
		pong := reply.(modelPong)
		for i, id := range ids {
			w := b.watches[id]
			if w == nil || w.modelID != modelIDs[i] {
				continue
			}
			if pong.Seqs[i] == 0 || pong.Seqs[i] > w.seq {
				b.open(ctx, id)
			}
		}
		for _, id := range sortedKeys(b.watches) { // watches whose opening failed
			if b.watches[id].modelID == 0 {
				b.open(ctx, id)
			}
		}
	})
}
