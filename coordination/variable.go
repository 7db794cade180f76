package coordination

import (
	"fmt"

	"github.com/marlon-go/marlon/actors"
)

// Var is a member's handle on a shared variable: a key of the store
// (var.NAME) whose value carries, with the data, the vector clock of its
// writers, the writer and, for a fenced write, the leader's term.
//
// Writes are linearized by the store (each gets a revision); the clocks
// say which writes saw which: a member's write has its own count one up
// from the merge of every value it has seen. VarChanged tells the owner of
// every new value and how it relates to the one before: After (the writer
// had seen it) or Concurrent (two writers that had not seen each other's
// writes: the store kept the later, and the owner may merge them and write
// again). Use CASVar to write only on top of a known revision, and a Fence
// to write as a role's leader.
type Var struct {
	cfg      VarConfig
	key      string
	clock    VClock
	watch    WatchID
	last     VarValue
	isolated bool
}

// VarConfig configures a Var.
type VarConfig struct {
	// Store is the member's store.
	Store actors.Addr
	// Name names the variable; Member this member.
	Name, Member string
	// Owner receives VarChanged for every new value (zero: nobody).
	Owner actors.Addr
}

// GetVar, a request, reads the variable. Reply: VarValue.
type GetVar struct{ Level Level }

// SetVar, a request, writes the variable: unconditionally, or with Fence
// set, only while Fence.Term is its role's newest term. Reply: VarWritten.
type SetVar struct {
	Data  []byte
	Fence *Fence
}

// CASVar, a request, writes the variable only if its last revision is
// Revision (0: it has never been written). Reply: VarWritten.
type CASVar struct {
	Data     []byte
	Revision uint64
}

// DeleteVar, a request, deletes the variable (Revision > 0: only at that
// revision). Reply: VarWritten.
type DeleteVar struct{ Revision uint64 }

// VarValue is a variable's value. Err is ErrNotFound when it has none.
type VarValue struct {
	Name     string
	Data     []byte
	Revision uint64
	Clock    VClock
	Writer   string
	Term     uint64
	Stale    bool
	Err      error
}

// VarWritten answers a write.
type VarWritten struct {
	Revision uint64
	Clock    VClock
	Err      error
}

// VarChanged tells the owner of a new value of the variable (Value.Err is
// ErrNotFound when it was deleted or expired). Order relates the new
// value's clock to the previous value's.
type VarChanged struct {
	Value VarValue
	Order Order
}

// VarKey is the store key of variable name.
func VarKey(name string) string { return "var." + name }

// NewVar returns a member's Var actor, or the configuration's first
// error.
func NewVar(cfg VarConfig) (*Var, error) {
	if err := checkConfig(cfg.Store, "variable", cfg.Name, "member", cfg.Member); err != nil {
		return nil, err
	}
	return &Var{cfg: cfg, key: VarKey(cfg.Name)}, nil
}

// Receive handles the variable's messages.
func (v *Var) Receive(ctx actors.Context, msg any) {
	r := ctx.ReplyTo()
	switch m := msg.(type) {
	case actors.Started:
		ctx.Request(v.cfg.Store, Watch{Keys: v.key}, actors.Forever, func(ctx actors.Context, reply any, err error) {
			if err == nil {
				v.watch = reply.(WatchReply).ID
			}
		})
	case GetVar:
		ctx.Request(v.cfg.Store, Get{Key: v.key, Level: m.Level}, actors.Forever, func(ctx actors.Context, reply any, err error) {
			g := getResult(reply, err)
			val := v.value(g.Entry, g.Err)
			val.Stale = g.Stale
			if val.Err == nil {
				v.clock = v.clock.Merge(val.Clock)
			}
			ctx.Reply(r, val)
		})
	case SetVar:
		w := Put(v.key, nil)
		rec := varRecord{Data: m.Data, Writer: v.cfg.Member}
		if m.Fence != nil {
			w.Expect = m.Fence.Expect()
			rec.Term = m.Fence.Term
		}
		v.write(ctx, w, rec, r)
	case CASVar:
		v.write(ctx, Update(v.key, nil, m.Revision, 0), varRecord{Data: m.Data, Writer: v.cfg.Member}, r)
	case DeleteVar:
		ctx.Request(v.cfg.Store, Delete(v.key, m.Revision), actors.Forever, func(ctx actors.Context, reply any, err error) {
			res := writeResult(reply, err)
			ctx.Reply(r, VarWritten{Revision: res.Revision, Clock: v.clock, Err: res.Err})
		})
	case WatchEvent:
		if m.ID == v.watch && !m.Ready {
			v.changed(ctx, m.Entry)
		}
	case Connectivity:
		v.isolated = m.Isolated
	}
}

func (v *Var) write(ctx actors.Context, w Write, rec varRecord, r actors.ReplyTo) {
	rec.Clock = v.clock.Tick(v.cfg.Member)
	w.Value = rec.encode()
	ctx.Request(v.cfg.Store, w, actors.Forever, func(ctx actors.Context, reply any, err error) {
		res := writeResult(reply, err)
		if res.Err == nil {
			v.clock = v.clock.Merge(rec.Clock)
		}
		ctx.Reply(r, VarWritten{Revision: res.Revision, Clock: rec.Clock, Err: res.Err})
	})
}

// value decodes an entry of the variable's key.
func (v *Var) value(e Entry, err error) VarValue {
	val := VarValue{Name: v.cfg.Name, Revision: e.Revision, Err: err}
	if err != nil || !e.Live() {
		if val.Err == nil {
			val.Err = ErrNotFound
		}
		return val
	}
	rec, derr := decodeVar(e.Value)
	if derr != nil {
		val.Err = fmt.Errorf("%w: variable %s at revision %d: %v", ErrInvalid, v.cfg.Name, e.Revision, derr)
		return val
	}
	val.Data, val.Clock, val.Writer, val.Term = rec.Data, rec.Clock, rec.Writer, rec.Term
	return val
}

func (v *Var) changed(ctx actors.Context, e Entry) {
	val := v.value(e, nil)
	order := After
	if val.Err == nil {
		order = val.Clock.Compare(v.last.Clock)
		v.clock = v.clock.Merge(val.Clock)
	}
	v.last = val
	if !v.cfg.Owner.IsZero() {
		ctx.Send(v.cfg.Owner, VarChanged{Value: val, Order: order})
	}
}
