package tls13

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/tls13/internal/record"
)

// opensslFiles writes the test PKI as PEM files for the openssl tool.
func opensslFiles(t *testing.T, p *pki) (dir string) {
	t.Helper()
	dir = t.TempDir()
	write := func(name, typ string, der ...[]byte) {
		var b bytes.Buffer
		for _, d := range der {
			pem.Encode(&b, &pem.Block{Type: typ, Bytes: d})
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	key := func(name string, k any) {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		write(name, "PRIVATE KEY", der)
	}
	write("ca.pem", "CERTIFICATE", p.caDER)
	write("server.pem", "CERTIFICATE", p.server.Certificate...)
	key("server.key", p.serverKey)
	for kind, c := range p.clients {
		write("client-"+kind+".pem", "CERTIFICATE", c.Chain...)
		key("client-"+kind+".key", c.PrivateKey)
	}
	return dir
}

func needOpenSSL(t *testing.T) string {
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is not installed (Debian package openssl, in scripts/debian-packages)")
	}
	return path
}

var opensslSuites = map[uint16]string{
	record.TLS_AES_128_GCM_SHA256:       "TLS_AES_128_GCM_SHA256",
	record.TLS_AES_256_GCM_SHA384:       "TLS_AES_256_GCM_SHA384",
	record.TLS_CHACHA20_POLY1305_SHA256: "TLS_CHACHA20_POLY1305_SHA256",
}

// runPeer runs a peer tool to its end with stdin as its input and a
// one-minute limit, and returns what it printed on stdout and stderr.
func runPeer(stdin, bin string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	return cmd.CombinedOutput()
}

// startSServer runs openssl s_server for one connection in -rev mode (it
// answers each line reversed) and returns its address.
func startSServer(t *testing.T, args ...string) string {
	t.Helper()
	bin := needOpenSSL(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"s_server", "-accept", "127.0.0.1:0", "-tls1_3", "-rev", "-naccept", "1"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "ACCEPT "); ok {
			go io.Copy(io.Discard, out)
			return addr
		}
	}
	t.Fatal("openssl s_server did not report its address")
	return ""
}

// TestClientAgainstOpenSSL runs our client against openssl s_server: every
// suite, both groups, a forced HelloRetryRequest and client certificates.
func TestClientAgainstOpenSSL(t *testing.T) {
	p := testPKI(t)
	needOpenSSL(t)
	dir := opensslFiles(t, p)
	cases := map[string]struct {
		suite      uint16
		groups     string
		cliCurves  []CurveID
		wantGroup  CurveID
		wantHRR    bool
		clientCert string
	}{
		"AES-128-GCM X25519":  {suite: record.TLS_AES_128_GCM_SHA256, groups: "X25519", wantGroup: X25519},
		"AES-256-GCM X25519":  {suite: record.TLS_AES_256_GCM_SHA384, groups: "X25519", wantGroup: X25519},
		"ChaCha20 P-256":      {suite: record.TLS_CHACHA20_POLY1305_SHA256, groups: "P-256", cliCurves: []CurveID{CurveP256}, wantGroup: CurveP256},
		"HRR to P-256":        {suite: record.TLS_AES_128_GCM_SHA256, groups: "P-256", wantGroup: CurveP256, wantHRR: true},
		"client cert ECDSA":   {suite: record.TLS_AES_128_GCM_SHA256, groups: "X25519", wantGroup: X25519, clientCert: "ecdsa"},
		"client cert Ed25519": {suite: record.TLS_AES_256_GCM_SHA384, groups: "X25519", wantGroup: X25519, clientCert: "ed25519"},
		"client cert RSA-PSS": {suite: record.TLS_CHACHA20_POLY1305_SHA256, groups: "X25519", wantGroup: X25519, clientCert: "rsa"},
		"AES-256-GCM P-384":   {suite: record.TLS_AES_256_GCM_SHA384, groups: "P-384", cliCurves: []CurveID{CurveP384}, wantGroup: CurveP384},
		"HRR to P-384":        {suite: record.TLS_AES_128_GCM_SHA256, groups: "P-384", wantGroup: CurveP384, wantHRR: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			args := []string{"-cert", filepath.Join(dir, "server.pem"), "-key", filepath.Join(dir, "server.key"),
				"-ciphersuites", opensslSuites[tc.suite], "-groups", tc.groups}
			if tc.clientCert != "" {
				args = append(args, "-Verify", "1", "-CAfile", filepath.Join(dir, "ca.pem"), "-verify_return_error")
			}
			addr := startSServer(t, args...)
			cfg := &Config{ServerName: "server.test", RootCAs: p.roots, CurvePreferences: tc.cliCurves}
			if tc.clientCert != "" {
				cfg.Certificates = []Certificate{p.clients[tc.clientCert]}
			}
			c := dial(t, addr, cfg)
			c.SetDeadline(time.Now().Add(time.Minute))
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write([]byte("dance\n")); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || line != "ecnad\n" {
				t.Fatalf("read %q, %v; want the reversed line", line, err)
			}
			st := c.ConnectionState()
			if st.CipherSuite != tc.suite || st.Group != tc.wantGroup || st.HelloRetried != tc.wantHRR {
				t.Errorf("suite %#04x group %v HRR %v; want %#04x %v %v", st.CipherSuite, st.Group, st.HelloRetried, tc.suite, tc.wantGroup, tc.wantHRR)
			}
			c.Close()
		})
	}
}

// TestServerAgainstOpenSSL runs openssl s_client against our server: every
// suite, both groups, a HelloRetryRequest with cookie, a client
// certificate. s_client sends a line and closes.
func TestServerAgainstOpenSSL(t *testing.T) {
	p := testPKI(t)
	bin := needOpenSSL(t)
	dir := opensslFiles(t, p)
	cases := map[string]struct {
		suite      uint16
		groups     string
		srvCurves  []CurveID
		wantGroup  CurveID
		wantHRR    bool
		clientCert string
	}{
		"AES-128-GCM X25519":  {suite: record.TLS_AES_128_GCM_SHA256, groups: "X25519", wantGroup: X25519},
		"AES-256-GCM P-256":   {suite: record.TLS_AES_256_GCM_SHA384, groups: "P-256", wantGroup: CurveP256},
		"ChaCha20 X25519":     {suite: record.TLS_CHACHA20_POLY1305_SHA256, groups: "X25519", wantGroup: X25519},
		"HRR to P-256":        {suite: record.TLS_AES_128_GCM_SHA256, groups: "X25519:P-256", srvCurves: []CurveID{CurveP256}, wantGroup: CurveP256, wantHRR: true},
		"client cert RSA":     {suite: record.TLS_AES_128_GCM_SHA256, groups: "X25519", wantGroup: X25519, clientCert: "rsa"},
		"client cert Ed25519": {suite: record.TLS_AES_128_GCM_SHA256, groups: "X25519", wantGroup: X25519, clientCert: "ed25519"},
		"AES-256-GCM P-384":   {suite: record.TLS_AES_256_GCM_SHA384, groups: "P-384", wantGroup: CurveP384},
		"HRR to P-384":        {suite: record.TLS_AES_128_GCM_SHA256, groups: "X25519:P-384", srvCurves: []CurveID{CurveP384}, wantGroup: CurveP384, wantHRR: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := ourServerConfig(p)
			cfg.CurvePreferences = tc.srvCurves
			if tc.clientCert != "" {
				cfg.ClientAuth, cfg.ClientCAs = RequireClientCert, p.clientPool
			}
			addr, done := serveOnce(t, cfg)
			args := []string{"s_client", "-connect", addr, "-tls1_3", "-servername", "server.test",
				"-CAfile", filepath.Join(dir, "ca.pem"), "-verify_return_error", "-verify_hostname", "server.test",
				"-ciphersuites", opensslSuites[tc.suite], "-groups", tc.groups}
			if tc.clientCert != "" {
				args = append(args, "-cert", filepath.Join(dir, "client-"+tc.clientCert+".pem"), "-key", filepath.Join(dir, "client-"+tc.clientCert+".key"))
			}
			out, err := runPeer("dance\n", bin, args...)
			if err != nil {
				t.Fatalf("s_client: %v\n%s", err, out)
			}
			r := <-done
			if r.err != nil {
				t.Fatalf("server: %v\ns_client said:\n%s", r.err, out)
			}
			if string(r.data) != "dance\n" {
				t.Errorf("server read %q", r.data)
			}
			st := r.state
			if st.CipherSuite != tc.suite || st.Group != tc.wantGroup || st.HelloRetried != tc.wantHRR {
				t.Errorf("suite %#04x group %v HRR %v; want %#04x %v %v", st.CipherSuite, st.Group, st.HelloRetried, tc.suite, tc.wantGroup, tc.wantHRR)
			}
			// s_client adds the CA from -CAfile to the chain it sends.
			if tc.clientCert != "" && (len(st.PeerCertificates) == 0 || st.PeerCertificates[0].Subject.CommonName != "client-"+tc.clientCert) {
				t.Errorf("client chain %v", st.PeerCertificates)
			}
			if !strings.Contains(string(out), "Verify return code: 0 (ok)") {
				t.Errorf("s_client did not verify our chain:\n%s", out)
			}
		})
	}
}

// serveOnce accepts one connection with our server and reads it to the
// end; the result's data is what it read.
func serveOnce(t *testing.T, cfg *Config) (addr string, done <-chan ourResult) {
	t.Helper()
	return serveConns(t, cfg, 1, func(c *Conn) ([]byte, error) { return io.ReadAll(c) })
}
