package transport

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	c := newCluster(t, "a", "b-2")
	keyPath := filepath.Join(dir, "a.key")
	if err := SaveKey(keyPath, c.keys["a"]); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	k, err := LoadKey(keyPath)
	if err != nil || k.Node != "a" || !k.Public().Equal(c.keys["a"].Public()) {
		t.Fatalf("LoadKey: %v %v", k, err)
	}
	trustedPath := filepath.Join(dir, "cluster.keys")
	if err := SaveTrusted(trustedPath, c.trusted); err != nil {
		t.Fatal(err)
	}
	tr, err := LoadTrusted(trustedPath)
	if err != nil || len(tr) != 2 || !tr["b-2"].Equal(c.keys["b-2"].Public()) {
		t.Fatalf("LoadTrusted: %v %v", tr, err)
	}

	for _, tc := range []struct{ file, content, want string }{
		{"key", "a\n", "want one line"},
		{"key", "a.b AAAA\n", "invalid node name"},
		{"key", "a AAAA\n", "seed is not 32 bytes"},
		{"trusted", "# comment\n\na AAAA\n", ":3: public key is not 32 bytes"},
		{"trusted", "a\n", ":1: want"},
		{"trusted", strings.Repeat("a "+pubText(t, c)+"\n", 2), `node "a" listed twice`},
	} {
		path := filepath.Join(dir, "bad")
		if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if tc.file == "key" {
			_, err = LoadKey(path)
		} else {
			_, err = LoadTrusted(path)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: %v, want %q", tc.file, tc.content, err, tc.want)
		}
	}
	if _, err := GenerateKey("no spaces"); err == nil {
		t.Error("GenerateKey accepted an invalid name")
	}
}

// pubText is a's public key as the trusted file spells it.
func pubText(t *testing.T, c *cluster) string {
	path := filepath.Join(t.TempDir(), "one")
	if err := SaveTrusted(path, Trusted{"a": c.keys["a"].Public()}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.Fields(lines[len(lines)-1])[1]
}
