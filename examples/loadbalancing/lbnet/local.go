package lbnet

import (
	"github.com/marlon-go/marlon/env/hosting"
	"github.com/marlon-go/marlon/transport"
)

// Local is a live cluster in one process: an embedded NATS server, the
// master's node and a node that hosts workers, with keys made for the
// occasion (hosting.StartLocal), and a spare hosting node (LocalSpare,
// with spare slots only: no workers of its own) for workers to migrate to
// if asked for. It is what `marlon loadbalancing --live` runs
// without --nats, so that the live path is the same, transport included,
// with or without other machines.
type Local struct {
	Master  *transport.Node // runs the embedded server
	Workers *transport.Node
	Host    *Host
	// Spare and SpareHost are the spare node and its host; nil without.
	Spare     *transport.Node
	SpareHost *Host

	all *hosting.Local
}

// Names of the nodes of a Local.
const (
	LocalMaster  = hosting.LocalMaster
	LocalWorkers = "workers"
	LocalSpare   = "spare"
)

// StartLocal starts a Local whose workers node serves host and, if spare
// is given, whose spare node serves spare[0]. cfg holds what the nodes
// share (Scale, Heartbeat, Token, Logger...); their names, keys, trusted
// keys and URLs are set here.
func StartLocal(cfg transport.Config, host HostConfig, spare ...HostConfig) (*Local, error) {
	l := &Local{}
	hosts := []hosting.LocalHost{{Name: LocalWorkers, Setup: func(n *transport.Node) { l.Host = Serve(n, host) }}}
	if len(spare) > 0 {
		hosts = append(hosts, hosting.LocalHost{Name: LocalSpare, Setup: func(n *transport.Node) { l.SpareHost = Serve(n, spare[0]) }})
	}
	hl, err := hosting.StartLocal(cfg, hosts...)
	if err != nil {
		return nil, err
	}
	l.all, l.Master, l.Workers = hl, hl.Master, hl.Hosting[0]
	if len(spare) > 0 {
		l.Spare = hl.Hosting[1]
	}
	return l, nil
}

// Close stops the nodes and the server.
func (l *Local) Close() { l.all.Close() }
