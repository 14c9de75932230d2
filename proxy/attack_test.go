package proxy_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/proxy"
)

// TestNotAllowedCausesNoLookups: a flood of handshakes claiming names
// outside the allow-list is refused without a single DNS query
// (architecture §4.1.1, §6.4); the published, allowed client is still
// served meanwhile.
func TestNotAllowedCausesNoLookups(t *testing.T) {
	w := newWorld(t)
	var hits sync.Map
	backend := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		hits.Store(r.Header.Get(proxy.DefaultNameHeader), true)
	}))
	defer backend.Close()
	addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModeHTTP, Backend: backend.URL})
	// Every outsider has its own name, so no verdict cache can help.
	var outsiders []tls.Certificate
	for i := range 40 {
		c := newClient(t, t.TempDir(), "host"+string(rune('a'+i%26))+string(rune('a'+i/26))+".example.test", identity.KeyECDSAP256)
		outsiders = append(outsiders, c.pair)
	}
	before := w.h.Queries()
	var wg sync.WaitGroup
	errs := make(chan error, len(outsiders))
	for _, pair := range outsiders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conf := w.clientTLS(w.clients[ecdsaClient])
			conf.Certificates = []tls.Certificate{pair}
			cl := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: conf}}
			resp, err := cl.Get("https://" + addr + "/")
			if err == nil {
				resp.Body.Close()
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if n := len(errs); n > 0 {
		t.Fatalf("%d outsiders were served", n)
	}
	if q := w.h.Queries() - before; q != 0 {
		t.Fatalf("%d DNS queries for names outside the allow-list, want 0", q)
	}
	if out, errb, err := w.curl(t, w.clients[ecdsaClient], "https://"+addr+"/"); err != nil {
		t.Fatalf("allowed client after the flood: %v %s %s", err, out, errb)
	}
	if _, ok := hits.Load(w.clients[ecdsaClient].name); !ok {
		t.Fatal("the allowed client did not reach the backend")
	}
}

// TestTwoNamesRefused: a certificate with two dNSNames claims two
// identities and is refused, even when both names are published.
func TestTwoNamesRefused(t *testing.T) {
	w := newWorld(t)
	backend, hits := echoBackend(t)
	addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModeHTTP, Backend: backend.URL})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "two"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames:    []string{w.clients[ecdsaClient].name, w.clients[rsaClient].name},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	dir := t.TempDir()
	kp, _ := identity.MarshalPrivateKey(key)
	c := &client{cert: cert, certFile: filepath.Join(dir, "two.pem"), keyFile: filepath.Join(dir, "two.key")}
	os.WriteFile(c.certFile, identity.MarshalCertificate(cert), 0o644)
	os.WriteFile(c.keyFile, kp, 0o600)
	if out, _, err := w.curl(t, c, "https://"+addr+"/"); err == nil {
		t.Fatalf("a certificate with two names was served: %q", out)
	}
	if hits.Load() != 0 {
		t.Fatal("the backend was reached")
	}
}
