package lbnet

import "github.com/marlon-go/marlon/transport"

// Local is a live cluster in one process: an embedded NATS server, the
// master's node and one node that hosts workers, with keys made for the
// occasion. It is what `marlon loadbalancing --live` runs without --nats,
// so that the live path is the same, transport included, with or without
// other machines.
type Local struct {
	Master  *transport.Node // runs the embedded server
	Workers *transport.Node
	Host    *Host
}

// Names of the nodes of a Local.
const (
	LocalMaster  = "master"
	LocalWorkers = "workers"
)

// StartLocal starts a Local whose workers node serves host. cfg holds what
// both nodes share (Scale, Heartbeat, Token, Logger...); their names, keys,
// trusted keys and URLs are set here.
func StartLocal(cfg transport.Config, host HostConfig) (*Local, error) {
	trusted := transport.Trusted{}
	keys := map[string]*transport.Key{}
	for _, name := range []string{LocalMaster, LocalWorkers} {
		k, err := transport.GenerateKey(name)
		if err != nil {
			return nil, err
		}
		keys[name] = k
		trusted.Add(k)
	}
	mc := cfg
	mc.Name, mc.URL, mc.Key, mc.Trusted = LocalMaster, "", keys[LocalMaster], trusted
	master, err := transport.Start(mc)
	if err != nil {
		return nil, err
	}
	wc := cfg
	wc.Name, wc.URL, wc.Key, wc.Trusted = LocalWorkers, master.Server().ClientURL(), keys[LocalWorkers], trusted
	l := &Local{Master: master}
	wc.Setup = func(n *transport.Node) { l.Host = Serve(n, host) }
	if l.Workers, err = transport.Start(wc); err != nil {
		master.Close()
		return nil, err
	}
	return l, nil
}

// Close stops both nodes and the server.
func (l *Local) Close() {
	l.Workers.Close()
	l.Master.Close()
}
