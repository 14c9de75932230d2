package danetls

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"

	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/verify"
)

// client returns an HTTP client that trusts srv and presents id (if any).
func client(t testing.TB, srv *httptest.Server, id *ident, base *tls.Config) *http.Client {
	t.Helper()
	if base == nil {
		base = &tls.Config{}
	}
	base.RootCAs = x509.NewCertPool()
	base.RootCAs.AddCert(srv.Certificate())
	cfg := base
	if id != nil {
		cert, err := LoadIdentity(id.dir)
		if err != nil {
			t.Fatal(err)
		}
		cfg = ClientConfig(base, cert)
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func get(c *http.Client, url string) (*verify.Identity, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s: %s", resp.Status, body)
	}
	var id verify.Identity
	if err := json.Unmarshal(body, &id); err != nil {
		return nil, fmt.Errorf("%w: %s", err, body)
	}
	return &id, nil
}

// TestServer: handshakes through a server made by ServerConfig, with
// identities published in the signed hierarchy, authenticate the right
// clients with the right identity and refuse the others with the right
// reason (read from the metrics: the peer learns nothing).
func TestServer(t *testing.T) {
	t.Parallel()
	ec := selfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	ed := selfSigned(t, "sensor2._device.example.test", identity.KeyEd25519)
	rsa := selfSigned(t, "sensor3._device.example.test", identity.KeyRSA2048)
	stranger := selfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	outsider := selfSigned(t, "sensor1._device.other.test", identity.KeyECDSAP256)

	users := testident.NewCA(t, identity.UserCA, "example.test", identity.Options{})
	uca := users.Cert
	aliceKey := testident.Key(t, identity.KeyEd25519)
	aliceCert, err := identity.IssueUser(identity.User{UID: "alice", Domain: identity.MustParseName("example.test")}, aliceKey.Public(), users, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	alice := writeIdent(t, "_user.example.test", aliceKey, aliceCert, uca)

	// Two dNSNames, both published with the same key: still refused.
	twoKey := testident.Key(t, identity.KeyECDSAP256)
	twoCert := certWithNames(t, twoKey, "sensor4._device.example.test", "sensor5._device.example.test")
	two := writeIdent(t, "sensor4._device.example.test", twoKey, twoCert)

	e := newEnv(t, []string{
		testident.EELine(t, "sensor1._device.example.test", ec.key.Public()),
		testident.EELine(t, "sensor2._device.example.test", ed.key.Public()),
		testident.EELine(t, "sensor3._device.example.test", rsa.key.Public()),
		testident.EELine(t, "sensor4._device.example.test", twoKey.Public()),
		testident.EELine(t, "sensor5._device.example.test", twoKey.Public()),
		testident.TALine(t, "_user.example.test", uca),
	}, "*._device.example.test", "_user.example.test")
	srv := startHTTPS(t, e.core)

	tests := []struct {
		name   string
		id     *ident
		kind   identity.Kind
		user   string
		reason verify.Reason // 0: authenticated
	}{
		{name: "ecdsa", id: &ec, kind: identity.KindDevice},
		{name: "ed25519", id: &ed, kind: identity.KindDevice},
		{name: "rsa", id: &rsa, kind: identity.KindDevice},
		{name: "user", id: &alice, kind: identity.KindUser, user: "alice@example.test"},
		{name: "wrong key", id: &stranger, reason: verify.ReasonNoMatch},
		{name: "not allowed", id: &outsider, reason: verify.ReasonNotAllowed},
		{name: "two dNSNames", id: &two, reason: verify.ReasonAmbiguousName},
		{name: "no certificate", reason: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.verdicts(t)
			for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
				c := client(t, srv, tc.id, &tls.Config{MaxVersion: version})
				id, err := get(c, srv.URL)
				if tc.reason != 0 {
					if err == nil {
						t.Fatalf("TLS %x: authenticated as %+v", version, id)
					}
					if strings.Contains(err.Error(), tc.reason.String()) {
						t.Errorf("the reason reached the client: %v", err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("TLS %x: %v", version, err)
				}
				if id.Name != tc.id.name || id.Kind != tc.kind || id.User != tc.user {
					t.Errorf("TLS %x: identity %+v, want %s %s %q", version, id, tc.id.name, tc.kind, tc.user)
				}
			}
			after := e.verdicts(t)
			label := "ok"
			if tc.reason > 0 {
				label = tc.reason.String()
			}
			if tc.reason >= 0 && after[label]-before[label] != 2 {
				t.Errorf("verdicts %v -> %v, want two more %q", before, after, label)
			}
		})
	}
}

// TestNotAllowedFlood: many handshakes claiming names outside the
// allow-list cause no DNS query at all.
func TestNotAllowedFlood(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, "*._device.example.test")
	srv := startHTTPS(t, e.core)
	before := e.h.Queries()
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := selfSigned(t, fmt.Sprintf("sensor%d._device.example.%d.test", i, i), identity.KeyEd25519)
			if _, err := get(client(t, srv, &id, nil), srv.URL); err == nil {
				errs <- fmt.Errorf("%s authenticated", id.name)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if q := e.h.Queries() - before; q != 0 {
		t.Errorf("%d DNS queries for names outside the allow-list, want 0", q)
	}
	if got := e.verdicts(t)["not-allowed"]; got != n {
		t.Errorf("%v not-allowed verdicts, want %d", got, n)
	}
}

// TestResumption: VerifyConnection runs on resumed TLS 1.3 sessions too,
// the identity reaches the handler there, and a client whose name is no
// longer allowed cannot come back with its session ticket.
func TestResumption(t *testing.T) {
	t.Parallel()
	dev := selfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	e := newEnv(t, []string{testident.EELine(t, "sensor1._device.example.test", dev.key.Public())}, "*._device.example.test")
	srv := startHTTPS(t, e.core)
	cache := tls.NewLRUClientSessionCache(8)
	var resumed []bool
	var mu sync.Mutex
	base := func() *tls.Config {
		return &tls.Config{ClientSessionCache: cache, VerifyConnection: func(cs tls.ConnectionState) error {
			mu.Lock()
			resumed = append(resumed, cs.DidResume)
			mu.Unlock()
			return nil
		}}
	}
	for i := range 3 {
		id, err := get(client(t, srv, &dev, base()), srv.URL)
		if err != nil || id.Name != dev.name {
			t.Fatalf("connection %d: %+v, %v", i, id, err)
		}
	}
	if !resumed[len(resumed)-1] {
		t.Fatalf("sessions were not resumed: %v", resumed)
	}
	if got := e.verdicts(t)["ok"]; got != 3 {
		t.Errorf("%v ok verdicts, want 3 (one per handshake, resumed ones included)", got)
	}
	e.core.SetAllowList(mustAllow(t, "other._device.example.test"))
	if id, err := get(client(t, srv, &dev, base()), srv.URL); err == nil {
		t.Fatalf("resumed session of a name no longer allowed authenticated as %+v", id)
	}
	if !resumed[len(resumed)-1] {
		t.Errorf("the refused connection did not resume, the test proves nothing: %v", resumed)
	}
}

func mustAllow(t testing.TB, p ...string) *verify.AllowList {
	a, err := verify.ParseAllowList(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestIdentitiesForgotten: the identity of a live connection stays in the
// store, those of finished connections leave it once the connections are
// garbage.
func TestIdentitiesForgotten(t *testing.T) {
	dev := selfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	e := newEnv(t, []string{testident.EELine(t, dev.name, dev.key.Public())}, dev.name)
	srv := startHTTPS(t, e.core)
	addr := srv.Listener.Addr().String()
	stored := func() int { return storedIdentities(addr) }
	live := client(t, srv, &dev, nil)
	live.Transport.(*http.Transport).DisableKeepAlives = false
	if _, err := get(live, srv.URL); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := get(client(t, srv, &dev, nil), srv.URL); err != nil {
			t.Fatal(err)
		}
	}
	settle := func(want int) int {
		testwait.Until(20*time.Second, func() bool {
			runtime.GC()
			return stored() <= want
		})
		return stored()
	}
	if n := settle(1); n != 1 {
		t.Errorf("%d identities stored with one live connection, want 1", n)
	}
	// The live connection still has its identity.
	if id, err := get(live, srv.URL); err != nil || id.Name != dev.name {
		t.Fatalf("live connection: %+v, %v", id, err)
	}
	live.Transport.(*http.Transport).CloseIdleConnections()
	srv.CloseClientConnections()
	if n := settle(0); n != 0 {
		t.Errorf("%d identities stored after every connection ended, want 0", n)
	}
}

// storedIdentities counts the entries of the identity store for
// connections accepted on the listener at addr.
func storedIdentities(addr string) int {
	conns.Lock()
	defer conns.Unlock()
	n := 0
	for c := range conns.m {
		if c.LocalAddr().String() == addr {
			n++
		}
	}
	return n
}

// TestGetConfigForClient: a configuration chosen per client by the base's
// GetConfigForClient (here one that asks for no client certificate at all)
// still requires and checks one.
func TestGetConfigForClient(t *testing.T) {
	t.Parallel()
	dev := selfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	stranger := selfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	e := newEnv(t, []string{testident.EELine(t, dev.name, dev.key.Public())}, dev.name)
	cert, _ := testident.ServerCert(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(whoami))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Config.ConnContext = ConnContext
	lax := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.NoClientCert}
	srv.TLS = ServerConfig(&tls.Config{Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return lax, nil }}, e.core)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	if id, err := get(client(t, srv, &dev, nil), srv.URL); err != nil || id.Name != dev.name {
		t.Fatalf("published identity: %+v, %v", id, err)
	}
	for _, c := range []*ident{&stranger, nil} {
		// Not even a response: the handshake itself must fail.
		if resp, err := client(t, srv, c, nil).Get(srv.URL); err == nil {
			resp.Body.Close()
			t.Errorf("a client got %s through the per-client configuration", resp.Status)
		}
	}
	if lax.ClientAuth != tls.NoClientCert || lax.VerifyConnection != nil {
		t.Error("the base's per-client configuration was modified")
	}
}
