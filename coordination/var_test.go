package coordination

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/marlon-go/marlon/actors"
)

type varNode struct {
	store, v actors.Addr
	cl       *client
	at       actors.Addr
}

func (c *cluster) varNode(name string) *varNode {
	n := &varNode{store: c.store(name)}
	n.cl, n.at = c.client(name)
	n.v = c.sim.SpawnOn(name, must(NewVar(VarConfig{Store: n.store, Name: "params", Member: name, Owner: n.at})))
	return n
}

func (n *varNode) changes() []VarChanged {
	var cs []VarChanged
	for _, e := range n.cl.events {
		if ch, ok := e.(VarChanged); ok {
			cs = append(cs, ch)
		}
	}
	return cs
}

func TestVarClocksAndCAS(t *testing.T) {
	c := newCluster(t, 1, ModelConfig{})
	a, b := c.varNode("a"), c.varNode("b")
	c.run(5)
	wa := c.ask(a.cl, a.at, a.v, SetVar{Data: []byte("1")}, 100).(VarWritten)
	if wa.Err != nil || !reflect.DeepEqual(wa.Clock, VClock{"a": 1}) {
		t.Fatalf("a's write: %+v", wa)
	}
	c.run(c.sim.Now() + 10)
	rb := c.ask(b.cl, b.at, b.v, GetVar{Level: Eventual}, 100).(VarValue)
	if rb.Err != nil || string(rb.Data) != "1" || rb.Writer != "a" || rb.Revision != wa.Revision || rb.Stale {
		t.Fatalf("b reads %+v", rb)
	}
	wb := c.ask(b.cl, b.at, b.v, CASVar{Data: []byte("2"), Revision: rb.Revision}, 100).(VarWritten)
	if wb.Err != nil || wb.Clock.Compare(wa.Clock) != After {
		t.Fatalf("b's write after reading a's: %+v", wb)
	}
	if r := c.ask(a.cl, a.at, a.v, CASVar{Data: []byte("x"), Revision: rb.Revision}, 100).(VarWritten); !errors.Is(r.Err, ErrRevision) {
		t.Fatalf("a's CAS on a stale revision: %+v", r)
	}
	c.run(c.sim.Now() + 10)
	if chs := a.changes(); len(chs) != 2 || chs[1].Order != After || string(chs[1].Value.Data) != "2" {
		t.Fatalf("a saw %+v", chs)
	}
	// Concurrent writes: both write before seeing each other's.
	c.sim.Send(a.at, call{to: a.v, msg: SetVar{Data: []byte("3a")}, timeout: actors.Forever})
	c.sim.Send(b.at, call{to: b.v, msg: SetVar{Data: []byte("3b")}, timeout: actors.Forever})
	c.run(c.sim.Now() + 20)
	chs := a.changes()
	last := chs[len(chs)-1]
	if last.Order != Concurrent {
		t.Fatalf("the second of two concurrent writes: %+v", last)
	}
	if r := c.ask(a.cl, a.at, a.v, DeleteVar{}, 100).(VarWritten); r.Err != nil {
		t.Fatalf("delete: %+v", r)
	}
	if r := c.ask(b.cl, b.at, b.v, GetVar{}, 100).(VarValue); !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("read after delete: %+v", r)
	}
}

// TestVarPartition: the member cut off from the store reads what it has,
// marked stale, and cannot write; the others go on writing; healed, it
// receives every value written meanwhile, in order, and writes again.
// Nothing acknowledged is lost.
func TestVarPartition(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		c := newCluster(t, seed, ModelConfig{History: 64})
		a, b, m := c.varNode("a"), c.varNode("b"), c.varNode("m")
		c.run(5)
		c.ask(a.cl, a.at, a.v, SetVar{Data: []byte("v0")}, 100)
		c.run(c.sim.Now() + 10)
		c.net.cut("m")
		c.run(c.sim.Now() + 50)
		var acked []uint64
		for i := 1; i <= 10; i++ {
			w := c.ask(b.cl, b.at, b.v, SetVar{Data: []byte(fmt.Sprintf("v%d", i))}, 100).(VarWritten)
			if w.Err != nil {
				t.Fatalf("seed %d: the majority side's write %d: %v", seed, i, w.Err)
			}
			acked = append(acked, w.Revision)
		}
		r := c.ask(m.cl, m.at, m.v, GetVar{Level: Eventual}, 100).(VarValue)
		if r.Err != nil || !r.Stale || string(r.Data) != "v0" {
			t.Fatalf("seed %d: the minority's eventual read: %+v", seed, r)
		}
		if r := c.ask(m.cl, m.at, m.v, GetVar{}, 100).(VarValue); !errors.Is(r.Err, ErrUnavailable) {
			t.Fatalf("seed %d: the minority's linearizable read: %+v", seed, r)
		}
		if w := c.ask(m.cl, m.at, m.v, SetVar{Data: []byte("minority")}, 100).(VarWritten); !errors.Is(w.Err, ErrUnavailable) {
			t.Fatalf("seed %d: the minority's write: %+v", seed, w)
		}
		n := len(m.changes())
		c.net.heal()
		c.run(c.sim.Now() + 60)
		var got []uint64
		for _, ch := range m.changes()[n:] {
			got = append(got, ch.Value.Revision)
		}
		if !reflect.DeepEqual(got, acked) {
			t.Fatalf("seed %d: healed, the minority saw revisions %v, acknowledged %v", seed, got, acked)
		}
		if w := c.ask(m.cl, m.at, m.v, SetVar{Data: []byte("back")}, 100).(VarWritten); w.Err != nil || w.Clock["b"] != 10 {
			t.Fatalf("seed %d: the minority's write after healing: %+v", seed, w)
		}
		// Nothing acknowledged is lost: every acknowledged revision is in the
		// store's log with the value written.
		for i, rev := range acked {
			found := false
			for _, cm := range c.model.Commits() {
				if cm.Entry.Revision == rev {
					rec, err := decodeVar(cm.Entry.Value)
					found = err == nil && bytes.Equal(rec.Data, []byte(fmt.Sprintf("v%d", i+1)))
				}
			}
			if !found {
				t.Fatalf("seed %d: acknowledged revision %d not in the store's log", seed, rev)
			}
		}
	}
}

func TestVarFenced(t *testing.T) {
	c := newCluster(t, 3, ModelConfig{})
	log := &leadLog{}
	m := c.candidate("a", electionConfig(), log, 0)
	v := c.sim.SpawnOn("a", must(NewVar(VarConfig{Store: m.store, Name: "params", Member: "a"})))
	cl, at := c.client("a")
	c.runUntil(50, "elected", func() bool { return len(log.leaders()) == 1 })
	f := Fence{Role: "r", Term: log.leaders()["a"]}
	if w := c.ask(cl, at, v, SetVar{Data: []byte("x"), Fence: &f}, 100).(VarWritten); w.Err != nil {
		t.Fatalf("fenced write by the leader: %+v", w)
	}
	if r := c.ask(cl, at, v, GetVar{}, 100).(VarValue); r.Term != f.Term || r.Writer != "a" {
		t.Fatalf("read: %+v", r)
	}
	c.ask(cl, at, m.election, Resign{}, 100)
	if w := c.ask(cl, at, v, SetVar{Data: []byte("y"), Fence: &f}, 100).(VarWritten); !errors.Is(w.Err, ErrFenced) {
		t.Fatalf("fenced write after resigning: %+v", w)
	}
}

// TestDeterministic: the same seed gives the same run, to the revision.
func TestDeterministic(t *testing.T) {
	run := func() []Commit {
		c := newCluster(t, 42, ModelConfig{})
		c.net.loss = 0.05
		log := &leadLog{}
		for _, n := range []string{"a", "b", "c"} {
			c.candidate(n, electionConfig(), log, 3)
			c.node(n+"x", func(Proposal) Choice { return Accept })
		}
		c.run(100)
		c.sim.KillNode("a")
		c.net.cut("b")
		c.run(200)
		c.net.heal()
		c.run(300)
		return c.model.Commits()
	}
	r1, r2 := run(), run()
	if len(r1) < 50 || !reflect.DeepEqual(r1, r2) {
		t.Fatalf("two runs with one seed differ (%d and %d commits)", len(r1), len(r2))
	}
}

// TestVarUnderDelay: three writers with compare-and-set over slow, lossy
// links: every acknowledged write is in the store's order, no two at one
// revision, and every member ends with the store's last value.
func TestVarUnderDelay(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		c := newCluster(t, seed, ModelConfig{})
		c.net.base, c.net.jitter, c.net.loss = 2, 8, 0.05
		ns := []*varNode{c.varNode("a"), c.varNode("b"), c.varNode("c")}
		c.run(20)
		for round := 0; round < 5; round++ {
			for i, n := range ns {
				r := c.ask(n.cl, n.at, n.v, GetVar{}, 1000).(VarValue)
				c.sim.Send(n.at, call{to: n.v, msg: CASVar{Data: []byte{byte(round), byte(i)}, Revision: r.Revision}, timeout: actors.Forever})
			}
			c.run(c.sim.Now() + 40)
		}
		c.run(c.sim.Now() + 100)
		seen := map[uint64]bool{}
		acked := 0
		for _, n := range ns {
			for _, r := range n.cl.replies {
				if w, ok := r.(VarWritten); ok && w.Err == nil {
					if seen[w.Revision] {
						t.Fatalf("seed %d: two writes acknowledged at revision %d", seed, w.Revision)
					}
					seen[w.Revision] = true
					acked++
				}
			}
		}
		last, _ := c.model.Last(VarKey("params"))
		for _, n := range ns {
			r := c.ask(n.cl, n.at, n.v, GetVar{Level: Eventual}, 1000).(VarValue)
			if r.Revision != last.Revision {
				t.Fatalf("seed %d: a member reads revision %d, the store has %d", seed, r.Revision, last.Revision)
			}
		}
		if acked < 5 {
			t.Fatalf("seed %d: only %d writes acknowledged", seed, acked)
		}
	}
}
