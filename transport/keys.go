package transport

import (
	"bufio"
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/cloudflare/circl/dh/x25519"
	"github.com/cloudflare/circl/sign/ed25519"
)

// maxNameLen bounds node names, which appear in NATS subjects and frames.
const maxNameLen = 64

// validName reports whether s can name a node: 1 to 64 ASCII letters, digits,
// '-' or '_' (a NATS subject token, and a word in the key files).
func validName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func checkName(s string) error {
	if !validName(s) {
		return fmt.Errorf("transport: invalid node name %q: want 1 to %d letters, digits, '-' or '_'", s, maxNameLen)
	}
	return nil
}

// Key is a node's Ed25519 key pair. The node signs its heartbeats and either
// every frame or its session key with it (see Auth); the other nodes verify
// against its public key in their Trusted set.
type Key struct {
	Node    string
	private ed25519.PrivateKey
}

// GenerateKey makes a new key pair for the named node.
func GenerateKey(node string) (*Key, error) {
	if err := checkName(node); err != nil {
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("transport: generating key for %q: %w", node, err)
	}
	return &Key{Node: node, private: priv}, nil
}

// Public is the key's public half, the one to put in every node's Trusted set.
func (k *Key) Public() ed25519.PublicKey { return k.private.Public().(ed25519.PublicKey) }

// SaveKey writes k to path, readable by its owner only, as one line: the node
// name and the base64 of the private key's 32-byte seed.
func SaveKey(path string, k *Key) error {
	line := k.Node + " " + base64.StdEncoding.EncodeToString(k.private.Seed()) + "\n"
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		return fmt.Errorf("transport: saving key: %w", err)
	}
	return nil
}

// LoadKey reads a key written by SaveKey.
func LoadKey(path string) (*Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("transport: loading key: %w", err)
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 {
		return nil, fmt.Errorf("transport: key file %s: want one line \"NODE SEED\", got %d fields", path, len(fields))
	}
	if err := checkName(fields[0]); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	seed, err := base64.StdEncoding.DecodeString(fields[1])
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("transport: key file %s: seed is not %d bytes of base64", path, ed25519.SeedSize)
	}
	return &Key{Node: fields[0], private: ed25519.NewKeyFromSeed(seed)}, nil
}

// Trusted maps node names to the public keys frames from them must verify
// against. Every node of a cluster loads the same set.
type Trusted map[string]ed25519.PublicKey

// Add trusts k's public key for k's node.
func (t Trusted) Add(k *Key) { t[k.Node] = k.Public() }

// SaveTrusted writes t to path, one "NODE PUBLIC-KEY" line per node (the key
// in base64), sorted by name.
func SaveTrusted(path string, t Trusted) error {
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteString("# marlon trusted node keys: NODE ED25519-PUBLIC-KEY (base64)\n")
	for _, n := range names {
		fmt.Fprintf(&b, "%s %s\n", n, base64.StdEncoding.EncodeToString(t[n]))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("transport: saving trusted keys: %w", err)
	}
	return nil
}

// LoadTrusted reads a file written by SaveTrusted (blank lines and lines
// starting with # are skipped).
func LoadTrusted(path string) (Trusted, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("transport: loading trusted keys: %w", err)
	}
	defer f.Close()
	t := Trusted{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, fmt.Errorf("transport: %s:%d: want \"NODE PUBLIC-KEY\"", path, line)
		}
		if err := checkName(fields[0]); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		pub, err := base64.StdEncoding.DecodeString(fields[1])
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("transport: %s:%d: public key is not %d bytes of base64", path, line, ed25519.PublicKeySize)
		}
		if _, dup := t[fields[0]]; dup {
			return nil, fmt.Errorf("transport: %s:%d: node %q listed twice", path, line, fields[0])
		}
		t[fields[0]] = ed25519.PublicKey(pub)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("transport: reading %s: %w", path, err)
	}
	return t, nil
}

// session is a node's X25519 key for one boot. Its public half is signed by
// the node's Ed25519 key (the certificate); two nodes derive one HMAC key per
// direction from their session keys.
type session struct {
	secret, public x25519.Key
	cert           []byte
}

var errLowOrder = errors.New("transport: peer session key is a low-order point")

func newSession(k *Key, node string, epoch uint64) (*session, error) {
	s := &session{}
	if _, err := rand.Read(s.secret[:]); err != nil {
		return nil, fmt.Errorf("transport: generating session key: %w", err)
	}
	x25519.KeyGen(&s.public, &s.secret)
	s.cert = ed25519.Sign(k.private, certMessage(node, epoch, s.public[:]))
	return s, nil
}

// certMessage is what a session certificate signs. Its prefix keeps it apart
// from frames, which start with frameMagic.
func certMessage(node string, epoch uint64, xkey []byte) []byte {
	b := append([]byte("marlon/transport/v1 session key\x00"), node...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, epoch)
	return append(b, xkey...)
}

// macKey derives the HMAC key for frames from one node incarnation to another
// out of their X25519 shared secret.
func macKey(shared *x25519.Key, from string, fromEpoch uint64, fromKey []byte, to string, toEpoch uint64, toKey []byte) ([]byte, error) {
	salt := append(append([]byte(nil), fromKey...), toKey...)
	info := fmt.Sprintf("marlon/transport/v1 mac %s %d -> %s %d", from, fromEpoch, to, toEpoch)
	return hkdf.Key(sha256.New, shared[:], salt, info, 32)
}

// sessionKeys derives the send (me to peer) and receive (peer to me) keys.
func (s *session) keys(me string, myEpoch uint64, peer string, peerEpoch uint64, peerKey []byte) (send, recv []byte, err error) {
	var pk, shared x25519.Key
	copy(pk[:], peerKey)
	if !x25519.Shared(&shared, &s.secret, &pk) {
		return nil, nil, errLowOrder
	}
	if send, err = macKey(&shared, me, myEpoch, s.public[:], peer, peerEpoch, peerKey); err != nil {
		return nil, nil, err
	}
	recv, err = macKey(&shared, peer, peerEpoch, peerKey, me, myEpoch, s.public[:])
	return send, recv, err
}
