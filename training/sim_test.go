package training_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/coordination"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/examples/loadbalancing"
	_ "github.com/marlon-go/marlon/examples/loadbalancing/learners" // the learners, by name
	"github.com/marlon-go/marlon/learning"
	"github.com/marlon-go/marlon/training"
)

const storeNode = "jetstream"

// netModel delays messages between nodes by 1 to 2 units and drops those
// between nodes on different sides of a partition.
type netModel struct {
	rng  *rand.Rand
	side map[string]int
}

func (n *netModel) Link(from, to string, msg any) (float64, bool) {
	if n.side[from] != n.side[to] {
		return 0, true
	}
	return 1 + n.rng.Float64(), false
}

// small is a quick load-balancing scenario: an episode takes a few
// hundred microseconds.
func small() loadbalancing.Scenario {
	sc := loadbalancing.Default()
	sc.Workers, sc.Job = 4, 600
	return sc
}

func newEnv(s training.Spec) (env.Environment, error) {
	var sc loadbalancing.Scenario
	if err := json.Unmarshal(s.Scenario, &sc); err != nil {
		return nil, err
	}
	_, v, _ := strings.Cut(s.Env, "/")
	return loadbalancing.NewVersion(v, sc, s.Seed)
}

func spec(t testing.TB, alg string, updates int) training.Spec {
	sc, err := json.Marshal(small())
	if err != nil {
		t.Fatal(err)
	}
	return training.Spec{ID: "t1", Env: loadbalancing.Family + "/v1", Scenario: sc, Algorithm: alg, Seed: 3,
		Updates: updates, PerNode: 1, CheckpointEvery: 5, EvalEvery: 10, EvalEpisodes: 2, Select: "ratio", EpochTimeout: 400}
}

// owner keeps what a trainer tells it.
type owner struct {
	progress []training.Progress
	finished []training.Finished
}

func (o *owner) Receive(ctx actors.Context, msg any) {
	switch msg := msg.(type) {
	case training.Progress:
		o.progress = append(o.progress, msg)
	case training.Finished:
		o.finished = append(o.finished, msg)
	}
}

type simCluster struct {
	t      *testing.T
	sim    *actors.Sim
	net    *netModel
	kv     actors.Addr
	blobs  *training.BlobModel
	blobAt actors.Addr
	stored map[string][]byte // every blob stored, by name
	spec   training.Spec
	owners map[string]*owner
	inline int // Config.InlineLimit (0: the default)
}

func newSimCluster(t *testing.T, seed uint64, s training.Spec) *simCluster {
	sim := actors.NewSim(seed)
	net := &netModel{rng: rand.New(rand.NewPCG(seed, 1)), side: map[string]int{}}
	sim.SetNetwork(net)
	c := &simCluster{t: t, sim: sim, net: net, spec: s, owners: map[string]*owner{}, blobs: training.NewBlobModel(), stored: map[string][]byte{}}
	c.kv = sim.SpawnOn(storeNode, coordination.NewKVModel(coordination.ModelConfig{}))
	c.blobAt = sim.SpawnOn(storeNode, &blobRecorder{c.blobs, c.stored})
	return c
}

// blobRecorder is the simulated object store, keeping a copy of every blob
// stored for the test to look at.
type blobRecorder struct {
	*training.BlobModel
	stored map[string][]byte
}

func (r *blobRecorder) Receive(ctx actors.Context, msg any) {
	if p, ok := msg.(training.PutBlob); ok {
		r.stored[p.Name] = bytes.Clone(p.Data)
	}
	r.BlobModel.Receive(ctx, msg)
}

// node starts (or restarts) a member: its store and its trainer.
func (c *simCluster) node(name string) {
	store := c.sim.SpawnOn(name, coordination.NewSimStore(c.kv, coordination.StoreConfig{Timeout: 50, ProbeEvery: 10}))
	o := &owner{}
	c.owners[name] = o
	at := c.sim.SpawnOn(name, o)
	tr, err := training.NewTrainer(training.Config{Spec: c.spec, Member: name, Store: store, Blobs: c.blobAt, NewEnv: newEnv, Owner: at, InlineLimit: c.inline,
		Timing: training.Timing{LeaseTTL: 60, PresenceTTL: 60, StoreTimeout: 50, Retry: 10}})
	if err != nil {
		c.t.Fatal(err)
	}
	c.sim.SpawnOn(name, tr)
}

func (c *simCluster) runUntil(limit float64, what string, cond func() bool) {
	c.t.Helper()
	if !cond() && !c.sim.RunUntil(limit, cond) {
		c.t.Fatalf("seed %d: %s: not by time %v", c.sim.Seed(), what, limit)
	}
}

// finished reports whether every listed node was told the run is over.
func (c *simCluster) finished(nodes ...string) func() bool {
	return func() bool {
		for _, n := range nodes {
			if len(c.owners[n].finished) == 0 {
				return false
			}
		}
		return true
	}
}

// progress lists every update any node made as learner, in order.
func (c *simCluster) progress() []training.Progress {
	var all []training.Progress
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for k := range c.owners {
			if !yield(k) {
				return
			}
		}
	}) {
		all = append(all, c.owners[n].progress...)
	}
	return all
}

func (c *simCluster) learnerAt(update int) (string, bool) {
	for n, o := range c.owners {
		for _, p := range o.progress {
			if p.Update == update && !p.Resumed {
				return n, true
			}
		}
	}
	return "", false
}

func (c *simCluster) finalModels(d training.Done) map[string][]byte {
	c.t.Helper()
	var got training.BlobData
	probe := &blobProbe{done: func(b training.BlobData) { got = b }}
	at := c.sim.SpawnOn("probe", probe)
	c.sim.Send(at, training.GetBlob{Name: d.Final})
	c.sim.Send(at, c.blobAt)
	c.runUntil(c.sim.Now()+20, "the final checkpoint read", func() bool { return got.Data != nil || got.Err != nil })
	if got.Err != nil {
		c.t.Fatal(got.Err)
	}
	ck, err := learning.ReadCheckpoint(bytes.NewReader(got.Data))
	if err != nil {
		c.t.Fatal(err)
	}
	return ck.Policies
}

// blobProbe reads one blob for a test.
type blobProbe struct {
	req  training.GetBlob
	done func(training.BlobData)
}

func (p *blobProbe) Receive(ctx actors.Context, msg any) {
	switch msg := msg.(type) {
	case training.GetBlob:
		p.req = msg
	case actors.Addr:
		ctx.Request(msg, p.req, actors.Forever, func(ctx actors.Context, reply any, err error) { p.done(reply.(training.BlobData)) })
	}
}

// One rollout node running one episode per update trains exactly as
// single-process training does: the final models (after the same
// validations and selection) are the same, to the bit.
func TestOneNodeReproducesSingleProcessTraining(t *testing.T) {
	for _, alg := range []string{"qlearning", "pg"} {
		t.Run(alg, func(t *testing.T) {
			s := spec(t, alg, 30)
			c := newSimCluster(t, 1, s)
			if alg == "pg" {
				c.inline = 100 // parameters and experience through the object store
			}
			c.node("a")
			c.runUntil(1e6, "the run finished", c.finished("a"))
			f := c.owners["a"].finished[0]
			if f.Err != nil {
				t.Fatal(f.Err)
			}
			if f.Done.Updates != 30 || f.Done.Episodes != 30 {
				t.Fatalf("done %+v, want 30 updates of one episode", f.Done)
			}
			got := c.finalModels(f.Done)
			if alg == "pg" && c.blobs.Puts < 60 {
				t.Fatalf("%d objects stored, want the parameters and the experience of every update in the object store", c.blobs.Puts)
			}

			e, err := newEnv(s)
			if err != nil {
				t.Fatal(err)
			}
			r, err := env.Run(e, alg, env.RunOptions{Seed: s.Seed, Episodes: 30, EvalEvery: s.EvalEvery, EvalEpisodes: s.EvalEpisodes, Select: s.Select})
			if err != nil {
				t.Fatal(err)
			}
			ck, err := r.Checkpoint(e)
			if err != nil {
				t.Fatal(err)
			}
			if f.Done.Selected != r.Curve.Selected {
				t.Errorf("kept the models after %d episodes, single-process training after %d", f.Done.Selected, r.Curve.Selected)
			}
			for name, want := range ck.Policies {
				if !bytes.Equal(got[name], want) {
					t.Errorf("policy %s differs from single-process training's", name)
				}
			}
		})
	}
}

// Three nodes; the learner's node is killed mid-run: another node becomes
// the learner, resumes from the last checkpoint and finishes the requested
// number of updates; epochs complete without the dead node.
func TestLearnerKilledAnotherResumesFromCheckpoint(t *testing.T) {
	s := spec(t, "qlearning", 20)
	c := newSimCluster(t, 2, s)
	nodes := []string{"a", "b", "c"}
	for _, n := range nodes {
		c.node(n)
	}
	var first string
	c.runUntil(1e5, "update 7", func() bool { var ok bool; first, ok = c.learnerAt(7); return ok })
	c.sim.KillNode(first)
	var rest []string
	for _, n := range nodes {
		if n != first {
			rest = append(rest, n)
		}
	}
	c.runUntil(1e6, "the others finished the run", c.finished(rest...))
	var resumed []training.Progress
	for _, n := range rest {
		for _, p := range c.owners[n].progress {
			if p.Resumed {
				resumed = append(resumed, p)
			}
		}
	}
	if len(resumed) != 1 || resumed[0].Update != 5 {
		t.Fatalf("resumptions %+v, want one, from the checkpoint of update 5", resumed)
	}
	d := c.owners[rest[0]].finished[0].Done
	if d.Updates != 20 {
		t.Fatalf("the run ended after %d updates, want 20", d.Updates)
	}
	for _, n := range rest {
		for _, p := range c.owners[n].progress {
			if slices.Contains(p.From, first) {
				t.Errorf("an update after the failover used the dead node's experience: %+v", p)
			}
		}
	}
}

// A rollout node killed mid-run: the epochs complete without it (its
// presence expires) and the run finishes.
func TestRolloutKilledEpochCompletesWithoutIt(t *testing.T) {
	s := spec(t, "pg", 12)
	c := newSimCluster(t, 3, s)
	nodes := []string{"a", "b", "c"}
	for _, n := range nodes {
		c.node(n)
	}
	var learner string
	c.runUntil(1e5, "update 3", func() bool { var ok bool; learner, ok = c.learnerAt(3); return ok })
	victim := nodes[(slices.Index(nodes, learner)+1)%3]
	c.sim.KillNode(victim)
	c.runUntil(1e6, "the run finished", c.finished(learner))
	ps := c.owners[learner].progress
	last := ps[len(ps)-1]
	if last.Update != 12 || slices.Contains(last.From, victim) || len(last.From) != 2 {
		t.Fatalf("last update %+v: want update 12 from the two live nodes", last)
	}
	missing := 0
	for _, p := range ps {
		if slices.Contains(p.Missing, victim) {
			missing++
		}
	}
	if missing == 0 || missing > 2 {
		t.Fatalf("%s reported missing in %d epochs, want 1 or 2 (until its presence expired)", victim, missing)
	}
	if d := c.owners[learner].finished[0].Done; d.Stats.Messages == 0 || d.Stats.AgentEpisodes <= d.Stats.Messages {
		t.Fatalf("stats %+v: want messages, each aggregating several agent-episodes", d.Stats)
	}
}

// A node cut off from the store (the minority side) stops writing while
// the others continue, and rejoins the epochs when the partition heals.
func TestPartitionMinorityStopsAndRejoins(t *testing.T) {
	s := spec(t, "qlearning", 30)
	c := newSimCluster(t, 4, s)
	nodes := []string{"a", "b", "c"}
	for _, n := range nodes {
		c.node(n)
	}
	var learner string
	c.runUntil(1e5, "update 3", func() bool { var ok bool; learner, ok = c.learnerAt(3); return ok })
	cut := nodes[(slices.Index(nodes, learner)+1)%3]
	c.net.side[cut] = 1
	cutAt := len(c.progress())
	c.runUntil(c.sim.Now()+1e5, "five updates without the cut node", func() bool {
		n := 0
		for _, p := range c.progress()[cutAt:] {
			if !slices.Contains(p.From, cut) && !p.Resumed {
				n++
			}
		}
		return n >= 5
	})
	c.net.side = map[string]int{}
	healAt := len(c.progress())
	c.runUntil(1e6, "the run finished", c.finished(nodes...))
	back := false
	for _, p := range c.progress()[healAt:] {
		back = back || slices.Contains(p.From, cut)
	}
	if !back {
		t.Fatalf("%s never contributed again after the partition healed", cut)
	}
	for _, n := range nodes {
		if f := c.owners[n].finished[0]; f.Err != nil || f.Done.Updates != 30 {
			t.Fatalf("%s: %+v, want the run done after 30 updates", n, f)
		}
	}
}

// A learner that dies and is replaced ends where it would have had it not
// died, to the bit: the checkpoint it resumes from carries all the state its
// updates depend on (for policy gradient, Adam's moments and the running
// advantage scale, not only the parameters), and the epochs since the
// checkpoint run again with the same episodes.
func TestFailoverEndsBitIdenticalToARunWithout(t *testing.T) {
	for _, alg := range []string{"pg", "qlearning"} {
		t.Run(alg, func(t *testing.T) {
			want := threeNodeRun(t, alg, false)
			got := threeNodeRun(t, alg, true)
			if len(got) != len(want) {
				t.Fatalf("the run with a failover kept policies %v, the run without %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
			}
			for name, w := range want {
				if !bytes.Equal(got[name], w) {
					t.Errorf("policy %s after a failover differs from the run without one", name)
				}
			}
		})
	}
}

// threeNodeRun trains alg on three nodes for 20 updates, checkpointing every
// 5, without validation (the final models are the last update's), and
// returns the final models. The parameters go through the object store,
// where the test checks that the checkpoints, and they only, carry the
// update state (pg's: policygradient is learning.Resumable, qlearning is
// not). With failover, the learner's node is killed
// after update 7 (two updates past the checkpoint of update 5) and restarted
// at once, so that the epochs keep their three nodes and their episodes: a
// run that differs from one without the failover only in its learner having
// resumed from the checkpoint.
func threeNodeRun(t *testing.T, alg string, failover bool) map[string][]byte {
	t.Helper()
	s := spec(t, alg, 20)
	s.Select, s.EvalEvery, s.MinNodes = "", 0, 3
	c := newSimCluster(t, 5, s)
	c.inline = 100
	nodes := []string{"a", "b", "c"}
	for _, n := range nodes {
		c.node(n)
	}
	if failover {
		var first string
		c.runUntil(1e5, "update 7", func() bool { var ok bool; first, ok = c.learnerAt(7); return ok })
		c.sim.KillNode(first)
		c.node(first)
	}
	c.runUntil(1e6, "the run finished", c.finished(nodes...))
	var resumed []int
	for _, p := range c.progress() {
		switch {
		case p.Resumed:
			resumed = append(resumed, p.Update)
		case len(p.From) != 3:
			t.Fatalf("update %d learnt from %v, want all three nodes (else the runs are not comparable)", p.Update, p.From)
		}
	}
	wantResumed := []int{0}
	if failover {
		wantResumed = []int{5} // the first learner's owner died with it
	}
	if !slices.Equal(resumed, wantResumed) {
		t.Fatalf("resumptions from updates %v, want %v", resumed, wantResumed)
	}
	d := c.owners[nodes[0]].finished[0]
	if d.Err != nil || d.Done.Updates != 20 || d.Done.Episodes != 60 {
		t.Fatalf("finished %+v, want 20 updates of 3 episodes", d)
	}
	kinds := map[string]int{}
	for name, data := range c.stored {
		kind, _, _ := strings.Cut(name, "-")
		if kind != "ckpt" && kind != "params" && kind != "final" {
			continue
		}
		ck, err := learning.ReadCheckpoint(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("blob %s: %v", name, err)
		}
		kinds[kind]++
		want := 0
		if kind == "ckpt" && alg == "pg" {
			want = 1 // the shared policy's
		}
		if len(ck.UpdateState) != want {
			t.Errorf("blob %s holds the update state of %d policies, want %d (in pg's checkpoints only)", name, len(ck.UpdateState), want)
		}
	}
	if kinds["ckpt"] < 3 || kinds["params"] < 20 || kinds["final"] != 1 {
		t.Fatalf("stored %v blobs of models, want the checkpoints, the parameters and the final models", kinds)
	}
	return c.finalModels(d.Done)
}
