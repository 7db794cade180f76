package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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
