package coordination

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
)

// The values the primitives keep in the store are records: a kind byte, a
// version byte, then the fields, each an unsigned varint or a
// length-prefixed byte string. A decoder refuses a record of another kind
// or version, a field running past the end, a varint not in its shortest
// form, and trailing bytes (so a record has one encoding); it never
// allocates more than the input's length. The store carries them as
// opaque bytes (JetStream KV values).

const recordVersion = 1

// Kinds of record.
const (
	kindVar byte = iota + 'A'
	kindLease
	kindTerm
	kindPresence
	kindArrival
	kindBarrierOutcome
	kindProposal
	kindVote
	kindDecision
)

var errRecord = errors.New("coordination: malformed record")

type encoder struct{ b []byte }

func newEncoder(kind byte) *encoder { return &encoder{b: []byte{kind, recordVersion}} }

func (e *encoder) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) bytes(p []byte) {
	e.uint(uint64(len(p)))
	e.b = append(e.b, p...)
}
func (e *encoder) str(s string)    { e.uint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) float(f float64) { e.uint(math.Float64bits(f)) }
func (e *encoder) strs(ss []string) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}
func (e *encoder) clock(c VClock) {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	e.uint(uint64(len(keys)))
	for _, k := range keys {
		e.str(k)
		e.uint(c[k])
	}
}

type decoder struct {
	b   []byte
	err error
}

func newDecoder(kind byte, b []byte) *decoder {
	d := &decoder{b: b}
	switch {
	case len(b) < 2:
		d.err = fmt.Errorf("%w: %d bytes", errRecord, len(b))
	case b[0] != kind:
		d.err = fmt.Errorf("%w: kind %q, want %q", errRecord, b[0], kind)
	case b[1] != recordVersion:
		d.err = fmt.Errorf("%w: version %d, want %d", errRecord, b[1], recordVersion)
	default:
		d.b = b[2:]
	}
	return d
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != uvarintLen(v) { // malformed, or not the shortest form
		d.err = fmt.Errorf("%w: bad varint", errRecord)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func (d *decoder) bytes() []byte {
	n := d.uint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: field of %d bytes, %d left", errRecord, n, len(d.b))
		return nil
	}
	p := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return p
}

func (d *decoder) bool() bool {
	v := d.uint()
	if v > 1 && d.err == nil {
		d.err = fmt.Errorf("%w: boolean %d", errRecord, v)
	}
	return v == 1
}

// small decodes an enumeration of at most max.
func (d *decoder) small(max uint8) uint8 {
	v := d.uint()
	if v > uint64(max) && d.err == nil {
		d.err = fmt.Errorf("%w: %d out of range", errRecord, v)
	}
	return uint8(v)
}

func (d *decoder) str() string    { return string(d.bytes()) }
func (d *decoder) float() float64 { return math.Float64frombits(d.uint()) }
func (d *decoder) count() int {
	n := d.uint()
	if d.err == nil && n > uint64(len(d.b)) { // every element takes a byte at least
		d.err = fmt.Errorf("%w: %d elements, %d bytes left", errRecord, n, len(d.b))
	}
	if d.err != nil {
		return 0
	}
	return int(n)
}

func (d *decoder) strs() []string {
	n := d.count()
	var ss []string
	for i := 0; i < n && d.err == nil; i++ {
		ss = append(ss, d.str())
	}
	return ss
}

func (d *decoder) clock() VClock {
	n := d.count()
	if n == 0 {
		return nil
	}
	c := make(VClock, n)
	prev := ""
	for i := 0; i < n && d.err == nil; i++ {
		k := d.str()
		if i > 0 && k <= prev {
			d.err = fmt.Errorf("%w: clock members not in order", errRecord)
		}
		c[k], prev = d.uint(), k
	}
	return c
}

func (d *decoder) done() error {
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errRecord, len(d.b))
	}
	return d.err
}

// varRecord is a variable's value: its data, the vector clock of its
// writers, who wrote it and under which term (0: not fenced).
type varRecord struct {
	Data   []byte
	Clock  VClock
	Writer string
	Term   uint64
}

func (r varRecord) encode() []byte {
	e := newEncoder(kindVar)
	e.bytes(r.Data)
	e.clock(r.Clock)
	e.str(r.Writer)
	e.uint(r.Term)
	return e.b
}

func decodeVar(b []byte) (varRecord, error) {
	d := newDecoder(kindVar, b)
	r := varRecord{Data: d.bytes(), Clock: d.clock(), Writer: d.str(), Term: d.uint()}
	return r, d.done()
}

// leaseRecord is the value of an election's lease key and of its term key:
// the holder (member and incarnation) and its campaign value. A term
// record also names the lease revision it was won with; Vacant marks the
// term key of a leader that resigned.
type leaseRecord struct {
	Member string
	Nonce  uint64
	Value  []byte
	Lease  uint64
	Vacant bool
}

func (r leaseRecord) encode(kind byte) []byte {
	e := newEncoder(kind)
	e.str(r.Member)
	e.uint(r.Nonce)
	e.bytes(r.Value)
	e.uint(r.Lease)
	if r.Vacant {
		e.uint(1)
	} else {
		e.uint(0)
	}
	return e.b
}

func decodeLease(kind byte, b []byte) (leaseRecord, error) {
	d := newDecoder(kind, b)
	r := leaseRecord{Member: d.str(), Nonce: d.uint(), Value: d.bytes(), Lease: d.uint(), Vacant: d.bool()}
	return r, d.done()
}

// presenceRecord is a member's presence key: its incarnation.
type presenceRecord struct {
	Nonce uint64
}

func (r presenceRecord) encode() []byte {
	e := newEncoder(kindPresence)
	e.uint(r.Nonce)
	return e.b
}

func decodePresence(b []byte) (presenceRecord, error) {
	d := newDecoder(kindPresence, b)
	r := presenceRecord{Nonce: d.uint()}
	return r, d.done()
}

// outcomeRecord is a barrier's outcome, written once by the first party to
// see it.
type outcomeRecord struct {
	Released bool
	Arrived  []string
	Missing  []string
	Short    uint64 // arrivals short of a count barrier
}

func (r outcomeRecord) encode() []byte {
	e := newEncoder(kindBarrierOutcome)
	if r.Released {
		e.uint(1)
	} else {
		e.uint(0)
	}
	e.strs(r.Arrived)
	e.strs(r.Missing)
	e.uint(r.Short)
	return e.b
}

func decodeOutcome(b []byte) (outcomeRecord, error) {
	d := newDecoder(kindBarrierOutcome, b)
	r := outcomeRecord{Released: d.bool(), Arrived: d.strs(), Missing: d.strs(), Short: d.uint()}
	return r, d.done()
}

// proposalRecord is a proposal: who proposed what, and how long voting
// lasts.
type proposalRecord struct {
	Proposer string
	Value    []byte
	Timeout  float64
}

func (r proposalRecord) encode() []byte {
	e := newEncoder(kindProposal)
	e.str(r.Proposer)
	e.bytes(r.Value)
	e.float(r.Timeout)
	return e.b
}

func decodeProposal(b []byte) (proposalRecord, error) {
	d := newDecoder(kindProposal, b)
	r := proposalRecord{Proposer: d.str(), Value: d.bytes(), Timeout: d.float()}
	if d.err == nil && !(r.Timeout > 0 && r.Timeout < math.Inf(1)) {
		d.err = fmt.Errorf("%w: proposal timeout %v", errRecord, r.Timeout)
	}
	return r, d.done()
}

// voteRecord is one member's vote.
type voteRecord struct {
	Choice Choice
}

func (r voteRecord) encode() []byte {
	e := newEncoder(kindVote)
	e.uint(uint64(r.Choice))
	return e.b
}

func decodeVote(b []byte) (voteRecord, error) {
	d := newDecoder(kindVote, b)
	r := voteRecord{Choice: Choice(d.small(uint8(Abstain)))}
	if d.err == nil && (r.Choice < Accept || r.Choice > Abstain) {
		d.err = fmt.Errorf("%w: vote %d", errRecord, r.Choice)
	}
	return r, d.done()
}

// decisionRecord is a proposal's decision, written once.
type decisionRecord struct {
	Outcome                 Outcome
	Accept, Reject, Abstain uint64
	Members                 uint64
}

func (r decisionRecord) encode() []byte {
	e := newEncoder(kindDecision)
	e.uint(uint64(r.Outcome))
	e.uint(r.Accept)
	e.uint(r.Reject)
	e.uint(r.Abstain)
	e.uint(r.Members)
	return e.b
}

func decodeDecision(b []byte) (decisionRecord, error) {
	d := newDecoder(kindDecision, b)
	r := decisionRecord{Outcome: Outcome(d.small(uint8(TimedOut))), Accept: d.uint(), Reject: d.uint(), Abstain: d.uint(), Members: d.uint()}
	if d.err == nil && (r.Outcome < Accepted || r.Outcome > TimedOut) {
		d.err = fmt.Errorf("%w: outcome %d", errRecord, r.Outcome)
	}
	return r, d.done()
}
