package coordination

import (
	"math/rand/v2"
	"testing"

	"github.com/marlon-go/marlon/actors"
)

const storeNode = "jetstream"

// netModel is the simulated network: every message between two nodes
// takes base plus up to jitter time units, drawn from its own seeded
// source, and messages between nodes on different sides of a partition are
// lost.
type netModel struct {
	rng    *rand.Rand
	base   float64
	jitter float64
	side   map[string]int // node -> side; absent: side 0
	loss   float64        // probability that any message is lost
}

func (n *netModel) Link(from, to string, msg any) (float64, bool) {
	if n.side[from] != n.side[to] {
		return 0, true
	}
	if n.loss > 0 && n.rng.Float64() < n.loss {
		return 0, true
	}
	return n.base + n.jitter*n.rng.Float64(), false
}

// cut puts nodes on side 1, away from the store.
func (n *netModel) cut(nodes ...string) {
	for _, x := range nodes {
		n.side[x] = 1
	}
}

func (n *netModel) heal() { n.side = map[string]int{} }

// cluster is a simulated store and members, one node per member.
type cluster struct {
	t      testing.TB
	sim    *actors.Sim
	net    *netModel
	model  *KVModel
	kv     actors.Addr
	stores map[string]actors.Addr
	cfg    StoreConfig
}

func newCluster(t testing.TB, seed uint64, mc ModelConfig) *cluster {
	s := actors.NewSim(seed)
	net := &netModel{rng: rand.New(rand.NewPCG(seed, 99)), base: 1, jitter: 1, side: map[string]int{}}
	s.SetNetwork(net)
	mc.Log = true
	m := NewKVModel(mc)
	c := &cluster{t: t, sim: s, net: net, model: m, stores: map[string]actors.Addr{},
		cfg: StoreConfig{Timeout: 20, ProbeEvery: 10}}
	c.kv = s.SpawnOn(storeNode, m)
	return c
}

// store starts (or, after KillNode, restarts) member's store on its node.
func (c *cluster) store(member string) actors.Addr {
	a := c.sim.SpawnOn(member, NewSimStore(c.kv, c.cfg))
	c.stores[member] = a
	return a
}

func (c *cluster) run(until float64) { c.sim.RunUntil(until, nil) }

// runUntil runs until cond holds or the time limit, and fails at the limit.
func (c *cluster) runUntil(limit float64, what string, cond func() bool) {
	c.t.Helper()
	if cond() {
		return
	}
	if !c.sim.RunUntil(limit, cond) {
		c.t.Fatalf("seed %d: %s: not by time %v (now %v)", c.sim.Seed(), what, limit, c.sim.Now())
	}
}

// client is an actor on a member's node that makes requests for a test and
// keeps what comes back.
type client struct {
	replies []any
	events  []any
	times   []float64
}

func (cl *client) Receive(ctx actors.Context, msg any) {
	switch m := msg.(type) {
	case actors.Started:
	case call:
		ctx.Request(m.to, m.msg, m.timeout, func(ctx actors.Context, reply any, err error) {
			if err != nil {
				cl.replies = append(cl.replies, err)
				return
			}
			cl.replies = append(cl.replies, reply)
		})
	case send:
		ctx.Send(m.to, m.msg)
	default:
		cl.events = append(cl.events, msg)
		cl.times = append(cl.times, ctx.Now())
	}
}

type call struct {
	to      actors.Addr
	msg     any
	timeout float64
}

type send struct {
	to  actors.Addr
	msg any
}

// ask sends msg from a client on node to to, runs until the reply, and
// returns it.
func (c *cluster) ask(cl *client, at actors.Addr, to actors.Addr, msg any, limit float64) any {
	c.t.Helper()
	n := len(cl.replies)
	c.sim.Send(at, call{to: to, msg: msg, timeout: actors.Forever})
	c.runUntil(c.sim.Now()+limit, "a reply", func() bool { return len(cl.replies) > n })
	return cl.replies[n]
}

func (c *cluster) client(node string) (*client, actors.Addr) {
	cl := &client{}
	return cl, c.sim.SpawnOn(node, cl)
}

// must returns v, or panics with err (for constructors given valid
// configurations).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
