package hosting

import "github.com/marlon-go/marlon/transport"

// Local is a live cluster in one process: an embedded NATS server, the
// master's node and hosting nodes, with keys made for the occasion. It is
// what an environment's live run starts when it is given no NATS server,
// so that the live path is the same, transport included, with or without
// other machines.
type Local struct {
	Master  *transport.Node   // runs the embedded server
	Hosting []*transport.Node // as LocalHosts were given
}

// LocalMaster is the name of a Local's master node.
const LocalMaster = "master"

// LocalHost is a hosting node of a Local: its name, and its Setup (which
// calls Serve, once or for several kinds).
type LocalHost struct {
	Name  string
	Setup func(*transport.Node)
}

// StartLocal starts a Local with the given hosting nodes. cfg holds what
// every node shares (Scale, Heartbeat, Token, Logger...); their names,
// keys, trusted keys, URLs and Setup are set here.
func StartLocal(cfg transport.Config, hosts ...LocalHost) (*Local, error) {
	trusted := transport.Trusted{}
	keys := map[string]*transport.Key{}
	names := []string{LocalMaster}
	for _, h := range hosts {
		names = append(names, h.Name)
	}
	for _, name := range names {
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
	l := &Local{Master: master}
	for _, h := range hosts {
		hc := cfg
		hc.Name, hc.URL, hc.Key, hc.Trusted, hc.Setup = h.Name, master.Server().ClientURL(), keys[h.Name], trusted, h.Setup
		n, err := transport.Start(hc)
		if err != nil {
			l.Close()
			return nil, err
		}
		l.Hosting = append(l.Hosting, n)
	}
	return l, nil
}

// Close stops the nodes and the server.
func (l *Local) Close() {
	for _, n := range l.Hosting {
		n.Close()
	}
	l.Master.Close()
}
