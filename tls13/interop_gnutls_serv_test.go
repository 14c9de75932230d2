package tls13

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/daemon"
	"github.com/dnsbound/dance/tls13/internal/record"
)

// startGnuTLSServ runs gnutls-serv with args on a port it picks and returns
// its 127.0.0.1 address once it accepts connections; gnutls-serv has no
// option to bind one address or to report a port it chose, so
// daemon.Start retries on another port if the one picked was taken. The
// process is killed when the test ends.
func startGnuTLSServ(t *testing.T, args ...string) string {
	t.Helper()
	bin := daemon.Tool(t, "gnutls-serv")
	return daemon.Start(t, daemon.Spec{
		Name: "gnutls-serv",
		Command: func(port int) *exec.Cmd {
			return exec.Command(bin, append([]string{"--port", strconv.Itoa(port)}, args...)...)
		},
		Ready: func(addr string) bool {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return false
			}
			c.Close()
			return true
		},
	})
}

// gnutlsPriority is a TLS 1.3-only priority string with one cipher and the
// given groups.
func gnutlsPriority(cipher, groups string) string {
	return "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+" + cipher + ":-GROUP-ALL:" + groups
}

// echoLine writes a line and reads it back.
func echoLine(t *testing.T, c *Conn, line string) {
	t.Helper()
	if _, err := c.Write([]byte(line)); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(line))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != line {
		t.Fatalf("echo %q, %v; want %q", got, err, line)
	}
}

// TestClientAgainstGnuTLSServ runs our client against gnutls-serv in echo
// mode: every suite and group GnuTLS shares with us, a forced
// HelloRetryRequest, client certificates, resumption with its tickets and
// KeyUpdates both ways.
func TestClientAgainstGnuTLSServ(t *testing.T) {
	p := testPKI(t)
	dir := opensslFiles(t, p)
	cases := map[string]struct {
		suite      uint16
		cipher     string
		groups     string
		wantGroup  CurveID
		wantHRR    bool
		clientCert string
	}{
		"AES-128-GCM X25519":  {suite: record.TLS_AES_128_GCM_SHA256, cipher: "AES-128-GCM", groups: "+GROUP-X25519", wantGroup: X25519},
		"AES-256-GCM P-256":   {suite: record.TLS_AES_256_GCM_SHA384, cipher: "AES-256-GCM", groups: "+GROUP-SECP256R1", wantGroup: CurveP256, wantHRR: true},
		"ChaCha20 P-384":      {suite: record.TLS_CHACHA20_POLY1305_SHA256, cipher: "CHACHA20-POLY1305", groups: "+GROUP-SECP384R1", wantGroup: CurveP384, wantHRR: true},
		"AES-256-GCM X25519":  {suite: record.TLS_AES_256_GCM_SHA384, cipher: "AES-256-GCM", groups: "+GROUP-X25519", wantGroup: X25519},
		"client cert ECDSA":   {suite: record.TLS_AES_128_GCM_SHA256, cipher: "AES-128-GCM", groups: "+GROUP-X25519", wantGroup: X25519, clientCert: "ecdsa"},
		"client cert Ed25519": {suite: record.TLS_AES_128_GCM_SHA256, cipher: "AES-128-GCM", groups: "+GROUP-X25519", wantGroup: X25519, clientCert: "ed25519"},
		"client cert RSA-PSS": {suite: record.TLS_CHACHA20_POLY1305_SHA256, cipher: "CHACHA20-POLY1305", groups: "+GROUP-X25519", wantGroup: X25519, clientCert: "rsa"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			args := []string{"--echo", "--x509certfile", filepath.Join(dir, "server.pem"), "--x509keyfile", filepath.Join(dir, "server.key"),
				"--priority", gnutlsPriority(tc.cipher, tc.groups)}
			if tc.clientCert != "" {
				args = append(args, "--require-client-cert", "--x509cafile", filepath.Join(dir, "ca.pem"))
			} else {
				args = append(args, "--disable-client-cert")
			}
			addr := startGnuTLSServ(t, args...)
			// Our default groups send X25519MLKEM768 and X25519 shares:
			// a server with only P-256 or P-384 asks for its own.
			cfg := &Config{ServerName: "server.test", RootCAs: p.roots, ClientSessionCache: NewLRUClientSessionCache(1)}
			if tc.clientCert != "" {
				cfg.Certificates = []Certificate{p.clients[tc.clientCert]}
			}
			for i := range 2 {
				c := dial(t, addr, cfg)
				c.SetDeadline(time.Now().Add(time.Minute))
				if err := c.HandshakeContext(context.Background()); err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				echoLine(t, c, fmt.Sprintf("dance %d\n", i))
				// KeyUpdate, asking GnuTLS to update too.
				if err := c.UpdateKeys(true); err != nil {
					t.Fatal(err)
				}
				echoLine(t, c, "after KeyUpdate\n")
				echoLine(t, c, "again\n")
				st := c.ConnectionState()
				if st.CipherSuite != tc.suite || st.Group != tc.wantGroup || st.HelloRetried != tc.wantHRR {
					t.Errorf("connection %d: suite %#04x group %v HRR %v; want %#04x %v %v", i, st.CipherSuite, st.Group, st.HelloRetried, tc.suite, tc.wantGroup, tc.wantHRR)
				}
				if st.Resumed != (i == 1) {
					t.Errorf("connection %d: resumed %v", i, st.Resumed)
				}
				c.Close()
			}
		})
	}
}
