package transport

import "testing"

// BenchmarkTransport reports, in one run, remote actor throughput and
// request latency against raw NATS on the same embedded server, and their
// ratios (targets: throughput ratio >= 0.5, latency ratio <= 1.5).
func BenchmarkTransport(b *testing.B) {
	for _, auth := range []Auth{AuthSession, AuthSignFrames} {
		b.Run(auth.String(), func(b *testing.B) {
			for b.Loop() {
				r, err := Bench(BenchOptions{Auth: auth})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(r.RemotePerSec, "remote-msg/s")
				b.ReportMetric(r.RawPerSec, "raw-msg/s")
				b.ReportMetric(r.ThroughputRatio, "remote/raw-throughput")
				b.ReportMetric(r.RemoteRequestMicros, "remote-req-µs")
				b.ReportMetric(r.RawRequestMicros, "raw-req-µs")
				b.ReportMetric(r.LatencyRatio, "remote/raw-latency")
			}
		})
	}
}

func TestBenchSmall(t *testing.T) {
	r, err := Bench(BenchOptions{Messages: 2000, Requests: 50})
	if err != nil {
		t.Fatal(err)
	}
	if r.RemotePerSec <= 0 || r.RawPerSec <= 0 || r.RemoteRequestMicros <= 0 || r.RawRequestMicros <= 0 {
		t.Fatalf("implausible result %+v", r)
	}
}
