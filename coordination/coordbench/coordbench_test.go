package coordbench

import (
	"testing"
	"time"
)

// TestRunSmall runs a small measurement end to end: every figure is there
// and positive (the figures themselves are for benchmarks, not asserted).
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts JetStream and waits for a failover")
	}
	r, err := Run(Options{CAS: 20, Failovers: 1, Rounds: 1, Parties: []int{3}})
	if err != nil {
		t.Fatal(err)
	}
	if r.RawCASMicros <= 0 || r.StoreCASRatio <= 0 || r.VarCASRatio <= 0 || len(r.FailoverMillis) != 1 || r.MeanFailoverTTLs <= 0 ||
		len(r.Barriers) != 1 || r.Barriers[0].Ratio <= 0 || r.TTLMillis != float64(time.Second/time.Millisecond) {
		t.Fatalf("incomplete result: %+v", r)
	}
}

// BenchmarkCoordination reports the ratios of one run (go test
// ./coordination/coordbench -run '^$' -bench Coordination -benchtime 1x).
func BenchmarkCoordination(b *testing.B) {
	for i := 0; i < b.N; i++ {
		r, err := Run(Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.StoreCASRatio, "store-cas/raw")
		b.ReportMetric(r.VarCASRatio, "var-cas/raw")
		b.ReportMetric(r.MeanFailoverTTLs, "failover/ttl")
		for _, br := range r.Barriers {
			b.ReportMetric(br.Ratio, "barrier"+itoa(br.Parties)+"/raw")
		}
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
