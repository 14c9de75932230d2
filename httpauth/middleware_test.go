package httpauth_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/httpauth"
	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/verify"
)

// setup publishes a device's TLSA record in a signed test hierarchy and
// returns a core anchored to it, the device's certificate and one for a
// device without a record.
func setup(t *testing.T) (*verify.Core, *x509.Certificate, *x509.Certificate) {
	t.Helper()
	dir := t.TempDir()
	mk := func(name string) *x509.Certificate {
		id := testident.SelfSigned(t, name, identity.KeyECDSAP256)
		c := id.Cert
		kp, _ := identity.MarshalPrivateKey(id.Key)
		os.WriteFile(filepath.Join(dir, name+".pem"), identity.MarshalCertificate(c), 0o644)
		os.WriteFile(filepath.Join(dir, name+".key"), kp, 0o600)
		files[c] = filepath.Join(dir, name)
		return c
	}
	good, revoked := mk("good._device.example.test"), mk("revoked._device.example.test")
	rec, err := tlsa.ForCertificate(good, tlsa.DANEEE, tlsa.SelectorSPKI, tlsa.MatchSHA256)
	if err != nil {
		t.Fatal(err)
	}
	h := dnstest.Start(t, dnstest.Config{Records: []string{rec.ZoneLine("good._device.example.test", 300)}})
	r := testident.Resolver(t, h, resolver.Config{})
	allow, _ := verify.ParseAllowList([]string{"*._device.example.test"})
	core, err := verify.New(verify.Config{Allow: allow, Resolver: r})
	if err != nil {
		t.Fatal(err)
	}
	return core, good, revoked
}

// files maps a certificate made by setup to its files, without extension.
var files = map[*x509.Certificate]string{}

func TestMiddleware(t *testing.T) {
	core, good, revoked := setup(t)
	var logs bytes.Buffer
	trusted := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::1/128")}
	m, err := httpauth.New(httpauth.Config{Verifier: core, TrustedProxies: trusted,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := danetls.IdentityFromContext(r.Context())
		fmt.Fprintf(w, "%s %s", id.Name, id.Kind)
	}))
	withCert := func(c *x509.Certificate) http.Header {
		hd := http.Header{}
		httpauth.SetClientCert(hd, []*x509.Certificate{c})
		return hd
	}
	// spelled and also put a certificate in a field named as given, as a
	// client or a careless proxy would.
	spelled := func(name string, c *x509.Certificate) http.Header {
		return http.Header{name: {httpauth.EncodeByteSequence(c.Raw)}}
	}
	also := func(hd http.Header, name string, c *x509.Certificate) http.Header {
		hd[name] = []string{httpauth.EncodeByteSequence(c.Raw)}
		return hd
	}
	tests := []struct {
		name   string
		remote string
		header http.Header
		tls    []*x509.Certificate
		code   int
		body   string
		log    string
	}{
		{"trusted proxy, published device", "192.0.2.7:5000", withCert(good), nil, 200, "good._device.example.test device", ""},
		{"trusted ipv6 proxy", "[2001:db8::1]:5000", withCert(good), nil, 200, "good._device.example.test device", ""},
		{"ipv4-mapped trusted proxy", "[::ffff:192.0.2.7]:5000", withCert(good), nil, 200, "good._device.example.test device", ""},
		{"untrusted address", "198.51.100.7:5000", withCert(good), nil, 403, "Forbidden", "untrusted-proxy"},
		{"untrusted neighbour of a trusted ipv6", "[2001:db8::2]:5000", withCert(good), nil, 403, "Forbidden", "untrusted-proxy"},
		{"trusted proxy, revoked device", "192.0.2.7:5000", withCert(revoked), nil, 403, "Forbidden", "no-record"},
		{"trusted proxy, malformed field", "192.0.2.7:5000", http.Header{"Client-Cert": {":QUFBQQ==:"}}, nil, 403, "Forbidden", "bad-header"},
		{"nothing presented", "192.0.2.7:5000", http.Header{}, nil, 401, "Unauthorized", "no-credential"},
		{"direct TLS client", "198.51.100.7:5000", http.Header{}, []*x509.Certificate{good}, 200, "good._device.example.test device", ""},
		{"direct TLS client, revoked", "198.51.100.7:5000", http.Header{}, []*x509.Certificate{revoked}, 403, "Forbidden", "no-record"},
		{"direct TLS client adding a Client-Cert", "192.0.2.7:5000", withCert(good), []*x509.Certificate{revoked}, 403, "Forbidden", "client-cert-from-tls-client"},
		{"direct TLS client adding a Client_Cert", "192.0.2.7:5000", spelled("Client_cert", good), []*x509.Certificate{good}, 403, "Forbidden", "client-cert-from-tls-client"},
		{"trusted proxy, Client_Cert beside Client-Cert", "192.0.2.7:5000", also(withCert(good), "Client_cert", revoked), nil, 403, "Forbidden", "bad-header"},
		{"trusted proxy, Client_Cert_Chain beside Client-Cert", "192.0.2.7:5000", also(withCert(good), "Client_cert_chain", revoked), nil, 403, "Forbidden", "bad-header"},
		{"trusted proxy, only Client_Cert", "192.0.2.7:5000", spelled("Client_cert", good), nil, 403, "Forbidden", "bad-header"},
		{"untrusted address, only Client_Cert", "198.51.100.7:5000", spelled("Client_cert", good), nil, 403, "Forbidden", "untrusted-proxy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			r := httptest.NewRequest("GET", "/x", nil)
			r.RemoteAddr = tt.remote
			r.Header = tt.header
			if tt.tls != nil {
				r.TLS = &tls.ConnectionState{PeerCertificates: tt.tls}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.code || strings.TrimSpace(w.Body.String()) != tt.body {
				t.Fatalf("got %d %q, want %d %q", w.Code, w.Body.String(), tt.code, tt.body)
			}
			if tt.log != "" && !strings.Contains(logs.String(), "reason="+tt.log) {
				t.Errorf("log %q lacks reason=%s", logs.String(), tt.log)
			}
		})
	}
}

func TestNewChecksConfig(t *testing.T) {
	if _, err := httpauth.New(httpauth.Config{}); err == nil {
		t.Fatal("New without a Verifier accepted")
	}
	core, _, _ := setup(t)
	if _, err := httpauth.New(httpauth.Config{Verifier: core, TrustedProxies: []netip.Prefix{{}}}); err == nil {
		t.Fatal("New with an invalid trusted proxy prefix accepted")
	}
}

// TestDirectTLS is the mode for applications that terminate TLS
// themselves: danetls authenticates the client in the handshake, the
// middleware hands the identity to the handler, curl is the client.
func TestDirectTLS(t *testing.T) {
	core, good, revoked := setup(t)
	m, err := httpauth.New(httpauth.Config{Verifier: core})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := danetls.IdentityFromContext(r.Context())
		fmt.Fprintf(w, "hello %s", id.Name)
	})))
	cert, _ := testident.ServerCert(t)
	srv.TLS = danetls.ServerConfig(&tls.Config{Certificates: []tls.Certificate{cert}}, core)
	srv.Config.ConnContext = danetls.ConnContext
	srv.StartTLS()
	defer srv.Close()
	curl := func(c *x509.Certificate, extra ...string) (string, error) {
		// -k: the test server's own certificate is not what is tested.
		args := append([]string{"-sS", "-k", "--max-time", "30", "--cert", files[c] + ".pem", "--key", files[c] + ".key"}, extra...)
		out, err := exec.Command("curl", append(args, srv.URL+"/")...).CombinedOutput()
		return string(out), err
	}
	if out, err := curl(good); err != nil || out != "hello good._device.example.test" {
		t.Fatalf("published device: %q, %v", out, err)
	}
	// A Client-Cert field on a direct connection is refused: only a proxy
	// may send it.
	if out, err := curl(good, "-H", "Client-Cert: :QUFBQQ==:", "-w", " %{http_code}"); err != nil || !strings.HasSuffix(out, " 403") {
		t.Fatalf("direct client with Client-Cert: %q, %v", out, err)
	}
	// danetls refuses the revoked device in the handshake already.
	if out, err := curl(revoked); err == nil {
		t.Fatalf("revoked device served: %q", out)
	}
}
