// Package transport carries actor messages between nodes over NATS, so that
// actors on different machines talk as they do in one process.
//
// A Node is one process's member of a cluster: it owns an actors.Live runtime
// and a NATS connection, and implements actors.Remote for that runtime. An
// actor sends to an actors.Addr whose Node is another node's name; the
// envelope is encoded, authenticated, batched and published to that node's
// subject, and decoded there into the same Go value the local runtime would
// have delivered. Requests, deferred replies, timeouts, watches and Down
// messages behave as between two actors of one runtime.
//
//	srv, _ := transport.StartServer(transport.ServerOptions{Port: 4222}) // or a NATS URL
//	key, _ := transport.LoadKey("a.key")            // from GenerateKey + SaveKey
//	trusted, _ := transport.LoadTrusted("cluster.keys")
//	transport.Register[Task]("lb.Task")             // every node, same names
//	node, _ := transport.Start(transport.Config{Name: "a", URL: srv.ClientURL(), Key: key, Trusted: trusted})
//	defer node.Close()
//	node.RegisterKind("worker", newWorker)          // func(args []byte) (actors.Actor, error)
//	members, _ := node.WaitMembers(ctx, 3)          // then WatchMembers(actor) for joins and leaves
//	w, _ := node.Spawn(ctx, "b", "worker", args)    // or, from an actor, a SpawnRequest to Member.Spawner
//	node.Runtime().Send(w, Task{...})
//
// With Config.URL empty, Start runs an embedded server (Config.Server) in
// the process and shuts it down on Close; with a URL (or several, for a
// cluster) it connects to external servers.
//
// # Dependencies
//
// The package depends on the actors package, the NATS server and client
// (github.com/nats-io/nats-server/v2, nats.go, nkeys), circl for Ed25519 and
// X25519 (github.com/cloudflare/circl), and fxamacker/cbor for payloads. It
// must not depend on environments, learning, examples or algorithms. NATS
// does the routing, clustering and reconnecting: this package adds no broker
// and no consensus of its own.
//
// # Subjects
//
// With the default prefix "marlon": node N receives its data frames and acks
// on marlon.n.N (one subscription, so frames are handled in arrival order),
// and every node publishes heartbeats and goodbyes on marlon.hb. Node names
// are 1 to 64 letters, digits, '-' or '_', so they are single subject tokens.
// A node answers a request on marlon.metrics.N (and on marlon.metrics,
// where every node answers) with its Metrics as JSON: frames accepted,
// rejected by reason and claimed sender, duplicates, nodes declared down,
// disconnects, reconnects and new incarnations (RequestMetrics, or `nats
// req marlon.metrics.N ""`). A NATS subject, not a port of its own: it
// reaches every node wherever it runs, through the connection and
// credentials the cluster already has, and needs no firewall opening.
//
// # Frames and envelopes
//
// Everything a node publishes is a frame (wire.go documents the layout): a
// magic byte and a version byte, so the format can evolve and a receiver
// refuses what it does not understand; the kind (data, ack, heartbeat,
// goodbye) and authentication; the sender's name and epoch (its boot time in
// nanoseconds, which tells incarnations apart); the target's name and epoch;
// a stream generation and a sequence number; the body; the signature or MAC.
// A data frame's body is a batch of records: envelopes (sender actor, target
// actor, correlation id, reply flag, error, type name, payload) and watch or
// unwatch requests. The runtime's errors cross the wire as codes, so that
// actors.ErrNoActor, ErrTimeout and ErrUndeliverable come back as the same
// values (or wrapped, with the remote text), and errors.Is works.
//
// Payloads are CBOR (RFC 8949, github.com/fxamacker/cbor/v2) of the Go value,
// decoded into the type registered under the envelope's type name (Register).
// CBOR was chosen over the alternatives for speed and stability: it is a
// standard binary format, so the bytes do not depend on a Go version or on
// this package; it is several times faster and smaller than JSON and keeps
// what JSON loses ([]byte, NaN and infinities, integer types, times to the
// nanosecond); unlike gob it needs no per-stream type negotiation, so each
// message decodes on its own; unlike protobuf it needs no schema compiler,
// so any struct of exported fields is a message. A type not registered on
// the sending node is refused by Deliver, and the sender is told
// (Undeliverable, or the request's error wraps ErrUnregistered).
//
// # Delivery
//
// Each ordered pair of nodes has a stream: the sender cuts what its actors
// deliver into frames (batching whatever accumulates while the previous frame
// is on its way, up to 256 KiB), numbers them, and keeps each until the
// receiver acknowledges it. The receiver accepts only the next number, so
// messages between two actors arrive in order and at most once; it
// acknowledges after a few milliseconds or 16 frames, and asks again at once
// when it sees a gap. Frames not acknowledged within the retransmission
// timeout (the heartbeat interval, at least 50ms) are sent again. nats.go
// reconnects forever; its reconnect buffer is off, because the streams are
// the buffer: what was published while disconnected, or lost when a server
// died, is sent again after the reconnect. When a peer goes down or
// restarts, the envelopes it had not acknowledged are reported to their
// senders (a request fails with an error wrapping actors.ErrUndeliverable, a
// plain message comes back as actors.Undeliverable), so nothing is dropped
// silently. Config.MaxUnacked bounds what a stream holds; past it Deliver
// fails, and the runtime tells the sender.
//
// # Membership
//
// Nodes publish a heartbeat every Config.Heartbeat on a plain subject, and a
// node that hears from a new node answers at once. A node becomes a member
// (NodeJoined) with its first heartbeat, which names its spawner; its data
// frames are accepted before that. A peer is declared down when no fresh
// frame from it arrived for Config.MissedHeartbeats of its intervals (the
// failure timeout), or at once when it says goodbye (Close): the runtime's
// watchers of its actors receive actors.Down{Reason: NodeDown}, membership
// watchers receive NodeLeft, and its unacknowledged envelopes are reported.
//
// Liveness is decided by authenticated, fresh traffic only: a frame that
// fails authentication, or is a replay (a past incarnation, an old stream
// generation or sequence number), or a duplicate of a data frame accepted
// before, refreshes nothing, so replaying a dead node's captured frames
// cannot keep it alive. An incarnation declared down stays down: its frames
// are rejected (DownIncarnation) and counted, and the node that declared it
// down sends it a signed down notice (at most one per half retransmission
// timeout), so that an incarnation that did not notice it was cut off
// learns it. A node comes back only as a new incarnation (a larger epoch),
// which its peers take as a restarted node: the previous incarnation is
// reported down, if it was not already, and the new one joins.
//
// A node watches its own connection and clock. While it is disconnected
// from NATS it declares nobody down (it cannot tell its own isolation from
// their death), and after reconnecting it gives every peer a fresh interval
// to be heard from; a pause of its own (a stopped or starved process, seen
// as a gap between the ticks of its clock) does not count as the peers'
// silence either. But a node cut off for longer than the failure timeout
// (disconnected, or its ticks that far apart), or told by a down notice,
// knows its peers have declared it down: it declares them down locally
// (its watchers receive Down, its membership watchers NodeLeft, its
// unacknowledged envelopes are reported) and starts a new incarnation: a
// new epoch and session key, fresh streams, a hello. Its peers' current
// incarnations are taken back as soon as they are heard from again. Its
// actors keep running and keep their addresses, and new ones are numbered
// after them (actors.LiveOptions.FirstID), so an address names one actor
// across incarnations; what they were told (Down of every remote actor
// they watched) is what a restart would have told them. A restarted node
// (larger epoch) likewise replaces its previous incarnation, which is
// reported down, and joins again. Plain
// subjects were chosen over JetStream KV: they work on any NATS server or
// cluster, JetStream enabled or not, detection time is set by the heartbeat
// interval alone instead of by the KV's TTL and watch machinery, and there
// is no stream state to keep in quorum across servers.
//
// Remote spawn: every node runs a spawner actor (Member.Spawner). A
// SpawnRequest{Kind, Args} sent to it as a request starts an actor made by
// the factory registered with RegisterKind and replies with its address, or
// with a SpawnError; Node.Spawn does the same for code outside the actors.
//
// # Authentication and threat model
//
// Every node has an Ed25519 key pair (GenerateKey, SaveKey, LoadKey) and
// every node loads the same trusted set of node name to public key
// (SaveTrusted, LoadTrusted): a text file an operator distributes. A
// node's heartbeats and goodbyes are signed with its key. Frames between two
// nodes are authenticated per Config.Auth:
//
//   - AuthSession (default): at boot a node makes an X25519 key and signs it
//     with its Ed25519 key (the certificate, carried in heartbeats and in
//     every direct frame). Two nodes derive, with HKDF-SHA256 over their
//     X25519 shared secret bound to both names, epochs and keys, one
//     HMAC-SHA256 key per direction, and every data frame and ack carries a
//     MAC. The certificate is checked once per peer incarnation; a frame
//     costs a microsecond of HMAC instead of about 60µs of Ed25519 signing
//     and verifying, which is what keeps request latency near raw NATS.
//   - AuthSignFrames: every frame is signed with Ed25519.
//   - AuthOff: nothing is signed and anything is accepted; for benchmarks
//     and tests only. Nodes with authentication on reject its frames.
//
// A frame is accepted only if its sender is in the trusted set, its
// signature or MAC verifies against that sender's key (so a frame signed by
// one node but naming another fails), every envelope in it comes from an
// actor of that sender, it is for this node's current incarnation, and it is
// new: its epoch is the sender's current one and was not declared down, and
// its generation and sequence number follow the last accepted (data frames
// must be exactly the next; acks, heartbeats and goodbyes must be larger). A
// restarted sender has a larger epoch, so its counters start again without
// reopening old frames to replay, and a goodbye closes its incarnation for
// good. Rejected frames never reach an actor; they are counted per reason and
// per claimed sender (Metrics) and the first rejection of each sender is
// logged (Config.Logger) as a warning. A data frame of the current stream
// accepted before (within the last 1024) is a duplicate, not a rejection: a
// sender resends what was not acknowledged, after a NATS reconnect say, and
// delivery is at most once, so it is acknowledged again, counted
// (Metrics.Duplicates) and logged at debug level only; an authentic copy
// replayed by an eavesdropper within that window is indistinguishable from
// such a resend, and as harmless.
//
// Protected: the integrity and authenticity of actor messages, watches,
// acks, heartbeats and goodbyes between nodes, and against replay, given
// that the trusted set is right and the keys are secret. Not protected:
// confidentiality (anyone who can subscribe on the NATS server reads the
// messages; use TLS to the servers via Config.NATSOptions, and NATS
// authorization, for that); availability (a client of the NATS server can
// flood subjects, and each forged frame costs a verification; NATS-level
// authentication, Config.Token or Config.NKeySeed with ServerOptions.Token or
// NKeys, keeps strangers off the server); a node whose key is stolen (it can
// impersonate that node until the trusted set drops it; there is no
// revocation other than editing the file); the frames' metadata (names,
// sizes, timing); and the order of a node's wall clock: a node restarted
// with its clock set back below its previous boot time is refused as a
// replay until its clock passes that point.
//
// # Speed
//
// Bench (and BenchmarkTransport; `go test ./transport -run '^$' -bench
// Transport`) measure, in one process against one embedded server, an actor
// sending messages to an actor on another node against a raw nats.go
// publisher and subscriber of the same payload, and an actor's request
// answered on another node against nats.Conn.Request; best of three rounds
// each. On a 2-core virtual machine, with AuthSession and 64-byte payloads:
// 0.65 to 1.05 times raw NATS throughput (batching makes up for the
// per-message work: encoding, MAC, the runtime's mailboxes) and 0.85 to 1.05
// times its request latency (about 80 to 95µs a round trip). With 1 KiB
// payloads throughput falls to about 0.5 of raw: HMAC-SHA256 (1.6 GB/s here,
// once on each side) and the extra copies of encoding and framing cost per
// byte. With AuthSignFrames request latency is about 3 to 4 times raw,
// bounded by Ed25519 (19µs to sign, 42µs to verify, twice per round trip),
// and throughput about 0.4 to 0.6 of raw, bounded by one verification per
// frame on the receiving side.
package transport
