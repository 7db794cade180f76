package actorbench

import "testing"

// BenchmarkRuntimes reports, in one run, messages per second through the
// simulator, the live runtime and a raw channel ping-pong, and their ratios.
func BenchmarkRuntimes(b *testing.B) {
	n := b.N
	if n < 1000 {
		n = 1000
	}
	r := Run(n)
	b.ReportMetric(r.SimPerSec, "sim-msg/s")
	b.ReportMetric(r.LivePerSec, "live-msg/s")
	b.ReportMetric(r.ChanPerSec, "chan-msg/s")
	b.ReportMetric(r.SimOverChan, "sim/chan")
	b.ReportMetric(r.LiveCostChan, "live-hop/chan-hop")
}

func BenchmarkSimPingPong(b *testing.B) {
	b.ReportAllocs()
	d := SimPingPong(b.N + 1)
	b.ReportMetric(float64(b.N)/d.Seconds(), "msg/s")
}

func BenchmarkLivePingPong(b *testing.B) {
	b.ReportAllocs()
	d := LivePingPong(b.N + 1)
	b.ReportMetric(float64(b.N)/d.Seconds(), "msg/s")
}

func BenchmarkChanPingPong(b *testing.B) {
	d := ChanPingPong(b.N + 1)
	b.ReportMetric(float64(b.N)/d.Seconds(), "msg/s")
}
