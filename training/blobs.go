package training

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/marlon-go/marlon/actors"
)

// The blob protocol: what the learner keeps in the object store
// (checkpoints, and parameters too large for a variable), as messages to a
// blob actor on its node, so that the same trainer runs in the simulator
// (BlobModel) and live (NewLiveBlobs, on a JetStream object store).

// PutBlob, a request, stores Data under Name, replacing any earlier
// object. Reply: BlobStored.
type PutBlob struct {
	Name string
	Data []byte
}

// BlobStored answers PutBlob.
type BlobStored struct{ Err error }

// GetBlob, a request, reads the object Name. Reply: BlobData.
type GetBlob struct{ Name string }

// BlobData answers GetBlob. Err wraps ErrNoBlob when there is no such
// object.
type BlobData struct {
	Data []byte
	Err  error
}

// ErrNoBlob: the object store has no object of that name.
var ErrNoBlob = errors.New("training: no such object")

// BlobModel is the simulated object store: an actor holding objects in
// memory, spawned on the simulated store's node so that it fails with the
// store (and survives the members).
type BlobModel struct {
	objects map[string][]byte
	// Puts and Bytes count what was stored.
	Puts, Bytes int
}

// NewBlobModel returns an empty simulated object store.
func NewBlobModel() *BlobModel { return &BlobModel{objects: map[string][]byte{}} }

// Receive handles the blob protocol.
func (m *BlobModel) Receive(ctx actors.Context, msg any) {
	switch msg := msg.(type) {
	case PutBlob:
		m.objects[msg.Name] = append([]byte(nil), msg.Data...)
		m.Puts++
		m.Bytes += len(msg.Data)
		ctx.Reply(ctx.ReplyTo(), BlobStored{})
	case GetBlob:
		b, ok := m.objects[msg.Name]
		if !ok {
			ctx.Reply(ctx.ReplyTo(), BlobData{Err: fmt.Errorf("%w: %s", ErrNoBlob, msg.Name)})
			return
		}
		ctx.Reply(ctx.ReplyTo(), BlobData{Data: append([]byte(nil), b...)})
	}
}

// liveBlobs performs the blob protocol on a JetStream object store, in
// goroutines that post the results back, so that its turns never block.
type liveBlobs struct {
	rt      actors.Runtime
	store   jetstream.ObjectStore
	timeout time.Duration
}

type blobDone struct {
	to    actors.ReplyTo
	reply any
}

// NewLiveBlobs returns a blob actor for the live runtime rt on the object
// store os; each operation gives up after timeout.
func NewLiveBlobs(rt actors.Runtime, os jetstream.ObjectStore, timeout time.Duration) actors.Actor {
	return &liveBlobs{rt: rt, store: os, timeout: timeout}
}

func (b *liveBlobs) Receive(ctx actors.Context, msg any) {
	self := ctx.Self()
	switch msg := msg.(type) {
	case PutBlob:
		to := ctx.ReplyTo()
		go func() {
			c, cancel := context.WithTimeout(context.Background(), b.timeout)
			defer cancel()
			_, err := b.store.PutBytes(c, msg.Name, msg.Data)
			if err != nil {
				err = fmt.Errorf("training: storing object %s: %w", msg.Name, err)
			}
			b.rt.Send(self, blobDone{to, BlobStored{Err: err}})
		}()
	case GetBlob:
		to := ctx.ReplyTo()
		go func() {
			c, cancel := context.WithTimeout(context.Background(), b.timeout)
			defer cancel()
			data, err := b.store.GetBytes(c, msg.Name)
			switch {
			case errors.Is(err, jetstream.ErrObjectNotFound):
				err = fmt.Errorf("%w: %s", ErrNoBlob, msg.Name)
			case err != nil:
				err = fmt.Errorf("training: reading object %s: %w", msg.Name, err)
			}
			b.rt.Send(self, blobDone{to, BlobData{Data: data, Err: err}})
		}()
	case blobDone:
		ctx.Reply(msg.to, msg.reply)
	}
}

// OpenObjectStore creates the run's object store bucket on js, or opens it
// if it exists, with replicas copies (1 or 3). It blocks: call it at a
// process's edge.
func OpenObjectStore(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (jetstream.ObjectStore, error) {
	os, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: bucket, Replicas: replicas, Description: "marlon training checkpoints"})
	if err != nil {
		return nil, fmt.Errorf("training: opening object store %s: %w", bucket, err)
	}
	return os, nil
}
