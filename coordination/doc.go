// Package coordination provides the coordination primitives that training
// across machines needs, built on NATS JetStream's replicated key-value
// store: shared variables with revisions, vector clocks and consistency
// levels; leader election with failover and fencing; group membership;
// barriers with a timeout; and consensus on proposals. No consensus of its
// own: JetStream's Raft orders every write, and each primitive is a few keys
// of one KV bucket, written with JetStream's own conditions (create if
// absent, compare-and-set on a revision, a write guarded by another key's
// revision, per-key TTLs).
//
// # Why a top-level package, and what it must not depend on
//
// The primitives sit between the runtime (actors, and transport for the
// messages between nodes) and what uses them (distributed training, and any
// environment run across machines). They belong to neither side: they are
// not a transport (they carry no actor messages; they keep state in
// JetStream) and not learning (they know nothing of policies or gradients).
// Putting them in transport would make every transport user depend on
// JetStream KV semantics; putting them in learning would make a shared
// variable or a barrier a learning concept. So the design needs a package
// of its own.
//
// It depends on the actors package, nats.go (and its jetstream package) and
// the standard library. It must not depend on environments (env, examples),
// learning, algorithms or the transport package; coordbench, its benchmark
// subpackage, also uses transport to start embedded servers.
//
// # One actor code, two stores
//
// Every primitive is an actor that talks to a store actor on its own node
// by the messages of the store protocol (Get, Write, Watch), so that the
// same primitive code runs in the simulator (actors.Sim: virtual time,
// deterministic, faults by seed) and live (actors.Live). Turns never block
// and never read the wall clock.
//
//   - Simulated: KVModel is JetStream KV as an actor, spawned on a node of
//     its own; each member's SimStore forwards to it across the Sim's
//     network model (actors.Sim.SetNetwork), which delays, loses and
//     partitions messages. Modelling choice: the quorum of JetStream
//     servers is this one logical store, always consistent with itself; a
//     member cut off from its node is the minority side of a partition
//     (it cannot reach a quorum), the members that reach it are the
//     majority side. Killing its node is the loss of quorum.
//   - Live: a member's LiveStore performs the same requests on a Bucket
//     (OpenBucket) with nats.go, in goroutines that post the results back
//     as messages, and maps nats.go's errors onto the protocol's
//     (ErrRevision, ErrExists, ErrFenced, ErrTimeout, ErrUnavailable...).
//
// Both keep, on the member's side, what a member knows of its reach: a
// request that times out or finds no quorum marks the member isolated; it
// then refuses writes at once (the minority stops writing), answers
// eventual reads from its cache marked Stale, refuses linearizable ones,
// and probes the store until it answers; its watches then resume from the
// last revision they delivered, so nothing written meanwhile is missed
// (within the bucket's history: every key's last revision arrives), and
// the keys a watch believed held values are read again, so that one that
// expired with its marker meanwhile (no revision left to resume with) is
// reported gone.
// Call makes a request from code outside the actors (a command, a test).
//
// # Keys
//
//	var.NAME                  a variable (Var)
//	elect.ROLE.lease          the holder's lease, with a TTL, renewed (Election)
//	elect.ROLE.term           the term: its revision is the fencing token
//	mem.GROUP.MEMBER          a member's presence, with a TTL, renewed (Membership)
//	bar.NAME.a.MEMBER         an arrival at a barrier (Barriers)
//	bar.NAME.o                the barrier's outcome, created once
//	prop.ID.p                 a proposal (Consensus)
//	prop.ID.v.MEMBER          a vote, created once
//	prop.ID.d                 the decision, created once
//
// Values are small versioned records (records.go); their decoders refuse
// anything malformed and are fuzzed (FuzzRecords).
//
// # Consistency levels
//
// A read is Linearizable or Eventual (seed 001's strong and eventual).
// nats.go's KV Get uses JetStream's direct get ($JS.API.DIRECT.GET), which
// nats.go uses for every KV bucket (they are created with AllowDirect):
// any replica that has caught up (90% of the log when it subscribed) may
// answer, and so may a mirror. A leader read goes through
// $JS.API.STREAM.MSG.GET, which only the stream's leader answers.
//
//   - Linearizable reads go to the leader (the live store calls the
//     STREAM.MSG.GET API itself: nats.go offers no leader read on a KV).
//     R1: the one server holds every acknowledged write. R3: the leader
//     holds every write acknowledged before the read, except while a leader
//     cut off from its peers has not yet noticed: nats-server's leaders
//     step down after losing contact with a quorum for 10 s, checked every
//     10 s, so for up to about 20 s it may answer from a copy the majority
//     has moved past.
//   - Eventual reads are answered by the member's cache when a watch of
//     theirs covers the key (no round trip; behind by the watch's delivery),
//     else by a direct get: on R1 the same single copy; on R3 any replica,
//     possibly missing the latest writes, and two reads may go to two
//     replicas (not monotonic).
//
// Writes always go through the stream leader and a quorum (JetStream).
//
// # Leases: per-key TTL, renewed by compare-and-set
//
// Leases and presence keys use per-message TTLs (JetStream's Nats-TTL
// header), on a bucket with LimitMarkerTTL set (BucketConfig.MarkerTTL),
// rather than the bucket-wide MaxAge: one bucket then holds values that
// never expire next to leases, and an expired key leaves a marker that
// watchers see (an OpExpired entry), which is how candidates learn at once
// that a lease has lapsed. nats.go's KV sets a TTL only on Create, and an
// Update without one makes the key permanent, so a renewal is published
// directly on the key's subject with both the expected last revision
// (compare-and-set) and the TTL. JetStream's TTLs have a resolution of one
// second (a live TTL is rounded up to whole seconds, at least 1 s).
//
// # Leader election, failover, fencing
//
// Election follows etcd's concurrency.Election (Campaign, Resign, Observe,
// and QueryLeader for Leader) with a fencing token. The holder of the lease
// writes the term key once, guarded by its lease's revision; the revision
// of that write is the term and the token, Fence. Guarantees:
//
//   - At most one leader per term: a term is the revision of one write by
//     one lease holder, and terms grow.
//   - No write of a deposed leader is accepted: a fenced write (Fence.Put,
//     SetVar with a Fence) is guarded by the term key's revision, so the
//     store applies it only while no newer term exists, however late it
//     arrives (ErrFenced otherwise). A resigning leader vacates its term
//     with a compare-and-set of the term key, which fences it at once.
//   - The holder deposes itself TTL after sending the last renewal the
//     store acknowledged, which is no later than the store's expiry (it
//     counts from when the store stored the renewal). While clocks run at
//     the same rate and timers fire on time, a deposed leader therefore
//     knows it before anyone else can be elected: the simulator's property
//     test checks that at no time two members believe they lead. Fencing
//     does not depend on it.
//
// Failover time. Let d be the largest one-way delay to the store, RTT a
// round trip, and e the store's expiry lag. When the holder dies (or is
// cut off) at time t, the last renewal the store applies was sent at most
// RenewEvery before t, or was in flight and arrives by t + d; the lease
// expires at most TTL + d + e after t; the candidates, which watch the
// lease, see the marker one delivery later (or, if that was lost, at their
// next attempt, within RetryEvery), then create the lease and write the
// term: two round trips. So another candidate leads within
//
//	TTL + d + e + max(d, RetryEvery) + 2·RTT
//
// of the holder's death, and not before TTL − RenewEvery. Measured: in the
// simulator (TTL 30, renewals and retries every 10, delays of 1 to 2 time
// units) 24 to 39 units; live on one server (TTL 1 s, renewed every
// 250 ms) 0.75 to 1.0 s, mean 0.83 to 0.92 of the TTL (coordbench). On an
// R3 bucket, stopping the server of the leader's connection costs from
// nothing to about 2 s (a reconnect, and a new election if the lease
// lapsed meanwhile); stopping the server that leads the bucket's stream
// costs 1.4 to 10 s, the stream's own Raft election, during which no
// member can write (TestLiveClusterFailover -slow; 6 runs).
//
// # Partitions
//
// The side that reaches a quorum of JetStream servers (in the simulator:
// the store's node) continues: its leaders renew their leases, its members
// keep their presence, its barriers and votes complete without the others
// once their presence has expired. The minority side stops writing, keeps
// reading what it has (marked Stale), loses any leadership when its lease
// runs out, and rejoins when the partition heals: its watches resume from
// the last revision they delivered and its writes are accepted again;
// nothing acknowledged is lost (TestVarPartition, TestLiveIsolationAndRejoin).
// Consensus counts the members live when it tallies: members cut off for
// longer than their presence TTL no longer count, so a vote that outlasts
// the presence TTL may be decided by the majority side alone.
//
// # Barriers and consensus
//
// Barriers: N named parties, a count, or all the live members of a group;
// the first party to see the barrier complete (for named and counted
// barriers, the party whose arrival completed it) or to reach its deadline
// creates the outcome key, which every party adopts, so all agree on it and
// on who was missing. Consensus: see Tally for the rule (the denominator is
// the votes cast, abstentions included; a majority of the members must have
// voted; accepting is checked first, so 3 to 2 accepts at the default 0.6
// and 0.4), with early decisions when the pending votes cannot change the
// outcome and a decision key created once.
//
// # Durability and availability
//
// An R1 bucket lives on one server: it is not highly available (that
// server's loss stops every primitive) and its data is only as durable as
// that server's disk. JetStream acknowledges a write once it is stored on a
// quorum of replicas, before it is fsynced: files are synced every 2
// minutes by default, so a power loss of a server (R1), or of all replicas
// at once (R3), can lose acknowledged writes, and Jepsen's analysis of NATS
// 2.12.1 found that a single corrupted replica could too. Where durability
// matters use R3 and sync_interval: always (transport.JetStreamOptions
// SyncAlways, marlon nats --sync-always), which fsyncs every write (for a
// replicated stream, every batch of its Raft log) before acknowledging it,
// at a cost in latency. Start a three-server cluster with transport's
// StartCluster or marlon nats --local-cluster.
//
// Known traps of JetStream KV, and what this package does about them: a
// KV watcher may not resume after a server restart (nats.go issue 1094):
// the live store reopens its watches from their last revision after every
// reconnect; a connection's reconnect buffer sends, on reconnecting, writes
// that already timed out: OpenBucket refuses a connection that has one;
// Create retries over a tombstone and is therefore not atomic against a
// concurrent delete (nats-server 5162): a create that succeeds after a
// concurrent delete is a create after it, which no primitive minds; a
// replicated bucket's TTLs not expiring on every replica once blocked
// elections (nats-server 3653): leases expire on the stream leader, whose
// marker is what candidates wait for.
//
// # Limits
//
// One bucket per deployment; names are single key tokens. No multi-key
// transactions: a fenced write is guarded by the term key alone, so it
// cannot also compare-and-set its own key (JetStream checks one expected
// revision per message). Vector clocks grow with the number of writers. A
// store opens one JetStream consumer per watch; each primitive instance
// watches its keys. Consensus keeps decided proposals in memory. Times are
// virtual time units (a Live runtime's Scale each, 1 ms by default).
//
// # Speed
//
// coordbench (go test ./coordination/coordbench -run '^$' -bench
// Coordination -benchtime 1x, or marlon bench) measures, in one run on an
// embedded server, a compare-and-set through a member's store against a
// raw kv.Update, through a Var (record and clock) likewise, a barrier of 3
// and 10 parties (one process each) against one made of kv.Put and
// kv.Watch, and the failover against the lease TTL. On a 2-core machine
// shared with other builds (load average 8 to 10), over six runs: a
// compare-and-set through a store 1.2 to 1.8 times a raw kv.Update on R1
// (about 10 to 30 µs more: a goroutine and two mailbox hops), through a
// Var 1.7 to 2.1 times; barriers of 3 and 10 parties 0.3 to 1.3 times the
// raw barrier (the arrival is written while the watch is being opened; the
// outcome key costs one more write); failover 0.84 to 0.92 of the TTL. The
// figures move with the machine's load; the ratios are the point.
package coordination
