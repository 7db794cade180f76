package coordination

import (
	"errors"
	"fmt"
	"strings"

	"github.com/marlon-go/marlon/actors"
)

// The store protocol. A member's primitives talk to a store actor on their
// own node (SimStore or LiveStore) with requests; the store answers each
// with the reply type named. Both stores speak this protocol, so that a
// primitive runs unchanged in the simulator and live.

// Level is the consistency of a read.
type Level uint8

const (
	// Linearizable reads go to the store itself: in JetStream, to the
	// stream leader (the $JS.API.STREAM.MSG.GET API), which holds every
	// write acknowledged before the read was sent (see the package doc for
	// the limits).
	Linearizable Level = iota
	// Eventual reads may be answered by the member's own cache of a key it
	// watches, or by any replica (JetStream's direct get): fast, possibly
	// behind.
	Eventual
)

func (l Level) String() string {
	switch l {
	case Linearizable:
		return "linearizable"
	case Eventual:
		return "eventual"
	}
	return fmt.Sprintf("Level(%d)", uint8(l))
}

// Op says what a revision of a key is.
type Op uint8

const (
	// OpPut: a value.
	OpPut Op = iota + 1
	// OpDelete: a tombstone left by a delete.
	OpDelete
	// OpExpired: the marker the store writes when a value's TTL runs out
	// (JetStream's subject delete marker, reason MaxAge).
	OpExpired
)

func (o Op) String() string {
	switch o {
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	case OpExpired:
		return "expired"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Entry is one revision of a key. Revisions are the bucket's: one counter
// for all keys (JetStream's stream sequence), so they order every write to
// the bucket.
type Entry struct {
	Key      string
	Value    []byte
	Revision uint64
	Op       Op
}

// Live reports whether e holds a value (not a tombstone or an expiry
// marker, and not the zero Entry).
func (e Entry) Live() bool { return e.Op == OpPut }

// Cond is the kind of condition a write is made under.
type Cond uint8

const (
	// Always: an unconditional put.
	Always Cond = iota
	// Absent: only if the key holds no live value (JetStream KV Create:
	// it may have no revision, a tombstone or an expiry marker).
	Absent
	// AtRevision: only if the key's last revision is Expect.Revision (KV
	// Update, compare-and-set; 0: the key has no revision at all).
	AtRevision
	// Guarded: only if the last revision of another key, Expect.Key, is
	// Expect.Revision (JetStream's Nats-Expected-Last-Subject-Sequence
	// with -Subject). Fenced writes are guarded by the leader's term key.
	Guarded
)

// Expect is the condition of a write.
type Expect struct {
	Cond     Cond
	Revision uint64
	Key      string // for Guarded
}

// Write asks a store to write a value (or, with Delete, a tombstone) to
// Key under a condition. Reply: WriteReply.
type Write struct {
	Key    string
	Value  []byte
	Delete bool
	Expect Expect
	// TTL, if > 0, makes the value expire TTL virtual time units after it
	// is stored, leaving an OpExpired marker (per-key TTL; see the package
	// doc). A later write to the key carries its own TTL or none.
	TTL float64
}

// WriteReply answers a Write: the revision written, or why not.
type WriteReply struct {
	Revision uint64
	Err      error
}

// Put is an unconditional write.
func Put(key string, value []byte) Write { return Write{Key: key, Value: value} }

// Create writes value if key holds no live value; ttl > 0 makes it expire.
func Create(key string, value []byte, ttl float64) Write {
	return Write{Key: key, Value: value, TTL: ttl, Expect: Expect{Cond: Absent}}
}

// Update writes value if key's last revision is rev (compare-and-set);
// ttl > 0 makes it expire, renewing a lease.
func Update(key string, value []byte, rev uint64, ttl float64) Write {
	return Write{Key: key, Value: value, TTL: ttl, Expect: Expect{Cond: AtRevision, Revision: rev}}
}

// Delete leaves a tombstone on key; with rev > 0, only if key's last
// revision is rev.
func Delete(key string, rev uint64) Write {
	w := Write{Key: key, Delete: true}
	if rev > 0 {
		w.Expect = Expect{Cond: AtRevision, Revision: rev}
	}
	return w
}

// Get asks a store for the last revision of Key. Reply: GetReply.
type Get struct {
	Key   string
	Level Level
}

// GetReply answers a Get. Err is ErrNotFound when the key holds no live
// value (Entry then is the tombstone or marker, if any). Stale says the
// answer came from the member's cache while it is cut off from the store.
type GetReply struct {
	Entry Entry
	Stale bool
	Err   error
}

// WatchID names one watch of a store.
type WatchID uint64

// Watch asks a store to send the requester a WatchEvent for the last
// revision of every key matching Keys (tombstones and markers included),
// in revision order, then a WatchEvent with Ready set, then one for every
// later revision, until Unwatch or until the requester stops. Keys is a
// pattern of dot-separated tokens where "*" matches one token and ">" the
// rest (NATS subjects). Reply: WatchReply.
//
// Events are delivered in revision order and at most once; after the store
// was cut off they resume with what was written meanwhile (revisions the
// bucket's history no longer holds are skipped, but the last of every key
// arrives).
type Watch struct {
	Keys string
}

// WatchReply answers a Watch.
type WatchReply struct {
	ID  WatchID
	Err error
}

// WatchEvent is one entry of a watch, or (Ready) the end of its initial
// values.
type WatchEvent struct {
	ID    WatchID
	Entry Entry
	Ready bool
}

// Unwatch ends a watch.
type Unwatch struct{ ID WatchID }

// Connectivity tells a store's watchers, and answers a StatusRequest,
// whether the member is cut off from the store (the minority side of a
// partition, no quorum, no connection). While it is, the store refuses
// writes and linearizable reads at once with ErrUnavailable and answers
// eventual reads from its cache, marked Stale; it probes the store and
// tells its watchers when it is back.
type Connectivity struct {
	Isolated bool
}

// StatusRequest asks a store for its Connectivity.
type StatusRequest struct{}

// Errors of the protocol. Compare with errors.Is.
var (
	// ErrNotFound: the key holds no live value.
	ErrNotFound = errors.New("coordination: key not found")
	// ErrExists: a Create found a live value.
	ErrExists = errors.New("coordination: key exists")
	// ErrRevision: an AtRevision write found another last revision.
	ErrRevision = errors.New("coordination: revision mismatch")
	// ErrFenced: a Guarded write found another revision of its guard key;
	// for a fenced write, a newer term exists: the writer is no longer the
	// leader.
	ErrFenced = errors.New("coordination: fenced: the guard key moved on (deposed)")
	// ErrTimeout: no answer in time. A write may or may not have been
	// applied.
	ErrTimeout = errors.New("coordination: store timed out")
	// ErrUnavailable: the member is cut off from the store (no quorum, no
	// connection, the minority side of a partition); the write was not
	// sent.
	ErrUnavailable = errors.New("coordination: store unavailable")
	// ErrInvalid: a malformed key, pattern, name or value.
	ErrInvalid = errors.New("coordination: invalid request")
)

// validKey reports whether k is a key the store accepts: dot-separated
// tokens of letters, digits, '-', '_', '=' and '/' (JetStream KV keys, less
// the odd ones).
func validKey(k string) bool { return validSubject(k, false) }

// validPattern is validKey allowing '*' tokens and a final '>'.
func validPattern(p string) bool { return validSubject(p, true) }

func validSubject(s string, wild bool) bool {
	if s == "" || len(s) > 1024 {
		return false
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		if t == "" {
			return false
		}
		if wild && (t == "*" || (t == ">" && i == len(toks)-1)) {
			continue
		}
		for _, c := range t {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '=' || c == '/') {
				return false
			}
		}
	}
	return true
}

// matches reports whether key matches the pattern p.
func matches(p, key string) bool {
	for {
		pt, prest, pmore := strings.Cut(p, ".")
		kt, krest, kmore := strings.Cut(key, ".")
		switch {
		case pt == ">":
			return true
		case pt != "*" && pt != kt:
			return false
		}
		if !pmore || !kmore {
			return pmore == kmore
		}
		p, key = prest, krest
	}
}

// validName reports whether n can be a token of a key: a role, member,
// group, barrier, variable or proposal name. 1 to 64 letters, digits, '-'
// or '_'.
func validName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkConfig checks a primitive's store address and names (pairs of
// field and name).
func checkConfig(store actors.Addr, names ...string) error {
	if store.IsZero() {
		return fmt.Errorf("%w: no Store", ErrInvalid)
	}
	for i := 0; i+1 < len(names); i += 2 {
		if err := checkName(names[i], names[i+1]); err != nil {
			return err
		}
	}
	return nil
}

func checkName(field, n string) error {
	if !validName(n) {
		return fmt.Errorf("%w: %s %q: 1 to 64 letters, digits, '-' or '_'", ErrInvalid, field, n)
	}
	return nil
}
