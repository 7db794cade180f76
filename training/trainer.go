package training

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/coordination"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/learning"
)

// Config configures a node's Trainer for one run.
type Config struct {
	Spec Spec
	// Member names this node (a coordination name: 1 to 64 letters,
	// digits, '-' or '_').
	Member string
	// Store is the node's coordination store, Blobs its blob actor.
	Store, Blobs actors.Addr
	// NewEnv makes the run's environment from its Spec (its Env and
	// Scenario).
	NewEnv func(Spec) (env.Environment, error)
	// Owner receives Progress after every update this node makes as the
	// learner, and Finished when the run is over (zero: nobody).
	Owner actors.Addr
	Timing
	// InlineLimit is the largest model sent inside the params variable;
	// larger ones go to the object store (default 256 KiB).
	InlineLimit int
}

// Timing are a Trainer's times, in virtual time units (the live runtime's
// Scale each).
type Timing struct {
	// LeaseTTL is the learner's lease (failover takes about this long);
	// default 3000.
	LeaseTTL float64
	// PresenceTTL is a rollout node's presence: a node dead for this long
	// no longer holds up an epoch; default 3000.
	PresenceTTL float64
	// StoreTimeout bounds each request to the store; default 2000.
	StoreTimeout float64
	// Retry is the pause before the learner tries a failed step again;
	// default 500.
	Retry float64
	// Poll is the interval between a rollout node's reads of the params
	// variable, beside its watch: a watch whose JetStream consumer was
	// lost with a server (without the client reconnecting) may stay
	// silent; default 1000.
	Poll float64
}

func (t Timing) withDefaults() Timing {
	if t.LeaseTTL <= 0 {
		t.LeaseTTL = 3000
	}
	if t.PresenceTTL <= 0 {
		t.PresenceTTL = 3000
	}
	if t.StoreTimeout <= 0 {
		t.StoreTimeout = 2000
	}
	if t.Retry <= 0 {
		t.Retry = 500
	}
	if t.Poll <= 0 {
		t.Poll = 1000
	}
	return t
}

// Progress tells the owner the learner made an update.
type Progress struct {
	Term     uint64
	Update   int
	Episodes int
	// From lists the rollout nodes whose experience the update used;
	// Missing those the epoch assigned episodes to whose experience did
	// not arrive (dead, cut off, or too late for the barrier).
	From, Missing []string
	// Resumed is set on the first publication of a term: the update the
	// learner resumed from (a checkpoint's, or 0).
	Resumed bool
}

// Warning tells the owner of a problem the run survives (experience that
// could not be written or read, a step the learner will try again).
type Warning struct{ Err error }

// Finished tells the owner the run is over, or that this node's part in it
// failed (Err).
type Finished struct {
	Done Done
	Err  error
}

// Trainer is one node's part in a distributed training run: it is a
// rollout node (it runs the episodes the learner assigns it, with the
// parameters the learner published, and writes their experience to the
// store, one value per epoch: the node's coordinator aggregate) and a
// candidate for the learner (elected; the learner reads the experience of
// the rollouts that arrived at the epoch's barrier, learns from it, and
// publishes new parameters; it checkpoints to the object store every
// CheckpointEvery updates, and a new learner resumes from the last
// checkpoint). The package doc describes the protocol.
type Trainer struct {
	cfg  Config
	e    env.Environment
	spec learning.Spec

	election, members, barriers actors.Addr
	params, ckpt, done          actors.Addr
	rteam                       *learning.Team
	lastRev                     uint64 // the last params revision this node acted on
	finished                    bool
	stopped                     bool
	leader                      *learner                              // nil unless this node leads
	results                     map[string]coordination.BarrierResult // the learner's
}

// learner is the learner's state for one term.
type learner struct {
	fence     coordination.Fence
	team      *learning.Team
	ready     bool // restored and publishing
	update    int
	episodes  int
	next      int
	awaiting  uint64 // the params revision whose epoch it waits for
	nodes     []string
	best      float64
	bestAt    int
	bestBlob  string
	lastValid int
	stats     Stats
	resumed   bool
	busy      bool // a step (reads, checkpoint) is under way
	// began is when this learner first published (virtual time), from is
	// the update it resumed from: Done.Elapsed times its part of the run.
	began float64
	from  int
}

// NewTrainer returns a node's Trainer, or the configuration's first error.
func NewTrainer(cfg Config) (*Trainer, error) {
	if err := cfg.Spec.Check(); err != nil {
		return nil, err
	}
	switch {
	case cfg.Store.IsZero() || cfg.Blobs.IsZero():
		return nil, errors.New("training: Config.Store and Config.Blobs are required")
	case cfg.NewEnv == nil:
		return nil, errors.New("training: Config.NewEnv is required")
	case cfg.Member == "":
		return nil, errors.New("training: Config.Member is required")
	}
	cfg.Timing = cfg.Timing.withDefaults()
	if cfg.InlineLimit <= 0 {
		cfg.InlineLimit = 256 << 10
	}
	t := &Trainer{cfg: cfg, results: map[string]coordination.BarrierResult{}}
	e, err := cfg.NewEnv(cfg.Spec)
	if err != nil {
		return nil, fmt.Errorf("training: the run's environment: %w", err)
	}
	if e.Name() != cfg.Spec.Env {
		return nil, fmt.Errorf("training: the run is for %s and this node made %s", cfg.Spec.Env, e.Name())
	}
	t.e = e
	if t.rteam, t.spec, err = t.newTeam(); err != nil {
		return nil, err
	}
	for _, name := range t.rteam.Policies() {
		if _, ok := learning.As[learning.Distributed](t.rteam.Policy(name)); !ok {
			return nil, fmt.Errorf("training: %s cannot be trained across nodes: its policy is not learning.Distributed", cfg.Spec.Algorithm)
		}
	}
	return t, nil
}

func (t *Trainer) newTeam() (*learning.Team, learning.Spec, error) {
	s := t.cfg.Spec
	alg, err := env.Lookup(t.e, s.Algorithm)
	if err != nil {
		return nil, learning.Spec{}, err
	}
	if !alg.Learns {
		return nil, learning.Spec{}, fmt.Errorf("training: %s does not learn: nothing to train", s.Algorithm)
	}
	return env.NewTeam(t.e, s.Algorithm, env.RunOptions{Seed: s.Seed, Independent: s.Independent, Actions: s.Actions})
}

type retry struct {
	term uint64
	step func(ctx actors.Context)
}

// poll is the rollout's periodic read of the params variable.
type poll struct{}

// watchdog fires when an epoch has not ended in time: the learner
// publishes again (a new epoch for the same update).
type watchdog struct {
	term uint64
	rev  uint64
}

// Receive handles the trainer's messages.
func (t *Trainer) Receive(ctx actors.Context, msg any) {
	if t.stopped {
		return
	}
	switch msg := msg.(type) {
	case actors.Started:
		t.start(ctx)
	case coordination.Elected:
		t.elected(ctx, msg)
	case coordination.Deposed:
		t.leader = nil
	case coordination.VarChanged:
		if ctx.Sender() == t.params {
			t.onParams(ctx, msg.Value)
		}
	case retry:
		if t.leader != nil && t.leader.fence.Term == msg.term {
			msg.step(ctx)
		}
	case poll:
		if t.finished {
			return
		}
		ctx.After(t.cfg.Poll, poll{})
		t.request(ctx, t.params, coordination.GetVar{Level: coordination.Linearizable}, func(ctx actors.Context, reply any, err error) {
			if v, ok := reply.(coordination.VarValue); ok && err == nil {
				t.onParams(ctx, v)
			}
		})
	case watchdog:
		if l := t.leader; l != nil && l.fence.Term == msg.term && l.awaiting == msg.rev && !l.busy {
			l.awaiting = 0
			t.publish(ctx)
		}
	case actors.Stopping:
		t.stopChildren(ctx)
	}
}

func (t *Trainer) start(ctx actors.Context) {
	id, tm := t.cfg.Spec.ID, t.cfg.Timing
	must := func(a actors.Actor, err error) actors.Addr {
		if err != nil {
			t.fail(ctx, err)
			return actors.Addr{}
		}
		return ctx.Spawn(a)
	}
	t.members = must(coordination.NewMembership(coordination.MembersConfig{Store: t.cfg.Store, Group: groupOf(id), Member: t.cfg.Member, TTL: tm.PresenceTTL}))
	t.barriers = must(coordination.NewBarriers(coordination.BarriersConfig{Store: t.cfg.Store, Member: t.cfg.Member, Members: t.members, KeepFor: 100 * t.cfg.Spec.EpochTimeout}))
	t.params = must(coordination.NewVar(coordination.VarConfig{Store: t.cfg.Store, Name: paramsVar(id), Member: t.cfg.Member, Owner: ctx.Self()}))
	t.ckpt = must(coordination.NewVar(coordination.VarConfig{Store: t.cfg.Store, Name: ckptVar(id), Member: t.cfg.Member}))
	t.done = must(coordination.NewVar(coordination.VarConfig{Store: t.cfg.Store, Name: doneVar(id), Member: t.cfg.Member}))
	t.election = must(coordination.NewElection(coordination.ElectionConfig{Store: t.cfg.Store, Role: learnerRole(id), Member: t.cfg.Member, Owner: ctx.Self(), TTL: tm.LeaseTTL}))
	if t.stopped {
		return
	}
	ctx.Send(t.election, coordination.Campaign{Value: []byte(t.cfg.Member)})
	ctx.After(t.cfg.Poll, poll{})
}

func (t *Trainer) fail(ctx actors.Context, err error) {
	if t.stopped {
		return
	}
	t.stopped = true
	if !t.cfg.Owner.IsZero() {
		ctx.Send(t.cfg.Owner, Finished{Err: err})
	}
	t.stopChildren(ctx)
}

func (t *Trainer) stopChildren(ctx actors.Context) {
	for _, a := range []actors.Addr{t.election, t.members, t.barriers, t.params, t.ckpt, t.done} {
		if !a.IsZero() {
			ctx.Stop(a)
		}
	}
}

func (t *Trainer) request(ctx actors.Context, to actors.Addr, msg any, then actors.Then) {
	ctx.Request(to, msg, 3*t.cfg.StoreTimeout, then)
}

// ---- The rollout side ----

// onParams runs this node's part of the epoch the new parameters open.
func (t *Trainer) onParams(ctx actors.Context, v coordination.VarValue) {
	if v.Err != nil || v.Revision <= t.lastRev || t.finished {
		return
	}
	var p Params
	if err := decodeStrict(v.Data, &p); err != nil {
		return // not ours to apply; the learner's next write replaces it
	}
	t.lastRev = v.Revision
	if p.Done {
		t.finish(ctx, p)
		return
	}
	rev := v.Revision
	if p.Model != nil {
		t.rollouts(ctx, rev, p, p.Model)
		return
	}
	t.request(ctx, t.cfg.Blobs, GetBlob{Name: p.Blob}, func(ctx actors.Context, reply any, err error) {
		r, _ := reply.(BlobData)
		if err == nil {
			err = r.Err
		}
		if err != nil || rev != t.lastRev {
			return // a newer epoch started, or the learner's next one will come
		}
		t.rollouts(ctx, rev, p, r.Data)
	})
}

// rollouts runs the episodes the epoch assigns this node, writes their
// experience and arrives at the epoch's barrier.
func (t *Trainer) rollouts(ctx actors.Context, rev uint64, p Params, model []byte) {
	i := slices.Index(p.Nodes, t.cfg.Member)
	if i < 0 {
		t.arrive(ctx, rev) // not in this epoch: do not hold it up
		return
	}
	c, err := learning.ReadCheckpoint(bytes.NewReader(model))
	if err == nil {
		err = t.rteam.Restore(c, t.e.Name(), t.cfg.Spec.Algorithm, t.spec)
	}
	if err != nil {
		t.fail(ctx, fmt.Errorf("training: the published parameters: %w", err))
		return
	}
	b := Batch{Node: t.cfg.Member}
	for j := 0; j < t.cfg.Spec.PerNode; j++ {
		k := p.Next + i*t.cfg.Spec.PerNode + j
		ep, err := t.rollout(k)
		if err != nil {
			t.fail(ctx, err)
			return
		}
		b.Episodes = append(b.Episodes, ep)
	}
	data, err := json.Marshal(b)
	if err != nil {
		t.fail(ctx, err)
		return
	}
	write := func(ctx actors.Context, data []byte) {
		w := coordination.Put(expKey(t.cfg.Spec.ID, rev, t.cfg.Member), data)
		w.TTL = 100 * t.cfg.Spec.EpochTimeout
		t.request(ctx, t.cfg.Store, w, func(ctx actors.Context, reply any, err error) {
			r, _ := reply.(coordination.WriteReply)
			if err == nil {
				err = r.Err
			}
			if err != nil {
				t.warn(ctx, fmt.Errorf("writing the experience of epoch %d: %w (the epoch goes on without it)", rev, err))
				return // cut off (the minority stops writing): the epoch goes on without us
			}
			t.arrive(ctx, rev)
		})
	}
	if len(data) <= t.cfg.InlineLimit {
		write(ctx, data)
		return
	}
	name := fmt.Sprintf("exp-%s-%d-%s", t.cfg.Spec.ID, rev, t.cfg.Member)
	t.request(ctx, t.cfg.Blobs, PutBlob{Name: name, Data: data}, func(ctx actors.Context, reply any, err error) {
		r, _ := reply.(BlobStored)
		if err == nil {
			err = r.Err
		}
		if err != nil {
			t.warn(ctx, fmt.Errorf("storing the experience of epoch %d: %w (the epoch goes on without it)", rev, err))
			return
		}
		ref, _ := json.Marshal(Batch{Node: t.cfg.Member, Blob: name})
		write(ctx, ref)
	})
}

// warn tells the owner of a problem the run survives.
func (t *Trainer) warn(ctx actors.Context, err error) {
	if !t.cfg.Owner.IsZero() {
		ctx.Send(t.cfg.Owner, Warning{Err: err})
	}
}

// rollout runs training episode k and returns its experience.
func (t *Trainer) rollout(k int) (Episode, error) {
	if err := t.rteam.BeginRollout(k); err != nil {
		return Episode{}, err
	}
	seen := map[learning.AgentID]bool{}
	agents := func(id learning.AgentID) learning.LearningAlgorithm {
		seen[id] = true
		return t.rteam.Agent(id)
	}
	o, err := env.RunSim(t.e, learning.TrainSeed(t.cfg.Spec.Seed, k), agents, 0)
	data, xerr := t.rteam.EndRollout()
	switch {
	case err != nil:
		return Episode{}, fmt.Errorf("training episode %d: %w", k, err)
	case !o.Done:
		return Episode{}, fmt.Errorf("training episode %d did not end", k)
	case xerr != nil:
		return Episode{}, xerr
	}
	return Episode{Number: k, Agents: len(seen), Data: data}, nil
}

func (t *Trainer) arrive(ctx actors.Context, rev uint64) {
	name := barrierOf(t.cfg.Spec.ID, rev)
	t.request(ctx, t.barriers, coordination.Arrive{Barrier: name, Timeout: t.cfg.Spec.EpochTimeout}, func(ctx actors.Context, reply any, err error) {
		r, ok := reply.(coordination.BarrierResult)
		if err != nil || !ok || r.Err != nil {
			if l := t.leader; l != nil && l.awaiting == rev {
				ctx.After(t.cfg.Retry, retry{l.fence.Term, func(ctx actors.Context) { t.arrive(ctx, rev) }})
			}
			return
		}
		if t.leader != nil {
			t.results[name] = r
			t.epochOver(ctx)
		}
	})
}

func (t *Trainer) finish(ctx actors.Context, p Params) {
	t.finished = true
	t.request(ctx, t.done, coordination.GetVar{Level: coordination.Linearizable}, func(ctx actors.Context, reply any, err error) {
		v, _ := reply.(coordination.VarValue)
		var d Done
		if err == nil && v.Err == nil {
			err = decodeStrict(v.Data, &d)
		} else if err == nil {
			err = v.Err
		}
		t.request(ctx, t.election, coordination.Resign{}, func(ctx actors.Context, _ any, _ error) {
			t.request(ctx, t.members, coordination.Leave{}, func(ctx actors.Context, _ any, _ error) {
				t.stopped = true
				t.stopChildren(ctx)
				if !t.cfg.Owner.IsZero() {
					ctx.Send(t.cfg.Owner, Finished{Done: d, Err: err})
				}
			})
		})
	})
}

// ---- The learner side ----

func (t *Trainer) elected(ctx actors.Context, msg coordination.Elected) {
	team, _, err := t.newTeam()
	if err != nil {
		t.fail(ctx, err)
		return
	}
	t.leader = &learner{fence: msg.Fence, team: team, best: math.Inf(1), bestAt: -1, resumed: true}
	t.resume(ctx)
}

// resume restores the learner from the last checkpoint, if any, then
// publishes its parameters.
func (t *Trainer) resume(ctx actors.Context) {
	l := t.leader
	term := l.fence.Term
	again := func() { ctx.After(t.cfg.Retry, retry{term, t.resume}) }
	t.request(ctx, t.done, coordination.GetVar{Level: coordination.Linearizable}, func(ctx actors.Context, reply any, err error) {
		if t.leader != l {
			return
		}
		v, _ := reply.(coordination.VarValue)
		switch {
		case err == nil && errors.Is(v.Err, coordination.ErrNotFound):
			t.restoreCheckpoint(ctx)
		case err == nil && v.Err == nil:
			t.leader = nil // the run is over: nothing to lead
		default:
			again()
		}
	})
}

// restoreCheckpoint restores the learner from the last checkpoint, if
// any, then publishes its parameters.
func (t *Trainer) restoreCheckpoint(ctx actors.Context) {
	l := t.leader
	term := l.fence.Term
	again := func() { ctx.After(t.cfg.Retry, retry{term, t.resume}) }
	t.request(ctx, t.ckpt, coordination.GetVar{Level: coordination.Linearizable}, func(ctx actors.Context, reply any, err error) {
		if t.leader != l {
			return
		}
		v, _ := reply.(coordination.VarValue)
		switch {
		case err == nil && errors.Is(v.Err, coordination.ErrNotFound):
			l.ready = true
			t.publish(ctx)
			return
		case err != nil || v.Err != nil:
			again()
			return
		}
		var s Saved
		if err := decodeStrict(v.Data, &s); err != nil {
			t.fail(ctx, fmt.Errorf("training: the checkpoint variable: %w", err))
			return
		}
		t.getModels(ctx, []string{s.Blob, s.BestBlob}, func(ctx actors.Context, blobs [][]byte, err error) {
			if t.leader != l {
				return
			}
			if err != nil {
				again()
				return
			}
			if err := t.restore(l.team, blobs[0]); err != nil {
				t.fail(ctx, err)
				return
			}
			l.update, l.episodes, l.next = s.Update, s.Episodes, s.Next
			l.best, l.bestAt, l.bestBlob, l.lastValid, l.stats = s.Best, s.BestAt, s.BestBlob, s.LastValid, s.Stats
			if s.BestBlob == "" {
				l.best, l.bestAt = math.Inf(1), -1
			}
			l.ready = true
			t.publish(ctx)
		})
	})
}

// getModels reads the named blobs ("" reads nothing) and calls then with
// their contents, in order.
func (t *Trainer) getModels(ctx actors.Context, names []string, then func(actors.Context, [][]byte, error)) {
	out := make([][]byte, len(names))
	var step func(ctx actors.Context, i int)
	step = func(ctx actors.Context, i int) {
		for i < len(names) && names[i] == "" {
			i++
		}
		if i == len(names) {
			then(ctx, out, nil)
			return
		}
		t.request(ctx, t.cfg.Blobs, GetBlob{Name: names[i]}, func(ctx actors.Context, reply any, err error) {
			r, _ := reply.(BlobData)
			if err == nil {
				err = r.Err
			}
			if err != nil {
				then(ctx, nil, err)
				return
			}
			out[i] = r.Data
			step(ctx, i+1)
		})
	}
	step(ctx, 0)
}

func (t *Trainer) restore(team *learning.Team, data []byte) error {
	c, err := learning.ReadCheckpoint(bytes.NewReader(data))
	if err == nil {
		err = team.Restore(c, t.e.Name(), t.cfg.Spec.Algorithm, t.spec)
	}
	if err != nil {
		return fmt.Errorf("training: the checkpoint: %w", err)
	}
	return nil
}

// modelBytes encodes the team's models: what the rollouts are sent, and
// what the best and final models are kept as.
func (t *Trainer) modelBytes(team *learning.Team, episodes int) ([]byte, error) {
	c, err := team.Checkpoint(t.e.Name(), t.cfg.Spec.Algorithm, t.spec, episodes)
	if err != nil {
		return nil, err
	}
	return encodeCheckpoint(c)
}

// resumeBytes encodes the team's models with their update state
// (learning.Resumable): what a learner resumes from.
func (t *Trainer) resumeBytes(team *learning.Team, episodes int) ([]byte, error) {
	c, err := team.ResumeCheckpoint(t.e.Name(), t.cfg.Spec.Algorithm, t.spec, episodes)
	if err != nil {
		return nil, err
	}
	return encodeCheckpoint(c)
}

func encodeCheckpoint(c *learning.Checkpoint) ([]byte, error) {
	var buf bytes.Buffer
	if err := c.Write(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// publish writes the learner's parameters and the next epoch's assignment
// (the live members, in order) to the params variable, fenced.
func (t *Trainer) publish(ctx actors.Context) {
	l := t.leader
	if l.update >= t.cfg.Spec.Updates {
		t.conclude(ctx)
		return
	}
	term := l.fence.Term
	again := func() { ctx.After(t.cfg.Retry, retry{term, t.publish}) }
	t.request(ctx, t.members, coordination.ListMembers{}, func(ctx actors.Context, reply any, err error) {
		if t.leader != l {
			return
		}
		m, _ := reply.(coordination.Members)
		if err != nil || m.Err != nil || m.Stale || len(m.Live) == 0 || (l.episodes == 0 && len(m.Live) < t.cfg.Spec.MinNodes) {
			again()
			return
		}
		model, err := t.modelBytes(l.team, l.episodes)
		if err != nil {
			t.fail(ctx, err)
			return
		}
		p := Params{Update: l.update, Episodes: l.episodes, Next: l.next, Nodes: m.Live}
		write := func(ctx actors.Context) {
			data, _ := json.Marshal(p)
			fence := l.fence
			t.request(ctx, t.params, coordination.SetVar{Data: data, Fence: &fence}, func(ctx actors.Context, reply any, err error) {
				if t.leader != l {
					return
				}
				w, _ := reply.(coordination.VarWritten)
				switch {
				case err == nil && errors.Is(w.Err, coordination.ErrFenced):
					t.leader = nil // deposed: a newer learner exists
					return
				case err != nil || w.Err != nil:
					again()
					return
				}
				l.awaiting, l.nodes = w.Revision, p.Nodes
				ctx.After(2*t.cfg.Spec.EpochTimeout+t.cfg.LeaseTTL, watchdog{term, w.Revision})
				if l.resumed {
					l.began, l.from = ctx.Now(), l.update
					if !t.cfg.Owner.IsZero() {
						ctx.Send(t.cfg.Owner, Progress{Term: term, Update: l.update, Episodes: l.episodes, Resumed: true})
					}
				}
				l.resumed = false
				t.epochOver(ctx)
			})
		}
		if len(model) <= t.cfg.InlineLimit {
			p.Model = model
			write(ctx)
			return
		}
		p.Blob = fmt.Sprintf("params-%s-%d-%d", t.cfg.Spec.ID, term, l.update)
		t.request(ctx, t.cfg.Blobs, PutBlob{Name: p.Blob, Data: model}, func(ctx actors.Context, reply any, err error) {
			if r, _ := reply.(BlobStored); t.leader == l && err == nil && r.Err == nil {
				write(ctx)
			} else if t.leader == l {
				again()
			}
		})
	})
}

// epochOver starts the learner's update if the epoch it waits for is over
// (its barrier's outcome known).
func (t *Trainer) epochOver(ctx actors.Context) {
	l := t.leader
	if l == nil || !l.ready || l.busy || l.awaiting == 0 {
		return
	}
	name := barrierOf(t.cfg.Spec.ID, l.awaiting)
	r, ok := t.results[name]
	if !ok {
		return
	}
	clear(t.results) // older epochs' are stale
	var from []string
	for _, n := range l.nodes {
		if slices.Contains(r.Arrived, n) {
			from = append(from, n)
		}
	}
	rev := l.awaiting
	l.awaiting, l.busy = 0, true
	t.readBatches(ctx, rev, from, func(ctx actors.Context, batches []Batch, sizes []int) {
		if t.leader != l {
			return
		}
		l.busy = false
		t.update(ctx, batches, sizes)
	})
}

// readBatches reads the experience of the nodes in from, in order; a node
// whose experience cannot be read is left out.
func (t *Trainer) readBatches(ctx actors.Context, rev uint64, from []string, then func(actors.Context, []Batch, []int)) {
	l := t.leader
	var batches []Batch
	var sizes []int
	var step func(ctx actors.Context, i int)
	step = func(ctx actors.Context, i int) {
		if i == len(from) {
			then(ctx, batches, sizes)
			return
		}
		node := from[i]
		idx := slices.Index(l.nodes, node)
		want := make([]int, t.cfg.Spec.PerNode)
		for j := range want {
			want[j] = l.next + idx*t.cfg.Spec.PerNode + j
		}
		add := func(ctx actors.Context, data []byte) {
			b, err := decodeBatch(data, node, want)
			if err != nil {
				t.warn(ctx, err)
			} else {
				batches = append(batches, b)
				sizes = append(sizes, len(data))
			}
			step(ctx, i+1)
		}
		t.request(ctx, t.cfg.Store, coordination.Get{Key: expKey(t.cfg.Spec.ID, rev, node), Level: coordination.Linearizable}, func(ctx actors.Context, reply any, err error) {
			r, _ := reply.(coordination.GetReply)
			if err == nil {
				err = r.Err
			}
			var ref Batch
			switch {
			case err != nil:
				t.warn(ctx, fmt.Errorf("reading the experience of %s: %w", node, err))
				step(ctx, i+1)
			case decodeStrict(r.Entry.Value, &ref) == nil && ref.Blob != "":
				t.request(ctx, t.cfg.Blobs, GetBlob{Name: ref.Blob}, func(ctx actors.Context, reply any, err error) {
					d, _ := reply.(BlobData)
					if err == nil {
						err = d.Err
					}
					if err != nil {
						t.warn(ctx, fmt.Errorf("reading the experience of %s: %w", node, err))
						step(ctx, i+1)
						return
					}
					add(ctx, d.Data)
				})
			default:
				add(ctx, r.Entry.Value)
			}
		})
	}
	step(ctx, 0)
}

// update learns from the epoch's batches, validates and checkpoints when
// due, and publishes the new parameters.
func (t *Trainer) update(ctx actors.Context, batches []Batch, sizes []int) {
	l := t.leader
	s := t.cfg.Spec
	if len(batches) == 0 { // nobody's experience: the same epoch again
		t.publish(ctx)
		return
	}
	before := l.episodes
	var from []string
	for i, b := range batches {
		for _, ep := range b.Episodes {
			if err := l.team.Learn(ep.Data); err != nil {
				t.fail(ctx, fmt.Errorf("training: experience of %s, episode %d: %w", b.Node, ep.Number, err))
				return
			}
			l.episodes++
			l.stats.AgentEpisodes += ep.Agents
		}
		l.stats.Messages++
		l.stats.Bytes += sizes[i]
		from = append(from, b.Node)
	}
	var missing []string
	for _, n := range l.nodes {
		if !slices.Contains(from, n) {
			missing = append(missing, n)
		}
	}
	l.stats.MaxIn = max(l.stats.MaxIn, len(batches))
	l.next += len(l.nodes) * s.PerNode
	l.update++
	if !t.cfg.Owner.IsZero() {
		ctx.Send(t.cfg.Owner, Progress{Term: l.fence.Term, Update: l.update, Episodes: l.episodes, From: from, Missing: missing})
	}
	var steps []func(ctx actors.Context, next func(actors.Context))
	if s.Select != "" && s.EvalEvery > 0 && l.episodes/s.EvalEvery > before/s.EvalEvery {
		steps = append(steps, t.validate)
	}
	if l.update%s.CheckpointEvery == 0 && l.update < s.Updates {
		steps = append(steps, t.checkpoint)
	}
	t.chain(ctx, steps, t.publish)
}

// chain runs asynchronous steps one after another, then last.
func (t *Trainer) chain(ctx actors.Context, steps []func(actors.Context, func(actors.Context)), last func(actors.Context)) {
	l := t.leader
	if len(steps) == 0 {
		last(ctx)
		return
	}
	steps[0](ctx, func(ctx actors.Context) {
		if t.leader == l {
			t.chain(ctx, steps[1:], last)
		}
	})
}

// validate runs the validation episodes greedily and keeps the models if
// they did best, storing them in the object store.
func (t *Trainer) validate(ctx actors.Context, next func(actors.Context)) {
	l := t.leader
	s := t.cfg.Spec
	l.lastValid = l.episodes
	l.team.SetLearning(false)
	var recs []learning.Record
	for k := 0; k < s.EvalEpisodes; k++ {
		l.team.BeginEpisode()
		o, err := env.RunSim(t.e, learning.ValidSeed(s.Seed, k), l.team.Agent, 0)
		l.team.EndEpisode()
		if err != nil || !o.Done {
			l.team.SetLearning(true)
			t.fail(ctx, fmt.Errorf("training: validation episode %d: %v (done %v)", k, err, o.Done))
			return
		}
		recs = append(recs, learning.Record{Metrics: o.Metrics})
	}
	l.team.SetLearning(true)
	v, ok := learning.Mean(recs)[s.Select]
	if !ok {
		t.fail(ctx, fmt.Errorf("training: Select: the episodes have no metric %q", s.Select))
		return
	}
	if v >= l.best {
		next(ctx)
		return
	}
	model, err := t.modelBytes(l.team, l.episodes)
	if err != nil {
		t.fail(ctx, err)
		return
	}
	name := fmt.Sprintf("best-%s-%d", s.ID, l.episodes)
	t.putBlob(ctx, name, model, func(ctx actors.Context) {
		l.best, l.bestAt, l.bestBlob = v, l.episodes, name
		next(ctx)
	})
}

// putBlob stores a blob, retrying while the learner leads.
func (t *Trainer) putBlob(ctx actors.Context, name string, data []byte, then func(actors.Context)) {
	l := t.leader
	t.request(ctx, t.cfg.Blobs, PutBlob{Name: name, Data: data}, func(ctx actors.Context, reply any, err error) {
		if t.leader != l {
			return
		}
		if r, _ := reply.(BlobStored); err == nil && r.Err == nil {
			then(ctx)
			return
		}
		ctx.After(t.cfg.Retry, retry{l.fence.Term, func(ctx actors.Context) { t.putBlob(ctx, name, data, then) }})
	})
}

// checkpoint stores the learner's models, with their update state, in the
// object store, then points the checkpoint variable at them (fenced).
func (t *Trainer) checkpoint(ctx actors.Context, next func(actors.Context)) {
	l := t.leader
	model, err := t.resumeBytes(l.team, l.episodes)
	if err != nil {
		t.fail(ctx, err)
		return
	}
	name := fmt.Sprintf("ckpt-%s-%d", t.cfg.Spec.ID, l.update)
	t.putBlob(ctx, name, model, func(ctx actors.Context) {
		saved := Saved{Update: l.update, Episodes: l.episodes, Next: l.next, Blob: name, Best: l.best, BestAt: l.bestAt, BestBlob: l.bestBlob, LastValid: l.lastValid, Stats: l.stats}
		if l.bestBlob == "" {
			saved.Best = 0
		}
		t.setFenced(ctx, t.ckpt, saved, next)
	})
}

// setFenced writes v to a variable as the leader, retrying while it leads.
func (t *Trainer) setFenced(ctx actors.Context, to actors.Addr, v any, then func(actors.Context)) {
	l := t.leader
	data, _ := json.Marshal(v)
	fence := l.fence
	t.request(ctx, to, coordination.SetVar{Data: data, Fence: &fence}, func(ctx actors.Context, reply any, err error) {
		if t.leader != l {
			return
		}
		w, _ := reply.(coordination.VarWritten)
		switch {
		case err == nil && errors.Is(w.Err, coordination.ErrFenced):
			t.leader = nil
		case err != nil || w.Err != nil:
			ctx.After(t.cfg.Retry, retry{l.fence.Term, func(ctx actors.Context) { t.setFenced(ctx, to, v, then) }})
		default:
			then(ctx)
		}
	})
}

// conclude ends the run: a last validation with Select (unless one has
// just seen these models), the best models restored, the final checkpoint
// stored, the done variable written, and the params variable marked done.
func (t *Trainer) conclude(ctx actors.Context) {
	l := t.leader
	s := t.cfg.Spec
	var steps []func(actors.Context, func(actors.Context))
	if s.Select != "" && l.lastValid != l.episodes {
		steps = append(steps, t.validate)
	}
	t.chain(ctx, steps, func(ctx actors.Context) {
		selected := l.episodes
		final := func(ctx actors.Context, model []byte) {
			name := "final-" + s.ID
			t.putBlob(ctx, name, model, func(ctx actors.Context) {
				d := Done{Updates: l.update, Episodes: l.episodes, Selected: selected, Final: name, Stats: l.stats,
					Elapsed: ctx.Now() - l.began, ElapsedFrom: l.from}
				t.setFenced(ctx, t.done, d, func(ctx actors.Context) {
					t.setFenced(ctx, t.params, Params{Update: l.update, Episodes: l.episodes, Done: true, Final: name}, func(actors.Context) {})
				})
			})
		}
		if l.bestBlob != "" && l.bestAt != l.episodes {
			selected = l.bestAt
			t.getModels(ctx, []string{l.bestBlob}, func(ctx actors.Context, blobs [][]byte, err error) {
				if t.leader != l {
					return
				}
				if err != nil {
					ctx.After(t.cfg.Retry, retry{l.fence.Term, t.conclude})
					return
				}
				final(ctx, blobs[0])
			})
			return
		}
		model, err := t.modelBytes(l.team, l.episodes)
		if err != nil {
			t.fail(ctx, err)
			return
		}
		final(ctx, model)
	})
}
