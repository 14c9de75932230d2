package tls13

import (
	"net"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/record"
)

// TestServerAgainstGnuTLS runs gnutls-cli against our server, with the
// suite and group forced by its priority string, a HelloRetryRequest and a
// client certificate. gnutls-cli sends a line and closes.
func TestServerAgainstGnuTLS(t *testing.T) {
	bin, err := exec.LookPath("gnutls-cli")
	if err != nil {
		t.Fatal("gnutls-cli is not installed (Debian package gnutls-bin, in scripts/debian-packages)")
	}
	p := testPKI(t)
	dir := opensslFiles(t, p)
	cases := map[string]struct {
		suite      uint16
		cipher     string
		groups     string
		srvCurves  []CurveID
		wantGroup  CurveID
		wantHRR    bool
		clientCert string
	}{
		"AES-128-GCM X25519": {suite: record.TLS_AES_128_GCM_SHA256, cipher: "AES-128-GCM", groups: "+GROUP-X25519", wantGroup: X25519},
		"AES-256-GCM P-256":  {suite: record.TLS_AES_256_GCM_SHA384, cipher: "AES-256-GCM", groups: "+GROUP-SECP256R1", wantGroup: CurveP256},
		"ChaCha20 X25519":    {suite: record.TLS_CHACHA20_POLY1305_SHA256, cipher: "CHACHA20-POLY1305", groups: "+GROUP-X25519", wantGroup: X25519},
		// GnuTLS sends shares for its first two groups; P-256 third
		// makes our P-256-only server ask for it.
		"HRR to P-256":        {suite: record.TLS_AES_128_GCM_SHA256, cipher: "AES-128-GCM", groups: "+GROUP-X25519:+GROUP-SECP384R1:+GROUP-SECP256R1", srvCurves: []CurveID{CurveP256}, wantGroup: CurveP256, wantHRR: true},
		"client cert ECDSA":   {suite: record.TLS_AES_128_GCM_SHA256, cipher: "AES-128-GCM", groups: "+GROUP-X25519", wantGroup: X25519, clientCert: "ecdsa"},
		"client cert RSA-PSS": {suite: record.TLS_AES_128_GCM_SHA256, cipher: "AES-128-GCM", groups: "+GROUP-X25519", wantGroup: X25519, clientCert: "rsa"},
		"client cert Ed25519": {suite: record.TLS_AES_128_GCM_SHA256, cipher: "AES-128-GCM", groups: "+GROUP-X25519", wantGroup: X25519, clientCert: "ed25519"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := ourServerConfig(p)
			cfg.CurvePreferences = tc.srvCurves
			if tc.clientCert != "" {
				cfg.ClientAuth, cfg.ClientCAs = RequireClientCert, p.clientPool
			}
			addr, done := serveOnce(t, cfg)
			_, port, _ := net.SplitHostPort(addr)
			args := []string{"--port", port, "--sni-hostname", "server.test", "--verify-hostname", "server.test",
				"--x509cafile", filepath.Join(dir, "ca.pem"),
				"--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+" + tc.cipher + ":-GROUP-ALL:" + tc.groups}
			if tc.clientCert != "" {
				args = append(args, "--x509certfile", filepath.Join(dir, "client-"+tc.clientCert+".pem"),
					"--x509keyfile", filepath.Join(dir, "client-"+tc.clientCert+".key"))
			}
			args = append(args, "127.0.0.1")
			out, err := runPeer("dance\n", bin, args...)
			if err != nil {
				t.Fatalf("gnutls-cli: %v\n%s", err, out)
			}
			r := <-done
			if r.err != nil {
				t.Fatalf("server: %v\ngnutls-cli said:\n%s", r.err, out)
			}
			if string(r.data) != "dance\n" {
				t.Errorf("server read %q\ngnutls-cli said:\n%s", r.data, out)
			}
			st := r.state
			if st.CipherSuite != tc.suite || st.Group != tc.wantGroup || st.HelloRetried != tc.wantHRR {
				t.Errorf("suite %#04x group %v HRR %v; want %#04x %v %v", st.CipherSuite, st.Group, st.HelloRetried, tc.suite, tc.wantGroup, tc.wantHRR)
			}
			if tc.clientCert != "" && (len(st.PeerCertificates) == 0 || st.PeerCertificates[0].Subject.CommonName != "client-"+tc.clientCert) {
				t.Errorf("client chain %v", st.PeerCertificates)
			}
		})
	}
}
