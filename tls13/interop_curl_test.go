package tls13

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/tls13/internal/record"
)

// httpHandler answers one HTTP/1.1 request with a body naming the path and
// closes the connection.
func httpHandler(c *Conn) ([]byte, error) {
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	for {
		h, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if h == "\r\n" {
			break
		}
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "GET" {
		return nil, fmt.Errorf("request line %q", line)
	}
	body := "dance " + f[1] + "\n"
	_, err = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	return nil, err
}

// TestServerAgainstCurl runs curl (with OpenSSL) against our server with a
// tiny HTTP/1.1 responder: every suite, the groups OpenSSL 3.0 shares with
// us, a forced HelloRetryRequest, a client certificate, and a second URL on
// a new connection that resumes the first's session.
func TestServerAgainstCurl(t *testing.T) {
	bin, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is not installed (Debian package curl, in scripts/debian-packages)")
	}
	p := testPKI(t)
	dir := opensslFiles(t, p)
	cases := map[string]struct {
		suite      uint16
		curves     string
		srvCurves  []CurveID
		wantGroup  CurveID
		wantHRR    bool
		clientCert string
	}{
		"AES-128-GCM X25519":  {suite: record.TLS_AES_128_GCM_SHA256, wantGroup: X25519},
		"AES-256-GCM P-256":   {suite: record.TLS_AES_256_GCM_SHA384, curves: "P-256", wantGroup: CurveP256},
		"ChaCha20 P-384":      {suite: record.TLS_CHACHA20_POLY1305_SHA256, curves: "P-384", wantGroup: CurveP384},
		"HRR to P-256":        {suite: record.TLS_AES_128_GCM_SHA256, srvCurves: []CurveID{CurveP256}, wantGroup: CurveP256, wantHRR: true},
		"client cert Ed25519": {suite: record.TLS_AES_256_GCM_SHA384, wantGroup: X25519, clientCert: "ed25519"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := ourServerConfig(p)
			cfg.CurvePreferences = tc.srvCurves
			if tc.clientCert != "" {
				cfg.ClientAuth, cfg.ClientCAs = RequireClientCert, p.clientPool
			}
			addr, results := serveConns(t, cfg, 2, httpHandler)
			_, port, _ := net.SplitHostPort(addr)
			base := "https://server.test:" + port
			args := []string{"--silent", "--show-error", "--tlsv1.3", "--cacert", filepath.Join(dir, "ca.pem"),
				"--resolve", "server.test:" + port + ":127.0.0.1", "--tls13-ciphers", opensslSuites[tc.suite]}
			if tc.curves != "" {
				args = append(args, "--curves", tc.curves)
			}
			if tc.clientCert != "" {
				args = append(args, "--cert", filepath.Join(dir, "client-"+tc.clientCert+".pem"), "--key", filepath.Join(dir, "client-"+tc.clientCert+".key"))
			}
			args = append(args, base+"/first", base+"/second")
			out, err := runPeer("", bin, args...)
			if err != nil {
				t.Fatalf("curl: %v\n%s", err, out)
			}
			if string(out) != "dance /first\ndance /second\n" {
				t.Errorf("curl printed %q", out)
			}
			for i := range 2 {
				r := <-results
				if r.err != nil {
					t.Fatalf("connection %d: %v", i, r.err)
				}
				st := r.state
				if st.CipherSuite != tc.suite || st.Group != tc.wantGroup || st.HelloRetried != tc.wantHRR {
					t.Errorf("connection %d: suite %#04x group %v HRR %v; want %#04x %v %v", i, st.CipherSuite, st.Group, st.HelloRetried, tc.suite, tc.wantGroup, tc.wantHRR)
				}
				if st.Resumed != (i == 1) {
					t.Errorf("connection %d: resumed %v", i, st.Resumed)
				}
				if tc.clientCert != "" && (len(st.PeerCertificates) == 0 || st.PeerCertificates[0].Subject.CommonName != "client-"+tc.clientCert) {
					t.Errorf("connection %d: client chain %v", i, st.PeerCertificates)
				}
			}
		})
	}
}

// lineEcho reads one line, writes it back and lets the connection close.
func lineEcho(c *Conn) ([]byte, error) {
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return nil, err
	}
	_, err = io.WriteString(c, line)
	return nil, err
}

// TestServerOpenSSLResumption: openssl s_client saves our ticket with
// -sess_out and resumes with -sess_in, with and without a
// HelloRetryRequest.
func TestServerOpenSSLResumption(t *testing.T) {
	p := testPKI(t)
	bin := needOpenSSL(t)
	dir := opensslFiles(t, p)
	cases := map[string]struct {
		groups    string
		srvCurves []CurveID
		wantHRR   bool
	}{
		"X25519":       {groups: "X25519"},
		"HRR to P-384": {groups: "X25519:P-384", srvCurves: []CurveID{CurveP384}, wantHRR: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := ourServerConfig(p)
			cfg.CurvePreferences = tc.srvCurves
			addr, results := serveConns(t, cfg, 2, lineEcho)
			sess := filepath.Join(t.TempDir(), "session.pem")
			for i, flag := range []string{"-sess_out", "-sess_in"} {
				// -ign_eof: s_client reads until we close, so it
				// takes in the ticket that follows the handshake.
				args := []string{"s_client", "-connect", addr, "-tls1_3", "-servername", "server.test",
					"-CAfile", filepath.Join(dir, "ca.pem"), "-verify_return_error", "-groups", tc.groups,
					"-ign_eof", flag, sess}
				out, err := runPeer("dance\n", bin, args...)
				if err != nil {
					t.Fatalf("s_client %s: %v\n%s", flag, err, out)
				}
				r := <-results
				if r.err != nil {
					t.Fatalf("connection %d: %v\ns_client said:\n%s", i, r.err, out)
				}
				if r.state.Resumed != (i == 1) || r.state.HelloRetried != tc.wantHRR {
					t.Errorf("connection %d: resumed %v HRR %v\ns_client said:\n%s", i, r.state.Resumed, r.state.HelloRetried, out)
				}
				if want := map[bool]string{false: "New, TLSv1.3", true: "Reused, TLSv1.3"}[i == 1]; !strings.Contains(string(out), want) {
					t.Errorf("s_client does not report %q:\n%s", want, out)
				}
				if i == 0 {
					if fi, err := os.Stat(sess); err != nil || fi.Size() == 0 {
						t.Fatalf("no session saved: %v", err)
					}
				}
			}
		})
	}
}

// TestClientOpenSSLResumption: our client resumes with openssl s_server's
// tickets, also after a HelloRetryRequest.
func TestClientOpenSSLResumption(t *testing.T) {
	p := testPKI(t)
	dir := opensslFiles(t, p)
	cases := map[string]struct {
		groups  string
		wantHRR bool
	}{
		"X25519":       {groups: "X25519"},
		"HRR to P-384": {groups: "P-384", wantHRR: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			// A later -naccept overrides startSServer's.
			addr := startSServer(t, "-cert", filepath.Join(dir, "server.pem"), "-key", filepath.Join(dir, "server.key"),
				"-groups", tc.groups, "-naccept", "2")
			cfg := &Config{ServerName: "server.test", RootCAs: p.roots, ClientSessionCache: NewLRUClientSessionCache(1)}
			for i := range 2 {
				c := dial(t, addr, cfg)
				c.SetDeadline(time.Now().Add(time.Minute))
				if _, err := io.WriteString(c, "dance\n"); err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				got, err := bufio.NewReader(c).ReadString('\n')
				if err != nil || got != "ecnad\n" {
					t.Fatalf("connection %d: read %q, %v", i, got, err)
				}
				st := c.ConnectionState()
				if st.Resumed != (i == 1) || st.HelloRetried != tc.wantHRR {
					t.Errorf("connection %d: resumed %v HRR %v", i, st.Resumed, st.HelloRetried)
				}
				c.Close()
			}
		})
	}
}
