package tls13

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// ourResult is what one connection of our test server saw: the error it
// ended with, its state, and what its handler kept of the peer's data.
type ourResult struct {
	err   error
	state ConnectionState
	data  []byte
}

// serveConns accepts n connections on a 127.0.0.1 port with our server and,
// after each handshake, runs handle, then closes the connection; each
// connection's result comes on the channel. The listener closes with the
// test.
func serveConns(t *testing.T, cfg *Config, n int, handle func(*Conn) ([]byte, error)) (addr string, results <-chan ourResult) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	res := make(chan ourResult, n)
	go func() {
		for range n {
			raw, err := ln.Accept()
			if err != nil {
				res <- ourResult{err: err}
				return
			}
			raw.SetDeadline(time.Now().Add(time.Minute))
			c := Server(raw, cfg)
			var data []byte
			err = c.Handshake()
			if err == nil {
				data, err = handle(c)
			}
			c.Close()
			res <- ourResult{err: err, state: c.ConnectionState(), data: data}
		}
	}()
	return ln.Addr().String(), res
}

// startOurServer runs our server for one connection, echoing until EOF.
func startOurServer(t *testing.T, cfg *Config) (string, <-chan ourResult) {
	t.Helper()
	return serveConns(t, cfg, 1, func(c *Conn) ([]byte, error) {
		_, err := io.Copy(c, c)
		return nil, err
	})
}

func ourServerConfig(p *pki) *Config {
	return &Config{Certificates: []Certificate{{Chain: p.server.Certificate, PrivateKey: p.serverKey}}}
}

func tlsEcho(t *testing.T, c *tls.Conn, msg string) {
	t.Helper()
	if err := c.Handshake(); err != nil {
		t.Fatalf("crypto/tls handshake: %v", err)
	}
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != msg {
		t.Fatalf("echo %q", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

func tlsDial(t *testing.T, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	raw := dialRaw(t, addr)
	return tls.Client(raw, cfg)
}

// TestServerAgainstCryptoTLS completes handshakes with Go's crypto/tls
// client: every suite, both groups, a HelloRetryRequest with cookie, ALPN
// and client certificates of each key type.
func TestServerAgainstCryptoTLS(t *testing.T) {
	p := testPKI(t)
	cases := map[string]struct {
		suite      uint16
		srvCurves  []CurveID
		cliCurves  []tls.CurveID
		wantGroup  CurveID
		wantHRR    bool
		alpnSrv    []string
		alpnCli    []string
		wantALPN   string
		clientCert string
	}{
		"AES-128-GCM X25519":    {suite: tls.TLS_AES_128_GCM_SHA256, cliCurves: []tls.CurveID{tls.X25519}, wantGroup: X25519},
		"AES-256-GCM X25519":    {suite: tls.TLS_AES_256_GCM_SHA384, cliCurves: []tls.CurveID{tls.X25519}, wantGroup: X25519},
		"ChaCha20 X25519":       {suite: tls.TLS_CHACHA20_POLY1305_SHA256, cliCurves: []tls.CurveID{tls.X25519}, wantGroup: X25519},
		"AES-128-GCM P-256":     {suite: tls.TLS_AES_128_GCM_SHA256, cliCurves: []tls.CurveID{tls.CurveP256}, wantGroup: CurveP256},
		"ChaCha20 P-256":        {suite: tls.TLS_CHACHA20_POLY1305_SHA256, cliCurves: []tls.CurveID{tls.CurveP256}, wantGroup: CurveP256},
		"default client groups": {suite: tls.TLS_AES_128_GCM_SHA256, wantGroup: X25519MLKEM768},
		"HRR to P-256":          {suite: tls.TLS_AES_256_GCM_SHA384, srvCurves: []CurveID{CurveP256}, cliCurves: []tls.CurveID{tls.X25519, tls.CurveP256}, wantGroup: CurveP256, wantHRR: true},
		"ALPN":                  {suite: tls.TLS_AES_128_GCM_SHA256, wantGroup: X25519MLKEM768, alpnSrv: []string{"dance/1", "h2"}, alpnCli: []string{"h2", "dance/1"}, wantALPN: "dance/1"},
		"client cert ECDSA":     {suite: tls.TLS_AES_128_GCM_SHA256, wantGroup: X25519MLKEM768, clientCert: "ecdsa"},
		"client cert Ed25519":   {suite: tls.TLS_CHACHA20_POLY1305_SHA256, wantGroup: X25519MLKEM768, clientCert: "ed25519"},
		"client cert RSA-PSS":   {suite: tls.TLS_AES_256_GCM_SHA384, wantGroup: X25519MLKEM768, clientCert: "rsa"},
		"client cert after HRR": {suite: tls.TLS_AES_128_GCM_SHA256, srvCurves: []CurveID{CurveP256}, cliCurves: []tls.CurveID{tls.X25519, tls.CurveP256}, wantGroup: CurveP256, wantHRR: true, clientCert: "ecdsa"},
		"AES-256-GCM P-384":     {suite: tls.TLS_AES_256_GCM_SHA384, cliCurves: []tls.CurveID{tls.CurveP384}, wantGroup: CurveP384},
		"HRR to P-384":          {suite: tls.TLS_AES_128_GCM_SHA256, srvCurves: []CurveID{CurveP384}, cliCurves: []tls.CurveID{tls.X25519, tls.CurveP384}, wantGroup: CurveP384, wantHRR: true},
		"X25519MLKEM768 only":   {suite: tls.TLS_CHACHA20_POLY1305_SHA256, cliCurves: []tls.CurveID{tls.X25519MLKEM768}, wantGroup: X25519MLKEM768},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			saved := serverSuites
			serverSuites = []uint16{tc.suite}
			t.Cleanup(func() { serverSuites = saved })
			cfg := ourServerConfig(p)
			cfg.CurvePreferences, cfg.NextProtos = tc.srvCurves, tc.alpnSrv
			if tc.clientCert != "" {
				cfg.ClientAuth, cfg.ClientCAs = RequireClientCert, p.clientPool
			}
			addr, res := startOurServer(t, cfg)
			ccfg := &tls.Config{ServerName: "server.test", RootCAs: p.roots, MinVersion: tls.VersionTLS13,
				CurvePreferences: tc.cliCurves, NextProtos: tc.alpnCli}
			if tc.clientCert != "" {
				cc := p.clients[tc.clientCert]
				ccfg.Certificates = []tls.Certificate{{Certificate: cc.Chain, PrivateKey: cc.PrivateKey}}
			}
			c := tlsDial(t, addr, ccfg)
			tlsEcho(t, c, "hello "+name)
			cs := c.ConnectionState()
			r := <-res
			if r.err != nil {
				t.Fatalf("server: %v", r.err)
			}
			st := r.state
			if st.CipherSuite != tc.suite || cs.CipherSuite != tc.suite {
				t.Errorf("suite %#04x (client %#04x), want %#04x", st.CipherSuite, cs.CipherSuite, tc.suite)
			}
			if st.Group != tc.wantGroup || uint16(cs.CurveID) != uint16(tc.wantGroup) {
				t.Errorf("group %v (client %v), want %v", st.Group, cs.CurveID, tc.wantGroup)
			}
			if st.HelloRetried != tc.wantHRR {
				t.Errorf("HelloRetried %v, want %v", st.HelloRetried, tc.wantHRR)
			}
			if st.NegotiatedProtocol != tc.wantALPN || cs.NegotiatedProtocol != tc.wantALPN {
				t.Errorf("ALPN %q (client %q), want %q", st.NegotiatedProtocol, cs.NegotiatedProtocol, tc.wantALPN)
			}
			if st.ServerName != "server.test" {
				t.Errorf("server saw SNI %q", st.ServerName)
			}
			if tc.clientCert != "" && (len(st.PeerCertificates) != 1 || st.PeerCertificates[0].Subject.CommonName != "client-"+tc.clientCert) {
				t.Errorf("client chain %v", st.PeerCertificates)
			}
		})
	}
}

// TestServerRefuses: clients the server must refuse get the alert RFC 8446
// §6.2 names, and crypto/tls reports receiving it.
func TestServerRefuses(t *testing.T) {
	p := testPKI(t)
	cases := map[string]struct {
		server    func(*Config)
		client    func(*tls.Config)
		wantAlert alert.Description
		clientMsg string
	}{
		"bad client signature": {
			server: func(c *Config) { c.ClientAuth, c.ClientCAs = RequireClientCert, p.clientPool },
			client: func(c *tls.Config) {
				cc := p.clients["ecdsa"]
				c.Certificates = []tls.Certificate{{Certificate: cc.Chain, PrivateKey: corruptSigner{cc.PrivateKey}}}
			},
			wantAlert: alert.DecryptError, clientMsg: "error decrypting message",
		},
		"no client certificate": {
			server:    func(c *Config) { c.ClientAuth, c.ClientCAs = RequireClientCert, p.clientPool },
			wantAlert: alert.CertificateRequired, clientMsg: "certificate required",
		},
		"client from unknown CA": {
			server: func(c *Config) { c.ClientAuth = RequestClientCert; c.ClientCAs = nil; c.VerifyPeer = nil },
			client: func(c *tls.Config) {
				cc := p.clients["ed25519"]
				c.Certificates = []tls.Certificate{{Certificate: cc.Chain, PrivateKey: cc.PrivateKey}}
			},
			wantAlert: alert.UnknownCA, clientMsg: "unknown certificate authority",
		},
		"no ALPN in common": {
			server:    func(c *Config) { c.NextProtos = []string{"dance/1"} },
			client:    func(c *tls.Config) { c.NextProtos = []string{"h2"} },
			wantAlert: alert.NoApplicationProtocol, clientMsg: "no application protocol",
		},
		"TLS 1.2 only": {
			client:    func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12 },
			wantAlert: alert.ProtocolVersion, clientMsg: "protocol version not supported",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := ourServerConfig(p)
			if tc.server != nil {
				tc.server(cfg)
			}
			addr, res := startOurServer(t, cfg)
			ccfg := &tls.Config{ServerName: "server.test", RootCAs: p.roots}
			if tc.client != nil {
				tc.client(ccfg)
			}
			c := tlsDial(t, addr, ccfg)
			err := c.Handshake()
			if err == nil {
				// TLS 1.3 clients finish before the server has
				// checked their flight; the refusal comes on read.
				_, err = c.Read(make([]byte, 1))
			}
			if err == nil || !strings.Contains(err.Error(), tc.clientMsg) {
				t.Fatalf("client error %v, want %q", err, tc.clientMsg)
			}
			r := <-res
			if d, ok := alert.Of(r.err); !ok || d != tc.wantAlert {
				t.Fatalf("server error %v, want alert %v", r.err, tc.wantAlert)
			}
		})
	}
}

// TestOurClientOurServer runs both sides of this package against each
// other, with a HelloRetryRequest whose cookie the client must echo, a
// client certificate, and KeyUpdates both ways.
func TestOurClientOurServer(t *testing.T) {
	p := testPKI(t)
	scfg := ourServerConfig(p)
	scfg.CurvePreferences = []CurveID{CurveP256}
	scfg.ClientAuth, scfg.ClientCAs = RequireClientCert, p.clientPool
	addr, res := startOurServer(t, scfg)
	c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots, Certificates: []Certificate{p.clients["rsa"]}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := c.UpdateKeys(i == 0); err != nil {
			t.Fatal(err)
		}
		msg := "round " + string(rune('0'+i))
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
			t.Fatalf("read %q, %v", got, err)
		}
	}
	c.Close()
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !c.ConnectionState().HelloRetried || !r.state.HelloRetried || r.state.Group != CurveP256 {
		t.Errorf("client %+v server %+v: want a HelloRetryRequest to P-256", c.ConnectionState(), r.state)
	}
	if len(r.state.PeerCertificates) != 1 || r.state.PeerCertificates[0].Subject.CommonName != "client-rsa" {
		t.Errorf("server saw %v", r.state.PeerCertificates)
	}
	// Each side reports the scheme of the other's CertificateVerify:
	// the server's key is ECDSA P-256, the client's RSA.
	if got := c.ConnectionState().PeerSignatureScheme; got != wire.SigECDSASecp256r1SHA256 {
		t.Errorf("client saw server scheme %#04x, want ecdsa_secp256r1_sha256", got)
	}
	if got := r.state.PeerSignatureScheme; got != wire.SigRSAPSSRSAESHA256 {
		t.Errorf("server saw client scheme %#04x, want rsa_pss_rsae_sha256", got)
	}
}

// TestServerNeedsCertificate: a server Config without a certificate does
// not start.
func TestServerNeedsCertificate(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	err := Server(a, &Config{}).Handshake()
	if err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("handshake error %v, want a configuration error", err)
	}
}
