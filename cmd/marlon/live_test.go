package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/marlon-go/marlon/examples/loadbalancing/lbnet"
	"github.com/marlon-go/marlon/transport"
)

// liveReport is what the live tests read of marlon loadbalancing --live
// --json.
type liveReport struct {
	Algorithm string  `json:"algorithm"`
	Job       int     `json:"job"`
	UnitsDone int     `json:"units_done"`
	Ratio     float64 `json:"ratio"`
	Workers   []struct {
		ID    int `json:"id"`
		Units int `json:"units"`
	} `json:"workers"`
	Training *training `json:"training"`
	Live     struct {
		Nodes       []lbnet.NodeInfo             `json:"nodes"`
		LedgerUnits map[string]int               `json:"ledger_units"`
		Duplicates  int                          `json:"duplicate_units"`
		NodesLeft   []string                     `json:"nodes_left"`
		LostWorkers []int                        `json:"lost_workers"`
		Error       string                       `json:"error"`
		Metrics     map[string]transport.Metrics `json:"metrics"`
		AgentsLeft  int                          `json:"agents_left"`
		Placed      []struct {
			ID        int      `json:"id"`
			Node      string   `json:"node"`
			Reason    string   `json:"reason"`
			Lost      bool     `json:"lost"`
			MovedFrom []string `json:"moved_from"`
		} `json:"placed"`
		Migrations []lbnet.MigrationRecord `json:"migrations"`
	} `json:"live"`
}

// checkLedger asserts what every live run must show: the job complete,
// every unit done exactly once by the Master's ledger (its bitset counts
// duplicates), the ledger's units by worker adding up to the job, and every
// worker that reported (those on a killed node never do) reporting the
// ledger's units for it.
func checkLedger(t *testing.T, r liveReport) {
	t.Helper()
	total := 0
	for _, u := range r.Live.LedgerUnits {
		total += u
	}
	if r.UnitsDone != r.Job || r.Live.Duplicates != 0 || total != r.Job || len(r.Workers) == 0 || r.Ratio < 1 {
		t.Fatalf("ledger: %d of %d units done, %d twice, per worker %v; %d reports, ratio %v",
			r.UnitsDone, r.Job, r.Live.Duplicates, r.Live.LedgerUnits, len(r.Workers), r.Ratio)
	}
	for _, w := range r.Workers {
		if u := r.Live.LedgerUnits[strconv.Itoa(w.ID)]; u != w.Units {
			t.Fatalf("worker %d reports %d units, the ledger %d", w.ID, w.Units, u)
		}
	}
}

func liveJSON(t *testing.T, args ...string) liveReport {
	t.Helper()
	code, out, errs := marlon(t, append([]string{"loadbalancing", "--live", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errs)
	}
	var r liveReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	checkLedger(t, r)
	return r
}

func TestLiveInOneProcess(t *testing.T) {
	r := liveJSON(t, "--algorithm", "gss", "--job", "2000", "--time-scale", "1ms", "--join", "1@10:2", "--leave", "3@20")
	if len(r.Workers) != 9 || len(r.Live.Placed) != 9 || r.Live.Placed[3].Reason != "stopped" || r.Live.Nodes[0].Name != lbnet.LocalWorkers {
		t.Fatalf("%+v", r)
	}
	// A learner is trained in the simulator, and its checkpoint sent to the
	// node; a saved one loads without training.
	ckpt := filepath.Join(t.TempDir(), "q.ckpt")
	r = liveJSON(t, "--algorithm", "qlearning", "--episodes", "5", "--eval-episodes", "1", "--job", "1000", "--time-scale", "1ms", "--save", ckpt)
	if r.Training == nil || r.Training.Episodes != 5 || r.Training.Checkpoint != ckpt {
		t.Fatalf("training %+v", r.Training)
	}
	r = liveJSON(t, "--algorithm", "qlearning", "--load", ckpt, "--episodes", "0", "--job", "1000", "--time-scale", "1ms")
	if r.Training == nil || r.Training.Loaded != ckpt || r.Training.Episodes != 0 {
		t.Fatalf("loaded %+v", r.Training)
	}
	if code, _, errs := marlon(t, "loadbalancing", "--live", "--algorithm", "pg", "--load", ckpt, "--episodes", "0"); code != 1 || !strings.Contains(errs, "trained with qlearning") {
		t.Fatalf("pg from a qlearning checkpoint: exit %d %s", code, errs)
	}
	// The nodes make the learner in the action space and on the version
	// of the dynamics it was trained in.
	liveJSON(t, "--algorithm", "qlearning", "--actions", "technique", "--env", "loadbalancing/v1", "--episodes", "3", "--eval-episodes", "1", "--job", "1000", "--time-scale", "1ms")
}

// Workers of a trained learner move to the spare node and back during a
// live run, their agents' learner state with them; the run says so.
func TestLiveMigration(t *testing.T) {
	r := liveJSON(t, "--algorithm", "qlearning", "--episodes", "3", "--eval-episodes", "1", "--job", "3000", "--time-scale", "1ms",
		"--migrate", "0@20:"+lbnet.LocalSpare, "--migrate", "5@40:"+lbnet.LocalSpare, "--migrate", "0@80:"+lbnet.LocalWorkers)
	m := r.Live.Migrations
	if len(m) != 3 || !m[0].Adopted || !m[1].Adopted || !m[2].Adopted || m[2].From != lbnet.LocalSpare {
		t.Fatalf("migrations %+v", m)
	}
	for _, p := range r.Live.Placed {
		want := map[int]string{0: lbnet.LocalWorkers, 5: lbnet.LocalSpare}[p.ID]
		if want == "" {
			want = lbnet.LocalWorkers
		}
		if p.Node != want || p.Lost || (p.ID == 0) != (len(p.MovedFrom) == 2) {
			t.Errorf("worker %d placed %+v", p.ID, p)
		}
	}
	if len(r.Live.Nodes) != 2 {
		t.Fatalf("nodes %+v", r.Live.Nodes)
	}
}

// TestLiveOverNATSFromTheCommandLine runs the master's side of --nats in
// this process, against a NATS server that requires an nkey and a node
// started with the packages, with key files made by marlon keys.
func TestLiveOverNATSFromTheCommandLine(t *testing.T) {
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	for _, name := range []string{"boss", "n1"} {
		if code, _, errs := marlon(t, "keys", "--name", name, "--key", path(name+".key"), "--trusted", path("cluster.keys")); code != 0 {
			t.Fatal(errs)
		}
	}
	code, out, errs := marlon(t, "keys", "--nkey", path("user.nkey"))
	if code != 0 {
		t.Fatal(errs)
	}
	lines := strings.Fields(out)
	pub := lines[len(lines)-1]
	seed, _ := os.ReadFile(path("user.nkey"))
	srv, err := transport.StartServer(transport.ServerOptions{NKeys: []string{pub}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	key, _ := transport.LoadKey(path("n1.key"))
	trusted, _ := transport.LoadTrusted(path("cluster.keys"))
	node, err := transport.Start(transport.Config{Name: "n1", URL: srv.ClientURL(), Key: key, Trusted: trusted, NKeySeed: strings.TrimSpace(string(seed)),
		Heartbeat: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Setup: func(n *transport.Node) {
			lbnet.Serve(n, lbnet.HostConfig{Speeds: []float64{1, 1, 2}, NewPolicy: newPolicy})
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()

	master := []string{"--nats", srv.ClientURL(), "--key", path("boss.key"), "--trusted", path("cluster.keys"), "--nkey", path("user.nkey"),
		"--heartbeat", "100ms", "--algorithm", "fac2", "--job", "1000", "--time-scale", "1ms"}
	r := liveJSON(t, append(master, "--leave", "2@10")...)
	if len(r.Live.Nodes) != 1 || r.Live.Nodes[0].Name != "n1" || len(r.Workers) != 3 || r.Live.Placed[2].Reason != "stopped" {
		t.Fatalf("%+v", r)
	}
	// The node provides three workers: there is no worker 3 to leave.
	code, _, errs = marlon(t, append([]string{"loadbalancing", "--live", "--leave", "3@10"}, master...)...)
	if code != 2 || !strings.Contains(errs, "--leave") || !strings.Contains(errs, "the nodes provide 3 workers") {
		t.Fatalf("leave of a worker the nodes lack: exit %d %s", code, errs)
	}
	// A node key that the trusted keys do not list is refused.
	if code, _, errs := marlon(t, "keys", "--name", "stranger", "--key", path("stranger.key"), "--trusted", path("other.keys")); code != 0 {
		t.Fatal(errs)
	}
	code, _, errs = marlon(t, "loadbalancing", "--live", "--nats", srv.ClientURL(), "--key", path("stranger.key"), "--trusted", path("cluster.keys"), "--algorithm", "fac2")
	if code != 2 || !strings.Contains(errs, "--trusted") {
		t.Fatalf("untrusted key: exit %d %s", code, errs)
	}
}

func TestClusterCommandsRefuseBadInput(t *testing.T) {
	dir := t.TempDir()
	key, trusted := filepath.Join(dir, "a.key"), filepath.Join(dir, "t.keys")
	if code, _, errs := marlon(t, "keys", "--name", "a", "--key", key, "--trusted", trusted); code != 0 {
		t.Fatal(errs)
	}
	cases := map[string][]string{
		"--nats":              {"loadbalancing", "--nats", "nats://x:4222"},
		"--time-scale":        {"loadbalancing", "--time-scale", "1ms"},
		"--compare":           {"loadbalancing", "--live", "--compare"},
		"--algorithm":         {"loadbalancing", "--live"},
		"--independent":       {"loadbalancing", "--live", "--algorithm", "pg", "--independent"},
		"--key":               {"loadbalancing", "--live", "--algorithm", "gss", "--key", key},
		"--nodes":             {"loadbalancing", "--live", "--algorithm", "gss", "--nodes", "2"},
		"--workers":           {"loadbalancing", "--live", "--algorithm", "gss", "--nats", "nats://x:4222", "--workers", "3"},
		"--join":              {"loadbalancing", "--live", "--algorithm", "gss", "--nats", "nats://x:4222", "--join", "1@3"},
		"--time-scale ":       {"loadbalancing", "--live", "--algorithm", "gss", "--time-scale", "0s"},
		"--trusted":           {"loadbalancing", "--live", "--algorithm", "gss", "--nats", "nats://x:4222", "--key", key},
		"--migrate":           {"loadbalancing", "--migrate", "0@5:" + lbnet.LocalSpare, "--algorithm", "gss"},
		"--migrate ":          {"loadbalancing", "--live", "--algorithm", "gss", "--migrate", "0@5"},
		"--migrate  ":         {"loadbalancing", "--live", "--algorithm", "gss", "--migrate", "x@5:" + lbnet.LocalSpare},
		"--migrate   ":        {"loadbalancing", "--live", "--algorithm", "gss", "--migrate", "0@5:elsewhere"},
		"--migrate    ":       {"loadbalancing", "--live", "--algorithm", "gss", "--workers", "3", "--migrate", "3@5:" + lbnet.LocalSpare},
		"--name":              {"node", "--nats", "nats://x:4222", "--key", key, "--trusted", trusted, "--name", "b"},
		"--nats ":             {"node", "--key", key, "--trusted", trusted},
		"--key ":              {"node", "--nats", "nats://x:4222"},
		"--workers ":          {"node", "--workers", "0"},
		"--speed":             {"node", "--speed", "-1"},
		"--spare":             {"node", "--spare", "-1"},
		"--missed-heartbeats": {"node", "--missed-heartbeats", "0"},
		"--port":              {"nats", "--port", "70000"},
		"--port ":             {"nats", "--local-cluster", "--port", "65534"},
		"--cluster-port":      {"nats", "--local-cluster", "--cluster-port", "65534"},
		"--routes":            {"nats", "--local-cluster", "--routes", "nats-route://x:6222"},
		"--sync-always":       {"nats", "--sync-always"},
		"--store-dir":         {"nats", "--jetstream", "--store-dir", ""},
		"--nkeys":             {"nats", "--nkeys", "nonsense"},
		"--token":             {"nats", "--token", "x", "--nkeys", "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"},
		"--name ":             {"keys", "--key", key},
		"--key  ":             {"keys", "--name", "a", "--key", key, "--trusted", trusted},
		"--name  ":            {"keys", "--name", "no spaces", "--key", filepath.Join(dir, "new.key"), "--trusted", trusted},
	}
	for flag, args := range cases {
		code, out, errs := marlon(t, args...)
		if code != 2 || out != "" || !strings.Contains(errs, strings.TrimSpace(flag)) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 naming %s", args, code, errs, strings.TrimSpace(flag))
		}
	}
	for _, cmd := range []string{"node", "nats", "keys", "bench"} {
		if code, out, _ := marlon(t, cmd, "--help"); code != 0 || !strings.Contains(out, "Examples:") {
			t.Errorf("%s --help: exit %d\n%s", cmd, code, out)
		}
	}
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v %v: want mode 0600", st.Mode(), err)
	}
	if tr, err := transport.LoadTrusted(trusted); err != nil || len(tr) != 1 || tr["a"] == nil {
		t.Fatalf("trusted keys %v %v", tr, err)
	}
}

func TestNodeWaitsForItsServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	key, _ := transport.GenerateKey("early")
	trusted := transport.Trusted{}
	trusted.Add(key)
	servers := make(chan *server.Server, 1)
	go func() {
		time.Sleep(1500 * time.Millisecond)
		srv, err := transport.StartServer(transport.ServerOptions{Port: port})
		if err != nil {
			t.Error(err)
		}
		servers <- srv
	}()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := transport.Config{Name: "early", URL: fmt.Sprintf("nats://127.0.0.1:%d", port), Key: key, Trusted: trusted, Logger: quiet}
	n, err := join(context.Background(), cfg, quiet)
	if srv := <-servers; srv != nil {
		defer srv.Shutdown()
	}
	if err != nil {
		t.Fatalf("the node did not wait for its server: %v", err)
	}
	n.Close()
	// Interrupted, it gives up.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	cfg.URL = "nats://127.0.0.1:1"
	if _, err := join(ctx, cfg, quiet); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("no server, interrupted: %v", err)
	}
}
