// Package coordbench measures the coordination primitives on embedded
// JetStream against raw nats.go/JetStream calls in the same run, so that
// the figures are ratios that carry from machine to machine: a
// compare-and-set through a member's store against a raw kv.Update, the
// time a leader's failover takes against its lease's TTL, and a barrier of
// 3 and 10 parties against a barrier written directly with kv.Put and
// kv.Watch. It is used by BenchmarkCoordination and by `marlon bench`.
//
// It depends on the coordination, actors and transport packages and on
// nats.go; like coordination, it must not depend on environments,
// learning, algorithms or examples.
package coordbench

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/coordination"
	"github.com/marlon-go/marlon/transport"
)

// Options configure Run.
type Options struct {
	// CAS is the number of sequential compare-and-sets timed per round;
	// default 1000.
	CAS int
	// Failovers is the number of leader failovers timed; default 3.
	Failovers int
	// TTL is the lease's; default 1s (JetStream's least). Leases are
	// renewed, and candidates retry, every TTL/4.
	TTL time.Duration
	// Parties are the barrier sizes; default 3 and 10.
	Parties []int
	// Rounds is how many times the CAS and barrier paths are measured,
	// alternating raw and coordination; the best round of each counts.
	// Default 3.
	Rounds int
	// Replicas of the bucket: 1 (one embedded server) or 3 (a local cluster
	// of three); default 1.
	Replicas int
}

// Result is one run's figures. Ratios are coordination / raw (or /TTL):
// above 1 is slower.
type Result struct {
	Replicas int `json:"replicas"`
	Rounds   int `json:"rounds"`

	CAS          int     `json:"cas"`
	RawCASMicros float64 `json:"raw_kv_update_us"`
	// StoreCASMicros is an actor's compare-and-set through its LiveStore
	// (coordination.Update); VarCASMicros the same through a Var (CASVar:
	// the value's record with its vector clock).
	StoreCASMicros float64 `json:"store_cas_us"`
	VarCASMicros   float64 `json:"var_cas_us"`
	StoreCASRatio  float64 `json:"store_cas_ratio"`
	VarCASRatio    float64 `json:"var_cas_ratio"`

	TTLMillis float64 `json:"lease_ttl_ms"`
	// FailoverMillis are the measured failovers: from the leader's process
	// dying (runtime and connection closed) to another member's Elected.
	FailoverMillis   []float64 `json:"failover_ms"`
	MeanFailoverTTLs float64   `json:"mean_failover_over_ttl"`

	Barriers []BarrierResult `json:"barriers"`
}

// BarrierResult is one barrier size's figures: from the moment every party
// is told to arrive to the moment the last party is released.
type BarrierResult struct {
	Parties    int     `json:"parties"`
	RawMillis  float64 `json:"raw_ms"`
	CoordMills float64 `json:"coordination_ms"`
	Ratio      float64 `json:"ratio"`
}

// Run measures; with the defaults it takes about ten seconds.
func Run(o Options) (Result, error) {
	if o.CAS <= 0 {
		o.CAS = 1000
	}
	if o.Failovers <= 0 {
		o.Failovers = 3
	}
	if o.TTL <= 0 {
		o.TTL = time.Second
	}
	if len(o.Parties) == 0 {
		o.Parties = []int{3, 10}
	}
	if o.Rounds <= 0 {
		o.Rounds = 3
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	r := Result{Replicas: o.Replicas, Rounds: o.Rounds, CAS: o.CAS, TTLMillis: ms(o.TTL)}
	dir, err := os.MkdirTemp("", "marlon-coordbench-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	var urls string
	switch o.Replicas {
	case 1:
		srv, err := transport.StartServer(transport.ServerOptions{JetStream: &transport.JetStreamOptions{StoreDir: dir}})
		if err != nil {
			return r, err
		}
		defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
		urls = srv.ClientURL()
	case 3:
		c, err := transport.StartCluster(transport.ClusterConfig{JetStream: &transport.JetStreamOptions{StoreDir: dir}})
		if err != nil {
			return r, err
		}
		defer c.Shutdown()
		urls = c.URLs()
	default:
		return r, fmt.Errorf("coordbench: replicas %d: 1 or 3", o.Replicas)
	}
	bc := coordination.BucketConfig{Name: "bench", Replicas: o.Replicas}
	if err := cas(&r, o, urls, bc); err != nil {
		return r, err
	}
	if err := failovers(&r, o, urls, bc); err != nil {
		return r, err
	}
	for _, n := range o.Parties {
		b, err := barriers(n, o, urls, bc)
		if err != nil {
			return r, err
		}
		r.Barriers = append(r.Barriers, b)
	}
	return r, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// proc is one process's share: connection, bucket, runtime, store.
type proc struct {
	nc    *nats.Conn
	b     *coordination.Bucket
	rt    *actors.Live
	store actors.Addr
}

func newProc(name, urls string, bc coordination.BucketConfig) (*proc, error) {
	nc, err := nats.Connect(urls, nats.MaxReconnects(-1), nats.ReconnectBufSize(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := coordination.OpenBucket(ctx, nc, bc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	rt := actors.NewLive(actors.LiveOptions{Node: name, Scale: time.Millisecond})
	p := &proc{nc: nc, b: b, rt: rt}
	p.store = rt.Spawn(coordination.NewLiveStore(rt, b, coordination.StoreConfig{Timeout: 5000, ProbeEvery: 100}))
	return p, nil
}

func (p *proc) close() {
	p.rt.Close()
	p.nc.Close()
}

// loop is an actor that makes n requests one after another, each built
// from the previous reply, and reports when done.
type loop struct {
	to   actors.Addr
	n    int
	next func(prev any) any
	done chan error
}

func (l *loop) Receive(ctx actors.Context, msg any) {
	if _, ok := msg.(actors.Started); !ok {
		return
	}
	var step func(ctx actors.Context, reply any, err error)
	i := 0
	step = func(ctx actors.Context, reply any, err error) {
		if err == nil {
			err = replyErr(reply)
		}
		if err != nil || i == l.n {
			l.done <- err
			return
		}
		i++
		ctx.Request(l.to, l.next(reply), actors.Forever, step)
	}
	step(ctx, nil, nil)
}

func replyErr(reply any) error {
	switch r := reply.(type) {
	case coordination.WriteReply:
		return r.Err
	case coordination.VarWritten:
		return r.Err
	}
	return nil
}

func cas(r *Result, o Options, urls string, bc coordination.BucketConfig) error {
	p, err := newProc("cas", urls, bc)
	if err != nil {
		return err
	}
	defer p.close()
	ctx := context.Background()
	va, err := coordination.NewVar(coordination.VarConfig{Store: p.store, Name: "benchvar", Member: "cas"})
	if err != nil {
		return err
	}
	v := p.rt.Spawn(va)
	best := func(cur *float64, d time.Duration) {
		us := float64(d) / float64(time.Microsecond) / float64(o.CAS)
		if *cur == 0 || us < *cur {
			*cur = us
		}
	}
	for round := 0; round < o.Rounds; round++ {
		// Raw: kv.Update on the revision the last one returned.
		rev, err := p.b.KV.Put(ctx, "raw", []byte("0"))
		if err != nil {
			return err
		}
		val := []byte("0123456789abcdef")
		t0 := time.Now()
		for i := 0; i < o.CAS; i++ {
			if rev, err = p.b.KV.Update(ctx, "raw", val, rev); err != nil {
				return err
			}
		}
		best(&r.RawCASMicros, time.Since(t0))

		// Through the store: an actor's Update requests.
		w := coordination.Put("store", []byte("0"))
		first, err := coordination.Call(p.rt, p.store, w, 10*time.Second)
		if err != nil {
			return err
		}
		srev := first.(coordination.WriteReply).Revision
		l := &loop{to: p.store, n: o.CAS, done: make(chan error, 1), next: func(prev any) any {
			if wr, ok := prev.(coordination.WriteReply); ok {
				srev = wr.Revision
			}
			return coordination.Update("store", val, srev, 0)
		}}
		t0 = time.Now()
		p.rt.Spawn(l)
		if err := <-l.done; err != nil {
			return err
		}
		best(&r.StoreCASMicros, time.Since(t0))

		// Through a Var.
		vr, err := coordination.Call(p.rt, v, coordination.SetVar{Data: val}, 10*time.Second)
		if err != nil {
			return err
		}
		vrev := vr.(coordination.VarWritten).Revision
		l = &loop{to: v, n: o.CAS, done: make(chan error, 1), next: func(prev any) any {
			if wr, ok := prev.(coordination.VarWritten); ok {
				vrev = wr.Revision
			}
			return coordination.CASVar{Data: val, Revision: vrev}
		}}
		t0 = time.Now()
		p.rt.Spawn(l)
		if err := <-l.done; err != nil {
			return err
		}
		best(&r.VarCASMicros, time.Since(t0))
	}
	r.StoreCASRatio = r.StoreCASMicros / r.RawCASMicros
	r.VarCASRatio = r.VarCASMicros / r.RawCASMicros
	return nil
}

// failovers elects a leader among three member processes, kills it, and
// times until another is elected; o.Failovers times.
func failovers(r *Result, o Options, urls string, bc coordination.BucketConfig) error {
	ttl := float64(o.TTL / time.Millisecond)
	cfg := coordination.ElectionConfig{Role: "benchrole", TTL: ttl, RenewEvery: ttl / 4, RetryEvery: ttl / 4}
	elected := make(chan *proc, 16)
	start := func(name string) (*proc, error) {
		p, err := newProc(name, urls, bc)
		if err != nil {
			return nil, err
		}
		owner := p.rt.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
			if _, ok := msg.(coordination.Elected); ok {
				elected <- p
			}
		}))
		c := cfg
		c.Store, c.Member, c.Owner = p.store, name, owner
		ea, err := coordination.NewElection(c)
		if err != nil {
			p.close()
			return nil, err
		}
		e := p.rt.Spawn(ea)
		p.rt.Send(e, coordination.Campaign{})
		return p, nil
	}
	var live []*proc
	defer func() {
		for _, p := range live {
			p.close()
		}
	}()
	for i := 0; i < 3; i++ {
		p, err := start(fmt.Sprintf("m%d", i))
		if err != nil {
			return err
		}
		live = append(live, p)
	}
	wait := func() (*proc, error) {
		select {
		case p := <-elected:
			return p, nil
		case <-time.After(10*o.TTL + 10*time.Second):
			return nil, fmt.Errorf("coordbench: nobody elected within %v", 10*o.TTL+10*time.Second)
		}
	}
	leader, err := wait()
	if err != nil {
		return err
	}
	for i := 0; i < o.Failovers; i++ {
		time.Sleep(o.TTL / 2) // a few renewals: the crash falls anywhere in an interval
		t0 := time.Now()
		leader.close()
		for j, p := range live {
			if p == leader {
				live = append(live[:j], live[j+1:]...)
				break
			}
		}
		if leader, err = wait(); err != nil {
			return err
		}
		r.FailoverMillis = append(r.FailoverMillis, ms(time.Since(t0)))
		p, err := start(fmt.Sprintf("m%d", 3+i)) // keep three candidates
		if err != nil {
			return err
		}
		live = append(live, p)
	}
	sum := 0.0
	for _, f := range r.FailoverMillis {
		sum += f
	}
	r.MeanFailoverTTLs = sum / float64(len(r.FailoverMillis)) / ttl
	return nil
}

// barriers times a barrier of n parties, raw and through Barriers, each
// party its own process (connection, runtime, store).
func barriers(n int, o Options, urls string, bc coordination.BucketConfig) (BarrierResult, error) {
	res := BarrierResult{Parties: n}
	var ps []*proc
	defer func() {
		for _, p := range ps {
			p.close()
		}
	}()
	var bars []actors.Addr
	for i := 0; i < n; i++ {
		p, err := newProc(fmt.Sprintf("p%d", i), urls, bc)
		if err != nil {
			return res, err
		}
		ps = append(ps, p)
		ba, err := coordination.NewBarriers(coordination.BarriersConfig{Store: p.store, Member: fmt.Sprintf("p%d", i)})
		if err != nil {
			return res, err
		}
		bars = append(bars, p.rt.Spawn(ba))
	}
	for round := 0; round < o.Rounds; round++ {
		raw, err := rawBarrier(ps, fmt.Sprintf("raw%d_%d", n, round))
		if err != nil {
			return res, err
		}
		coord, err := coordBarrier(ps, bars, fmt.Sprintf("b%d_%d", n, round))
		if err != nil {
			return res, err
		}
		if res.RawMillis == 0 || ms(raw) < res.RawMillis {
			res.RawMillis = ms(raw)
		}
		if res.CoordMills == 0 || ms(coord) < res.CoordMills {
			res.CoordMills = ms(coord)
		}
	}
	res.Ratio = res.CoordMills / res.RawMillis
	return res, nil
}

// rawBarrier: each party watches the barrier's keys (their values so far,
// then updates), puts its arrival and waits until it has seen every
// party's: the least a barrier on JetStream KV does.
func rawBarrier(ps []*proc, name string) (time.Duration, error) {
	var wg sync.WaitGroup
	errs := make(chan error, len(ps))
	start := make(chan struct{})
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			<-start
			w, err := p.b.KV.Watch(ctx, "rawbar."+name+".*")
			if err != nil {
				errs <- err
				return
			}
			defer w.Stop()
			if _, err := p.b.KV.Put(ctx, fmt.Sprintf("rawbar.%s.p%d", name, i), nil); err != nil {
				errs <- err
				return
			}
			seen := map[string]bool{}
			for len(seen) < len(ps) {
				select {
				case e := <-w.Updates():
					if e != nil {
						seen[e.Key()] = true
					}
				case <-ctx.Done():
					errs <- ctx.Err()
					return
				}
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	d := time.Since(t0)
	select {
	case err := <-errs:
		return d, err
	default:
	}
	return d, nil
}

func coordBarrier(ps []*proc, bars []actors.Addr, name string) (time.Duration, error) {
	var wg sync.WaitGroup
	results := make([]any, len(ps))
	errs := make([]error, len(ps))
	start := make(chan struct{})
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = coordination.Call(p.rt, bars[i], coordination.Arrive{Barrier: name, Count: len(ps), Timeout: 30000}, 40*time.Second)
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	d := time.Since(t0)
	for i := range ps {
		if errs[i] != nil {
			return d, errs[i]
		}
		if br := results[i].(coordination.BarrierResult); !br.Released {
			return d, fmt.Errorf("coordbench: barrier %s not released: %+v", name, br)
		}
	}
	return d, nil
}

// Median is the median of xs (0 for none).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}
