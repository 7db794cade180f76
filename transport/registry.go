package transport

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/fxamacker/cbor/v2"

	"github.com/marlon-go/marlon/actors"
)

// ErrUnregistered is wrapped by the error Deliver returns for a message
// whose Go type was not registered with Register.
var ErrUnregistered = errors.New("transport: message type not registered")

// msgType is one registered message type.
type msgType struct {
	name   string
	typ    reflect.Type
	decode func(data []byte) (any, error)
}

// types is the immutable snapshot of the registry: readers load it without
// locking, Register replaces it.
type types struct {
	byType map[reflect.Type]*msgType
	byName map[string]*msgType
}

var (
	registryMu sync.Mutex
	registry   atomic.Pointer[types]

	encMode cbor.UserBufferEncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	// Times keep their nanoseconds; sizes are bounded by the frame limit,
	// not by the decoder's default caps (which would refuse a large
	// observation vector).
	encMode, err = cbor.EncOptions{Time: cbor.TimeRFC3339Nano}.UserBufferEncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		MaxArrayElements: 2147483647,
		MaxMapPairs:      2147483647,
		UTF8:             cbor.UTF8DecodeInvalid, // a Go string may hold any bytes
	}.DecMode()
	if err != nil {
		panic(err)
	}
	registry.Store(&types{byType: map[reflect.Type]*msgType{}, byName: map[string]*msgType{}})

	Register[bool]("bool")
	Register[string]("string")
	Register[int]("int")
	Register[int64]("int64")
	Register[uint64]("uint64")
	Register[float64]("float64")
	Register[[]byte]("[]byte")
	Register[[]float64]("[]float64")
	Register[actors.Addr]("actors.Addr")
	Register[actors.Down]("actors.Down")
	Register[actors.Started]("actors.Started")
	Register[actors.Stopping]("actors.Stopping")
	Register[SpawnRequest]("transport.SpawnRequest")
	Register[SpawnError]("transport.SpawnError")
}

// Register makes messages of type T travel between nodes under name. Every
// node must register the same names for the same types (in an init function,
// say); a message whose type is not registered cannot be sent to another node
// and its sender is told so. The payload is T's CBOR encoding, so T should
// have exported fields of concrete types: a field of interface type comes back
// as a generic CBOR value, not the Go value that was sent.
//
// The package registers bool, string, int, int64, uint64, float64, []byte,
// []float64, actors.Addr, actors.Down, actors.Started, actors.Stopping,
// SpawnRequest and SpawnError. Register panics if name or T is already
// registered, as gob.Register does: it is a programming error.
func Register[T any](name string) {
	if name == "" || len(name) > 255 {
		panic(fmt.Sprintf("transport: Register: message type name must have 1 to 255 bytes, got %q", name))
	}
	typ := reflect.TypeFor[T]()
	mt := &msgType{name: name, typ: typ, decode: func(data []byte) (any, error) {
		var v T
		if err := decMode.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		return v, nil
	}}
	registryMu.Lock()
	defer registryMu.Unlock()
	old := registry.Load()
	if prev, ok := old.byName[name]; ok {
		panic(fmt.Sprintf("transport: Register: name %q is already registered for %v", name, prev.typ))
	}
	if prev, ok := old.byType[typ]; ok {
		panic(fmt.Sprintf("transport: Register: type %v is already registered as %q", typ, prev.name))
	}
	next := &types{byType: make(map[reflect.Type]*msgType, len(old.byType)+1), byName: make(map[string]*msgType, len(old.byName)+1)}
	for k, v := range old.byType {
		next.byType[k] = v
	}
	for k, v := range old.byName {
		next.byName[k] = v
	}
	next.byType[typ] = mt
	next.byName[name] = mt
	registry.Store(next)
}

// encodePayload appends msg's CBOR encoding to buf and returns its type name.
func encodePayload(buf *bytes.Buffer, msg any) (string, error) {
	mt, ok := registry.Load().byType[reflect.TypeOf(msg)]
	if !ok {
		return "", fmt.Errorf("%w: %T (call transport.Register)", ErrUnregistered, msg)
	}
	if err := encMode.MarshalToBuffer(msg, buf); err != nil {
		return "", fmt.Errorf("transport: encoding %s: %w", mt.name, err)
	}
	return mt.name, nil
}

// decodePayload decodes a payload of the type registered under name.
func decodePayload(name []byte, data []byte) (any, error) {
	mt, ok := registry.Load().byName[string(name)]
	if !ok {
		return nil, fmt.Errorf("%w: no type is registered as %q on this node", ErrUnregistered, name)
	}
	v, err := mt.decode(data)
	if err != nil {
		return nil, fmt.Errorf("transport: decoding %s: %w", mt.name, err)
	}
	return v, nil
}
