package sshauth

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
)

// benchFixture is the signed hierarchy with one SSH key at a name of the
// signed zone example.test. (three zones below the root anchor).
func benchFixture(b *testing.B) (*dnstest.Hierarchy, ssh.PublicKey, string) {
	b.Helper()
	k, _ := edKey(b)
	recs, err := Records(k)
	if err != nil {
		b.Fatal(err)
	}
	const name = "_ssh-client.alice.example.test"
	h := dnstest.Start(b, dnstest.Config{Records: []string{recs[0].ZoneLine(name, 300)}})
	return h, k, name
}

// BenchmarkAuthorizeCold: a new resolver and core for each login, as each
// run of the AuthorizedKeysCommand starts with empty caches; the upstream
// is the in-process hierarchy over loopback UDP.
func BenchmarkAuthorizeCold(b *testing.B) {
	h, k, name := benchFixture(b)
	names := []string{name}
	for _, mode := range []struct {
		name    string
		offered ssh.PublicKey
	}{{"list", nil}, {"offered", k}} {
		b.Run(mode.name, func(b *testing.B) {
			for b.Loop() {
				core := realCore(b, testident.Resolver(b, h, resolver.Config{}), name)
				if res := Authorize(context.Background(), core, names, mode.offered, time.Minute); len(res.Keys) != 1 {
					b.Fatalf("refused: %v", res.Refused)
				}
			}
		})
	}
}

// BenchmarkAuthorizeWarm: one resolver for every login, its cache warm (a
// long-running verifier, or the figure a local caching resolver tends to).
func BenchmarkAuthorizeWarm(b *testing.B) {
	h, k, name := benchFixture(b)
	core := realCore(b, testident.Resolver(b, h, resolver.Config{}), name)
	names := []string{name}
	for _, mode := range []struct {
		name    string
		offered ssh.PublicKey
	}{{"list", nil}, {"offered", k}} {
		b.Run(mode.name, func(b *testing.B) {
			for b.Loop() {
				if res := Authorize(context.Background(), core, names, mode.offered, time.Minute); len(res.Keys) != 1 {
					b.Fatalf("refused: %v", res.Refused)
				}
			}
		})
	}
}

// BenchmarkAuthorizedKeysProcess: what sshd waits for at each login, the
// whole "dance ssh authorized-keys USER TYPE KEY" process (start, flags,
// anchors, a cold validated lookup, output).
func BenchmarkAuthorizedKeysProcess(b *testing.B) {
	h, k, name := benchFixture(b)
	dir := b.TempDir()
	bin := filepath.Join(dir, "dance")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/dance").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "anchors"), []byte(h.Anchors()+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alice"), []byte(name+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	offered := strings.Fields(string(ssh.MarshalAuthorizedKey(k)))
	args := []string{"ssh", "authorized-keys", "--dir", dir, "--resolver", h.Addr(), "--anchors", filepath.Join(dir, "anchors"), "alice", offered[0], offered[1]}
	for b.Loop() {
		out, err := exec.Command(bin, args...).Output()
		if err != nil || !strings.Contains(string(out), CommentPrefix+name) {
			b.Fatalf("%v: %s", err, out)
		}
	}
}
