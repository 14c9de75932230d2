package tls13

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/record"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// sharesSent returns the groups of the key shares in a ClientHello.
func sharesSent(t *testing.T, m *wire.ClientHello) []CurveID {
	t.Helper()
	var back wire.ClientHello
	if err := back.Unmarshal(m.Marshal()); err != nil {
		t.Fatal(err)
	}
	var out []CurveID
	for _, ks := range back.KeyShares {
		out = append(out, CurveID(ks.Group))
	}
	return out
}

// TestKeyShares: Config.KeyShares chooses which offered groups get a key
// share in the first ClientHello (RFC 8446 §4.2.8), in the order of the
// offer; our server takes a group it has a share for, or asks for one with
// a HelloRetryRequest; an empty list sends none.
func TestKeyShares(t *testing.T) {
	p := testPKI(t)
	cases := map[string]struct {
		curves, shares []CurveID
		empty          bool // KeyShares is []CurveID{}, not nil
		wantSent       []CurveID
		wantGroup      CurveID
		wantHRR        bool
	}{
		"default":              {wantSent: []CurveID{X25519MLKEM768, X25519}, wantGroup: X25519MLKEM768},
		"one not first":        {shares: []CurveID{CurveP256}, wantSent: []CurveID{CurveP256}, wantGroup: CurveP256},
		"in the offer's order": {curves: []CurveID{X25519, X25519MLKEM768, CurveP256}, shares: []CurveID{CurveP256, X25519}, wantSent: []CurveID{X25519, CurveP256}, wantGroup: X25519},
		"none":                 {empty: true, wantGroup: X25519MLKEM768, wantHRR: true},
		// The server takes a group it has a share for before its first.
		"server's second":  {curves: []CurveID{CurveP384, X25519MLKEM768}, shares: []CurveID{CurveP384}, wantSent: []CurveID{CurveP384}, wantGroup: CurveP384},
		"not the server's": {curves: []CurveID{CurveP256, X25519MLKEM768}, shares: []CurveID{CurveP256}, wantSent: []CurveID{CurveP256}, wantGroup: X25519MLKEM768, wantHRR: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			scfg := ourServerConfig(p)
			scfg.CurvePreferences = []CurveID{X25519MLKEM768, X25519, CurveP256}
			if strings.HasPrefix(name, "not the server's") || name == "server's second" {
				scfg.CurvePreferences = []CurveID{X25519MLKEM768, CurveP384}
			}
			addr, res := startOurServer(t, scfg)
			var sent []CurveID
			cfg := &Config{ServerName: "server.test", RootCAs: p.roots, CurvePreferences: tc.curves, KeyShares: tc.shares,
				editHello: func(m *wire.ClientHello) { sent = sharesSent(t, m) }}
			if tc.empty {
				cfg.KeyShares = []CurveID{}
			}
			c := dial(t, addr, cfg)
			echo(t, c, "shares")
			c.Close()
			if r := <-res; r.err != nil {
				t.Fatal(r.err)
			}
			st := c.ConnectionState()
			if !slices.Equal(sent, tc.wantSent) || st.Group != tc.wantGroup || st.HelloRetried != tc.wantHRR {
				t.Errorf("shares %v, group %v, HRR %v; want %v, %v, %v", sent, st.Group, st.HelloRetried, tc.wantSent, tc.wantGroup, tc.wantHRR)
			}
		})
	}
}

// TestPreferencesConfigRefused: KeyShares, CipherSuites and ClientCANames
// a handshake cannot honour fail it before anything is sent.
func TestPreferencesConfigRefused(t *testing.T) {
	p := testPKI(t)
	ca, err := x509.ParseCertificate(p.caDER)
	if err != nil {
		t.Fatal(err)
	}
	// A DER SEQUENCE of n octets of content (long form length).
	seq := func(n int) []byte { return append([]byte{0x30, 0x82, byte(n >> 8), byte(n)}, make([]byte, n)...) }
	clientCases := map[string]struct {
		cfg  func(c *Config)
		want string
	}{
		"share not offered": {func(c *Config) { c.CurvePreferences, c.KeyShares = []CurveID{X25519}, []CurveID{CurveP256} }, "not among the groups offered"},
		"share twice":       {func(c *Config) { c.KeyShares = []CurveID{X25519, X25519} }, "twice"},
		"share unknown":     {func(c *Config) { c.KeyShares = []CurveID{0x0019} }, "not among the groups offered"},
		"suite unknown":     {func(c *Config) { c.CipherSuites = []uint16{0x1304} }, "not implemented"},
		"suite of TLS 1.2":  {func(c *Config) { c.CipherSuites = []uint16{0xc02f} }, "not implemented"},
		"suite twice":       {func(c *Config) { c.CipherSuites = []uint16{TLS_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256} }, "twice"},
		"client suite twice": {func(c *Config) {
			c.CipherSuites = []uint16{TLS_CHACHA20_POLY1305_SHA256, TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256}
		}, "twice"},
	}
	for name, tc := range clientCases {
		t.Run("client "+name, func(t *testing.T) {
			cli, srv := tcpPair(t)
			cfg := &Config{ServerName: "server.test", RootCAs: p.roots}
			tc.cfg(cfg)
			err := Client(cli, cfg).HandshakeContext(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("handshake error %v, want one saying %q", err, tc.want)
			}
			cli.Close()
			if n, _ := srv.Read(make([]byte, 1)); n != 0 {
				t.Fatal("the client sent something")
			}
		})
	}
	serverCases := map[string]struct {
		cfg  func(c *Config)
		want string
	}{
		"suite unknown":        {func(c *Config) { c.CipherSuites = []uint16{0x00ff} }, "not implemented"},
		"CA name empty":        {func(c *Config) { c.ClientCANames = [][]byte{ca.RawSubject, {}} }, "ClientCANames[1]"},
		"CA name not DER":      {func(c *Config) { c.ClientCANames = [][]byte{[]byte("CN=client CA")} }, "ClientCANames[0]"},
		"CA name not SEQUENCE": {func(c *Config) { c.ClientCANames = [][]byte{{0x31, 0x00}} }, "ClientCANames[0]"},
		"CA name trailing":     {func(c *Config) { c.ClientCANames = [][]byte{append(slices.Clone(ca.RawSubject), 0)} }, "ClientCANames[0]"},
		"CA name truncated":    {func(c *Config) { c.ClientCANames = [][]byte{ca.RawSubject[:len(ca.RawSubject)-1]} }, "ClientCANames[0]"},
		"CA names too long": {func(c *Config) {
			c.ClientCANames = [][]byte{seq(20000), seq(maxCANamesLen - 20000 - 4 - 2 - 2 - 4 + 1)}
		}, "more than certificate_authorities holds"},
	}
	for name, tc := range serverCases {
		t.Run("server "+name, func(t *testing.T) {
			scfg := ourServerConfig(p)
			scfg.ClientAuth = RequestClientCert
			scfg.ClientCAs = p.clientPool
			tc.cfg(scfg)
			addr, res := startOurServer(t, scfg)
			c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots})
			cerr := c.HandshakeContext(context.Background())
			r := <-res
			if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
				t.Fatalf("server error %v, want one saying %q", r.err, tc.want)
			}
			if cerr == nil || c.ConnectionState().Version != 0 {
				t.Fatalf("client: %v, version %#x: the server answered", cerr, c.ConnectionState().Version)
			}
		})
	}
	// The longest list that fits is sent.
	scfg := ourServerConfig(p)
	scfg.ClientAuth = RequestClientCert
	scfg.ClientCAs = p.clientPool
	scfg.ClientCANames = [][]byte{seq(20000), seq(maxCANamesLen - 20000 - 4 - 2 - 2 - 4)}
	addr, res := startOurServer(t, scfg)
	var seen [][]byte
	c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots,
		GetClientCertificate: func(info *CertificateRequestInfo) (*Certificate, error) {
			seen = info.CertificateAuthorities
			return nil, nil
		}})
	echo(t, c, "long")
	c.Close()
	if r := <-res; r.err != nil {
		t.Fatal(r.err)
	}
	if len(seen) != 2 || !bytes.Equal(seen[1], scfg.ClientCANames[1]) {
		t.Fatalf("client saw %d names", len(seen))
	}
}

// TestCipherSuites: Config.CipherSuites orders and limits the suites, on
// both sides, against crypto/tls and ours.
func TestCipherSuites(t *testing.T) {
	p := testPKI(t)
	t.Run("client offers ChaCha20 only", func(t *testing.T) {
		addr, res := startServer(t, serverConfig(p))
		c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots, CipherSuites: []uint16{TLS_CHACHA20_POLY1305_SHA256}})
		echo(t, c, "suite")
		c.Close()
		if r := <-res; r.state.CipherSuite != tls.TLS_CHACHA20_POLY1305_SHA256 {
			t.Fatalf("crypto/tls negotiated %#04x", r.state.CipherSuite)
		}
	})
	// crypto/tls's client offers all three; our server takes its own
	// first.
	for _, pref := range [][]uint16{
		{TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256},
		{TLS_CHACHA20_POLY1305_SHA256, TLS_AES_128_GCM_SHA256},
	} {
		scfg := ourServerConfig(p)
		scfg.CipherSuites = pref
		addr, res := startOurServer(t, scfg)
		tc := tlsDial(t, addr, &tls.Config{ServerName: "server.test", RootCAs: p.roots})
		tlsEcho(t, tc, "suite")
		r := <-res
		if r.err != nil || r.state.CipherSuite != pref[0] || tc.ConnectionState().CipherSuite != pref[0] {
			t.Fatalf("server %v preferring %#04x: negotiated %#04x", r.err, pref[0], r.state.CipherSuite)
		}
	}
	t.Run("no suite in common", func(t *testing.T) {
		scfg := ourServerConfig(p)
		scfg.CipherSuites = []uint16{TLS_AES_256_GCM_SHA384}
		addr, res := startOurServer(t, scfg)
		c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots, CipherSuites: []uint16{TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256}})
		c.HandshakeContext(context.Background())
		r := <-res
		if d, ok := alert.Of(r.err); !ok || d != alert.HandshakeFailure {
			t.Fatalf("server error %v, want handshake_failure", r.err)
		}
	})
	// A server that selects a suite the engine implements but this
	// client did not offer is refused (RFC 8446 §4.1.3).
	for _, withHRR := range []bool{false, true} {
		scfg := serverConfig(p)
		if withHRR {
			scfg.CurvePreferences = []tls.CurveID{tls.CurveP256}
		}
		addr := startTamperer(t, scfg, editHello(func(_ int, sh *wire.ServerHello) [][]byte {
			sh.CipherSuite = record.TLS_CHACHA20_POLY1305_SHA256
			return [][]byte{shRecord(sh)}
		}))
		c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots, CurvePreferences: []CurveID{X25519, CurveP256},
			CipherSuites: []uint16{TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384}})
		err := c.HandshakeContext(context.Background())
		if d, ok := alert.Of(err); !ok || d != alert.IllegalParameter {
			t.Fatalf("HRR %v: handshake error %v, want illegal_parameter", withHRR, err)
		}
	}
}

// recordingConn keeps the first record written.
type recordingConn struct {
	net.Conn
	first []byte
}

func (r *recordingConn) Write(b []byte) (int, error) {
	if r.first == nil {
		r.first = slices.Clone(b)
	}
	return r.Conn.Write(b)
}

// TestNoPSKForSuitesNotOffered: a session made with AES-256-GCM (SHA-384)
// is not offered by a client whose CipherSuites have only SHA-256 suites,
// as the PSK could not be used with them (RFC 8446 §4.2.11); it is offered
// again once they include a SHA-384 suite.
func TestNoPSKForSuitesNotOffered(t *testing.T) {
	p := testPKI(t)
	addr, res := serveConns(t, ourServerConfig(p), 3, func(c *Conn) ([]byte, error) {
		_, err := c.Write([]byte("x"))
		return nil, err
	})
	cache := NewLRUClientSessionCache(2)
	for i, suites := range [][]uint16{
		{TLS_AES_256_GCM_SHA384},
		{TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256},
		{TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384},
	} {
		raw := &recordingConn{Conn: dialRaw(t, addr)}
		c := Client(raw, &Config{ServerName: "server.test", RootCAs: p.roots, ClientSessionCache: cache, CipherSuites: suites})
		if _, err := c.Read(make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		c.Close()
		if r := <-res; r.err != nil {
			t.Fatal(r.err)
		}
		var ch wire.ClientHello
		if err := ch.Unmarshal(raw.first[record.HeaderLen:]); err != nil {
			t.Fatal(err)
		}
		offered := ch.PreSharedKey != nil
		if want := i == 2; offered != want || c.ConnectionState().Resumed != want {
			t.Fatalf("connection %d with %#04x: PSK offered %v, resumed %v; want %v", i, suites, offered, c.ConnectionState().Resumed, want)
		}
	}
}

// TestClientCANames: a server's ClientCANames reach the client in
// certificate_authorities (RFC 8446 §4.2.4), as crypto/tls's client and
// ours read them; none are sent by default, ClientCAs or not.
func TestClientCANames(t *testing.T) {
	p := testPKI(t)
	ca, err := x509.ParseCertificate(p.caDER)
	if err != nil {
		t.Fatal(err)
	}
	other := []byte{0x30, 0x0e, 0x31, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x03, 'o', 'n', 'e'}
	for _, names := range [][][]byte{nil, {ca.RawSubject}, {other, ca.RawSubject}} {
		scfg := ourServerConfig(p)
		scfg.ClientAuth = RequestClientCert
		scfg.ClientCAs = p.clientPool
		scfg.ClientCANames = names
		addr, res := startOurServer(t, scfg)
		var seen [][]byte
		tc := tlsDial(t, addr, &tls.Config{ServerName: "server.test", RootCAs: p.roots,
			GetClientCertificate: func(info *tls.CertificateRequestInfo) (*tls.Certificate, error) {
				seen = info.AcceptableCAs
				return &tls.Certificate{}, nil
			}})
		tlsEcho(t, tc, "names")
		if r := <-res; r.err != nil {
			t.Fatal(r.err)
		}
		if !slices.EqualFunc(seen, names, bytes.Equal) {
			t.Fatalf("crypto/tls saw %x, want %x", seen, names)
		}
	}
}

// TestGetCertificateSeesALPN: GetCertificate gets the client's ALPN
// protocols in its order, nil when it offered none.
func TestGetCertificateSeesALPN(t *testing.T) {
	p := testPKI(t)
	for _, protos := range [][]string{nil, {"h2", "dance/1"}} {
		scfg := ourServerConfig(p)
		scfg.NextProtos = []string{"dance/1"}
		var seen []string
		called := false
		scfg.GetCertificate = func(info *ClientHelloInfo) (*Certificate, error) {
			seen, called = info.SupportedProtos, true
			return nil, nil
		}
		addr, res := startOurServer(t, scfg)
		tc := tlsDial(t, addr, &tls.Config{ServerName: "server.test", RootCAs: p.roots, NextProtos: protos})
		tlsEcho(t, tc, "alpn")
		if r := <-res; r.err != nil {
			t.Fatal(r.err)
		}
		if !called || !slices.Equal(seen, protos) || (protos == nil) != (seen == nil) {
			t.Fatalf("GetCertificate saw %q (called %v), want %q", seen, called, protos)
		}
	}
}

// TestKeySharesTampered: with KeyShares, a ServerHello share for a group
// the client listed but sent no share for, and a HelloRetryRequest asking
// for a group it did send a share for, are refused with illegal_parameter
// (RFC 8446 §4.1.4, §4.2.8).
func TestKeySharesTampered(t *testing.T) {
	p := testPKI(t)
	cases := map[string]struct {
		srv  []tls.CurveID
		edit func(n int, sh *wire.ServerHello)
	}{
		"share for a group listed, not shared": {srv: []tls.CurveID{tls.CurveP256}, edit: func(_ int, sh *wire.ServerHello) {
			setExt(sh, wire.NewServerKeyShareExtension(wire.KeyShare{Group: wire.GroupX25519, Data: make([]byte, 32)}))
		}},
		"HRR for the group shared": {srv: []tls.CurveID{tls.X25519}, edit: func(n int, sh *wire.ServerHello) {
			if n == 1 {
				setExt(sh, wire.NewHRRKeyShareExtension(wire.GroupSecp256r1))
			}
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			scfg := serverConfig(p)
			scfg.CurvePreferences = tc.srv
			addr := startTamperer(t, scfg, editHello(func(n int, sh *wire.ServerHello) [][]byte {
				tc.edit(n, sh)
				return [][]byte{shRecord(sh)}
			}))
			c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots,
				CurvePreferences: []CurveID{X25519, CurveP256}, KeyShares: []CurveID{CurveP256}})
			err := c.HandshakeContext(context.Background())
			if d, ok := alert.Of(err); !ok || d != alert.IllegalParameter {
				t.Fatalf("handshake error %v, want illegal_parameter", err)
			}
		})
	}
}
