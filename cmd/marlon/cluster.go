package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/examples/loadbalancing/lbnet"
	"github.com/marlon-go/marlon/examples/scheduling"
	"github.com/marlon-go/marlon/examples/scheduling/schednet"
	"github.com/marlon-go/marlon/learning"
	"github.com/marlon-go/marlon/transport"
)

const clusterSteps = `
A cluster across machines, step by step:
  marlon keys --name master --key master.key --trusted cluster.keys   once per node, then copy
  marlon keys --name n1 --key n1.key --trusted cluster.keys           cluster.keys to every machine
  marlon nats --token SECRET                                          on one machine (port 4222)
  marlon node --nats nats://HOST:4222 --token SECRET --key n1.key --trusted cluster.keys --workers 2 --speed 3
  marlon loadbalancing --live --nats nats://HOST:4222 --token SECRET --key master.key --trusted cluster.keys --nodes 1 --algorithm fac2
`

// netFlags are the flags of a process that joins a cluster: marlon node,
// and marlon loadbalancing --live --nats.
type netFlags struct {
	nats, name, key, trusted, token, nkey string
	heartbeat                             time.Duration
	missed                                int
	// The names of the heartbeat flags (a command whose own flags have
	// those names gives the transport's others).
	heartbeatFlag, missedFlag string
}

func (f *netFlags) register(fs *flag.FlagSet) { f.registerAs(fs, "heartbeat", "missed-heartbeats") }

// registerAs registers the flags, the transport's heartbeat flags under the
// names given.
func (f *netFlags) registerAs(fs *flag.FlagSet, heartbeat, missed string) {
	f.heartbeatFlag, f.missedFlag = heartbeat, missed
	fs.StringVar(&f.nats, "nats", "", "NATS server `URL` (several, comma-separated, for a NATS cluster)")
	fs.StringVar(&f.name, "name", "", "this node's name (default: the name in the --key file)")
	fs.StringVar(&f.key, "key", "", "this node's key `file`, made by marlon keys")
	fs.StringVar(&f.trusted, "trusted", "", "the cluster's trusted keys `file`, made by marlon keys")
	fs.StringVar(&f.token, "token", "", "token the NATS server requires (default $MARLON_NATS_TOKEN)")
	fs.StringVar(&f.nkey, "nkey", "", "NATS user nkey seed `file` the server requires, made by marlon keys --nkey")
	fs.DurationVar(&f.heartbeat, heartbeat, time.Second, "interval between this node's heartbeats (the transport's)")
	fs.IntVar(&f.missed, missed, 3, "a node silent for this many of its heartbeat intervals is declared down (by the transport)")
}

// check reports the first net flag out of range.
func (f *netFlags) check() error {
	switch {
	case f.heartbeat < time.Millisecond:
		return usageError{fmt.Errorf("--%s: must be at least 1ms, got %v", f.heartbeatFlag, f.heartbeat)}
	case f.missed < 1:
		return usageError{fmt.Errorf("--%s: must be at least 1, got %d", f.missedFlag, f.missed)}
	}
	return nil
}

// config makes the transport configuration of a node that joins a cluster
// at --nats: its key, trusted keys and NATS credentials.
func (f *netFlags) config(logger *slog.Logger) (transport.Config, error) {
	cfg := transport.Config{Heartbeat: f.heartbeat, MissedHeartbeats: f.missed, Logger: logger, Token: f.token}
	if err := f.check(); err != nil {
		return cfg, err
	}
	switch {
	case f.nats == "":
		return cfg, usageError{errors.New("--nats: the NATS server's URL is required, e.g. nats://10.0.0.1:4222 (start one with marlon nats)")}
	case f.key == "":
		return cfg, usageError{errors.New("--key: this node's key file is required (make one with marlon keys)")}
	case f.trusted == "":
		return cfg, usageError{errors.New("--trusted: the cluster's trusted keys file is required (made by marlon keys)")}
	}
	if err := transport.ParseURLs(f.nats); err != nil {
		return cfg, usageError{fmt.Errorf("--nats: %v", err)}
	}
	cfg.URL = f.nats
	key, err := transport.LoadKey(f.key)
	if err != nil {
		return cfg, usageError{fmt.Errorf("--key: %v", err)}
	}
	if f.name != "" && f.name != key.Node {
		return cfg, usageError{fmt.Errorf("--name: the key in %s is node %q's, not %q", f.key, key.Node, f.name)}
	}
	cfg.Name, cfg.Key = key.Node, key
	if cfg.Trusted, err = transport.LoadTrusted(f.trusted); err != nil {
		return cfg, usageError{fmt.Errorf("--trusted: %v", err)}
	}
	if pub, ok := cfg.Trusted[key.Node]; !ok || !pub.Equal(key.Public()) {
		return cfg, usageError{fmt.Errorf("--trusted: %s does not trust node %q's key in %s (add it with marlon keys)", f.trusted, key.Node, f.key)}
	}
	if cfg.Token == "" {
		cfg.Token = os.Getenv("MARLON_NATS_TOKEN")
	}
	if f.nkey != "" {
		seed, err := os.ReadFile(f.nkey)
		if err != nil {
			return cfg, usageError{fmt.Errorf("--nkey: %v", err)}
		}
		cfg.NKeySeed = strings.TrimSpace(string(seed))
		if _, err := nkeys.FromSeed([]byte(cfg.NKeySeed)); err != nil {
			return cfg, usageError{fmt.Errorf("--nkey: %s holds no nkey seed: %v", f.nkey, err)}
		}
	}
	return cfg, nil
}

// join starts a node of a cluster. A node may start before its NATS
// server is up: while no server answers, it tries again every second until
// ctx is done.
func join(ctx context.Context, cfg transport.Config, log *slog.Logger) (*transport.Node, error) {
	start := time.Now()
	for {
		n, err := transport.Start(cfg)
		if err == nil || !(errors.Is(err, nats.ErrNoServers) || errors.Is(err, nats.ErrTimeout)) {
			return n, err
		}
		log.Warn("no NATS server answers yet; trying again every second", "nats", cfg.URL, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("--nats: no NATS server answered at %s in %v: %w (%v)", cfg.URL, time.Since(start).Round(100*time.Millisecond), ctx.Err(), err)
		case <-time.After(time.Second):
		}
	}
}

// newPolicy makes the policy of a run's workers on a node: a classical
// technique, or a learner in its action space restored from the checkpoint
// the master sent (an untrained one if it sent none).
func newPolicy(s lbnet.PolicySpec) (learning.Policy, error) {
	e, err := loadbalancing.NewVersion(s.Version, s.Scenario, s.Seed)
	if err != nil {
		return nil, err
	}
	return policyFor(e, s.Algorithm, s.Actions, s.Seed, s.Checkpoint)
}

// newSchedPolicy makes the policy of a run's resource agents on a node: a
// heuristic, or a learner restored from the checkpoint the master sent (an
// untrained one if it sent none).
func newSchedPolicy(algorithm string, sc scheduling.Scenario, seed uint64, ckpt []byte) (learning.Policy, error) {
	e, err := scheduling.New(sc)
	if err != nil {
		return nil, err
	}
	return policyFor(e, algorithm, "", seed, ckpt)
}

// policyFor makes algorithm's policy, shared by every agent, for e, in the
// action space actions: the policy a node's agents share in a live run.
func policyFor(e env.Environment, algorithm, actions string, seed uint64, ckpt []byte) (learning.Policy, error) {
	opts := env.RunOptions{Seed: seed, Actions: actions}
	if ckpt != nil {
		var err error
		if opts.Load, err = learning.ReadCheckpoint(bytes.NewReader(ckpt)); err != nil {
			return nil, err
		}
	}
	team, _, err := env.NewTeam(e, algorithm, opts)
	if err != nil {
		return nil, err
	}
	return team.Policy(learning.SharedPolicy), nil
}

// console writes log lines to a terminal above a status line that it keeps
// at the bottom (the progress of a wait); elsewhere it only writes the logs.
type console struct {
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	status string
}

func newConsole(w io.Writer) *console { return &console{w: w, tty: isTerminal(w)} }

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status != "" {
		fmt.Fprint(c.w, "\r\x1b[K")
	}
	n, err := c.w.Write(p)
	if c.status != "" {
		fmt.Fprint(c.w, c.status)
	}
	return n, err
}

// setStatus shows s on the status line (nothing when not on a terminal;
// "" clears it).
func (c *console) setStatus(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.tty {
		return
	}
	c.status = s
	fmt.Fprint(c.w, "\r\x1b[K"+s)
}

func (c *console) logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(c, &slog.HandlerOptions{Level: level}))
}

// signalled is a context cancelled by SIGINT or SIGTERM.
func signalled() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

const nodeExamples = `
Examples:
  marlon node --nats nats://10.0.0.1:4222 --key n1.key --trusted cluster.keys --workers 2 --speed 3
  marlon node --nats nats://10.0.0.1:4222 --key n3.key --trusted cluster.keys --workers 2 --spare 2
                                      two more slots for workers that move here (--migrate)
  marlon node --nats nats://a:4222,nats://b:4222 --key n2.key --trusted cluster.keys --token SECRET
` + clusterSteps

func runNode(args []string, stdout, stderr io.Writer) int {
	for _, a := range args {
		if a == "--rollouts" || a == "-rollouts" || a == "--rollouts=true" || a == "-rollouts=true" {
			return runRolloutNode(args, stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("marlon node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nf netFlags
	nf.register(fs)
	workers := fs.Int("workers", 1, "load-balancing workers this node hosts at most at once")
	speed := fs.Float64("speed", 1, "the speed of this node's workers (units per time unit at unit time 1)")
	spare := fs.Int("spare", 0, "spare load-balancing slots, for workers that move here from other nodes (marlon loadbalancing --live --migrate WORKER@TIME:NODE): not offered to runs for workers of their own")
	fs.Bool("rollouts", false, "instead, be a rollout node of distributed training (marlon node --rollouts --help)")
	computeNodes := fs.Int("compute-nodes", 1, "scheduling resource agents this node hosts at most at once, one per compute node, of the capacity the master's scenario gives (marlon scheduling --live --nats); 0: none")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: marlon node --nats URL --key FILE --trusted FILE [flags]\n\nJoins a cluster and hosts the load-balancing workers that masters place on\nit (marlon loadbalancing --live --nats), at most --workers at once, of speed\n--speed (and --spare more that move here from other nodes), and the\nresource agents of scheduling compute nodes (marlon scheduling --live\n--nats), at most --compute-nodes at once. Runs until\ninterrupted (SIGINT, SIGTERM), then says goodbye, so that the others see it\nleave at once; a node killed outright is declared down after\n--missed-heartbeats heartbeat intervals of silence.\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), nodeExamples)
	}
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	switch {
	case *spare < 0 || *spare > 10000:
		return fail(stderr, usageError{fmt.Errorf("--spare: must be between 0 and 10000, got %d", *spare)})
	case *workers < 0 || *workers < 1 && *spare == 0:
		return fail(stderr, usageError{fmt.Errorf("--workers: must be at least 1 (0 with --spare), got %d", *workers)})
	case !(*speed > 0) || *speed > 1e9:
		return fail(stderr, usageError{fmt.Errorf("--speed: must be a number > 0, got %v", *speed)})
	case *computeNodes < 0 || *computeNodes > 10000:
		return fail(stderr, usageError{fmt.Errorf("--compute-nodes: must be between 0 and 10000, got %d", *computeNodes)})
	}
	log := newConsole(stderr).logger(slog.LevelInfo)
	cfg, err := nf.config(log)
	if err != nil {
		return fail(stderr, err)
	}
	ctx, stop := signalled()
	defer stop()
	speeds := make([]float64, *workers)
	for i := range speeds {
		speeds[i] = *speed
	}
	var host, schedHost *lbnet.Host
	cfg.Setup = func(n *transport.Node) {
		host = lbnet.Serve(n, lbnet.HostConfig{Speeds: speeds, Spare: *spare, NewPolicy: newPolicy, Logger: log})
		if *computeNodes > 0 {
			schedHost = schednet.Serve(n, schednet.HostConfig{Slots: *computeNodes, NewPolicy: newSchedPolicy, Logger: log})
		}
	}
	node, err := join(ctx, cfg, log)
	if err != nil {
		return fail(stderr, err)
	}
	log.Info("node up: hosting load-balancing workers and scheduling resource agents", "node", node.Name(), "workers", *workers, "spare", *spare, "speed", *speed, "compute nodes", *computeNodes, "nats", nf.nats)
	<-ctx.Done()
	stop()
	host.Stop(2 * time.Second) // the workers leave, handing back their chunks
	if schedHost != nil {
		schedHost.Stop(2 * time.Second) // the resource agents go: their compute nodes restart elsewhere
	}
	node.Close()
	log.Info("node down", "node", node.Name())
	return 0
}

const natsExamples = `
Examples:
  marlon nats                                     clients on port 4222 of every interface
  marlon nats --token SECRET                      clients must give --token SECRET
  marlon nats --cluster-port 6222                 a cluster of servers: the first one, and on
  marlon nats --cluster-port 6222 --routes nats-route://HOST1:6222   the others
  marlon nats --jetstream --store-dir /var/lib/marlon   with JetStream (coordination, R1)
  marlon nats --local-cluster                     three routed servers with JetStream on ports
                                                  4222-4224 (routes 6222-6224), for R3 buckets
`

func runNATS(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("marlon nats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		host        = fs.String("host", "0.0.0.0", "interface to listen on for clients")
		port        = fs.Int("port", 4222, "port for clients")
		name        = fs.String("name", "", "server name in logs and cluster views (default generated)")
		token       = fs.String("token", "", "token every client must give (default $MARLON_NATS_TOKEN)")
		nkeyList    = fs.String("nkeys", "", "comma-separated public nkeys of the users allowed to connect (from marlon keys --nkey); not with --token")
		clusterPort = fs.Int("cluster-port", 0, "port for routes from other servers of a NATS cluster (0: no cluster unless --routes)")
		clusterName = fs.String("cluster-name", "marlon", "the NATS cluster's name, the same on every server")
		routes      = fs.String("routes", "", "comma-separated route URLs of other servers (nats-route://HOST:PORT)")
		logs        = fs.Bool("logs", false, "print the server's own log")
		jetstream   = fs.Bool("jetstream", false, "enable JetStream (the coordination primitives' KV bucket); one server holds R1 buckets, which are not highly available")
		storeDir    = fs.String("store-dir", "marlon-jetstream", "`directory` where JetStream stores its streams (with --local-cluster, one subdirectory per server)")
		syncAlways  = fs.Bool("sync-always", false, "fsync every JetStream write before acknowledging it (default: every 2 minutes in the background, so a power loss can lose acknowledged writes)")
		local       = fs.Bool("local-cluster", false, "start three routed servers with JetStream in this process, on --port to --port+2 (routes on --cluster-port to +2, default 6222), for R3 buckets")
	)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: marlon nats [flags]\n\nRuns a NATS server for nodes on several machines until interrupted (SIGINT,\nSIGTERM). With --cluster-port or --routes it joins other servers in a NATS\ncluster; give every node and master one or more of the servers' URLs.\nWith --jetstream it enables JetStream, which the coordination primitives\nneed; --local-cluster starts three such servers routed to each other, so\nthat buckets can be R3 (they survive the loss of one server).\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), natsExamples)
	}
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	if *token == "" {
		*token = os.Getenv("MARLON_NATS_TOKEN")
	}
	o := transport.ServerOptions{Name: *name, Host: *host, Port: *port, Token: *token, Logs: *logs}
	if *nkeyList != "" {
		for _, k := range strings.Split(*nkeyList, ",") {
			if !nkeys.IsValidPublicUserKey(strings.TrimSpace(k)) {
				return fail(stderr, usageError{fmt.Errorf("--nkeys: %q is not a public user nkey (U...)", k)})
			}
			o.NKeys = append(o.NKeys, strings.TrimSpace(k))
		}
	}
	switch {
	case *port < 1 || *port > 65535:
		return fail(stderr, usageError{fmt.Errorf("--port: must be between 1 and 65535, got %d", *port)})
	case *clusterPort < 0 || *clusterPort > 65535:
		return fail(stderr, usageError{fmt.Errorf("--cluster-port: must be between 1 and 65535 (0: none), got %d", *clusterPort)})
	case *token != "" && len(o.NKeys) > 0:
		return fail(stderr, usageError{errors.New("--token and --nkeys: give one or the other")})
	case *local && *port > 65533:
		return fail(stderr, usageError{fmt.Errorf("--port: with --local-cluster the servers take PORT to PORT+2, so at most 65533, got %d", *port)})
	case *local && *clusterPort > 65533:
		return fail(stderr, usageError{fmt.Errorf("--cluster-port: with --local-cluster the routes take PORT to PORT+2, so at most 65533, got %d", *clusterPort)})
	case *local && *routes != "":
		return fail(stderr, usageError{errors.New("--routes: not with --local-cluster, whose servers route to each other")})
	case *syncAlways && !*jetstream && !*local:
		return fail(stderr, usageError{errors.New("--sync-always: only with --jetstream or --local-cluster")})
	case (*jetstream || *local) && *storeDir == "":
		return fail(stderr, usageError{errors.New("--store-dir: JetStream needs a directory")})
	}
	var js *transport.JetStreamOptions
	if *jetstream || *local {
		js = &transport.JetStreamOptions{StoreDir: *storeDir, SyncAlways: *syncAlways}
	}
	if *local {
		return runLocalCluster(o, js, *clusterPort, stdout, stderr)
	}
	o.JetStream = js
	if js != nil && o.Name == "" {
		o.Name = "marlon-nats" // a JetStream server needs a stable name to find its store again
	}
	if *clusterPort != 0 || *routes != "" {
		o.Cluster = &transport.ClusterOptions{Name: *clusterName, Host: *host, Port: *clusterPort}
		if *routes != "" {
			o.Cluster.Routes = strings.Split(*routes, ",")
			for _, r := range o.Cluster.Routes {
				if _, err := transport.ParseRoute(r); err != nil {
					return fail(stderr, usageError{fmt.Errorf("--routes: %v", err)})
				}
			}
		}
	}
	srv, err := transport.StartServer(o)
	if err != nil {
		switch msg := err.Error(); {
		case strings.Contains(msg, "listen for clients"):
			err = fmt.Errorf("--port: %w (another server runs there? pick another --port)", err)
		case strings.Contains(msg, "listen for routes"):
			err = fmt.Errorf("--cluster-port: %w (pick another --cluster-port)", err)
		}
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "NATS server %s listening for clients on %s:%d\n", srv.Name(), *host, *port)
	if o.Cluster != nil {
		fmt.Fprintf(stdout, "routes on %v, to %v\n", srv.ClusterAddr(), o.Cluster.Routes)
	}
	if js != nil {
		fmt.Fprintf(stdout, "JetStream on, storing in %s (sync always: %v)\n", js.StoreDir, js.SyncAlways)
	}
	warnOpen(o, stderr)
	ctx, stop := signalled()
	<-ctx.Done()
	stop()
	srv.Shutdown()
	srv.WaitForShutdown()
	return 0
}

func warnOpen(o transport.ServerOptions, stderr io.Writer) {
	if o.Token == "" && len(o.NKeys) == 0 {
		fmt.Fprintln(stderr, "marlon: warning: no --token or --nkeys: anyone who can reach the port can connect (node messages are still authenticated by the nodes' keys)")
	}
}

// runLocalCluster runs three routed servers with JetStream until
// interrupted.
func runLocalCluster(o transport.ServerOptions, js *transport.JetStreamOptions, clusterPort int, stdout, stderr io.Writer) int {
	if clusterPort == 0 {
		clusterPort = 6222
	}
	c, err := transport.StartCluster(transport.ClusterConfig{
		Host: o.Host, Port: o.Port, ClusterPort: clusterPort, Token: o.Token, NKeys: o.NKeys, Logs: o.Logs, JetStream: js,
	})
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "NATS cluster of 3 servers with JetStream listening for clients on %s:%d-%d, routes on %d-%d, storing in %s\n",
		o.Host, o.Port, o.Port+2, clusterPort, clusterPort+2, js.StoreDir)
	fmt.Fprintf(stdout, "give nodes: %s\n", strings.ReplaceAll(c.URLs(), o.Host, hostFor(o.Host)))
	warnOpen(o, stderr)
	ctx, stop := signalled()
	<-ctx.Done()
	stop()
	c.Shutdown()
	return 0
}

// hostFor is the host clients dial for a listening host.
func hostFor(h string) string {
	if h == "0.0.0.0" || h == "" {
		return "HOST"
	}
	return h
}

const keysExamples = `
Examples:
  marlon keys --name n1 --key n1.key --trusted cluster.keys
  marlon keys --nkey n1.nkey         then: marlon nats --nkeys U...  and  marlon node --nkey n1.nkey ...
` + clusterSteps

func runKeys(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("marlon keys", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		name    = fs.String("name", "", "the node's name: 1 to 64 letters, digits, '-' or '_'")
		keyFile = fs.String("key", "", "`file` to write the node's new private key to (readable by you only)")
		trusted = fs.String("trusted", "", "the cluster's trusted keys `file`: the node's public key is added (the file is made if missing)")
		nkey    = fs.String("nkey", "", "`file` to write a new NATS user nkey seed to; its public key is printed")
		force   = fs.Bool("force", false, "replace existing key files")
		replace = fs.Bool("replace", false, "replace the node's public key in --trusted if it is there already (the running node must then restart with its new key, and every node reload the file)")
	)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: marlon keys --name NODE --key FILE --trusted FILE\n       marlon keys --nkey FILE\n\nMakes a node's Ed25519 key pair, which signs what it sends, and adds its\npublic key to the cluster's trusted keys: every node and master loads the\nsame trusted-keys file, and refuses messages from nodes it does not list.\nCopy that file to every machine; keep each key file on its own node.\nWith --nkey, makes a NATS user nkey for NATS-level authentication.\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), keysExamples)
	}
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	node := *name != "" || *keyFile != "" || *trusted != ""
	switch {
	case !node && *nkey == "":
		return fail(stderr, usageError{errors.New("--name, --key and --trusted (a node's key), or --nkey (a NATS user's): give one or both")})
	case node && (*name == "" || *keyFile == "" || *trusted == ""):
		return fail(stderr, usageError{errors.New("--name, --key and --trusted: a node's key needs all three")})
	}
	for _, f := range []struct{ flag, path string }{{"key", *keyFile}, {"nkey", *nkey}} {
		if _, err := os.Stat(f.path); f.path != "" && err == nil && !*force {
			return fail(stderr, usageError{fmt.Errorf("--%s: %s exists (--force replaces it)", f.flag, f.path)})
		}
	}
	if node {
		k, err := transport.GenerateKey(*name)
		if err != nil {
			return fail(stderr, usageError{fmt.Errorf("--name: %v", err)})
		}
		t := transport.Trusted{}
		if _, err := os.Stat(*trusted); err == nil {
			if t, err = transport.LoadTrusted(*trusted); err != nil {
				return fail(stderr, usageError{fmt.Errorf("--trusted: %v", err)})
			}
		}
		_, replaced := t[*name]
		if replaced && !*replace {
			return fail(stderr, usageError{fmt.Errorf("--name: node %q has a key in %s already: a new key would lock the running %s out until it restarts with it; give --replace to replace it, or another --name", *name, *trusted, *name)})
		}
		t.Add(k)
		if err := transport.SaveKey(*keyFile, k); err != nil {
			return fail(stderr, err)
		}
		if err := transport.SaveTrusted(*trusted, t); err != nil {
			return fail(stderr, err)
		}
		verb := "added to"
		if replaced {
			verb = "replaced in"
		}
		fmt.Fprintf(stdout, "Node %s: key in %s; public key %s %s (%d node(s)).\n", *name, *keyFile, verb, *trusted, len(t))
	}
	if *nkey != "" {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return fail(stderr, err)
		}
		seed, _ := kp.Seed()
		pub, _ := kp.PublicKey()
		if err := os.WriteFile(*nkey, append(seed, '\n'), 0o600); err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintf(stdout, "NATS user nkey seed in %s; public key (for marlon nats --nkeys):\n%s\n", *nkey, pub)
	}
	return 0
}

const metricsExamples = `
Examples:
  marlon metrics --nats nats://10.0.0.1:4222 --token SECRET          every node's counters
  marlon metrics --nats nats://10.0.0.1:4222 --token SECRET --json n1
`

// runMetrics asks the nodes of a cluster for their transport metrics.
func runMetrics(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("marlon metrics", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		url     = fs.String("nats", "", "NATS server `URL` (several, comma-separated, for a NATS cluster)")
		token   = fs.String("token", "", "token the NATS server requires (default $MARLON_NATS_TOKEN)")
		nkey    = fs.String("nkey", "", "NATS user nkey seed `file` the server requires")
		wait    = fs.Duration("wait", time.Second, "how long to wait for the nodes' answers")
		jsonOut = fs.Bool("json", false, "print the metrics as JSON, by node")
	)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: marlon metrics --nats URL [flags] [NODE...]\n\nAsks the running nodes of a cluster (marlon node, and live masters) for their\ntransport counters: frames accepted, rejected by reason, duplicates, nodes\ndeclared down, reconnects, new incarnations. Every node answers a request on\nthe NATS subject marlon.metrics (NODE's alone on marlon.metrics.NODE).\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), metricsExamples)
	}
	if code, done := parseWithArgs(fs, args, stderr); done {
		return code
	}
	for _, n := range fs.Args() {
		if strings.HasPrefix(n, "-") {
			return fail(stderr, usageError{fmt.Errorf("flag %q after the node names: flags come first", n)})
		}
	}
	if err := transport.ParseURLs(*url); err != nil {
		return fail(stderr, usageError{fmt.Errorf("--nats: %v", err)})
	}
	if *wait <= 0 || *wait > time.Minute {
		return fail(stderr, usageError{fmt.Errorf("--wait: must be between 1ns and 1m, got %v", *wait)})
	}
	if *token == "" {
		*token = os.Getenv("MARLON_NATS_TOKEN")
	}
	opts := []nats.Option{nats.Name("marlon metrics"), nats.Timeout(*wait + time.Second)}
	if *token != "" {
		opts = append(opts, nats.Token(*token))
	}
	if *nkey != "" {
		opt, err := nats.NkeyOptionFromSeed(*nkey)
		if err != nil {
			return fail(stderr, usageError{fmt.Errorf("--nkey: %v", err)})
		}
		opts = append(opts, opt)
	}
	nc, err := nats.Connect(*url, opts...)
	if err != nil {
		return fail(stderr, fmt.Errorf("--nats: %s: %w", *url, err))
	}
	defer nc.Close()
	ms := transport.GatherMetrics(nc, "", *wait)
	if names := fs.Args(); len(names) > 0 {
		picked := map[string]transport.Metrics{}
		for _, n := range names {
			m, ok := ms[n]
			if !ok {
				return fail(stderr, fmt.Errorf("node %q did not answer within %v (nodes that did: %d)", n, *wait, len(ms)))
			}
			picked[n] = m
		}
		ms = picked
	}
	if len(ms) == 0 {
		return fail(stderr, fmt.Errorf("no node answered within %v", *wait))
	}
	if *jsonOut {
		writeJSON(stdout, ms)
	} else {
		printMetrics(stdout, ms)
	}
	return 0
}
