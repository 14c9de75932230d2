package danetls

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/verify"
	"github.com/prometheus/client_golang/prometheus"
)

// ident is an identity on disk, as "dance id new" writes it.
type ident struct {
	name string
	dir  string
	key  crypto.Signer
	cert []*x509.Certificate
}

func (i ident) certFile() string { return filepath.Join(i.dir, CertFile) }
func (i ident) keyFile() string  { return filepath.Join(i.dir, KeyFile) }

func writeIdent(t testing.TB, name string, key crypto.Signer, chain ...*x509.Certificate) ident {
	t.Helper()
	return ident{name: name, dir: testident.Write(t, key, chain...), key: key, cert: chain}
}

// selfSigned makes an identity with its own key and writes it to disk.
func selfSigned(t testing.TB, name string, kt identity.KeyType) ident {
	t.Helper()
	c := testident.SelfSigned(t, name, kt)
	return writeIdent(t, name, c.Key, c.Cert)
}

// env is a signed hierarchy, the project's resolver and a verification
// core with its own metrics registry.
type env struct {
	h    *dnstest.Hierarchy
	core *verify.Core
	reg  *prometheus.Registry
}

func newEnv(t testing.TB, records []string, allow ...string) *env {
	t.Helper()
	h := dnstest.Start(t, dnstest.Config{Records: records})
	r := testident.Resolver(t, h, resolver.Config{})
	al, err := verify.ParseAllowList(allow)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	core, err := verify.New(verify.Config{Resolver: r, Allow: al, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return &env{h: h, core: core, reg: reg}
}

// verdicts reads dance_verify_verdicts_total by result.
func (e *env) verdicts(t testing.TB) map[string]float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "dance_verify_verdicts_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if v := m.GetCounter().GetValue(); v != 0 {
				out[m.GetLabel()[0].GetValue()] = v
			}
		}
	}
	return out
}

// whoami answers with the identity the request came with, as JSON, both
// through IdentityFromRequest and IdentityFromContext.
func whoami(w http.ResponseWriter, r *http.Request) {
	id, ok := IdentityFromRequest(r)
	id2, ok2 := IdentityFromContext(r.Context())
	if !ok || !ok2 || id.Name != id2.Name {
		http.Error(w, fmt.Sprintf("no identity: %v %v", ok, ok2), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(id)
}

// startHTTPS starts an HTTPS server built with ServerConfig. The server
// certificate and protocols are in the configuration given to
// ServerConfig: httptest sets its own only on its copy.
func startHTTPS(t testing.TB, v verify.Verifier) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(whoami))
	srv.EnableHTTP2 = true
	srv.Config.ConnContext = ConnContext
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	cert, _ := testident.ServerCert(t)
	srv.TLS = ServerConfig(&tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}, v)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// caFile writes the test server's certificate for outside clients.
func caFile(t testing.TB, srv *httptest.Server) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "server-ca.pem")
	if err := os.WriteFile(f, identity.MarshalCertificate(srv.Certificate()), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}
