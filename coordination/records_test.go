package coordination

import (
	"reflect"
	"testing"
)

func TestRecordsRoundTrip(t *testing.T) {
	v := varRecord{Data: []byte("d"), Clock: VClock{"a": 3, "b": 1}, Writer: "a", Term: 7}
	if got, err := decodeVar(v.encode()); err != nil || !reflect.DeepEqual(got, v) {
		t.Fatalf("var: %+v %v", got, err)
	}
	l := leaseRecord{Member: "m", Nonce: 1 << 60, Value: []byte("x"), Lease: 9, Vacant: true}
	if got, err := decodeLease(kindTerm, l.encode(kindTerm)); err != nil || !reflect.DeepEqual(got, l) {
		t.Fatalf("lease: %+v %v", got, err)
	}
	if _, err := decodeLease(kindLease, l.encode(kindTerm)); err == nil {
		t.Fatal("a term record decoded as a lease")
	}
	o := outcomeRecord{Released: true, Arrived: []string{"a", "b"}, Missing: []string{"c"}, Short: 1}
	if got, err := decodeOutcome(o.encode()); err != nil || !reflect.DeepEqual(got, o) {
		t.Fatalf("outcome: %+v %v", got, err)
	}
	p := proposalRecord{Proposer: "a", Value: []byte("0.1"), Timeout: 12.5}
	if got, err := decodeProposal(p.encode()); err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("proposal: %+v %v", got, err)
	}
	d := decisionRecord{Outcome: Rejected, Accept: 1, Reject: 2, Abstain: 3, Members: 6}
	if got, err := decodeDecision(d.encode()); err != nil || got != d {
		t.Fatalf("decision: %+v %v", got, err)
	}
	b := v.encode()
	for i := 0; i < len(b); i++ {
		if _, err := decodeVar(b[:i]); err == nil {
			t.Fatalf("a record cut to %d of %d bytes decoded", i, len(b))
		}
	}
	if _, err := decodeVar(append(b, 0)); err == nil {
		t.Fatal("trailing bytes accepted")
	}
	if _, err := decodeVote(voteRecord{Choice: 9}.encode()); err == nil {
		t.Fatal("a vote of 9 accepted")
	}
	if _, err := decodeProposal(proposalRecord{Timeout: -1}.encode()); err == nil {
		t.Fatal("a negative proposal timeout accepted")
	}
}

// FuzzRecords feeds every record decoder the same bytes: none may panic or
// allocate beyond the input, and whatever decodes re-encodes to the same
// bytes.
func FuzzRecords(f *testing.F) {
	f.Add(varRecord{Data: []byte("d"), Clock: VClock{"a": 1}, Writer: "a"}.encode())
	f.Add(leaseRecord{Member: "m", Nonce: 5}.encode(kindLease))
	f.Add(outcomeRecord{Arrived: []string{"a"}}.encode())
	f.Add(proposalRecord{Proposer: "p", Timeout: 1}.encode())
	f.Add(voteRecord{Choice: Accept}.encode())
	f.Add(decisionRecord{Outcome: Accepted}.encode())
	f.Add(presenceRecord{Nonce: 3}.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := decodeVar(b); err == nil && string(r.encode()) != string(b) {
			t.Fatalf("var %+v re-encodes differently", r)
		}
		for _, k := range []byte{kindLease, kindTerm} {
			if r, err := decodeLease(k, b); err == nil && string(r.encode(k)) != string(b) {
				t.Fatalf("lease %+v re-encodes differently", r)
			}
		}
		if r, err := decodeOutcome(b); err == nil && string(r.encode()) != string(b) {
			t.Fatalf("outcome %+v re-encodes differently", r)
		}
		if r, err := decodeProposal(b); err == nil && string(r.encode()) != string(b) {
			t.Fatalf("proposal %+v re-encodes differently", r)
		}
		if r, err := decodeVote(b); err == nil && string(r.encode()) != string(b) {
			t.Fatalf("vote %+v re-encodes differently", r)
		}
		if r, err := decodeDecision(b); err == nil && string(r.encode()) != string(b) {
			t.Fatalf("decision %+v re-encodes differently", r)
		}
		_, _ = decodePresence(b)
	})
}
