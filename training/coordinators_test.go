package training

import "testing"

// The counts follow from the topology: n*m links and messages directly,
// n + p*m through coordinators; a shard hears from n agents, or from p
// coordinators; an aggregate carries its members' payloads under one
// header.
func TestLinkCountCoordinatorPattern(t *testing.T) {
	for _, c := range []struct{ n, m, p int }{{10, 100, 3}, {200, 100, 9}, {7, 3, 2}, {5, 1, 5}, {1, 4, 1}} {
		const size, header = 100, 16
		d, k, err := LinkCount(c.n, c.m, c.p, size, header, 3, Concat)
		if err != nil {
			t.Fatal(err)
		}
		if d.Links != c.n*c.m || d.Messages != c.n*c.m || d.MaxIn != c.n || d.MaxOut != c.m || d.Bytes != c.n*c.m*(size+header) {
			t.Errorf("%+v direct: %+v, want n*m links and messages, in-degree n, out-degree m", c, d)
		}
		biggest := (c.n + c.p - 1) / c.p // agents of the largest coordinator
		wantBytes := c.n*(size+header) + c.m*(c.n*size+c.p*header)
		if k.Links != c.n+c.p*c.m || k.Messages != c.n+c.p*c.m || k.MaxIn != max(biggest, c.p) || k.MaxOut != c.m || k.Bytes != wantBytes {
			t.Errorf("%+v coordinated: %+v, want n+p*m = %d links and messages, in-degree %d, %d bytes", c, k, c.n+c.p*c.m, max(biggest, c.p), wantBytes)
		}
		_, s, _ := LinkCount(c.n, c.m, c.p, size, header, 1, Sum)
		if s.Bytes != c.n*(size+header)+c.p*c.m*(size+header) {
			t.Errorf("%+v summed: %d bytes, want each aggregate the size of one payload", c, s.Bytes)
		}
	}
	if _, _, err := LinkCount(3, 1, 4, 1, 1, 1, Concat); err == nil {
		t.Error("p > n accepted")
	}
	if p := LogCoordinators(10, 100, true); p != 3 {
		t.Errorf("log10(1000) coordinators: %d, want 3", p)
	}
	if p := LogCoordinators(10, 100, false); p != 6 {
		t.Errorf("ln(1000) coordinators: %d, want 6", p)
	}
}
