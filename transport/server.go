package transport

import (
	"fmt"
	"net/url"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerOptions configure an embedded NATS server.
type ServerOptions struct {
	// Name names the server in logs and cluster views; default generated.
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
	// Logs turns on the server's own logging (to stderr).
	Logs bool
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
			u, err := url.Parse(r)
			if err != nil {
				return nil, fmt.Errorf("transport: route %q: %w", r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
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
