package hosting

import "github.com/marlon-go/marlon/transport"

// Local is a live cluster in one process: an embedded NATS server, the
// master's node and one hosting node, with keys made for the occasion. It
// is what an environment's live run starts when it is given no NATS
// server, so that the live path is the same, transport included, with or
// without other machines.
type Local struct {
	Master  *transport.Node // runs the embedded server
	Hosting *transport.Node
}

// LocalMaster is the name of a Local's master node.
const LocalMaster = "master"

// StartLocal starts a Local whose hosting node is named host and set up
// by setup (which calls Serve, once or for several kinds). cfg holds what
// both nodes share (Scale, Heartbeat, Token, Logger...); their names,
// keys, trusted keys, URLs and Setup are set here.
func StartLocal(cfg transport.Config, host string, setup func(*transport.Node)) (*Local, error) {
	trusted := transport.Trusted{}
	keys := map[string]*transport.Key{}
	for _, name := range []string{LocalMaster, host} {
		k, err := transport.GenerateKey(name)
		if err != nil {
			return nil, err
		}
		keys[name] = k
		trusted.Add(k)
	}
	mc := cfg
	mc.Name, mc.URL, mc.Key, mc.Trusted, mc.Setup = LocalMaster, "", keys[LocalMaster], trusted, nil
	master, err := transport.Start(mc)
	if err != nil {
		return nil, err
	}
	hc := cfg
	hc.Name, hc.URL, hc.Key, hc.Trusted, hc.Setup = host, master.Server().ClientURL(), keys[host], trusted, setup
	l := &Local{Master: master}
	if l.Hosting, err = transport.Start(hc); err != nil {
		master.Close()
		return nil, err
	}
	return l, nil
}

// Close stops both nodes and the server.
func (l *Local) Close() {
	l.Hosting.Close()
	l.Master.Close()
}
