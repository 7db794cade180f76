package transport

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerOptions configure an embedded NATS server.
type ServerOptions struct {
	// Name names the server in logs and cluster views; default generated.
	// A server of a JetStream cluster needs a name unique in the cluster
	// (StartCluster gives them).
	Name string
	// Host to listen on for clients; default 127.0.0.1.
	Host string
	// Port for clients; 0 picks a free one.
	Port int
	// Token, if set, is required of every client.
	Token string
	// NKeys, if set, are the public nkeys of the users allowed to connect
	// (they authenticate by signing the server's nonce). Not with Token.
	NKeys []string
	// Cluster, if set, makes the server part of a NATS cluster.
	Cluster *ClusterOptions
	// JetStream, if set, enables JetStream (streams, KV, object store) on
	// the server.
	JetStream *JetStreamOptions
	// Logs turns on the server's own logging (to stderr).
	Logs bool
}

// JetStreamOptions enable JetStream on an embedded server.
//
// Durability: JetStream acknowledges a write once it is stored (in the
// operating system's page cache) on a quorum of the stream's replicas, and
// fsyncs in the background every SyncInterval (the server's default is 2
// minutes). A write acknowledged by an R1 stream is lost if its server's
// machine loses power before the next sync; an R3 stream survives the loss of
// one server, but a power loss of all three within the interval can lose
// acknowledged writes (Jepsen's analysis of NATS 2.12.1 found exactly this).
// SyncAlways fsyncs every write before acknowledging it (for replicated
// streams, every batch of the Raft log), at a cost in latency.
type JetStreamOptions struct {
	// StoreDir is where streams are stored; required. Each server needs its
	// own.
	StoreDir string
	// SyncAlways fsyncs every write before it is acknowledged (the server's
	// sync_interval: always).
	SyncAlways bool
	// SyncInterval is the interval of background fsyncs when SyncAlways is
	// off; 0 keeps the server's default (2 minutes).
	SyncInterval time.Duration
	// MaxMemory and MaxStore bound the memory and disk JetStream may use;
	// 0 lets the server choose (a share of the machine's).
	MaxMemory, MaxStore int64
}

// ClusterOptions connect an embedded server to other servers with routes.
type ClusterOptions struct {
	// Name of the cluster; every server of it must use the same.
	Name string
	// Host and Port to listen on for routes; default 127.0.0.1 and a free
	// port.
	Host string
	Port int
	// Routes are the other servers' route URLs (nats-route://host:port).
	Routes []string
}

// StartServer starts an embedded NATS server and waits until it accepts
// clients. Stop it with Shutdown; its client URL is ClientURL(), its route
// address ClusterAddr().
func StartServer(o ServerOptions) (*server.Server, error) {
	opts := &server.Options{
		ServerName:    o.Name,
		Host:          o.Host,
		Port:          o.Port,
		NoLog:         !o.Logs,
		NoSigs:        true,
		Authorization: o.Token,
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Port == 0 {
		opts.Port = server.RANDOM_PORT
	}
	if o.Token != "" && len(o.NKeys) > 0 {
		return nil, fmt.Errorf("transport: server options: Token and NKeys are exclusive")
	}
	for _, k := range o.NKeys {
		opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: k})
	}
	if c := o.Cluster; c != nil {
		opts.Cluster.Name = c.Name
		opts.Cluster.Host = c.Host
		opts.Cluster.Port = c.Port
		if opts.Cluster.Host == "" {
			opts.Cluster.Host = "127.0.0.1"
		}
		if opts.Cluster.Port == 0 {
			opts.Cluster.Port = server.RANDOM_PORT
		}
		for _, r := range c.Routes {
			u, err := ParseRoute(r)
			if err != nil {
				return nil, err
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	if js := o.JetStream; js != nil {
		if js.StoreDir == "" {
			return nil, errors.New("transport: server options: JetStream.StoreDir is required")
		}
		opts.JetStream = true
		opts.StoreDir = js.StoreDir
		opts.SyncAlways = js.SyncAlways
		opts.SyncInterval = js.SyncInterval
		opts.JetStreamMaxMemory = js.MaxMemory
		opts.JetStreamMaxStore = js.MaxStore
		opts.DisableJetStreamBanner = true
	}
	// The server does not say why it cannot listen (it logs, and never
	// becomes ready): try the ports first, to name the cause.
	for _, l := range []struct {
		what string
		host string
		port int
	}{{"client", opts.Host, opts.Port}, {"route", opts.Cluster.Host, opts.Cluster.Port}} {
		if l.port <= 0 {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(l.host, strconv.Itoa(l.port)))
		if err != nil {
			return nil, fmt.Errorf("transport: NATS server: cannot listen for %ss on %s port %d: %w", l.what, l.host, l.port, err)
		}
		ln.Close()
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("transport: NATS server: %w", err)
	}
	if o.Logs {
		s.ConfigureLogger()
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("transport: NATS server on %s:%d not ready after 10s", opts.Host, o.Port)
	}
	return s, nil
}

// ClusterConfig describes a local cluster of embedded servers (StartCluster).
type ClusterConfig struct {
	// Servers is the number of servers; default 3 (the least for R3
	// streams, which survive the loss of one).
	Servers int
	// Name of the NATS cluster; default "marlon".
	Name string
	// Host to listen on; default 127.0.0.1.
	Host string
	// Port is the first server's client port, the others take the next
	// ones; 0 picks free ports.
	Port int
	// ClusterPort is the first server's route port, likewise; 0 picks free
	// ports.
	ClusterPort int
	// Token, NKeys and Logs are as in ServerOptions, for every server.
	Token string
	NKeys []string
	Logs  bool
	// JetStream, if set, enables JetStream on every server; each server
	// stores under its own subdirectory of JetStream.StoreDir (s1, s2...).
	JetStream *JetStreamOptions
}

// LocalCluster is a cluster of embedded servers in this process, routed to
// each other (a full mesh).
type LocalCluster struct {
	Servers []*server.Server
	cfg     ClusterConfig
	opts    []ServerOptions
}

// StartCluster starts cfg.Servers embedded servers routed into one NATS
// cluster and waits until every server has a route to every other and, with
// JetStream, until the cluster's JetStream has a meta leader (it can create
// streams). Servers are named s1, s2, ...
func StartCluster(cfg ClusterConfig) (*LocalCluster, error) {
	if cfg.Servers == 0 {
		cfg.Servers = 3
	}
	if cfg.Servers < 1 {
		return nil, fmt.Errorf("transport: cluster of %d servers", cfg.Servers)
	}
	if cfg.Name == "" {
		cfg.Name = "marlon"
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	c := &LocalCluster{cfg: cfg}
	// Route ports must be known before the servers start, so that each can
	// list all the others: pick them now if not given.
	rports := make([]int, cfg.Servers)
	for i := range rports {
		if cfg.ClusterPort != 0 {
			rports[i] = cfg.ClusterPort + i
			continue
		}
		p, err := freePort(cfg.Host)
		if err != nil {
			return nil, err
		}
		rports[i] = p
	}
	var routes []string
	for _, p := range rports {
		routes = append(routes, fmt.Sprintf("nats-route://%s:%d", cfg.Host, p))
	}
	for i := 0; i < cfg.Servers; i++ {
		o := ServerOptions{
			Name: fmt.Sprintf("s%d", i+1), Host: cfg.Host, Token: cfg.Token, NKeys: cfg.NKeys, Logs: cfg.Logs,
			Cluster: &ClusterOptions{Name: cfg.Name, Host: cfg.Host, Port: rports[i], Routes: routes},
		}
		if cfg.Port != 0 {
			o.Port = cfg.Port + i
		}
		if cfg.JetStream != nil {
			js := *cfg.JetStream
			js.StoreDir = filepath.Join(cfg.JetStream.StoreDir, o.Name)
			o.JetStream = &js
		}
		c.opts = append(c.opts, o)
	}
	for i := range c.opts {
		s, err := StartServer(c.opts[i])
		if err != nil {
			c.Shutdown()
			return nil, err
		}
		c.Servers = append(c.Servers, s)
		c.opts[i].Port = s.Addr().(*net.TCPAddr).Port // a restart reuses it
	}
	if err := c.wait(c.Servers, 30*time.Second); err != nil {
		c.Shutdown()
		return nil, err
	}
	return c, nil
}

// URLs is the client URLs of all the servers, comma-separated, as nats.go
// takes them.
func (c *LocalCluster) URLs() string {
	var s []string
	for _, o := range c.opts {
		s = append(s, fmt.Sprintf("nats://%s:%d", o.Host, o.Port))
	}
	return strings.Join(s, ",")
}

// Stop shuts server i down (a crash, as far as the others can tell) and
// waits until it has stopped.
func (c *LocalCluster) Stop(i int) {
	if s := c.Servers[i]; s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// Restart starts server i again, on the same ports and store directory,
// after Stop, and waits until its routes to the running servers are up.
func (c *LocalCluster) Restart(i int) error {
	c.Stop(i)
	s, err := StartServer(c.opts[i])
	if err != nil {
		return err
	}
	c.Servers[i] = s
	var up []*server.Server
	for _, x := range c.Servers {
		if x.Running() {
			up = append(up, x)
		}
	}
	return c.wait(up, 30*time.Second)
}

// Shutdown stops every server.
func (c *LocalCluster) Shutdown() {
	for _, s := range c.Servers {
		if s != nil {
			s.Shutdown()
		}
	}
	for _, s := range c.Servers {
		if s != nil {
			s.WaitForShutdown()
		}
	}
}

// wait waits until each server in up has routes to all the others in up
// and, with JetStream, the servers agree on a JetStream meta leader.
func (c *LocalCluster) wait(up []*server.Server, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ok := true
		for _, s := range up {
			if s.NumRoutes() < len(up)-1 {
				ok = false
			}
		}
		if ok && c.cfg.JetStream != nil {
			leaders := 0
			for _, s := range up {
				if s.JetStreamIsLeader() {
					leaders++
				}
				if !s.JetStreamIsCurrent() {
					ok = false
				}
			}
			ok = ok && leaders == 1
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("transport: local cluster of %d servers not formed after %v", len(up), timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("transport: no free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ParseRoute parses a route URL to another server of a NATS cluster:
// nats-route://HOST:PORT (or nats://HOST:PORT), with credentials if the
// cluster needs them.
func ParseRoute(r string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(r))
	switch {
	case err != nil:
		return nil, fmt.Errorf("transport: route %q: %w", r, err)
	case u.Scheme != "nats-route" && u.Scheme != "nats":
		return nil, fmt.Errorf("transport: route %q: want nats-route://HOST:PORT", r)
	case u.Hostname() == "" || u.Port() == "":
		return nil, fmt.Errorf("transport: route %q: want nats-route://HOST:PORT (a host and a port)", r)
	}
	if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
		return nil, fmt.Errorf("transport: route %q: port must be between 1 and 65535", r)
	}
	return u, nil
}

// ParseURLs checks a client URL list as Config.URL takes it: comma-separated
// URLs of the schemes nats://, tls://, ws:// or wss:// (HOST:PORT alone
// means nats://HOST:PORT), each with a host.
func ParseURLs(list string) error {
	if strings.TrimSpace(list) == "" {
		return fmt.Errorf("no URL")
	}
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		s := raw
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		switch {
		case err != nil:
			return fmt.Errorf("%q: %v", raw, err)
		case u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss":
			return fmt.Errorf("%q: scheme %s: want nats://HOST:PORT (or tls://, ws://, wss://)", raw, u.Scheme)
		case u.Hostname() == "":
			return fmt.Errorf("%q: no host: want nats://HOST:PORT", raw)
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				return fmt.Errorf("%q: port must be between 1 and 65535", raw)
			}
		}
	}
	return nil
}
