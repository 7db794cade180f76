package coordination

import (
	"fmt"
	"slices"
	"strings"

	"github.com/marlon-go/marlon/actors"
)

// Membership is a member's presence in a group, and its view of the
// group's live members: the presence key mem.GROUP.MEMBER, created with a
// TTL and renewed every RenewEvery (as an election's lease is), and a
// watch of mem.GROUP.*. A member that dies or is cut off from the store
// drops out of everyone's view TTL after its last renewal; one that comes
// back (or restarts) joins again. Barriers of all live members and
// consensus use it.
type Membership struct {
	cfg       MembersConfig
	key       string
	nonce     uint64
	rev       uint64
	busy      bool
	left      bool
	watch     WatchID
	ready     bool
	live      map[string]bool
	self      Entry
	subs      []actors.Addr
	isolated  bool
	lastShown Members
	shown     bool
}

// MembersConfig configures a Membership. Times are in virtual time units.
type MembersConfig struct {
	// Store is the member's store.
	Store actors.Addr
	// Group and Member name the group and this member.
	Group, Member string
	// TTL of the presence key; default 3000.
	TTL float64
	// RenewEvery is the interval between renewals; default TTL/3.
	RenewEvery float64
}

// ListMembers, a request, asks for the live members. Reply: Members.
type ListMembers struct{}

// SubscribeMembers makes the sender receive Members now (once the view is
// complete) and whenever the live members change, until it stops.
type SubscribeMembers struct{}

// Leave, a request, deletes the member's presence key and stops renewing
// it. Reply: WriteReply.
type Leave struct{}

// Members is a group's live members as one member sees them, sorted.
// Stale: the member is cut off from the store.
type Members struct {
	Group string
	Live  []string
	Stale bool
	Err   error
}

type memRenew struct{}

// NewMembership returns a member's Membership actor, or the
// configuration's first error.
func NewMembership(cfg MembersConfig) (*Membership, error) {
	if err := checkConfig(cfg.Store, "group", cfg.Group, "member", cfg.Member); err != nil {
		return nil, err
	}
	if !(cfg.TTL > 0) {
		cfg.TTL = 3000
	}
	if !(cfg.RenewEvery > 0) {
		cfg.RenewEvery = cfg.TTL / 3
	}
	if cfg.RenewEvery >= cfg.TTL {
		return nil, fmt.Errorf("%w: membership: RenewEvery %v must be less than TTL %v", ErrInvalid, cfg.RenewEvery, cfg.TTL)
	}
	return &Membership{cfg: cfg, key: "mem." + cfg.Group + "." + cfg.Member, live: map[string]bool{}}, nil
}

// Receive handles the membership's messages.
func (m *Membership) Receive(ctx actors.Context, msg any) {
	switch r := msg.(type) {
	case actors.Started:
		m.nonce = ctx.Rand().Uint64()
		ctx.Request(m.cfg.Store, Watch{Keys: "mem." + m.cfg.Group + ".*"}, actors.Forever, func(ctx actors.Context, reply any, err error) {
			if err == nil {
				m.watch = reply.(WatchReply).ID
			}
		})
		m.join(ctx)
		ctx.After(m.cfg.RenewEvery, memRenew{})
	case memRenew:
		if !m.left {
			m.join(ctx)
			ctx.After(m.cfg.RenewEvery, memRenew{})
		}
	case memRenewNow:
		m.join(ctx)
	case ListMembers:
		ctx.Reply(ctx.ReplyTo(), m.members())
	case SubscribeMembers:
		m.subs = append(m.subs, ctx.Sender())
		ctx.Watch(ctx.Sender())
		if m.ready {
			ctx.Send(ctx.Sender(), m.members())
		}
	case Leave:
		m.left = true
		rt := ctx.ReplyTo()
		ctx.Request(m.cfg.Store, Delete(m.key, 0), actors.Forever, func(ctx actors.Context, reply any, err error) {
			ctx.Reply(rt, writeResult(reply, err))
		})
	case actors.Down:
		m.subs = slices.DeleteFunc(m.subs, func(a actors.Addr) bool { return a == r.Actor })
	case WatchEvent:
		if r.ID != m.watch {
			return
		}
		if r.Ready {
			m.ready = true
		} else {
			name := strings.TrimPrefix(r.Entry.Key, "mem."+m.cfg.Group+".")
			if r.Entry.Live() {
				m.live[name] = true
			} else {
				delete(m.live, name)
			}
			if r.Entry.Key == m.key {
				m.self = r.Entry
			}
		}
		m.publish(ctx)
	case Connectivity:
		m.isolated = r.Isolated
		m.publish(ctx)
	}
}

// join creates or renews the presence key.
func (m *Membership) join(ctx actors.Context) {
	if m.busy {
		return
	}
	rec := presenceRecord{Nonce: m.nonce}.encode()
	var w Write
	switch {
	case m.rev != 0:
		w = Update(m.key, rec, m.rev, m.cfg.TTL)
	case m.self.Live():
		// A previous incarnation's key, still alive: take it over.
		w = Update(m.key, rec, m.self.Revision, m.cfg.TTL)
	default:
		w = Create(m.key, rec, m.cfg.TTL)
	}
	m.busy = true
	ctx.Request(m.cfg.Store, w, actors.Forever, func(ctx actors.Context, reply any, err error) {
		m.busy = false
		r := writeResult(reply, err)
		switch {
		case m.left:
		case r.Err == nil:
			m.rev = r.Revision
		case !unreachable(r.Err):
			m.rev = 0 // expired or taken: create it again at the next renewal
			ctx.After(0, memRenewNow{})
		}
	})
}

type memRenewNow struct{}

func (m *Membership) members() Members {
	live := sortedKeys(m.live)
	return Members{Group: m.cfg.Group, Live: live, Stale: m.isolated}
}

func (m *Membership) publish(ctx actors.Context) {
	if !m.ready {
		return
	}
	ms := m.members()
	if m.shown && slices.Equal(ms.Live, m.lastShown.Live) && ms.Stale == m.lastShown.Stale {
		return
	}
	m.shown, m.lastShown = true, ms
	for _, s := range m.subs {
		ctx.Send(s, ms)
	}
}
