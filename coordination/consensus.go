package coordination

import (
	"fmt"
	"strings"

	"github.com/marlon-go/marlon/actors"
)

// Choice is a vote.
type Choice uint8

const (
	Accept Choice = iota + 1
	Reject
	Abstain
)

func (c Choice) String() string {
	switch c {
	case Accept:
		return "accept"
	case Reject:
		return "reject"
	case Abstain:
		return "abstain"
	}
	return fmt.Sprintf("Choice(%d)", uint8(c))
}

// Outcome is what became of a proposal.
type Outcome uint8

const (
	// Accepted: accepting votes reached AcceptAt of the votes cast.
	Accepted Outcome = iota + 1
	// Rejected: rejecting votes reached RejectAt of the votes cast (and
	// accepting ones did not reach AcceptAt).
	Rejected
	// NoDecision: enough members voted, but neither threshold was reached
	// (possible with abstentions, or thresholds adding up to more than 1).
	NoDecision
	// TimedOut: the deadline passed before a majority of the members voted.
	TimedOut
)

func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case Rejected:
		return "rejected"
	case NoDecision:
		return "no decision"
	case TimedOut:
		return "timed out"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// Thresholds are the fractions of the votes cast that accept or reject a
// proposal (seed 000's 0.6 and 0.4 by default).
type Thresholds struct {
	AcceptAt, RejectAt float64
}

// DefaultThresholds are seed 000's.
var DefaultThresholds = Thresholds{AcceptAt: 0.6, RejectAt: 0.4}

func (t Thresholds) check() error {
	if !(t.AcceptAt > 0 && t.AcceptAt <= 1) || !(t.RejectAt > 0 && t.RejectAt <= 1) {
		return fmt.Errorf("%w: thresholds %v and %v: each must be in (0, 1]", ErrInvalid, t.AcceptAt, t.RejectAt)
	}
	return nil
}

// Tally decides a proposal from its votes. The rule, in full:
//
//   - The members are the live members (presence keys) together with those
//     who voted; pending is the number of live members yet to vote.
//   - A decision needs a majority of the members to have voted:
//     2·cast > cast + pending, where cast counts accepting, rejecting and
//     abstaining votes.
//   - The denominator of both thresholds is the votes cast, abstentions
//     included. A proposal is accepted when accept ≥ AcceptAt·cast;
//     otherwise rejected when reject ≥ RejectAt·cast; otherwise there is
//     no decision. Accepting is checked first, as in seed 000: with the
//     default 0.6 and 0.4, both hold at exactly 60/40 (3 to 2), which is
//     accepted.
//   - Before the deadline (final false) the proposal is decided as soon as
//     the pending votes cannot change the outcome: accepted if accept ≥
//     AcceptAt·(cast+pending) (every pending vote against it still
//     leaves it accepted); rejected if accept+pending < AcceptAt·(cast+
//     pending) and reject ≥ RejectAt·(cast+pending). When nobody is
//     pending, that is the final rule.
//   - At the deadline (final true) the votes cast decide, if a majority
//     voted; else the outcome is TimedOut.
//
// It reports false while the proposal is undecided.
func Tally(t Thresholds, accept, reject, abstain, pending int, final bool) (Outcome, bool) {
	cast := accept + reject + abstain
	if 2*cast <= cast+pending {
		if final {
			return TimedOut, true
		}
		return 0, false
	}
	if pending == 0 {
		final = true
	}
	if final {
		switch n := float64(cast); {
		case float64(accept)/n >= t.AcceptAt:
			return Accepted, true
		case float64(reject)/n >= t.RejectAt:
			return Rejected, true
		}
		return NoDecision, true
	}
	all := float64(cast + pending)
	switch {
	case float64(accept)/all >= t.AcceptAt:
		return Accepted, true
	case float64(accept+pending)/all < t.AcceptAt && float64(reject)/all >= t.RejectAt:
		return Rejected, true
	}
	return 0, false
}

// Consensus is a member's part in deciding proposals: it votes on every
// proposal of the store (asking its Owner, or its Voter function), counts
// the votes with Tally against the live members (from a Membership), and
// writes the decision once it is certain or the proposal's deadline
// passes. Keys: prop.ID.p (the proposal), prop.ID.v.MEMBER (one vote each,
// created once: a vote cannot change), prop.ID.d (the decision, created
// once: the first member to decide writes it and every member adopts it,
// so all see the same outcome even when their views of the membership
// differ).
//
// The proposer sends Propose (a request) and gets the Decision; every
// member's owner receives each Decision. A member cut off from the store
// can neither vote nor decide; the members that reach it decide without
// it when they are a majority of the live members.
type Consensus struct {
	cfg       ConsensusConfig
	watch     WatchID
	live      map[string]bool
	haveLive  bool
	isolated  bool
	proposals map[string]*proposal
}

// ConsensusConfig configures a Consensus. Times are in virtual time units.
type ConsensusConfig struct {
	// Store is the member's store; Members its Membership (for the live
	// members).
	Store, Members actors.Addr
	// Member names this member.
	Member string
	// Owner receives VoteRequest (a request: it answers with a Choice)
	// unless Voter is set, and every Decision (zero: nobody).
	Owner actors.Addr
	// Voter, if set, chooses the member's vote inside the actor's turn.
	Voter func(Proposal) Choice
	// Thresholds default to DefaultThresholds.
	Thresholds Thresholds
	// KeepFor, if > 0, is the TTL of the proposal's keys.
	KeepFor float64
}

// Propose, a request, puts Value to the vote under ID (a name); voting
// lasts Timeout virtual time units from when each member sees it. Reply:
// Decision.
type Propose struct {
	ID      string
	Value   []byte
	Timeout float64
}

// Proposal is a proposal as voters see it.
type Proposal struct {
	ID       string
	Proposer string
	Value    []byte
}

// VoteRequest asks the owner for the member's vote on a proposal; the
// owner replies with a Choice.
type VoteRequest struct{ Proposal Proposal }

// Decision is a proposal's outcome, with the votes counted and the number
// of members it was counted against.
type Decision struct {
	ID                      string
	Outcome                 Outcome
	Accept, Reject, Abstain int
	Members                 int
	Err                     error
}

type proposal struct {
	id       string
	rec      proposalRecord
	seen     bool
	votes    map[string]Choice
	voted    bool // this member's vote is written or being written
	decided  bool
	deciding bool
	replies  []actors.ReplyTo
	deadline actors.Timer
	expired  bool
}

type consensusDeadline struct{ id string }

// NewConsensus returns a member's Consensus actor, or the configuration's
// first error.
func NewConsensus(cfg ConsensusConfig) (*Consensus, error) {
	if cfg.Thresholds == (Thresholds{}) {
		cfg.Thresholds = DefaultThresholds
	}
	if err := checkConfig(cfg.Store, "member", cfg.Member); err != nil {
		return nil, err
	}
	if err := cfg.Thresholds.check(); err != nil {
		return nil, err
	}
	return &Consensus{cfg: cfg, live: map[string]bool{}, proposals: map[string]*proposal{}}, nil
}

func propKey(id, rest string) string { return "prop." + id + "." + rest }

// Receive handles the consensus's messages.
func (c *Consensus) Receive(ctx actors.Context, msg any) {
	switch m := msg.(type) {
	case actors.Started:
		ctx.Request(c.cfg.Store, Watch{Keys: "prop.>"}, actors.Forever, func(ctx actors.Context, reply any, err error) {
			if err == nil {
				c.watch = reply.(WatchReply).ID
			}
		})
		if !c.cfg.Members.IsZero() {
			ctx.Send(c.cfg.Members, SubscribeMembers{})
		}
	case Propose:
		c.propose(ctx, m, ctx.ReplyTo())
	case Members:
		c.live, c.haveLive = map[string]bool{}, true
		for _, n := range m.Live {
			c.live[n] = true
		}
		for _, id := range sortedKeys(c.proposals) {
			c.count(ctx, c.proposals[id])
		}
	case Connectivity:
		c.isolated = m.Isolated
	case WatchEvent:
		if m.ID == c.watch && !m.Ready {
			c.observed(ctx, m.Entry)
		}
	case consensusDeadline:
		if p := c.proposals[m.id]; p != nil && !p.decided {
			p.expired = true
			c.count(ctx, p)
		}
	}
}

func (c *Consensus) propose(ctx actors.Context, m Propose, r actors.ReplyTo) {
	switch {
	case !validName(m.ID):
		ctx.Reply(r, Decision{ID: m.ID, Err: fmt.Errorf("%w: proposal ID %q: 1 to 64 letters, digits, '-' or '_'", ErrInvalid, m.ID)})
		return
	case !(m.Timeout > 0) || m.Timeout > 1e15:
		ctx.Reply(r, Decision{ID: m.ID, Err: fmt.Errorf("%w: proposal timeout %v: must be > 0", ErrInvalid, m.Timeout)})
		return
	}
	rec := proposalRecord{Proposer: c.cfg.Member, Value: m.Value, Timeout: m.Timeout}
	ctx.Request(c.cfg.Store, Create(propKey(m.ID, "p"), rec.encode(), c.cfg.KeepFor), actors.Forever, func(ctx actors.Context, reply any, err error) {
		res := writeResult(reply, err)
		if res.Err != nil {
			ctx.Reply(r, Decision{ID: m.ID, Err: res.Err})
			return
		}
		p := c.get(m.ID)
		if p.decided {
			return
		}
		p.replies = append(p.replies, r)
	})
}

func (c *Consensus) get(id string) *proposal {
	p := c.proposals[id]
	if p == nil {
		p = &proposal{id: id, votes: map[string]Choice{}}
		c.proposals[id] = p
	}
	return p
}

// observed follows the proposals' keys.
func (c *Consensus) observed(ctx actors.Context, e Entry) {
	rest := strings.TrimPrefix(e.Key, "prop.")
	id, kind, ok := strings.Cut(rest, ".")
	if !ok || !validName(id) {
		return
	}
	p := c.get(id)
	switch {
	case kind == "p" && e.Live():
		rec, err := decodeProposal(e.Value)
		if err != nil || p.seen {
			return
		}
		p.rec, p.seen = rec, true
		if !p.decided {
			p.deadline = ctx.After(rec.Timeout, consensusDeadline{id: id})
			c.vote(ctx, p)
		}
	case strings.HasPrefix(kind, "v.") && e.Live():
		v, err := decodeVote(e.Value)
		voter := strings.TrimPrefix(kind, "v.")
		if err != nil || !validName(voter) {
			return
		}
		p.votes[voter] = v.Choice
		if voter == c.cfg.Member {
			p.voted = true
		}
	case kind == "d" && e.Live():
		d, err := decodeDecision(e.Value)
		if err != nil || p.decided {
			return
		}
		c.decided(ctx, p, d)
		return
	default:
		return
	}
	c.count(ctx, p)
}

// vote casts this member's vote on p, once.
func (c *Consensus) vote(ctx actors.Context, p *proposal) {
	if p.voted || p.decided {
		return
	}
	p.voted = true
	prop := Proposal{ID: p.id, Proposer: p.rec.Proposer, Value: p.rec.Value}
	cast := func(ctx actors.Context, ch Choice) {
		if ch < Accept || ch > Abstain {
			ch = Abstain
		}
		w := Create(propKey(p.id, "v."+c.cfg.Member), voteRecord{Choice: ch}.encode(), c.cfg.KeepFor)
		ctx.Request(c.cfg.Store, w, actors.Forever, func(ctx actors.Context, reply any, err error) {
			if r := writeResult(reply, err); unreachable(r.Err) {
				p.voted = false // cut off: vote again if still open when the store is back
			}
		})
	}
	switch {
	case c.cfg.Voter != nil:
		cast(ctx, c.cfg.Voter(prop))
	case !c.cfg.Owner.IsZero():
		ctx.Request(c.cfg.Owner, VoteRequest{Proposal: prop}, p.rec.Timeout, func(ctx actors.Context, reply any, err error) {
			ch, _ := reply.(Choice)
			if err != nil {
				ch = Abstain
			}
			cast(ctx, ch)
		})
	default:
		cast(ctx, Abstain)
	}
}

// count tallies p and writes the decision when there is one.
func (c *Consensus) count(ctx actors.Context, p *proposal) {
	if !p.seen || p.decided || p.deciding {
		return
	}
	if !p.voted && !c.isolated {
		c.vote(ctx, p)
	}
	var a, r, ab, pending int
	for _, ch := range p.votes {
		switch ch {
		case Accept:
			a++
		case Reject:
			r++
		case Abstain:
			ab++
		}
	}
	for m := range c.live {
		if _, ok := p.votes[m]; !ok {
			pending++
		}
	}
	if !c.haveLive && !p.expired && !c.cfg.Members.IsZero() {
		return // no view of the members yet
	}
	out, ok := Tally(c.cfg.Thresholds, a, r, ab, pending, p.expired)
	if !ok {
		return
	}
	d := decisionRecord{Outcome: out, Accept: uint64(a), Reject: uint64(r), Abstain: uint64(ab), Members: uint64(a + r + ab + pending)}
	p.deciding = true
	ctx.Request(c.cfg.Store, Create(propKey(p.id, "d"), d.encode(), c.cfg.KeepFor), actors.Forever, func(ctx actors.Context, reply any, err error) {
		p.deciding = false
		res := writeResult(reply, err)
		switch {
		case res.Err == nil:
			c.decided(ctx, p, d)
		case unreachable(res.Err) && p.expired:
			// Cut off at the deadline: answer the proposer with what is
			// known; the decision, if any, is the majority's.
			for _, rt := range p.replies {
				ctx.Reply(rt, Decision{ID: p.id, Err: res.Err})
			}
			p.replies = nil
		}
		// ErrExists: another member decided; the watch brings it.
	})
}

func (c *Consensus) decided(ctx actors.Context, p *proposal, d decisionRecord) {
	if p.decided {
		return
	}
	p.decided = true
	ctx.Cancel(p.deadline)
	dec := Decision{ID: p.id, Outcome: d.Outcome, Accept: int(d.Accept), Reject: int(d.Reject), Abstain: int(d.Abstain), Members: int(d.Members)}
	for _, r := range p.replies {
		ctx.Reply(r, dec)
	}
	p.replies = nil
	if !c.cfg.Owner.IsZero() {
		ctx.Send(c.cfg.Owner, dec)
	}
}
