package schednet

import (
	"github.com/marlon-go/marlon/env/hosting"
	"github.com/marlon-go/marlon/transport"
)

// Local is a live cluster in one process: an embedded NATS server, the
// master's node and one node that hosts resource agents, with keys made
// for the occasion (hosting.StartLocal). It is what `marlon scheduling
// --live` runs without --nats, so that the live path is the same,
// transport included, with or without other machines.
type Local struct {
	Master  *transport.Node // runs the embedded server
	Compute *transport.Node
	Host    *Host
}

// Names of the nodes of a Local.
const (
	LocalMaster  = hosting.LocalMaster
	LocalCompute = "compute"
)

// StartLocal starts a Local whose compute node serves host. cfg holds
// what both nodes share (Scale, Heartbeat, Token, Logger...); their names,
// keys, trusted keys and URLs are set here.
func StartLocal(cfg transport.Config, host HostConfig) (*Local, error) {
	l := &Local{}
	hl, err := hosting.StartLocal(cfg, hosting.LocalHost{Name: LocalCompute, Setup: func(n *transport.Node) { l.Host = Serve(n, host) }})
	if err != nil {
		return nil, err
	}
	l.Master, l.Compute = hl.Master, hl.Hosting[0]
	return l, nil
}

// Close stops both nodes and the server.
func (l *Local) Close() {
	l.Compute.Close()
	l.Master.Close()
}
