package main

import (
	"bytes"
	"context"
	"crypto"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/verify"
)

// rotateClock is a clock the test moves by hand.
type rotateClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *rotateClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *rotateClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// rotateVerifier is a verifier with a cache, as a TLS server running the
// verification core has: a validating resolver and a core on a clock of
// their own, asking the zone server at addr.
type rotateVerifier struct {
	t     *testing.T
	clock *rotateClock
	core  *verify.Core
}

func newRotateVerifier(t *testing.T, addr, zdir string) *rotateVerifier {
	t.Helper()
	f, err := os.Open(filepath.Join(zdir, "anchors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	anchors, err := resolver.ParseAnchors(f)
	if err != nil {
		t.Fatal(err)
	}
	clock := &rotateClock{t: time.Now()}
	r, err := resolver.New(resolver.Config{Upstreams: []string{addr}, Anchors: anchors, Time: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	allow, err := verify.ParseAllowList([]string{"*._device.devices.test"})
	if err != nil {
		t.Fatal(err)
	}
	core, err := verify.New(verify.Config{Allow: allow, Resolver: r, Time: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &rotateVerifier{t: t, clock: clock, core: core}
}

// accepts says whether the verifier authenticates the certificate chain of
// file.
func (v *rotateVerifier) accepts(file string) bool {
	v.t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		v.t.Fatal(err)
	}
	chain, err := identity.ParseCertificates(b)
	if err != nil {
		v.t.Fatal(err)
	}
	_, err = v.core.VerifyCertificate(context.Background(), chain)
	return err == nil
}

// copyCert keeps a copy of a certificate file that a rotation replaces.
func copyCert(t *testing.T, from, to string) string {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return to
}

// TestIDRotate rotates a device's key through the zone's admin API, found
// from the zone directory alone. The first run is interrupted while it
// waits: the new record is then published beside the old, a verifier that
// had cached the old record set accepts the new key only once that TTL has
// passed (why a one-step replace fails), and every verifier accepts both
// keys. The second run continues from the state in the identity's
// directory, waits only what is left, moves the new key into the directory
// and retires the old record: a verifier with a cache accepts the old key
// until the TTL has passed, then only the new one.
func TestIDRotate(t *testing.T) {
	dir := t.TempDir()
	zdir := filepath.Join(dir, "zone")
	idMust(t, "zone", "init", "--zone", "devices.test", "--dir", zdir)
	addr, _, _, _ := adminServe(t, zdir)
	const name = "sensor1._device.devices.test"
	iddir := filepath.Join(dir, "sensor1")
	_, params, data := idParseLine(t, idMust(t, "id", "new", "--name", name, "--out", iddir))
	const ttl = 60 * time.Second
	runCases(t, []cliCase{{"publish the old key, --dir alone", []string{"zone", "add", "--dir", zdir, "--ttl", "60", name, "TLSA", params + " " + data}, 0, `^` + name + `: 1 record\(s\) published, serial \d+\n$`, ""}})
	oldCert := copyCert(t, filepath.Join(iddir, "cert.pem"), filepath.Join(dir, "old.pem"))

	cached := newRotateVerifier(t, addr, zdir)
	if !cached.accepts(oldCert) {
		t.Fatal("before the rotation: the old key is refused")
	}

	clock := &rotateClock{t: time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)}
	saved := []any{rotateNow, rotateSleep}
	t.Cleanup(func() {
		rotateNow, rotateSleep = saved[0].(func() time.Time), saved[1].(func(context.Context, time.Duration) error)
	})
	rotateNow = clock.Now
	rotate := []string{"id", "rotate", "--out", iddir, "--zone-dir", zdir}

	// The first run: interrupted while it waits.
	slept := make(chan time.Duration, 1)
	rotateSleep = func(ctx context.Context, d time.Duration) error {
		slept <- d
		<-ctx.Done()
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out1, err1 bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, rotate, nil, &out1, &err1) }()
	select {
	case d := <-slept:
		if d != ttl {
			t.Errorf("first run waits %v, want the record set's TTL %v", d, ttl)
		}
	case code := <-done:
		t.Fatalf("rotate exited %d before waiting\nstdout %s\nstderr %s", code, out1.String(), err1.String())
	case <-time.After(60 * time.Second):
		t.Fatal("rotate did not start waiting")
	}
	newCert := filepath.Join(iddir, "next", "cert.pem")
	list := []string{"zone", "list", "--dir", zdir}
	runCases(t, []cliCase{{"during: both records published", list, 0, `(?s)^` + name + `\.\t60\tIN\tTLSA\t3 1 1 [0-9a-f]{64}\n` + name + `\.\t60\tIN\tTLSA\t3 1 1 [0-9a-f]{64}\n$`, ""}})
	if !cached.accepts(oldCert) {
		t.Error("during: a verifier with the old record set cached refuses the old key")
	}
	if cached.accepts(newCert) {
		t.Error("during: a verifier with the old record set cached accepts the new key before the TTL has passed (the test shows nothing)")
	}
	cached.clock.Advance(ttl + time.Second)
	if !cached.accepts(oldCert) || !cached.accepts(newCert) {
		t.Errorf("during, once the TTL has passed: old accepted %v, new accepted %v; want both", cached.accepts(oldCert), cached.accepts(newCert))
	}
	fresh := newRotateVerifier(t, addr, zdir)
	if !fresh.accepts(oldCert) || !fresh.accepts(newCert) {
		t.Errorf("during, a new verifier: old accepted %v, new accepted %v; want both", fresh.accepts(oldCert), fresh.accepts(newCert))
	}
	// A second run while the first holds the directory exits at once,
	// saying so, and changes nothing. Without the lock it would continue
	// the rotation and wait (until its context ends, here).
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	var out2nd, err2nd bytes.Buffer
	code2 := run(ctx2, rotate, nil, &out2nd, &err2nd)
	cancel2()
	if code2 != 1 || !strings.Contains(err2nd.String(), "another 'dance id rotate' is running") || !strings.Contains(err2nd.String(), "rotate.lock") {
		t.Errorf("a second rotate at once exited %d\nstdout %s\nstderr %s\nwant exit 1 and an error naming the lock", code2, out2nd.String(), err2nd.String())
	}
	if out2nd.Len() != 0 {
		t.Errorf("the refused second run printed %q", out2nd.String())
	}
	runCases(t, []cliCase{{"after a refused second run: still both records", list, 0, `(?s)^` + name + `\.\t60\tIN\tTLSA\t3 1 1 [0-9a-f]{64}\n` + name + `\.\t60\tIN\tTLSA\t3 1 1 [0-9a-f]{64}\n$`, ""}})
	cancel()
	if code := <-done; code != 1 {
		t.Errorf("interrupted rotate exited %d, want 1", code)
	}
	wantOut := `^` + name + `: new ecdsa-p256 key made in .*next\n` +
		name + `: new key published beside the old, serial \d+ \(record set TTL 60 s\)\n` +
		name + `: old key accepted until 2026-12-03T06:02:00Z \(if retired on time\), new key usable from 2026-12-03T06:01:00Z\n` +
		name + `: waiting 1m0s, until 2026-12-03T06:01:00Z, .*\n$`
	if !regexp.MustCompile(wantOut).MatchString(out1.String()) {
		t.Errorf("first run printed\n%s\nwant to match\n%s", out1.String(), wantOut)
	}
	if !strings.Contains(err1.String(), "interrupted") || !strings.Contains(err1.String(), "run the same command again") {
		t.Errorf("first run's stderr %q does not say to run it again", err1.String())
	}
	if !bytes.Equal(mustRead(t, filepath.Join(iddir, "cert.pem")), mustRead(t, oldCert)) {
		t.Error("after the interruption, the directory no longer holds the old certificate")
	}

	// The second run, 20 s later: continues, waits the 40 s left.
	clock.Advance(20 * time.Second)
	var resumed time.Duration
	rotateSleep = func(_ context.Context, d time.Duration) error {
		resumed = d
		clock.Advance(d)
		return nil
	}
	var out2, err2 bytes.Buffer
	if code := run(context.Background(), rotate, nil, &out2, &err2); code != 0 {
		t.Fatalf("resumed rotate exited %d\nstdout %s\nstderr %s", code, out2.String(), err2.String())
	}
	if resumed != 40*time.Second {
		t.Errorf("resumed run waits %v, want the 40s left", resumed)
	}
	wantOut = `^` + name + `: continuing the rotation \(published\)\n` +
		name + `: waiting 40s, until 2026-12-03T06:01:00Z, .*\n` +
		name + `: .*sensor1 now holds the new key: reload whatever presents it\n` +
		name + `: old key retired, serial \d+\n` +
		name + `: old key accepted until 2026-12-03T06:02:00Z, new key usable from 2026-12-03T06:01:00Z\n$`
	if !regexp.MustCompile(wantOut).MatchString(out2.String()) {
		t.Errorf("second run printed\n%s\nwant to match\n%s", out2.String(), wantOut)
	}
	for _, gone := range []string{"rotate.json", "next"} {
		if _, err := os.Stat(filepath.Join(iddir, gone)); !os.IsNotExist(err) {
			t.Errorf("%s left in the identity's directory after the rotation (%v)", gone, err)
		}
	}
	// The directory holds the new key and a certificate for it.
	checkPair(t, iddir)
	curCert := filepath.Join(iddir, "cert.pem")
	if bytes.Equal(mustRead(t, curCert), mustRead(t, oldCert)) {
		t.Fatal("cert.pem is still the old certificate")
	}
	runCases(t, []cliCase{{"after: only the new record", list, 0, `^` + name + `\.\t60\tIN\tTLSA\t3 1 1 [0-9a-f]{64}\n$`, ""}})

	// A verifier with a cache: the old key until the TTL has passed, then
	// only the new one.
	if !cached.accepts(oldCert) || !cached.accepts(curCert) {
		t.Errorf("after, cached: old accepted %v, new accepted %v; want both until the TTL has passed", cached.accepts(oldCert), cached.accepts(curCert))
	}
	cached.clock.Advance(ttl + time.Second)
	if cached.accepts(oldCert) || !cached.accepts(curCert) {
		t.Errorf("after the TTL, cached: old accepted %v, new accepted %v; want only the new", cached.accepts(oldCert), cached.accepts(curCert))
	}
	fresh = newRotateVerifier(t, addr, zdir)
	if fresh.accepts(oldCert) || !fresh.accepts(curCert) {
		t.Errorf("after, a new verifier: old accepted %v, new accepted %v; want only the new", fresh.accepts(oldCert), fresh.accepts(curCert))
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkPair checks that dir's key.pem and cert.pem belong together.
func checkPair(t *testing.T, dir string) {
	t.Helper()
	key, err := identity.ParsePrivateKey(mustRead(t, filepath.Join(dir, "key.pem")))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := identity.ParseCertificate(mustRead(t, filepath.Join(dir, "cert.pem")))
	if err != nil {
		t.Fatal(err)
	}
	if !idSamePublicKey(cert.PublicKey, key.Public()) {
		t.Errorf("%s: cert.pem is not for key.pem", dir)
	}
}

// TestIDRotateCAAndRefusals: a CA-issued device rotates with its CA (the
// new certificate chain issued by it); what cannot be rotated safely is
// refused before anything is made or published; and a name revoked during
// a rotation keeps its revocation: the old record is not retired by a
// replace that would lift it.
func TestIDRotateCAAndRefusals(t *testing.T) {
	dir := t.TempDir()
	zdir := filepath.Join(dir, "zone")
	idMust(t, "zone", "init", "--zone", "devices.test", "--dir", zdir)
	adminServe(t, zdir)
	saved := []any{rotateNow, rotateSleep}
	t.Cleanup(func() {
		rotateNow, rotateSleep = saved[0].(func() time.Time), saved[1].(func(context.Context, time.Duration) error)
	})
	clock := &rotateClock{t: time.Now()}
	rotateNow = clock.Now
	rotateSleep = func(_ context.Context, d time.Duration) error { clock.Advance(d); return nil }

	ca, other := filepath.Join(dir, "ca"), filepath.Join(dir, "other")
	idMust(t, "ca", "new", "--name", "devices.test", "--out", ca)
	idMust(t, "ca", "new", "--name", "devices.test", "--out", other)
	// newID makes an identity (issued by ca when issued is set) and
	// publishes its record when publish is set.
	newID := func(name string, issued, publish bool) string {
		out := filepath.Join(dir, name)
		args := []string{"id", "new", "--name", name + "._device.devices.test", "--out", out}
		if issued {
			args = append(args, "--ca", filepath.Join(ca, "cert.pem"), "--ca-key", filepath.Join(ca, "key.pem"))
		}
		line := idMust(t, args...)
		if publish {
			if _, errs, code := idRun(t, line, "zone", "add", "--dir", zdir, "--from", "-"); code != 0 {
				t.Fatalf("zone add: %s", errs)
			}
		}
		return out
	}
	withCA := func(c string) []string {
		return []string{"--ca", filepath.Join(c, "cert.pem"), "--ca-key", filepath.Join(c, "key.pem")}
	}
	rotate := func(out string, extra ...string) []string {
		return append([]string{"id", "rotate", "--out", out, "--zone-dir", zdir}, extra...)
	}

	dev := newID("ca1", true, true)
	selfSigned := newID("self1", false, true)
	unpublished := newID("self2", false, false)
	revoked := newID("self3", false, true)
	idMust(t, "zone", "revoke", "--dir", zdir, "self3._device.devices.test")
	list := []string{"zone", "list", "--dir", zdir}
	before := idMust(t, list...)
	for _, tt := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no --out", []string{"id", "rotate", "--zone-dir", zdir}, "--out DIR is required"},
		{"CA-issued without its CA", rotate(dev), "needs its CA"},
		{"another CA", rotate(dev, withCA(other)...), "did not issue"},
		{"self-signed with a CA", rotate(selfSigned, withCA(ca)...), "is self-signed"},
		{"not published", rotate(unpublished), "holds no record of the key"},
		{"revoked", rotate(revoked), "is revoked"},
		{"no API credentials", []string{"id", "rotate", "--out", selfSigned}, "--zone-dir, --token-file or --api-identity is required"},
		{"RFC 2136 and the admin API", rotate(selfSigned, "--server", "127.0.0.1:1", "--tsig", filepath.Join(zdir, "tsig.key")), "do not go with it"},
		{"--server without --tsig", []string{"id", "rotate", "--out", selfSigned, "--server", "127.0.0.1:1"}, "--server and --tsig go together"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, errs, code := idRun(t, "", tt.args...)
			if code != 2 || !strings.Contains(errs, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errs, tt.stderr)
			}
			if after := idMust(t, list...); after != before {
				t.Errorf("the zone changed:\n%s\nwas\n%s", after, before)
			}
			for _, d := range []string{dev, selfSigned, unpublished, revoked} {
				for _, f := range []string{"rotate.json", "next"} {
					if _, err := os.Stat(filepath.Join(d, f)); err == nil {
						t.Errorf("%s left in %s", f, d)
					}
				}
			}
		})
	}

	// The CA-issued device, with its CA.
	oldChain := mustRead(t, filepath.Join(dev, "cert.pem"))
	out := idMust(t, rotate(dev, withCA(ca)...)...)
	if !strings.Contains(out, "ca1._device.devices.test: old key retired") {
		t.Errorf("rotate printed %q", out)
	}
	checkPair(t, dev)
	chain, err := identity.ParseCertificates(mustRead(t, filepath.Join(dev, "cert.pem")))
	if err != nil || len(chain) != 2 || bytes.Equal(mustRead(t, filepath.Join(dev, "cert.pem")), oldChain) {
		t.Fatalf("after rotation, cert.pem: %d certificates (%v), changed %v; want a new chain of 2", len(chain), err, !bytes.Equal(mustRead(t, filepath.Join(dev, "cert.pem")), oldChain))
	}
	caCert, err := identity.ParseCertificate(mustRead(t, filepath.Join(ca, "cert.pem")))
	if err != nil {
		t.Fatal(err)
	}
	if err := chain[0].CheckSignatureFrom(caCert); err != nil || !chain[1].Equal(caCert) {
		t.Errorf("the new certificate is not issued by the CA (%v) or not followed by it", err)
	}
	runCases(t, []cliCase{{"one record at the rotated name", append(list, "--under", "ca1._device.devices.test"), 0, `^ca1\._device\.devices\.test\.\t300\tIN\tTLSA\t3 1 1 [0-9a-f]{64}\n$`, ""}})

	// Revoked while the rotation waits: the revocation stands.
	rotateSleep = func(ctx context.Context, d time.Duration) error { return context.Canceled }
	if _, _, code := idRun(t, "", rotate(selfSigned)...); code != 1 {
		t.Fatalf("interrupted rotation exited %d, want 1", code)
	}
	idMust(t, "zone", "revoke", "--dir", zdir, "self1._device.devices.test")
	rotateSleep = func(_ context.Context, d time.Duration) error { clock.Advance(d); return nil }
	_, errs, code := idRun(t, "", rotate(selfSigned)...)
	if code != 2 || !strings.Contains(errs, "revoked during the rotation") {
		t.Errorf("rotation of a name revoked meanwhile: exit %d, stderr %q", code, errs)
	}
	runCases(t, []cliCase{{"the revocation stands", append(list, "--under", "self1._device.devices.test"), 0, `^self1\._device\.devices\.test\.\t300\tIN\tTLSA\trevoked `, ""}})
}

// TestIDRotateUpdate rotates a raw public key by RFC 2136 updates, as on
// any primary: while the rotation waits, the name holds both records;
// after, only the new one, which matches DIR's new key.
func TestIDRotateUpdate(t *testing.T) {
	dir := t.TempDir()
	zdir := filepath.Join(dir, "zone")
	idMust(t, "zone", "init", "--zone", "devices.test", "--dir", zdir)
	addr, _, _, _ := adminServe(t, zdir)
	const name = "_mqtt-client.gw1.devices.test"
	iddir := filepath.Join(dir, "gw1")
	_, params, data := idParseLine(t, idMust(t, "id", "new", "--name", name, "--rpk", "--key", "ed25519", "--out", iddir))
	tsig := filepath.Join(zdir, "tsig.key")
	idMust(t, "id", "publish", "--server", addr, "--tsig", tsig, "--ttl", "30", name, "TLSA", params+" "+data)
	oldPub := mustRead(t, filepath.Join(iddir, "pubkey.pem"))

	saved := []any{rotateNow, rotateSleep}
	t.Cleanup(func() {
		rotateNow, rotateSleep = saved[0].(func() time.Time), saved[1].(func(context.Context, time.Duration) error)
	})
	clock := &rotateClock{t: time.Now().Truncate(time.Second)}
	rotateNow = clock.Now
	list := []string{"zone", "list", "--dir", zdir, "--under", name}
	var during string
	var waited time.Duration
	rotateSleep = func(_ context.Context, d time.Duration) error {
		during, waited = idMust(t, list...), d
		clock.Advance(d)
		return nil
	}
	out := idMust(t, "id", "rotate", "--out", iddir, "--name", name, "--server", addr, "--tsig", tsig)
	if waited != 30*time.Second {
		t.Errorf("waited %v, want the TTL of 30s", waited)
	}
	if n := strings.Count(during, "\tTLSA\t3 1 1 "); n != 2 || !strings.Contains(during, data) {
		t.Errorf("while waiting the zone held\n%s\nwant the old record and a new one", during)
	}
	if !regexp.MustCompile(`new ed25519 key made[^\n]*\n.*new key published beside the old, serial \d+ \(record set TTL 30 s\)\n(?s:.*)old key retired, serial \d+\n`).MatchString(out) {
		t.Errorf("rotate printed\n%s", out)
	}
	key, err := identity.ParsePrivateKey(mustRead(t, filepath.Join(iddir, "key.pem")))
	if err != nil {
		t.Fatal(err)
	}
	newPub := mustRead(t, filepath.Join(iddir, "pubkey.pem"))
	if bytes.Equal(newPub, oldPub) {
		t.Fatal("pubkey.pem not replaced")
	}
	rec, err := tlsaForKey(key)
	if err != nil {
		t.Fatal(err)
	}
	runCases(t, []cliCase{{"after: only the new record", list, 0, `^` + regexp.QuoteMeta(name) + `\.\t30\tIN\tTLSA\t` + rec + `\n$`, ""}})
}

// tlsaForKey is the 3 1 1 record (RDATA) of a private key's public key.
func tlsaForKey(key crypto.Signer) (string, error) {
	r, err := tlsa.ForPublicKey(key.Public(), tlsa.DANEEE, tlsa.MatchSHA256)
	return r.String(), err
}
