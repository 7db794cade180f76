package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/marlon-go/marlon/transport"
)

// Issue 13, item 2: every wait is bounded by --timeout, the NATS URL's
// scheme is checked, and marlon nats names what is wrong.
func TestClusterWaitsAndURLsAreChecked(t *testing.T) {
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	if code, _, errs := marlon(t, "keys", "--name", "m", "--key", path("m.key"), "--trusted", path("c.keys")); code != 0 {
		t.Fatal(errs)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close() // nothing listens there now

	start := time.Now()
	code, out, errs := marlon(t, "loadbalancing", "--live", "--algorithm", "fac2", "--nats", "nats://127.0.0.1:"+port,
		"--key", path("m.key"), "--trusted", path("c.keys"), "--timeout", "2s", "--json")
	if took := time.Since(start); code != 1 || took > 30*time.Second || !strings.Contains(errs, "--timeout 2s") || !strings.Contains(out, `"error"`) {
		t.Fatalf("unreachable server: exit %d after %v\nstdout %s\nstderr %s", code, took, out, errs)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"loadbalancing", "--live", "--algorithm", "fac2", "--nats", "http://127.0.0.1:4222", "--key", path("m.key"), "--trusted", path("c.keys")}, "--nats: \"http://127.0.0.1:4222\": scheme http"},
		{[]string{"loadbalancing", "--live", "--algorithm", "fac2", "--nats", "nats://", "--key", path("m.key"), "--trusted", path("c.keys")}, "--nats: \"nats://\": no host"},
		{[]string{"nats", "--routes", "garbage"}, "--routes: transport: route \"garbage\": want nats-route://HOST:PORT"},
		{[]string{"nats", "--routes", "nats-route://h"}, "a host and a port"},
	} {
		if code, _, errs := marlon(t, c.args...); code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, %s; want %q", c.args, code, errs, c.want)
		}
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	if code, _, errs := marlon(t, "nats", "--host", "127.0.0.1", "--port", busyPort); code != 1 || !strings.Contains(errs, "--port") || !strings.Contains(errs, "address already in use") {
		t.Errorf("nats on a port in use: exit %d, %s", code, errs)
	}
}

// Issue 13, item 7: a node's trusted key is not replaced silently.
func TestKeysRefuseToReplaceATrustedKey(t *testing.T) {
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	if code, _, errs := marlon(t, "keys", "--name", "n1", "--key", path("n1.key"), "--trusted", path("c.keys")); code != 0 {
		t.Fatal(errs)
	}
	before := readFile(t, path("c.keys"))
	code, _, errs := marlon(t, "keys", "--name", "n1", "--key", path("other.key"), "--trusted", path("c.keys"))
	if code != 2 || !strings.Contains(errs, `--name: node "n1" has a key in`) || !strings.Contains(errs, "--replace") {
		t.Fatalf("replacing n1's key: exit %d, %s", code, errs)
	}
	if readFile(t, path("c.keys")) != before || fileExists(path("other.key")) {
		t.Fatal("a refused replacement changed the files")
	}
	code, out, errs := marlon(t, "keys", "--name", "n1", "--key", path("other.key"), "--trusted", path("c.keys"), "--replace")
	if code != 0 || !strings.Contains(out, "replaced in") || readFile(t, path("c.keys")) == before {
		t.Fatalf("--replace: exit %d, %s %s", code, out, errs)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// marlon metrics asks running nodes for their counters over NATS.
func TestMetricsOfRunningNodes(t *testing.T) {
	srv, err := transport.StartServer(transport.ServerOptions{Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	keys := transport.Trusted{}
	var ks []*transport.Key
	for _, name := range []string{"a", "b"} {
		k, err := transport.GenerateKey(name)
		if err != nil {
			t.Fatal(err)
		}
		keys.Add(k)
		ks = append(ks, k)
	}
	for _, k := range ks {
		n, err := transport.Start(transport.Config{Name: k.Node, URL: srv.ClientURL(), Token: "tok", Key: k, Trusted: keys,
			Heartbeat: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
	}
	time.Sleep(200 * time.Millisecond) // a few heartbeats accepted
	code, out, errs := marlon(t, "metrics", "--nats", srv.ClientURL(), "--token", "tok", "--json", "--wait", "500ms")
	var ms map[string]transport.Metrics
	if code != 0 || json.Unmarshal([]byte(out), &ms) != nil || len(ms) != 2 || ms["a"].Accepted == 0 || ms["b"].Node != "b" {
		t.Fatalf("exit %d %s %s", code, out, errs)
	}
	if code, out, _ := marlon(t, "metrics", "--nats", srv.ClientURL(), "--token", "tok", "b"); code != 0 || !strings.Contains(out, "frames accepted") || strings.Contains(out, "\na ") {
		t.Fatalf("one node's table: exit %d\n%s", code, out)
	}
	if code, _, errs := marlon(t, "metrics", "--nats", srv.ClientURL(), "--token", "tok", "--wait", "200ms", "nobody"); code != 1 || !strings.Contains(errs, `node "nobody" did not answer`) {
		t.Fatalf("unknown node: exit %d %s", code, errs)
	}
}
