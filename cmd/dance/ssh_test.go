package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/sshauth"
	"golang.org/x/crypto/ssh"
)

func sshWriteFile(t *testing.T, path, data string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSSHPublish: the printed line is the 3 1 0 record of the key's SPKI
// at the name; keys and names that cannot work are refused.
func TestSSHPublish(t *testing.T) {
	dir := t.TempDir()
	ed := sshKeygen(t, filepath.Join(dir, "ed"), "ed25519")
	sshKeygen(t, filepath.Join(dir, "rsa1024"), "rsa", "-b", "1024")
	sshKeygen(t, filepath.Join(dir, "ecdsa384"), "ecdsa", "-b", "384")
	edPub := filepath.Join(dir, "ed.pub")
	two, _ := os.ReadFile(edPub)
	twoKeys := sshWriteFile(t, filepath.Join(dir, "two.pub"), string(two)+string(two), 0o644)
	garbage := sshWriteFile(t, filepath.Join(dir, "garbage.pub"), "ssh-ed25519 not-base64\n", 0o644)

	out := idMust(t, "ssh", "publish", "--name", "_ssh-client.Alice.example.com.", edPub)
	spki, err := sshauth.SPKI(ed)
	if err != nil {
		t.Fatal(err)
	}
	if want := "_ssh-client.alice.example.com. 300 IN TLSA 3 1 0 " + hex.EncodeToString(spki) + "\n"; out != want {
		t.Fatalf("publish printed %q, want %q", out, want)
	}
	var o, e bytes.Buffer
	stdin, _ := os.ReadFile(edPub)
	if code := run(context.Background(), []string{"ssh", "publish", "--name", "a.example.com", "--ttl", "60"}, bytes.NewReader(stdin), &o, &e); code != 0 ||
		!strings.HasPrefix(o.String(), "a.example.com. 60 IN TLSA 3 1 0 ") {
		t.Fatalf("publish from stdin: exit %d %q %q", code, o.String(), e.String())
	}
	runCases(t, []cliCase{
		{name: "ecdsa-384", args: []string{"ssh", "publish", "--name", "a.example.com", filepath.Join(dir, "ecdsa384.pub")}, code: 0, stdout: `^a\.example\.com\. 300 IN TLSA 3 1 0 3076301006072a8648ce3d0201`},
		{name: "no name", args: []string{"ssh", "publish", edPub}, code: 2, stderr: "--name is required"},
		{name: "user name", args: []string{"ssh", "publish", "--name", "_user.example.com", edPub}, code: 2, stderr: "user name"},
		{name: "bad name", args: []string{"ssh", "publish", "--name", "a b", edPub}, code: 2, stderr: "--name"},
		{name: "short rsa", args: []string{"ssh", "publish", "--name", "a.example.com", filepath.Join(dir, "rsa1024.pub")}, code: 2, stderr: "at least 2048"},
		{name: "two keys", args: []string{"ssh", "publish", "--name", "a.example.com", twoKeys}, code: 2, stderr: "more than one key"},
		{name: "garbage", args: []string{"ssh", "publish", "--name", "a.example.com", garbage}, code: 2, stderr: "garbage.pub"},
		{name: "private key", args: []string{"ssh", "publish", "--name", "a.example.com", filepath.Join(dir, "ed")}, code: 2, stderr: "dance: error:"},
	})
}

// TestSSHAuthorizedKeysCommand runs the command in-process against the
// signed hierarchy: what it prints, its exit codes and its refusals.
func TestSSHAuthorizedKeysCommand(t *testing.T) {
	dir := t.TempDir()
	alice := sshKeygen(t, filepath.Join(dir, "alice"), "ed25519")
	other := sshKeygen(t, filepath.Join(dir, "other"), "ed25519")
	recs, err := sshauth.Records(alice)
	if err != nil {
		t.Fatal(err)
	}
	h := dnstest.Start(t, dnstest.Config{Records: []string{recs[0].ZoneLine("_ssh-client.alice.example.test", 300)}})
	anchors := sshWriteFile(t, filepath.Join(dir, "anchors"), h.Anchors()+"\n", 0o644)
	authz := filepath.Join(dir, "authz")
	if err := os.Mkdir(authz, 0o755); err != nil {
		t.Fatal(err)
	}
	sshWriteFile(t, filepath.Join(authz, "alice"), "# alice's names\n_ssh-client.alice.example.test\nnot a name\n", 0o644)
	sshWriteFile(t, filepath.Join(authz, "nobody"), "_ssh-client.nobody.example.test\n", 0o644)
	sshWriteFile(t, filepath.Join(authz, "open"), "_ssh-client.alice.example.test\n", 0o666)
	sshWriteFile(t, filepath.Join(authz, "outside"), "_ssh-client.alice.example.test\n", 0o644)
	base := []string{"ssh", "authorized-keys", "--dir", authz, "--resolver", h.Addr(), "--anchors", anchors}
	with := func(args ...string) []string { return append(append([]string{}, base...), args...) }
	aliceLine := strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(alice)), "\n") + " dance:_ssh-client.alice.example.test\n"
	offer := func(k ssh.PublicKey) []string {
		f := strings.Fields(string(ssh.MarshalAuthorizedKey(k)))
		return f[:2]
	}
	runCases(t, []cliCase{
		{name: "list", args: with("alice"), code: 0, stdout: "^" + regexp.QuoteMeta(aliceLine) + "$", stderr: "line 3"},
		{name: "offered published key", args: with(append([]string{"alice"}, offer(alice)...)...), code: 0, stdout: "^" + regexp.QuoteMeta(aliceLine) + "$"},
		{name: "offered other key", args: with(append([]string{"alice"}, offer(other)...)...), code: 1, stdout: "^$", stderr: "refused (no-match)"},
		{name: "no record", args: with("nobody"), code: 1, stdout: "^$", stderr: "refused (no-record)"},
		{name: "outside the allow-list", args: with("--allow", "*.people.example.test", "outside"), code: 1, stdout: "^$", stderr: "refused (not-allowed)"},
		{name: "writable file", args: with("open"), code: 2, stdout: "^$", stderr: "writable by group or others"},
		{name: "no file", args: with("carol"), code: 2, stdout: "^$", stderr: "no such file"},
		{name: "bad user", args: with(".."), code: 2, stdout: "^$", stderr: "bad user name"},
		{name: "no user", args: base, code: 2, stderr: "want USER"},
		{name: "two args", args: with("alice", "ssh-ed25519"), code: 2, stderr: "want USER"},
		{name: "bad offered key", args: with("alice", "ssh-ed25519", "AAAA"), code: 2, stderr: "offered key"},
		{name: "zero deadline", args: with("--deadline", "0s", "alice"), code: 2, stderr: "--deadline"},
	})
}

// TestSSHAuthorizedKeysDeadline: a resolver that never answers leaves the
// command to exit at its deadline with no key, long before sshd's
// client would give up.
func TestSSHAuthorizedKeysDeadline(t *testing.T) {
	dir := t.TempDir()
	h := dnstest.Start(t, dnstest.Config{})
	anchors := sshWriteFile(t, filepath.Join(dir, "anchors"), h.Anchors()+"\n", 0o644)
	sshWriteFile(t, filepath.Join(dir, "alice"), "_ssh-client.alice.example.test\n", 0o644)
	// A socket that reads nothing: every query is lost.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var out, errb bytes.Buffer
	start := time.Now()
	code := run(context.Background(), []string{"ssh", "authorized-keys", "--dir", dir, "--resolver", pc.LocalAddr().String(),
		"--anchors", anchors, "--deadline", "200ms", "alice"}, nil, &out, &errb)
	took := time.Since(start)
	if code != 1 || out.Len() != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	if !strings.Contains(errb.String(), "refused (deadline)") && !strings.Contains(errb.String(), "refused (lookup-timeout)") {
		t.Fatalf("stderr %q does not name the deadline", errb.String())
	}
	// Generous bound: the resolver's own timeouts are seconds; the
	// command must not wait for them.
	if took > 3*time.Second {
		t.Fatalf("took %v with a 200ms deadline", took)
	}
}
