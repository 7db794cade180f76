package training

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/coordination"
	"github.com/marlon-go/marlon/env"
)

// NodeConfig configures a Node.
type NodeConfig struct {
	// Member names this node; Store and Blobs are its store and blob
	// actors.
	Member       string
	Store, Blobs actors.Addr
	// NewEnv makes a run's environment (Config.NewEnv).
	NewEnv func(Spec) (env.Environment, error)
	Timing
	// Owner receives RunStarted, and the Progress and Finished of every run
	// (zero: nobody).
	Owner actors.Addr
}

type pollRun struct{}

// RunStarted tells a Node's owner it joined a run (or could not: Err).
type RunStarted struct {
	Spec Spec
	Err  error
}

// Node is a rollout node waiting for runs: it watches the run variable
// (RunVar) and takes part, with a Trainer, in every run written there that
// it has not finished; a new run replaces the one under way.
type Node struct {
	cfg      NodeConfig
	runVar   actors.Addr
	trainer  actors.Addr
	current  string
	finished map[string]bool
}

// NewNode returns a Node, or the configuration's first error.
func NewNode(cfg NodeConfig) (*Node, error) {
	switch {
	case cfg.Store.IsZero() || cfg.Blobs.IsZero() || cfg.NewEnv == nil || cfg.Member == "":
		return nil, errors.New("training: NodeConfig needs Member, Store, Blobs and NewEnv")
	}
	return &Node{cfg: cfg, finished: map[string]bool{}}, nil
}

// Receive handles the node's messages.
func (n *Node) Receive(ctx actors.Context, msg any) {
	switch msg := msg.(type) {
	case actors.Started:
		v, err := coordination.NewVar(coordination.VarConfig{Store: n.cfg.Store, Name: RunVar, Member: n.cfg.Member, Owner: ctx.Self()})
		if err != nil {
			n.tell(ctx, RunStarted{Err: err})
			return
		}
		n.runVar = ctx.Spawn(v)
		ctx.Send(ctx.Self(), pollRun{})
	case pollRun:
		// A read now and every Poll, beside the watch: a watch can stay
		// silent for seconds (a JetStream consumer reset after missed
		// heartbeats, on a stream just made or whose server went).
		ctx.After(n.cfg.Timing.withDefaults().Poll, pollRun{})
		ctx.Request(n.runVar, coordination.GetVar{Level: coordination.Linearizable}, 10*n.cfg.Timing.withDefaults().StoreTimeout, func(ctx actors.Context, reply any, err error) {
			if v, ok := reply.(coordination.VarValue); ok && err == nil {
				n.onRun(ctx, v)
			}
		})
	case coordination.VarChanged:
		n.onRun(ctx, msg.Value)
	case Progress, Warning:
		n.tell(ctx, msg)
	case Finished:
		if ctx.Sender() == n.trainer {
			n.finished[n.current] = true
			n.trainer, n.current = actors.Addr{}, ""
		}
		n.tell(ctx, msg)
	case actors.Stopping:
		if !n.trainer.IsZero() {
			ctx.Stop(n.trainer)
		}
	}
}

func (n *Node) tell(ctx actors.Context, msg any) {
	if !n.cfg.Owner.IsZero() {
		ctx.Send(n.cfg.Owner, msg)
	}
}

func (n *Node) onRun(ctx actors.Context, v coordination.VarValue) {
	if v.Err != nil {
		return
	}
	var s Spec
	if err := decodeStrict(v.Data, &s); err != nil || s.Check() != nil {
		n.tell(ctx, RunStarted{Err: fmt.Errorf("training: the run variable holds no valid run: %v", errors.Join(err, s.Check()))})
		return
	}
	if s.ID == n.current || n.finished[s.ID] {
		return
	}
	if !n.trainer.IsZero() {
		ctx.Stop(n.trainer)
		n.trainer = actors.Addr{}
	}
	tr, err := NewTrainer(Config{Spec: s, Member: n.cfg.Member, Store: n.cfg.Store, Blobs: n.cfg.Blobs, NewEnv: n.cfg.NewEnv, Owner: ctx.Self(), Timing: n.cfg.Timing})
	if err != nil {
		n.finished[s.ID] = true
		n.tell(ctx, RunStarted{Spec: s, Err: err})
		return
	}
	n.current, n.trainer = s.ID, ctx.Spawn(tr)
	n.tell(ctx, RunStarted{Spec: s})
}

// EncodeSpec encodes a run for the run variable.
func EncodeSpec(s Spec) ([]byte, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// DecodeDone decodes the done variable's value.
func DecodeDone(b []byte) (Done, error) {
	var d Done
	err := decodeStrict(b, &d)
	return d, err
}

// DoneVar is the name of run id's done variable.
func DoneVar(id string) string { return doneVar(id) }

// ---- Live: a process's member ----

// LiveConfig configures a live member of distributed training.
type LiveConfig struct {
	Member string
	// Bucket configures the coordination bucket; ObjectStore names the
	// object store bucket (default "marlon-training"), with as many
	// replicas as the coordination bucket.
	Bucket      coordination.BucketConfig
	ObjectStore string
	// Scale is the real duration of a virtual time unit (default 1ms).
	Scale time.Duration
	// Store configures the member's coordination store (times in units).
	Store coordination.StoreConfig
	// OnRetry, if set, is told why opening the bucket or the object store
	// failed before StartLive tries again.
	OnRetry func(error)
}

// Live is a process's member of distributed training: its runtime, with
// its coordination store and blob actor on a JetStream bucket and object
// store.
type Live struct {
	RT           *actors.Live
	Store, Blobs actors.Addr
	Bucket       *coordination.Bucket
	Objects      jetstream.ObjectStore
}

// StartLive opens the bucket and the object store on nc's JetStream
// (creating them if needed, retrying until ctx is done while JetStream
// is not ready) and starts the member's runtime, store and blob actor.
// nc must not buffer publishes while reconnecting (coordination.OpenBucket).
func StartLive(ctx context.Context, nc *nats.Conn, cfg LiveConfig) (*Live, error) {
	if cfg.ObjectStore == "" {
		cfg.ObjectStore = "marlon-training"
	}
	if cfg.Scale <= 0 {
		cfg.Scale = time.Millisecond
	}
	var b *coordination.Bucket
	var err error
	for {
		attempt, cancel := context.WithTimeout(ctx, 10*time.Second) // a lost API reply must not hold StartLive until ctx's end
		b, err = coordination.OpenBucket(attempt, nc, cfg.Bucket)
		cancel()
		if err == nil {
			break
		}
		if cfg.OnRetry != nil {
			cfg.OnRetry(err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (%w)", err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	replicas := cfg.Bucket.Replicas
	if replicas == 0 {
		replicas = 1
	}
	var os jetstream.ObjectStore
	for {
		attempt, cancel := context.WithTimeout(ctx, 10*time.Second)
		os, err = OpenObjectStore(attempt, b.JS, cfg.ObjectStore, replicas)
		cancel()
		if err == nil {
			break
		}
		if cfg.OnRetry != nil {
			cfg.OnRetry(err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (%w)", err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	rt := actors.NewLive(actors.LiveOptions{Node: cfg.Member, Scale: cfg.Scale})
	l := &Live{RT: rt, Bucket: b, Objects: os}
	l.Store = rt.Spawn(coordination.NewLiveStore(rt, b, cfg.Store))
	timeout := 10 * time.Second
	if cfg.Store.Timeout > 0 {
		timeout = time.Duration(cfg.Store.Timeout * float64(cfg.Scale) * 3)
	}
	l.Blobs = rt.Spawn(NewLiveBlobs(rt, os, timeout))
	return l, nil
}
