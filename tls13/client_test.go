package tls13

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsbound/dance/tls13/internal/alert"
)

// pki is a test CA with a server certificate and client certificates.
type pki struct {
	roots      *x509.CertPool
	caDER      []byte
	server     tls.Certificate
	serverKey  crypto.Signer
	clients    map[string]Certificate
	clientPool *x509.CertPool
}

var (
	testPKIOnce sync.Once
	testPKIVal  *pki
)

func mustKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	var k crypto.Signer
	var err error
	switch kind {
	case "ecdsa":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case "rsa":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func issue(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) []byte {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func testPKI(t testing.TB) *pki {
	testPKIOnce.Do(func() {
		p := &pki{roots: x509.NewCertPool(), clientPool: x509.NewCertPool(), clients: map[string]Certificate{}}
		caKey := mustKey(t, "ecdsa")
		now := time.Now()
		caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true,
			BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		caDER := issue(t, caTmpl, caTmpl, caKey.Public(), caKey)
		ca, _ := x509.ParseCertificate(caDER)
		p.roots.AddCert(ca)
		p.caDER = caDER
		p.clientPool.AddCert(ca)

		p.serverKey = mustKey(t, "ecdsa")
		srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "server.test"},
			DNSNames: []string{"server.test"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
		p.server = tls.Certificate{Certificate: [][]byte{issue(t, srvTmpl, ca, p.serverKey.Public(), caKey)}, PrivateKey: p.serverKey}

		for i, kind := range []string{"ecdsa", "ed25519", "rsa"} {
			k := mustKey(t, kind)
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(10 + i)), Subject: pkix.Name{CommonName: "client-" + kind},
				NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
				ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
			p.clients[kind] = Certificate{Chain: [][]byte{issue(t, tmpl, ca, k.Public(), caKey)}, PrivateKey: k}
		}
		testPKIVal = p
	})
	if testPKIVal == nil {
		t.Fatal("test PKI not built")
	}
	return testPKIVal
}

// serverResult is what the crypto/tls server saw.
type serverResult struct {
	err   error
	state tls.ConnectionState
}

// startServer runs a crypto/tls server for one connection on 127.0.0.1 that
// echoes what it reads until EOF. It returns the address and a channel with
// the server's result once the connection ends.
func startServer(t *testing.T, cfg *tls.Config) (string, <-chan serverResult) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	res := make(chan serverResult, 1)
	go func() {
		defer ln.Close()
		raw, err := ln.Accept()
		if err != nil {
			res <- serverResult{err: err}
			return
		}
		raw.SetDeadline(time.Now().Add(time.Minute))
		srv := tls.Server(raw, cfg)
		defer srv.Close()
		if err := srv.Handshake(); err != nil {
			res <- serverResult{err: err}
			return
		}
		_, err = io.Copy(srv, srv)
		res <- serverResult{err: err, state: srv.ConnectionState()}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), res
}

func dial(t *testing.T, addr string, cfg *Config) *Conn {
	t.Helper()
	raw := dialRaw(t, addr)
	return Client(raw, cfg)
}

// tcpPair returns both ends of a TCP connection on 127.0.0.1, with
// generous deadlines, closed with the test.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	client = dialRaw(t, ln.Addr().String())
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	server.SetDeadline(time.Now().Add(time.Minute))
	t.Cleanup(func() { server.Close() })
	return client, server
}

func serverConfig(p *pki) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{p.server}}
}

// echo performs a handshake, writes a message, reads it back and closes.
func echo(t *testing.T, c *Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != msg {
		t.Fatalf("echo %q, want %q", got, msg)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// TestClientAgainstCryptoTLS completes handshakes with Go's crypto/tls
// server for every suite and group, with a forced HelloRetryRequest, ALPN
// and client certificates of each key type.
func TestClientAgainstCryptoTLS(t *testing.T) {
	p := testPKI(t)
	type tc struct {
		suite      uint16 // forced on the server by the suites it knows: see below
		srvCurves  []tls.CurveID
		cliCurves  []CurveID
		wantGroup  CurveID
		wantHRR    bool
		alpnSrv    []string
		alpnCli    []string
		wantALPN   string
		clientCert string
	}
	cases := map[string]tc{
		"AES-128-GCM X25519":    {suite: tls.TLS_AES_128_GCM_SHA256, cliCurves: []CurveID{X25519}, wantGroup: X25519},
		"AES-256-GCM X25519":    {suite: tls.TLS_AES_256_GCM_SHA384, cliCurves: []CurveID{X25519}, wantGroup: X25519},
		"ChaCha20 X25519":       {suite: tls.TLS_CHACHA20_POLY1305_SHA256, cliCurves: []CurveID{X25519}, wantGroup: X25519},
		"AES-128-GCM P-256":     {suite: tls.TLS_AES_128_GCM_SHA256, cliCurves: []CurveID{CurveP256}, wantGroup: CurveP256},
		"AES-256-GCM P-256":     {suite: tls.TLS_AES_256_GCM_SHA384, cliCurves: []CurveID{CurveP256}, wantGroup: CurveP256},
		"ChaCha20 P-256":        {suite: tls.TLS_CHACHA20_POLY1305_SHA256, cliCurves: []CurveID{CurveP256}, wantGroup: CurveP256},
		"HRR to P-256":          {suite: tls.TLS_AES_128_GCM_SHA256, srvCurves: []tls.CurveID{tls.CurveP256}, wantGroup: CurveP256, wantHRR: true},
		"HRR to X25519 AES-256": {suite: tls.TLS_AES_256_GCM_SHA384, srvCurves: []tls.CurveID{tls.X25519}, cliCurves: []CurveID{CurveP256, X25519}, wantGroup: X25519, wantHRR: true},
		"ALPN":                  {suite: tls.TLS_AES_128_GCM_SHA256, wantGroup: X25519MLKEM768, alpnSrv: []string{"h2", "dance/1"}, alpnCli: []string{"dance/1", "http/1.1"}, wantALPN: "dance/1"},
		"ALPN server has none":  {suite: tls.TLS_AES_128_GCM_SHA256, wantGroup: X25519MLKEM768, alpnCli: []string{"dance/1"}},
		"client cert ECDSA":     {suite: tls.TLS_AES_128_GCM_SHA256, wantGroup: X25519MLKEM768, clientCert: "ecdsa"},
		"client cert Ed25519":   {suite: tls.TLS_AES_256_GCM_SHA384, wantGroup: X25519MLKEM768, clientCert: "ed25519"},
		"client cert RSA-PSS":   {suite: tls.TLS_CHACHA20_POLY1305_SHA256, wantGroup: X25519MLKEM768, clientCert: "rsa"},
		"client cert after HRR": {suite: tls.TLS_AES_128_GCM_SHA256, srvCurves: []tls.CurveID{tls.CurveP256}, wantGroup: CurveP256, wantHRR: true, clientCert: "ed25519"},
		"AES-256-GCM P-384":     {suite: tls.TLS_AES_256_GCM_SHA384, cliCurves: []CurveID{CurveP384}, wantGroup: CurveP384},
		"HRR to P-384":          {suite: tls.TLS_AES_128_GCM_SHA256, srvCurves: []tls.CurveID{tls.CurveP384}, wantGroup: CurveP384, wantHRR: true},
		"X25519MLKEM768 only":   {suite: tls.TLS_CHACHA20_POLY1305_SHA256, cliCurves: []CurveID{X25519MLKEM768}, wantGroup: X25519MLKEM768},
		"HRR to X25519MLKEM768": {suite: tls.TLS_AES_256_GCM_SHA384, srvCurves: []tls.CurveID{tls.X25519MLKEM768}, cliCurves: []CurveID{X25519, X25519MLKEM768}, wantGroup: X25519MLKEM768, wantHRR: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			scfg := serverConfig(p)
			scfg.CurvePreferences = tc.srvCurves
			scfg.NextProtos = tc.alpnSrv
			if tc.clientCert != "" {
				scfg.ClientAuth = tls.RequireAndVerifyClientCert
				scfg.ClientCAs = p.clientPool
			}
			// crypto/tls picks the TLS 1.3 suite itself; the client
			// offers only the one under test through the package's
			// suite list, restored afterwards.
			saved := clientSuites
			clientSuites = []uint16{tc.suite}
			t.Cleanup(func() { clientSuites = saved })

			addr, res := startServer(t, scfg)
			cfg := &Config{ServerName: "server.test", RootCAs: p.roots, CurvePreferences: tc.cliCurves, NextProtos: tc.alpnCli}
			if tc.clientCert != "" {
				cfg.Certificates = []Certificate{p.clients[tc.clientCert]}
			}
			c := dial(t, addr, cfg)
			echo(t, c, "hello "+name)
			st := c.ConnectionState()
			r := <-res
			if r.err != nil {
				t.Fatalf("server: %v", r.err)
			}
			if st.CipherSuite != tc.suite || r.state.CipherSuite != tc.suite {
				t.Errorf("suite %#04x (server %#04x), want %#04x", st.CipherSuite, r.state.CipherSuite, tc.suite)
			}
			if st.Group != tc.wantGroup || uint16(r.state.CurveID) != uint16(tc.wantGroup) {
				t.Errorf("group %v (server %v), want %v", st.Group, r.state.CurveID, tc.wantGroup)
			}
			if st.HelloRetried != tc.wantHRR {
				t.Errorf("HelloRetried %v, want %v", st.HelloRetried, tc.wantHRR)
			}
			if st.NegotiatedProtocol != tc.wantALPN || r.state.NegotiatedProtocol != tc.wantALPN {
				t.Errorf("ALPN %q (server %q), want %q", st.NegotiatedProtocol, r.state.NegotiatedProtocol, tc.wantALPN)
			}
			if !st.HandshakeComplete || st.Version != 0x0304 || len(st.PeerCertificates) != 1 ||
				st.PeerCertificates[0].Subject.CommonName != "server.test" {
				t.Errorf("connection state %+v", st)
			}
			if r.state.ServerName != "server.test" {
				t.Errorf("server saw SNI %q", r.state.ServerName)
			}
			if tc.clientCert != "" {
				if len(r.state.PeerCertificates) != 1 || r.state.PeerCertificates[0].Subject.CommonName != "client-"+tc.clientCert {
					t.Errorf("server saw client chain %v", r.state.PeerCertificates)
				}
			}
		})
	}
}

// corruptSigner signs correctly and then flips a bit of the signature.
type corruptSigner struct{ crypto.Signer }

func (s corruptSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	sig, err := s.Signer.Sign(r, d, o)
	if err == nil {
		sig[len(sig)/2] ^= 0x10
	}
	return sig, err
}

// TestClientRefuses checks that the client refuses a server it must not
// trust, with the alert RFC 8446 §6.2 names, and that the crypto/tls server
// receives that alert.
func TestClientRefuses(t *testing.T) {
	p := testPKI(t)
	cases := map[string]struct {
		server    func(*tls.Config)
		client    func(*Config)
		wantAlert alert.Description
		serverMsg string // crypto/tls's text for the alert it received
	}{
		"bad server signature": {
			server: func(c *tls.Config) {
				c.Certificates = []tls.Certificate{{Certificate: p.server.Certificate, PrivateKey: corruptSigner{p.serverKey}}}
			},
			wantAlert: alert.DecryptError, serverMsg: "error decrypting message",
		},
		"wrong name": {
			client:    func(c *Config) { c.ServerName = "other.test" },
			wantAlert: alert.BadCertificate, serverMsg: "bad certificate",
		},
		"unknown CA": {
			client:    func(c *Config) { c.RootCAs = x509.NewCertPool() },
			wantAlert: alert.UnknownCA, serverMsg: "unknown certificate authority",
		},
		"expired": {
			client:    func(c *Config) { c.Time = func() time.Time { return time.Now().Add(48 * time.Hour) } },
			wantAlert: alert.CertificateExpired, serverMsg: "expired certificate",
		},
		"VerifyPeer refuses": {
			client: func(c *Config) {
				c.ServerName = "other.test" // ignored when VerifyPeer is set
				c.VerifyPeer = func([]*x509.Certificate) error { return errors.New("no TLSA match") }
			},
			wantAlert: alert.BadCertificate, serverMsg: "bad certificate",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			scfg := serverConfig(p)
			if tc.server != nil {
				tc.server(scfg)
			}
			addr, res := startServer(t, scfg)
			cfg := &Config{ServerName: "server.test", RootCAs: p.roots}
			if tc.client != nil {
				tc.client(cfg)
			}
			c := dial(t, addr, cfg)
			err := c.HandshakeContext(context.Background())
			if err == nil {
				t.Fatal("handshake succeeded")
			}
			if d, ok := alert.Of(err); !ok || d != tc.wantAlert {
				t.Fatalf("error %v, want alert %v", err, tc.wantAlert)
			}
			r := <-res
			if r.err == nil || !strings.Contains(r.err.Error(), tc.serverMsg) {
				t.Fatalf("server error %v, want the alert %q", r.err, tc.serverMsg)
			}
			if _, err := c.Write([]byte("x")); err == nil {
				t.Error("Write after a failed handshake succeeded")
			}
		})
	}
}

// TestClientVerifyPeerAccepts shows the callback replacing the pool and
// name check: an unknown root and another name pass when it accepts.
func TestClientVerifyPeerAccepts(t *testing.T) {
	p := testPKI(t)
	addr, res := startServer(t, serverConfig(p))
	var seen []*x509.Certificate
	c := dial(t, addr, &Config{RootCAs: x509.NewCertPool(), VerifyPeer: func(chain []*x509.Certificate) error {
		seen = chain
		return nil
	}})
	echo(t, c, "dane")
	if r := <-res; r.err != nil {
		t.Fatal(r.err)
	}
	if len(seen) != 1 || seen[0].Subject.CommonName != "server.test" {
		t.Fatalf("VerifyPeer saw %v", seen)
	}
}

// TestClientNeedsNameOrVerifier: the zero Config does not connect blind.
func TestClientNeedsNameOrVerifier(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if err := Client(a, &Config{}).Handshake(); err == nil {
		t.Fatal("handshake without ServerName or VerifyPeer started")
	}
}

// TestClientKeyUpdate asks crypto/tls to update its keys: its KeyUpdate
// must be processed, or the echoed data would not decrypt.
func TestClientKeyUpdate(t *testing.T) {
	p := testPKI(t)
	addr, res := startServer(t, serverConfig(p))
	c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := c.UpdateKeys(true); err != nil {
			t.Fatal(err)
		}
		msg := []byte("after update " + string(rune('0'+i)))
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("read after KeyUpdate: %v", err)
		}
		if string(got) != string(msg) {
			t.Fatalf("got %q", got)
		}
	}
	c.Close()
	if r := <-res; r.err != nil {
		t.Fatal(r.err)
	}
}

// TestClientCloseNotify: the server reads EOF (close_notify), not an error,
// and the client reads EOF when the server closes.
func TestClientCloseNotify(t *testing.T) {
	p := testPKI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		srv := tls.Server(raw, serverConfig(p))
		if _, err := srv.Write([]byte("bye")); err != nil {
			done <- err
			return
		}
		done <- srv.Close()
	}()
	c := dial(t, ln.Addr().String(), &Config{ServerName: "server.test", RootCAs: p.roots})
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "bye" {
		t.Fatalf("ReadAll = %q, %v; want \"bye\" then close_notify", got, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// TestClientContextCancel: a handshake with a server that never answers
// ends when its context is cancelled.
func TestClientContextCancel(t *testing.T) {
	raw, srv := tcpPair(t)
	c := Client(raw, &Config{ServerName: "server.test"})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.HandshakeContext(ctx) }()
	// The ClientHello arrives: the handshake is waiting for the server.
	if _, err := srv.Read(make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("handshake error %v, want context.Canceled", err)
	}
}

// TestCloseDuringHandshake: Close from another goroutine ends a handshake
// waiting for a silent server.
func TestCloseDuringHandshake(t *testing.T) {
	raw, srv := tcpPair(t)
	c := Client(raw, &Config{ServerName: "server.test"})
	errc := make(chan error, 1)
	go func() { errc <- c.Handshake() }()
	if _, err := srv.Read(make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil {
		t.Fatal("handshake succeeded after Close")
	}
}

// TestCloseWrite: after CloseWrite the crypto/tls echo server reads EOF
// (our close_notify), closes, and the client still reads all the echo.
func TestCloseWrite(t *testing.T) {
	p := testPKI(t)
	addr, res := startServer(t, serverConfig(p))
	c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots})
	msg := strings.Repeat("half-close ", 3000)
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("more")); !errors.Is(err, ErrWriteClosed) {
		t.Fatalf("Write after CloseWrite: %v", err)
	}
	got, err := io.ReadAll(c)
	if err != nil || string(got) != msg {
		t.Fatalf("read %d octets, %v; want the %d echoed", len(got), err, len(msg))
	}
	if r := <-res; r.err != nil {
		t.Fatalf("server: %v", r.err)
	}
	c.Close()
}
