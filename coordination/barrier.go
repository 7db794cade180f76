package coordination

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/marlon-go/marlon/actors"
)

// Barriers is a member's side of barriers with a timeout: Arrive (a
// request) is answered when every expected party has arrived, or when the
// timeout passes, with who arrived and who was missing. A barrier expects
// a list of named parties, a count of parties, or all the live members of
// a group (a Membership).
//
// Keys: bar.NAME.a.MEMBER, one per arrival, and bar.NAME.o, the outcome,
// created once: by the party whose arrival completed the barrier (for a
// barrier of all live members, by any party that sees it complete), or by
// the first party to reach its deadline. Every party adopts the outcome in
// the store, so they all agree on it, a late arrival included. Parties of one barrier
// must give it the same expectation.
type Barriers struct {
	cfg      BarriersConfig
	live     []string
	haveLive bool
	waits    map[string]*barrierWait
	byWatch  map[WatchID]*barrierWait
}

// BarriersConfig configures Barriers.
type BarriersConfig struct {
	// Store is the member's store.
	Store actors.Addr
	// Member names this member.
	Member string
	// Members is the member's Membership, for barriers of all live
	// members (zero: none).
	Members actors.Addr
	// KeepFor, if > 0, is the TTL of a barrier's keys, so that the store
	// forgets old barriers.
	KeepFor float64
}

// Arrive, a request, enters the barrier Name and waits. Reply:
// BarrierResult. Give Parties (the names expected), or Count (how many),
// or neither: all the live members of the Membership.
type Arrive struct {
	Barrier string
	Parties []string
	Count   int
	Timeout float64
}

// BarrierResult is a barrier's outcome. Released: every expected party
// arrived in time. Arrived lists the parties that had arrived when the
// outcome was written; Missing the expected ones that had not (named or
// live-member barriers); Short how many were missing (all barriers). Err
// is set when this member could not learn the outcome (cut off from the
// store at its deadline, or a malformed request).
type BarrierResult struct {
	Barrier  string
	Released bool
	Arrived  []string
	Missing  []string
	Short    int
	Err      error
}

type barrierWait struct {
	arrive   Arrive
	reply    actors.ReplyTo
	watch    WatchID
	ready    bool
	arrived  map[string]bool
	lastRev  uint64 // the latest arrival's revision
	last     string // and its party
	wrote    bool   // arrival written
	writing  bool
	deciding bool
	expired  bool
	deadline actors.Timer
}

type (
	barrierDeadline struct{ name string }
	barrierRetry    struct{ name string }
	barrierCheck    struct{ name string }
)

// NewBarriers returns a member's Barriers actor, or the configuration's
// first error.
func NewBarriers(cfg BarriersConfig) (*Barriers, error) {
	if err := checkConfig(cfg.Store, "member", cfg.Member); err != nil {
		return nil, err
	}
	return &Barriers{cfg: cfg, waits: map[string]*barrierWait{}, byWatch: map[WatchID]*barrierWait{}}, nil
}

func barKey(name, rest string) string { return "bar." + name + "." + rest }

// Receive handles the barriers' messages.
func (b *Barriers) Receive(ctx actors.Context, msg any) {
	switch m := msg.(type) {
	case actors.Started:
		if !b.cfg.Members.IsZero() {
			ctx.Send(b.cfg.Members, SubscribeMembers{})
		}
	case Arrive:
		b.enter(ctx, m, ctx.ReplyTo())
	case Members:
		b.live, b.haveLive = m.Live, true
		for _, name := range sortedKeys(b.waits) {
			b.check(ctx, b.waits[name])
		}
	case WatchEvent:
		w := b.byWatch[m.ID]
		if w == nil {
			return
		}
		if m.Ready {
			w.ready = true
		} else if b.observed(ctx, w, m.Entry) {
			return
		}
		b.check(ctx, w)
	case barrierRetry:
		if w := b.waits[m.name]; w != nil {
			b.write(ctx, w)
		}
	case barrierCheck:
		if w := b.waits[m.name]; w != nil {
			b.check(ctx, w)
		}
	case barrierDeadline:
		if w := b.waits[m.name]; w != nil {
			w.expired = true
			b.check(ctx, w)
		}
	}
}

func (b *Barriers) enter(ctx actors.Context, a Arrive, r actors.ReplyTo) {
	fail := func(err error) { ctx.Reply(r, BarrierResult{Barrier: a.Barrier, Err: err}) }
	switch {
	case !validName(a.Barrier):
		fail(fmt.Errorf("%w: barrier name %q: 1 to 64 letters, digits, '-' or '_'", ErrInvalid, a.Barrier))
		return
	case !(a.Timeout > 0) || math.IsInf(a.Timeout, 1):
		fail(fmt.Errorf("%w: barrier timeout %v: must be > 0", ErrInvalid, a.Timeout))
		return
	case a.Count < 0 || (a.Count > 0 && len(a.Parties) > 0):
		fail(fmt.Errorf("%w: barrier: give Parties or Count (> 0), not both", ErrInvalid))
		return
	case a.Count == 0 && len(a.Parties) == 0 && b.cfg.Members.IsZero():
		fail(fmt.Errorf("%w: barrier of all live members: BarriersConfig.Members is not set", ErrInvalid))
		return
	case b.waits[a.Barrier] != nil:
		fail(fmt.Errorf("%w: this member already waits at barrier %q", ErrInvalid, a.Barrier))
		return
	}
	for _, p := range a.Parties {
		if err := checkName("barrier party", p); err != nil {
			fail(err)
			return
		}
	}
	w := &barrierWait{arrive: a, reply: r, arrived: map[string]bool{}}
	b.waits[a.Barrier] = w
	w.deadline = ctx.After(a.Timeout, barrierDeadline{name: a.Barrier})
	ctx.Request(b.cfg.Store, Watch{Keys: barKey(a.Barrier, ">")}, actors.Forever, func(ctx actors.Context, reply any, err error) {
		if err != nil {
			return
		}
		if b.waits[a.Barrier] != w {
			ctx.Send(b.cfg.Store, Unwatch{ID: reply.(WatchReply).ID})
			return
		}
		w.watch = reply.(WatchReply).ID
		b.byWatch[w.watch] = w
	})
	b.write(ctx, w)
}

// write writes this member's arrival, retrying while the store is out of
// reach.
func (b *Barriers) write(ctx actors.Context, w *barrierWait) {
	if w.wrote || w.writing {
		return
	}
	w.writing = true
	name := w.arrive.Barrier
	arrival := Write{Key: barKey(name, "a."+b.cfg.Member), TTL: b.cfg.KeepFor}
	ctx.Request(b.cfg.Store, arrival, actors.Forever, func(ctx actors.Context, reply any, err error) {
		w.writing = false
		if r := writeResult(reply, err); r.Err != nil {
			if b.waits[name] == w {
				ctx.After(w.arrive.Timeout/10, barrierRetry{name: name})
			}
			return
		}
		w.wrote = true
	})
}

// observed follows the barrier's keys; it reports whether w is finished.
func (b *Barriers) observed(ctx actors.Context, w *barrierWait, e Entry) bool {
	rest := strings.TrimPrefix(e.Key, barKey(w.arrive.Barrier, ""))
	switch {
	case rest == "o" && e.Live():
		if o, err := decodeOutcome(e.Value); err == nil {
			b.finish(ctx, w, BarrierResult{Barrier: w.arrive.Barrier, Released: o.Released, Arrived: o.Arrived, Missing: o.Missing, Short: int(o.Short)})
			return true
		}
	case strings.HasPrefix(rest, "a."):
		party := strings.TrimPrefix(rest, "a.")
		if e.Live() {
			w.arrived[party] = true
			if e.Revision > w.lastRev {
				w.lastRev, w.last = e.Revision, party
			}
		}
	}
	return false
}

// check writes the outcome when the barrier is complete or its deadline
// has passed.
func (b *Barriers) check(ctx actors.Context, w *barrierWait) {
	if !w.ready || w.deciding || b.waits[w.arrive.Barrier] != w {
		return
	}
	arrived := sortedKeys(w.arrived)
	var missing []string
	short := 0
	a := w.arrive
	switch {
	case a.Count > 0:
		short = max(0, a.Count-len(arrived))
	case len(a.Parties) > 0:
		for _, p := range a.Parties {
			if !w.arrived[p] {
				missing = append(missing, p)
			}
		}
		slices.Sort(missing)
		missing = slices.Compact(missing)
		short = len(missing)
	default:
		if !b.haveLive && !w.expired {
			return
		}
		for _, p := range b.live {
			if !w.arrived[p] {
				missing = append(missing, p)
			}
		}
		short = len(missing)
		if len(arrived) == 0 {
			short = max(short, 1)
		}
	}
	if short > 0 && !w.expired {
		return
	}
	if short == 0 && !w.expired && a.Count+len(a.Parties) > 0 && w.last != b.cfg.Member {
		// Complete: the party whose arrival completed it writes the
		// outcome, the others adopt it (or write it themselves at their
		// deadline, if that party died meanwhile).
		return
	}
	o := outcomeRecord{Released: short == 0, Arrived: arrived, Missing: missing, Short: uint64(short)}
	w.deciding = true
	name := a.Barrier
	ctx.Request(b.cfg.Store, Create(barKey(name, "o"), o.encode(), b.cfg.KeepFor), actors.Forever, func(ctx actors.Context, reply any, err error) {
		w.deciding = false
		res := writeResult(reply, err)
		switch {
		case b.waits[name] != w:
		case res.Err == nil:
			b.finish(ctx, w, BarrierResult{Barrier: name, Released: o.Released, Arrived: o.Arrived, Missing: o.Missing, Short: short})
		case unreachable(res.Err) && w.expired:
			b.finish(ctx, w, BarrierResult{Barrier: name, Arrived: arrived, Missing: missing, Short: short, Err: res.Err})
		case unreachable(res.Err):
			ctx.After(a.Timeout/10, barrierCheck{name: name}) // try again
		}
		// ErrExists: another party wrote the outcome; the watch brings it.
	})
}

func (b *Barriers) finish(ctx actors.Context, w *barrierWait, r BarrierResult) {
	delete(b.waits, w.arrive.Barrier)
	delete(b.byWatch, w.watch)
	ctx.Cancel(w.deadline)
	if w.watch != 0 {
		ctx.Send(b.cfg.Store, Unwatch{ID: w.watch})
	}
	ctx.Reply(w.reply, r)
}
