package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/internal/testwait"
)

// startDotGateCmd runs "dance dot-gate args... --metrics 127.0.0.1:0"
// in-process until the test ends and returns the gate's address, the
// health URL, its stderr and a stop function returning the exit code.
func startDotGateCmd(t *testing.T, args []string) (addr, healthURL string, errb *syncBuffer, stop func() int) {
	t.Helper()
	m, errb, stop := startServeCmd(t, append(append([]string{"dot-gate"}, args...), "--metrics", "127.0.0.1:0"),
		regexp.MustCompile(`(?s)health on (http://127\.0\.0\.1:\d+/healthz).*listening on (127\.0\.0\.1:\d+)`))
	return m[2], m[1], errb, stop
}

// dotGateAsk asks name over a new DoT connection to addr as cert and
// returns the answer and the gate's certificate.
func dotGateAsk(f *proxyFixture, addr string, cert tls.Certificate, name string) (*dns.Msg, []byte, error) {
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: f.pool, ServerName: "proxy.example.test", Certificates: []tls.Certificate{cert}})
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	r, err := dotGateExchange(c, name)
	if err != nil {
		return nil, nil, err
	}
	return r, c.ConnectionState().PeerCertificates[0].Raw, nil
}

// dotGateExchange asks name on an open DoT connection.
func dotGateExchange(c *tls.Conn, name string) (*dns.Msg, error) {
	dc := &dns.Conn{Conn: c}
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	if err := dc.WriteMsg(q); err != nil {
		return nil, err
	}
	return dc.ReadMsg()
}

// TestDotGateReload: SIGHUP reloads the policy (on open connections too),
// the certificate and the trust anchors, logs what it reloaded, and keeps
// the old configuration whole when any part of the new one is bad.
func TestDotGateReload(t *testing.T) {
	f := newProxyFixture(t)
	write := func(name string, data []byte) string {
		t.Helper()
		p := filepath.Join(f.dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	second := testident.SelfSigned(t, "proxy.example.test", identity.KeyECDSAP256)
	cert2 := second.Cert
	f.pool.AddCert(cert2)
	key2PEM, _ := identity.MarshalPrivateKey(second.Key)
	goodAnchors, _ := os.ReadFile(f.anchors)
	policy := write("clients.policy", []byte(f.devName+" example.test rate=0\n"))
	addr, _, errb, stop := startDotGateCmd(t, []string{"--listen", "127.0.0.1:0", "--cert", f.srvCert, "--key", f.srvKey,
		"--upstream", dotGateUpstream(t), "--policy", policy, "--resolver", f.resolver, "--anchors", f.anchors})
	hup := func(want string) { t.Helper(); sighup(t, errb, want) }
	// A connection open across the reloads.
	open, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: f.pool, ServerName: "proxy.example.test", Certificates: []tls.Certificate{f.dev}})
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	_ = open.SetDeadline(time.Now().Add(5 * time.Minute))
	rcode := func(c *tls.Conn, name string) int {
		t.Helper()
		r, err := dotGateExchange(c, name)
		if err != nil {
			t.Fatal(err)
		}
		return r.Rcode
	}
	if rc := rcode(open, "www.example.org."); rc != dns.RcodeRefused {
		t.Fatalf("outside the zones before the reload: %s", dns.RcodeToString[rc])
	}
	r, first, err := dotGateAsk(f, addr, f.dev, "www.example.test.")
	if err != nil || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("before any reload: %v %v", r, err)
	}
	stillOld := func(step string) {
		t.Helper()
		r, got, err := dotGateAsk(f, addr, f.dev, "www.example.org.")
		if err != nil || !bytes.Equal(got, first) || r.Rcode != dns.RcodeRefused {
			t.Fatalf("%s: the old configuration is not in force: %v %v", step, r, err)
		}
	}

	// Anchors under which the zone is bogus, with a new certificate and
	// a wider policy: none of them taken.
	write("srv.pem", identity.MarshalCertificate(cert2))
	write("srv.key", key2PEM)
	write("clients.policy", []byte(f.devName+" example.test example.org rate=0\n"))
	write("anchors", []byte(dnstest.Device+" IN DS 12345 13 2 "+strings.Repeat("AB", 32)+"\n"))
	hup("configuration not reloaded")
	if !strings.Contains(errb.String(), "_device.example.test") {
		t.Errorf("the refused reload does not name the zone: %s", errb.String())
	}
	stillOld("anchors that cannot validate")

	write("anchors", goodAnchors)
	write("srv.pem", []byte("not PEM"))
	hup("certificate not reloaded")
	stillOld("bad certificate")

	write("srv.pem", identity.MarshalCertificate(cert2))
	write("clients.policy", []byte(f.devName+" example.test rate=x\n"))
	hup("policy not reloaded")
	stillOld("bad policy")
	if rc := rcode(open, "www.example.org."); rc != dns.RcodeRefused {
		t.Fatalf("open connection after refused reloads: %s", dns.RcodeToString[rc])
	}

	// All good: the wider policy is in force on the open connection and
	// on new ones, under the new certificate.
	write("clients.policy", []byte(f.devName+" example.test example.org rate=0\n"))
	hup("certificate reloaded")
	for _, want := range []string{"policy reloaded", "trust anchors reloaded", `subject="CN=proxy.example.test"`} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("the reload does not log %q: %s", want, errb.String())
		}
	}
	if rc := rcode(open, "www.example.org."); rc != dns.RcodeSuccess {
		t.Fatalf("open connection after the reload: %s", dns.RcodeToString[rc])
	}
	r, got, err := dotGateAsk(f, addr, f.dev, "www.example.org.")
	if err != nil || r.Rcode != dns.RcodeSuccess || !bytes.Equal(got, cert2.Raw) {
		t.Fatalf("after the reload: %v, new certificate %v, err %v", r, bytes.Equal(got, cert2.Raw), err)
	}

	// A policy without the device: refused at the next query on the open
	// connection, and at the handshake of a new one.
	write("clients.policy", []byte("other._device.example.test .\n"))
	hup("policy reloaded")
	if rc := rcode(open, "www.example.test."); rc != dns.RcodeRefused {
		t.Fatalf("open connection of a device taken off the policy: %s", dns.RcodeToString[rc])
	}
	if r, _, err := dotGateAsk(f, addr, f.dev, "www.example.test."); err == nil {
		t.Fatalf("a device off the policy got an answer: %v", r)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestDotGateRefusesConfigThatCannotValidate: without anchors that lead
// to the policy's zone the gate does not start, and says what to change.
func TestDotGateRefusesConfigThatCannotValidate(t *testing.T) {
	f := newProxyFixture(t)
	policy := filepath.Join(f.dir, "clients.policy")
	if err := os.WriteFile(policy, []byte(f.devName+" .\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"dot-gate", "--listen", "127.0.0.1:0", "--cert", f.srvCert, "--key", f.srvKey,
		"--upstream", "127.0.0.1:1", "--policy", policy, "--resolver", f.resolver}, nil, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "_device.example.test") || !strings.Contains(errb.String(), "no-anchor") ||
		!strings.Contains(errb.String(), "dance: hint: ") || !strings.Contains(errb.String(), "add --anchors FILE") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	if strings.Contains(out.String(), "listening on") {
		t.Fatalf("the gate listened before refusing: %s", out.String())
	}
}

// TestDotGateStartsDuringDNSOutage: a resolver that cannot answer at
// start does not stop the gate; /healthz reports it until the zones
// validate, and clients are admitted then.
func TestDotGateStartsDuringDNSOutage(t *testing.T) {
	old, oldMax := dotGateHealthRetry, dotGateHealthMaxRetry
	dotGateHealthRetry, dotGateHealthMaxRetry = 20*time.Millisecond, 100*time.Millisecond
	t.Cleanup(func() { dotGateHealthRetry, dotGateHealthMaxRetry = old, oldMax })
	f := newProxyFixture(t)
	var down atomic.Bool
	down.Store(true)
	fwd := failingForwarder(t, f.h, &down)
	policy := filepath.Join(f.dir, "clients.policy")
	if err := os.WriteFile(policy, []byte(f.devName+" example.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, healthURL, errb, stop := startDotGateCmd(t, []string{"--listen", "127.0.0.1:0", "--cert", f.srvCert, "--key", f.srvKey,
		"--upstream", dotGateUpstream(t), "--policy", policy, "--resolver", fwd, "--anchors", f.anchors})
	health := func() (int, string) {
		resp, err := http.Get(healthURL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := health(); code != http.StatusServiceUnavailable || !strings.Contains(body, "dot-gate") || !strings.Contains(body, "_device.example.test") {
		t.Fatalf("healthz during the outage: %d %q", code, body)
	}
	if !strings.Contains(errb.String(), "level=ERROR") || !strings.Contains(errb.String(), "did not answer for a zone") {
		t.Errorf("the outage is not logged as an error: %s", errb.String())
	}
	if r, _, err := dotGateAsk(f, addr, f.dev, "www.example.test."); err == nil {
		t.Fatalf("a client got an answer while DNS was down: %v", r)
	}
	down.Store(false)
	testwait.Eventually(t, 30*time.Second, func() error {
		if code, body := health(); code != http.StatusOK || body != "ok\n" {
			return io.ErrNoProgress
		}
		return nil
	})
	// The refusal during the outage may be cached for a short while:
	// wait for the verdict, not for a time.
	testwait.Eventually(t, 30*time.Second, func() error {
		r, _, err := dotGateAsk(f, addr, f.dev, "www.example.test.")
		if err != nil {
			return err
		}
		if r.Rcode != dns.RcodeSuccess {
			t.Fatalf("after the outage: %v", r)
		}
		return nil
	})
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestDotGateRefusalLogLimit: a client refused again and again, with a
// key its name does not publish, or with a name off the policy, costs one
// log line per name, with its address, not one per attempt.
func TestDotGateRefusalLogLimit(t *testing.T) {
	f := newProxyFixture(t)
	policy := filepath.Join(f.dir, "clients.policy")
	if err := os.WriteFile(policy, []byte(f.devName+" example.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, _, errb, stop := startDotGateCmd(t, []string{"--listen", "127.0.0.1:0", "--cert", f.srvCert, "--key", f.srvKey,
		"--upstream", dotGateUpstream(t), "--policy", policy, "--resolver", f.resolver, "--anchors", f.anchors})
	mk := func(name string) tls.Certificate {
		c := testident.SelfSigned(t, name, identity.KeyECDSAP256)
		return tls.Certificate{Certificate: [][]byte{c.Cert.Raw}, PrivateKey: c.Key, Leaf: c.Cert}
	}
	const offName = "intruder._device.example.test"
	stranger, off := mk(f.devName), mk(offName)
	const tries = 5
	for range tries {
		for _, c := range []tls.Certificate{stranger, off} {
			if r, _, err := dotGateAsk(f, addr, c, "www.example.test."); err == nil {
				t.Fatalf("a refused client got an answer: %v", r)
			}
		}
	}
	// The gate logs after the client has gone: wait for both lines.
	testwait.Eventually(t, 30*time.Second, func() error {
		if !strings.Contains(errb.String(), "name="+offName) || !strings.Contains(errb.String(), "name="+f.devName) {
			return io.ErrNoProgress
		}
		return nil
	})
	for _, name := range []string{f.devName, offName} {
		if n := strings.Count(errb.String(), "name="+name); n != 1 {
			t.Errorf("%d log lines for %s refused %d times, want 1:\n%s", n, name, tries, errb.String())
		}
	}
	if !strings.Contains(errb.String(), "remote=127.0.0.1:") {
		t.Errorf("the refusal lines lack the client's address:\n%s", errb.String())
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
