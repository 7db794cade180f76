package training_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/coordination"
	"github.com/marlon-go/marlon/training"
	"github.com/marlon-go/marlon/transport"
)

// Two members in one process, live, on an embedded JetStream server: the
// same trainers run the run to its end through the live store and object
// store (with a small inline limit, so that parameters and experience go
// through the object store too), under the race detector.
func TestLiveRunOnJetStream(t *testing.T) {
	srv, err := transport.StartServer(transport.ServerOptions{Port: -1, JetStream: &transport.JetStreamOptions{StoreDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	s := spec(t, "pg", 6)
	s.EpochTimeout, s.CheckpointEvery, s.EvalEvery, s.MinNodes = 5000, 2, 4, 2
	finished := make(chan training.Finished, 2)
	for _, name := range []string{"a", "b"} {
		nc, err := nats.Connect(srv.ClientURL(), nats.ReconnectBufSize(-1), nats.MaxReconnects(-1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		lv, err := training.StartLive(ctx, nc, training.LiveConfig{Member: name, Store: coordination.StoreConfig{Timeout: 2000, ProbeEvery: 100}})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(lv.RT.Close)
		owner := lv.RT.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
			if f, ok := msg.(training.Finished); ok {
				finished <- f
			}
		}))
		tr, err := training.NewTrainer(training.Config{Spec: s, Member: name, Store: lv.Store, Blobs: lv.Blobs, NewEnv: newEnv, Owner: owner, InlineLimit: 100,
			Timing: training.Timing{LeaseTTL: 1000, PresenceTTL: 1000}})
		if err != nil {
			t.Fatal(err)
		}
		lv.RT.Spawn(tr)
	}
	for range 2 {
		select {
		case f := <-finished:
			if f.Err != nil || f.Done.Updates != 6 || f.Done.Episodes != 12 {
				t.Fatalf("finished %+v, want 6 updates of 2 episodes", f)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("the live run did not finish within a minute")
		}
	}
}
