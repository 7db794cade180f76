package coordination

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/marlon-go/marlon/actors"
)

// Election is a member's candidacy for a named role: leader election with
// failover and fencing, on two keys of the store.
//
//   - elect.ROLE.lease holds the holder's lease: created (Cond Absent) with
//     a TTL, renewed by the holder every RenewEvery with a compare-and-set
//     that carries the TTL again. When the holder dies or is cut off, the
//     lease expires and the store leaves a marker; the other candidates,
//     which watch the key (and retry every RetryEvery in case they missed
//     it), create it anew.
//   - elect.ROLE.term holds the term: the new holder writes it once,
//     guarded by its lease's revision (so only the lease's current holder
//     can), and the revision of that write is the term number and the
//     fencing token. Terms grow with every election, and each belongs to
//     one holder: at most one leader per term.
//
// A fenced write (Fence.Put) is guarded by the term key's revision: the
// store applies it only while no newer term has been written, so a deposed
// leader's writes are refused (ErrFenced) however late they arrive.
//
// The holder also deposes itself, locally, when its lease may have run out:
// TTL after it sent the last renewal the store acknowledged (the store's
// expiry counts from when it stored that renewal, which is later). Unless
// clocks run at different rates or timers fire late, a deposed leader
// knows it before anyone else can be elected; fencing holds regardless.
//
// The surface is etcd's concurrency.Election, as messages: Campaign
// (stay a candidate until Resign), Resign, Observe (LeaderChanged on every
// change of leader), QueryLeader (a linearizable read of the leader). The
// owner receives Elected, with the Fence, and Deposed.
type Election struct {
	cfg       ElectionConfig
	leaseKey  string
	termKey   string
	nonce     uint64
	want      bool
	value     []byte
	phase     electPhase
	busy      bool
	leaseRev  uint64
	term      uint64
	deadline  actors.Timer
	renew     actors.Timer
	retry     actors.Timer
	retrying  bool
	watch     WatchID
	lease     Entry // last seen revision of the lease key
	termEntry Entry // and of the term key
	observers []actors.Addr
	shown     Leader
	isolated  bool
}

// ElectionConfig configures an Election. Times are in virtual time units.
type ElectionConfig struct {
	// Store is the member's store.
	Store actors.Addr
	// Role names the role; Member this candidate (names: 1 to 64 letters,
	// digits, '-' or '_').
	Role, Member string
	// Owner receives Elected and Deposed (zero: nobody).
	Owner actors.Addr
	// TTL of the lease; default 3000. Live, at least a second.
	TTL float64
	// RenewEvery is the interval between renewals; default TTL/3.
	RenewEvery float64
	// RetryEvery is the interval between a candidate's attempts while
	// another holds the lease; default TTL/3.
	RetryEvery float64
}

func (c *ElectionConfig) check() error {
	if c.Store.IsZero() {
		return fmt.Errorf("%w: election: no Store", ErrInvalid)
	}
	if !(c.TTL > 0) {
		c.TTL = 3000
	}
	if !(c.RenewEvery > 0) {
		c.RenewEvery = c.TTL / 3
	}
	if !(c.RetryEvery > 0) {
		c.RetryEvery = c.TTL / 3
	}
	if err := checkName("role", c.Role); err != nil {
		return err
	}
	if err := checkName("member", c.Member); err != nil {
		return err
	}
	if c.RenewEvery >= c.TTL {
		return fmt.Errorf("%w: election: RenewEvery %v must be less than TTL %v", ErrInvalid, c.RenewEvery, c.TTL)
	}
	return nil
}

type electPhase uint8

const (
	idle    electPhase = iota
	trying             // creating the lease, or waiting to try again
	winning            // lease held, writing the term
	leading            // term written
)

// Campaign makes the Election a candidate, with Value as its campaign
// value (etcd's), until Resign. A deposed leader stays a candidate.
type Campaign struct{ Value []byte }

// Resign, a request, ends the candidacy; a leader vacates its term (a
// compare-and-set of the term key, which fences the term at once) and
// deletes its lease. Reply: Resigned.
type Resign struct{}

// Resigned answers Resign.
type Resigned struct{ Err error }

// Observe makes the sender receive LeaderChanged now and whenever the
// leader changes, until Unobserve or until it stops.
type Observe struct{}

// Unobserve ends Observe.
type Unobserve struct{}

// QueryLeader, a request, reads the leader from the store
// (linearizable). Reply: Leader.
type QueryLeader struct{}

// Leader is a role's leader as a member sees it. Member is empty when
// there is none (the lease expired or was resigned and no one has won
// it yet).
type Leader struct {
	Role   string
	Member string
	Term   uint64
	Value  []byte
	// Stale: the member is cut off from the store; this is the last it
	// saw.
	Stale bool
	Err   error
}

// LeaderChanged tells an observer the leader changed.
type LeaderChanged struct{ Leader Leader }

// Elected tells the owner its member won the role for Term. Everything it
// writes as leader goes through Fence.
type Elected struct {
	Role  string
	Term  uint64
	Fence Fence
}

// Deposed tells the owner its member lost the role it held for Term.
type Deposed struct {
	Role   string
	Term   uint64
	Reason string
}

// Fence is a leader's fencing token: its role and term.
type Fence struct {
	Role string
	Term uint64
}

// TermKey is the store key holding role's term.
func TermKey(role string) string { return "elect." + role + ".term" }

// LeaseKey is the store key holding role's lease.
func LeaseKey(role string) string { return "elect." + role + ".lease" }

// Put is the fenced write of value to key: the store applies it only while
// f.Term is the role's newest term, and answers ErrFenced otherwise. Send
// it to a Store like any Write.
func (f Fence) Put(key string, value []byte) Write {
	return Write{Key: key, Value: value, Expect: f.Expect()}
}

// Expect is the condition of a fenced write.
func (f Fence) Expect() Expect {
	return Expect{Cond: Guarded, Key: TermKey(f.Role), Revision: f.Term}
}

type (
	electRetry    struct{}
	electRenew    struct{}
	electDeadline struct{ term, lease uint64 }
)

// NewElection returns a member's Election actor for a role, or the
// configuration's first error.
func NewElection(cfg ElectionConfig) (*Election, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return &Election{cfg: cfg, leaseKey: LeaseKey(cfg.Role), termKey: TermKey(cfg.Role)}, nil
}

// Receive handles the election's messages.
func (e *Election) Receive(ctx actors.Context, msg any) {
	switch m := msg.(type) {
	case actors.Started:
		e.nonce = ctx.Rand().Uint64()
		ctx.Request(e.cfg.Store, Watch{Keys: "elect." + e.cfg.Role + ".*"}, actors.Forever, func(ctx actors.Context, reply any, err error) {
			if err == nil {
				e.watch = reply.(WatchReply).ID
			}
		})
	case Campaign:
		e.want, e.value = true, m.Value
		if e.phase == idle {
			e.phase = trying
			e.attempt(ctx)
		}
	case Resign:
		e.resign(ctx, ctx.ReplyTo())
	case Observe:
		e.observers = append(e.observers, ctx.Sender())
		ctx.Watch(ctx.Sender())
		ctx.Send(ctx.Sender(), LeaderChanged{Leader: e.shown})
	case Unobserve:
		e.forget(ctx.Sender())
	case QueryLeader:
		e.query(ctx, ctx.ReplyTo())
	case actors.Down:
		e.forget(m.Actor)
	case WatchEvent:
		e.observed(ctx, m)
	case Connectivity:
		e.isolated = m.Isolated
		e.show(ctx)
	case electRetry:
		e.retrying = false
		e.attempt(ctx)
	case electRenew:
		e.renewLease(ctx)
	case electDeadline:
		if e.phase >= winning && m.term == e.term && m.lease == e.leaseRev {
			e.depose(ctx, "lease expired: no renewal acknowledged within the TTL")
		}
	}
}

func (e *Election) forget(a actors.Addr) {
	for i, o := range e.observers {
		if o == a {
			e.observers = append(e.observers[:i], e.observers[i+1:]...)
			return
		}
	}
}

func writeResult(reply any, err error) WriteReply {
	if err != nil {
		return WriteReply{Err: fmt.Errorf("%w: %v", ErrUnavailable, err)}
	}
	return reply.(WriteReply)
}

func getResult(reply any, err error) GetReply {
	if err != nil {
		return GetReply{Err: fmt.Errorf("%w: %v", ErrUnavailable, err)}
	}
	return reply.(GetReply)
}

func (e *Election) leaseRecord() []byte {
	return leaseRecord{Member: e.cfg.Member, Nonce: e.nonce, Value: e.value}.encode(kindLease)
}

// mine reports whether entry is a live lease of this incarnation.
func (e *Election) mine(entry Entry) bool {
	if !entry.Live() {
		return false
	}
	r, err := decodeLease(kindLease, entry.Value)
	return err == nil && r.Member == e.cfg.Member && r.Nonce == e.nonce
}

// attempt tries to create the lease.
func (e *Election) attempt(ctx actors.Context) {
	if !e.want || e.busy || e.phase != trying {
		return
	}
	if e.mine(e.lease) { // a create of ours that timed out did happen
		e.adopt(ctx, e.lease.Revision)
		return
	}
	e.busy = true
	sent := ctx.Now()
	ctx.Request(e.cfg.Store, Create(e.leaseKey, e.leaseRecord(), e.cfg.TTL), actors.Forever, func(ctx actors.Context, reply any, err error) {
		e.busy = false
		r := writeResult(reply, err)
		if e.phase != trying {
			return // resigned meanwhile
		}
		if r.Err == nil {
			e.won(ctx, r.Revision, sent)
			return
		}
		e.retryLater(ctx)
	})
}

// adopt renews a lease of ours found in the store, then writes the term.
func (e *Election) adopt(ctx actors.Context, rev uint64) {
	e.busy = true
	sent := ctx.Now()
	ctx.Request(e.cfg.Store, Update(e.leaseKey, e.leaseRecord(), rev, e.cfg.TTL), actors.Forever, func(ctx actors.Context, reply any, err error) {
		e.busy = false
		r := writeResult(reply, err)
		if e.phase != trying {
			return
		}
		if r.Err == nil {
			e.won(ctx, r.Revision, sent)
			return
		}
		e.retryLater(ctx)
	})
}

func (e *Election) retryLater(ctx actors.Context) {
	if !e.retrying && e.want {
		e.retrying = true
		e.retry = ctx.After(e.cfg.RetryEvery, electRetry{})
	}
}

// won: the lease is ours at leaseRev; write the term, guarded by it.
func (e *Election) won(ctx actors.Context, leaseRev uint64, sent float64) {
	e.phase, e.leaseRev, e.term = winning, leaseRev, 0
	e.armDeadline(ctx, sent)
	rec := leaseRecord{Member: e.cfg.Member, Nonce: e.nonce, Value: e.value, Lease: leaseRev}.encode(kindTerm)
	w := Write{Key: e.termKey, Value: rec, Expect: Expect{Cond: Guarded, Key: e.leaseKey, Revision: leaseRev}}
	e.busy = true
	ctx.Request(e.cfg.Store, w, actors.Forever, func(ctx actors.Context, reply any, err error) {
		e.busy = false
		r := writeResult(reply, err)
		if e.phase != winning || e.leaseRev != leaseRev {
			return
		}
		if r.Err != nil {
			// Fenced: the lease moved on. Unknown: the next attempt finds
			// our lease and writes a new term.
			e.phase = trying
			ctx.Cancel(e.deadline)
			e.retryLater(ctx)
			return
		}
		e.phase, e.term = leading, r.Revision
		e.armDeadline(ctx, sent) // the same deadline, now for this term
		e.renew = ctx.After(e.cfg.RenewEvery, electRenew{})
		if !e.cfg.Owner.IsZero() {
			ctx.Send(e.cfg.Owner, Elected{Role: e.cfg.Role, Term: e.term, Fence: Fence{Role: e.cfg.Role, Term: e.term}})
		}
	})
}

// armDeadline (re)sets the local deadline of the lease: TTL after sent,
// when the renewal the store acknowledged was sent.
func (e *Election) armDeadline(ctx actors.Context, sent float64) {
	ctx.Cancel(e.deadline)
	e.deadline = ctx.After(sent+e.cfg.TTL-ctx.Now(), electDeadline{term: e.term, lease: e.leaseRev})
}

func (e *Election) renewLease(ctx actors.Context) {
	if e.phase != leading {
		return
	}
	if e.busy {
		e.renew = ctx.After(e.cfg.RenewEvery/4, electRenew{})
		return
	}
	e.busy = true
	sent, term := ctx.Now(), e.term
	ctx.Request(e.cfg.Store, Update(e.leaseKey, e.leaseRecord(), e.leaseRev, e.cfg.TTL), actors.Forever, func(ctx actors.Context, reply any, err error) {
		e.busy = false
		r := writeResult(reply, err)
		if e.phase != leading || e.term != term {
			return
		}
		switch {
		case r.Err == nil:
			e.leaseRev = r.Revision
			e.armDeadline(ctx, sent)
			e.renew = ctx.After(e.cfg.RenewEvery, electRenew{})
		case unreachable(r.Err):
			// Still the leader until the deadline; try again soon.
			e.renew = ctx.After(e.cfg.RenewEvery/2, electRenew{})
		case e.mine(e.lease) && e.lease.Revision > e.leaseRev:
			// A renewal that timed out was applied after all.
			e.leaseRev = e.lease.Revision
			e.renew = ctx.After(0, electRenew{})
		default:
			e.depose(ctx, "lease lost: "+r.Err.Error())
		}
	})
}

// depose ends this member's term and makes it a candidate again.
func (e *Election) depose(ctx actors.Context, reason string) {
	term, wasLeader := e.term, e.phase == leading
	e.phase, e.term = idle, 0
	ctx.Cancel(e.deadline)
	ctx.Cancel(e.renew)
	if wasLeader && !e.cfg.Owner.IsZero() {
		ctx.Send(e.cfg.Owner, Deposed{Role: e.cfg.Role, Term: term, Reason: reason})
	}
	if e.want {
		e.phase = trying
		e.retryLater(ctx)
	}
}

func (e *Election) resign(ctx actors.Context, r actors.ReplyTo) {
	e.want = false
	ctx.Cancel(e.retry)
	e.retrying = false
	if e.phase != leading {
		if e.phase == winning {
			e.phase = idle
			ctx.Cancel(e.deadline)
		}
		e.phase = idle
		ctx.Reply(r, Resigned{})
		return
	}
	term, leaseRev := e.term, e.leaseRev
	e.depose(ctx, "resigned")
	vacant := leaseRecord{Member: e.cfg.Member, Nonce: e.nonce, Lease: leaseRev, Vacant: true}.encode(kindTerm)
	ctx.Request(e.cfg.Store, Update(e.termKey, vacant, term, 0), actors.Forever, func(ctx actors.Context, reply any, err error) {
		res := writeResult(reply, err)
		if res.Err != nil {
			ctx.Reply(r, Resigned{Err: res.Err})
			return
		}
		ctx.Request(e.cfg.Store, Delete(e.leaseKey, leaseRev), actors.Forever, func(ctx actors.Context, reply any, err error) {
			res := writeResult(reply, err)
			if errors.Is(res.Err, ErrRevision) {
				res.Err = nil // the lease had moved on anyway
			}
			ctx.Reply(r, Resigned{Err: res.Err})
		})
	})
}

// observed follows the lease and term keys.
func (e *Election) observed(ctx actors.Context, ev WatchEvent) {
	if ev.ID != e.watch || ev.Ready {
		if ev.Ready {
			e.show(ctx)
		}
		return
	}
	switch ev.Entry.Key {
	case e.leaseKey:
		e.lease = ev.Entry
		if e.phase == leading && !e.mine(e.lease) && e.lease.Revision > e.leaseRev {
			e.depose(ctx, "lease lost: the store shows another holder or none")
		}
		if e.phase == trying && !e.lease.Live() && !e.busy {
			ctx.Cancel(e.retry)
			e.retrying = false
			e.attempt(ctx)
		}
	case e.termKey:
		e.termEntry = ev.Entry
		if e.phase == leading && e.termEntry.Revision > e.term {
			e.depose(ctx, "a newer term was written")
		}
	}
	e.show(ctx)
}

// leaderOf derives the leader from the lease and term entries: the term's
// holder while its lease lives.
func leaderOf(role string, lease, term Entry) Leader {
	l := Leader{Role: role}
	if !lease.Live() || !term.Live() {
		return l
	}
	lr, err1 := decodeLease(kindLease, lease.Value)
	tr, err2 := decodeLease(kindTerm, term.Value)
	if err1 != nil || err2 != nil || tr.Vacant || lr.Member != tr.Member || lr.Nonce != tr.Nonce {
		return l
	}
	l.Member, l.Term, l.Value = tr.Member, term.Revision, tr.Value
	return l
}

// show tells the observers when the leader they know changed.
func (e *Election) show(ctx actors.Context) {
	l := leaderOf(e.cfg.Role, e.lease, e.termEntry)
	l.Stale = e.isolated
	if l.Member == e.shown.Member && l.Term == e.shown.Term && l.Stale == e.shown.Stale && bytes.Equal(l.Value, e.shown.Value) {
		return
	}
	e.shown = l
	for _, o := range e.observers {
		ctx.Send(o, LeaderChanged{Leader: l})
	}
}

func (e *Election) query(ctx actors.Context, r actors.ReplyTo) {
	ctx.Request(e.cfg.Store, Get{Key: e.termKey}, actors.Forever, func(ctx actors.Context, reply any, err error) {
		term := getResult(reply, err)
		if unreachable(term.Err) {
			l := e.shown
			l.Stale, l.Err = true, term.Err
			ctx.Reply(r, l)
			return
		}
		ctx.Request(e.cfg.Store, Get{Key: e.leaseKey}, actors.Forever, func(ctx actors.Context, reply any, err error) {
			lease := getResult(reply, err)
			if unreachable(lease.Err) {
				l := e.shown
				l.Stale, l.Err = true, lease.Err
				ctx.Reply(r, l)
				return
			}
			ctx.Reply(r, leaderOf(e.cfg.Role, lease.Entry, term.Entry))
		})
	})
}
