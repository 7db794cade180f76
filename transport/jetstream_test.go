package transport

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestJetStreamRequiresStoreDir(t *testing.T) {
	if _, err := StartServer(ServerOptions{JetStream: &JetStreamOptions{}}); err == nil {
		t.Fatal("JetStream without a store directory was accepted")
	}
}

// TestLocalClusterR3 starts three routed servers with JetStream, writes to
// an R3 bucket, stops the server the client is connected to and restarts it:
// the bucket keeps its value and takes writes with one server down.
func TestLocalClusterR3(t *testing.T) {
	c, err := StartCluster(ClusterConfig{JetStream: &JetStreamOptions{StoreDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Shutdown)
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "t", Replicas: 3, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := kv.Put(ctx, "k", []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	// Stop the server this client is connected to: it reconnects to another
	// and the bucket, with two of three replicas, takes the update.
	for i, s := range c.Servers {
		if s.ClientURL() == nc.ConnectedUrl() {
			c.Stop(i)
			defer func() {
				if err := c.Restart(i); err != nil {
					t.Error(err)
				}
			}()
			break // the client is now on another server: leave that one up
		}
	}
	// A request sent as the server stopped is lost: each has its own
	// timeout. An update whose answer was lost may have been applied: then
	// the next ones fail on the revision, and the value tells.
	for {
		uctx, ucancel := context.WithTimeout(ctx, 2*time.Second)
		_, err = kv.Update(uctx, "k", []byte("v2"), rev)
		ucancel()
		if err == nil || ctx.Err() != nil {
			break
		}
		gctx, gcancel := context.WithTimeout(ctx, 2*time.Second)
		e, gerr := kv.Get(gctx, "k")
		gcancel()
		if gerr == nil && string(e.Value()) == "v2" {
			err = nil
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("update with one server down: %v", err)
	}
	gctx, gcancel := context.WithTimeout(ctx, 2*time.Second)
	defer gcancel()
	if e, err := kv.Get(gctx, "k"); err != nil || string(e.Value()) != "v2" {
		t.Fatalf("get after failover: %v %v", e, err)
	}
}
