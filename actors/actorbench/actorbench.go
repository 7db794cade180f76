// Package actorbench measures the actor runtimes against a raw Go channel hop
// in one process, so that the figures are ratios that carry from machine to
// machine. It is used by the actors benchmarks and by `marlon bench`.
//
// It depends on the actors package and the standard library only.
package actorbench

import (
	"time"

	"github.com/marlon-go/marlon/actors"
)

// Result is one measurement: messages per second through each runtime in a
// two-actor ping-pong, and through two goroutines passing an int over
// unbuffered channels.
type Result struct {
	Messages     int     `json:"messages"`
	SimPerSec    float64 `json:"sim_per_sec"`
	LivePerSec   float64 `json:"live_per_sec"`
	ChanPerSec   float64 `json:"chan_per_sec"`
	SimOverChan  float64 `json:"sim_over_chan"`       // simulator throughput / channel throughput
	LiveCostChan float64 `json:"live_cost_over_chan"` // cost of a live hop in channel hops (channel rate / live rate)
}

// Run measures n messages through each of the three.
func Run(n int) Result {
	r := Result{Messages: n}
	r.SimPerSec = float64(n) / SimPingPong(n).Seconds()
	r.LivePerSec = float64(n) / LivePingPong(n).Seconds()
	r.ChanPerSec = float64(n) / ChanPingPong(n).Seconds()
	r.SimOverChan = r.SimPerSec / r.ChanPerSec
	r.LiveCostChan = r.ChanPerSec / r.LivePerSec
	return r
}

// pinger bounces a counter to its peer until it reaches zero.
type pinger struct {
	peer *actors.Addr
	done chan struct{}
}

func (p *pinger) Receive(ctx actors.Context, msg any) {
	if k, ok := msg.(int); ok {
		if k == 0 {
			if p.done != nil {
				close(p.done)
			}
			return
		}
		ctx.Send(*p.peer, k-1)
	}
}

// SimPingPong times n messages between two actors in the simulator.
func SimPingPong(n int) time.Duration {
	s := actors.NewSim(1)
	var a, b actors.Addr
	a = s.Spawn(&pinger{peer: &b})
	b = s.Spawn(&pinger{peer: &a})
	s.Run() // Started messages
	start := time.Now()
	s.Send(a, n-1)
	s.Run()
	return time.Since(start)
}

// LivePingPong times n messages between two actors in the live runtime.
func LivePingPong(n int) time.Duration {
	rt := actors.NewLive(actors.LiveOptions{})
	defer rt.Close()
	done := make(chan struct{})
	var a, b actors.Addr
	a = rt.Spawn(&pinger{peer: &b, done: done})
	b = rt.Spawn(&pinger{peer: &a, done: done})
	start := time.Now()
	rt.Send(a, n-1)
	<-done
	return time.Since(start)
}

// ChanPingPong times n hops of an int between two goroutines over
// unbuffered channels.
func ChanPingPong(n int) time.Duration {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for k := range ping {
			if k == 0 {
				close(pong)
				return
			}
			pong <- k - 1
		}
	}()
	start := time.Now()
	ping <- n - 1
	for k := range pong {
		if k == 0 {
			close(ping)
			break
		}
		ping <- k - 1
	}
	return time.Since(start)
}
