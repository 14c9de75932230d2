package tls13

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

const deviceName = "sensor1._device.example.com"

// spkiOf is the DER SubjectPublicKeyInfo of k's public key.
func spkiOf(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// acceptAll is a VerifyConnection that records the state it saw.
func acceptAll(seen *ConnectionState) func(context.Context, ConnectionState) error {
	return func(_ context.Context, cs ConnectionState) error {
		*seen = cs
		return nil
	}
}

// TestClientNameAndRawKeys runs our client against our server with
// dane_clientid and raw public keys (draft-ietf-dance-tls-clientid-07 §3,
// RFC 7250) and checks what each side's ConnectionState reports.
func TestClientNameAndRawKeys(t *testing.T) {
	p := testPKI(t)
	rawKey := mustKey(t, "ed25519")
	srvRawKey := mustKey(t, "ecdsa")
	type want struct {
		name       string // the server's ClientName
		signalled  bool   // the server's DANEClientID
		clientSent string // the client's ClientName
		rawClient  []byte // the server's PeerRawPublicKey
		chain      bool   // the server got a chain
		rawServer  []byte // the client's PeerRawPublicKey
	}
	cases := map[string]struct {
		srv, cli func(s, c *Config)
		want     want
	}{
		"certificate and name": {
			srv:  func(s, c *Config) { s.RequestClientName = true },
			cli:  func(s, c *Config) { c.ClientName = deviceName },
			want: want{name: deviceName, signalled: true, clientSent: deviceName, chain: true},
		},
		"name not asked, not sent": {
			cli:  func(s, c *Config) { c.ClientName = deviceName },
			want: want{chain: true},
		},
		"asked, no name to send": {
			srv:  func(s, c *Config) { s.RequestClientName = true },
			want: want{chain: true},
		},
		"codepoints agree": {
			srv:  func(s, c *Config) { s.RequestClientName, s.DANEClientIDCodepoint = true, 0xFF42 },
			cli:  func(s, c *Config) { c.ClientName, c.DANEClientIDCodepoint = deviceName, 0xFF42 },
			want: want{name: deviceName, signalled: true, clientSent: deviceName, chain: true},
		},
		// The client does not know the server's codepoint: to it the
		// request is an unknown extension, which it ignores, and it
		// sends no name.
		"codepoints differ": {
			srv:  func(s, c *Config) { s.RequestClientName, s.DANEClientIDCodepoint = true, 0xFF42 },
			cli:  func(s, c *Config) { c.ClientName = deviceName },
			want: want{chain: true},
		},
		"raw key client with name": {
			srv: func(s, c *Config) { s.RequestClientName, s.AcceptRawPublicKeys = true, true },
			cli: func(s, c *Config) {
				c.ClientName, c.Certificates = deviceName, []Certificate{{PrivateKey: rawKey}}
			},
			want: want{name: deviceName, signalled: true, clientSent: deviceName, rawClient: spkiOf(t, rawKey)},
		},
		// A client with both prefers what it lists first.
		"raw key preferred over certificate": {
			srv: func(s, c *Config) { s.AcceptRawPublicKeys = true },
			cli: func(s, c *Config) {
				c.Certificates = []Certificate{{PrivateKey: rawKey}, p.clients["ecdsa"]}
			},
			want: want{rawClient: spkiOf(t, rawKey)},
		},
		// The server does not take raw keys: the client falls back to
		// its certificate (RFC 7250 §4.2, no client_certificate_type in
		// the answer).
		"server takes no raw keys": {
			cli: func(s, c *Config) {
				c.Certificates = []Certificate{{PrivateKey: rawKey}, p.clients["ecdsa"]}
			},
			want: want{chain: true},
		},
		"raw key server": {
			srv: func(s, c *Config) {
				s.Certificates = []Certificate{{PrivateKey: srvRawKey}, s.Certificates[0]}
			},
			cli:  func(s, c *Config) { c.AcceptRawPublicKeys = true },
			want: want{chain: true, rawServer: spkiOf(t, srvRawKey)},
		},
		"raw key server, client takes only X.509": {
			srv: func(s, c *Config) {
				s.Certificates = []Certificate{{PrivateKey: srvRawKey}, s.Certificates[0]}
			},
			want: want{chain: true},
		},
		"raw keys both ways": {
			srv: func(s, c *Config) {
				s.Certificates = []Certificate{{PrivateKey: srvRawKey}}
				s.RequestClientName, s.AcceptRawPublicKeys = true, true
			},
			cli: func(s, c *Config) {
				c.Certificates, c.ClientName, c.AcceptRawPublicKeys = []Certificate{{PrivateKey: rawKey}}, deviceName, true
			},
			want: want{name: deviceName, signalled: true, clientSent: deviceName, rawClient: spkiOf(t, rawKey), rawServer: spkiOf(t, srvRawKey)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var srvSeen, cliSeen ConnectionState
			scfg := ourServerConfig(p)
			scfg.ClientAuth, scfg.ClientCAs = RequireClientCert, p.clientPool
			scfg.VerifyConnection = acceptAll(&srvSeen)
			ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, Certificates: []Certificate{p.clients["ecdsa"]},
				VerifyConnection: acceptAll(&cliSeen)}
			if tc.srv != nil {
				tc.srv(scfg, ccfg)
			}
			if tc.cli != nil {
				tc.cli(scfg, ccfg)
			}
			addr, res := startOurServer(t, scfg)
			c := dial(t, addr, ccfg)
			echo(t, c, "hello")
			r := <-res
			if r.err != nil {
				t.Fatalf("server: %v", r.err)
			}
			st, w := r.state, tc.want
			if st.ClientName != w.name || st.DANEClientID != w.signalled {
				t.Errorf("server: ClientName %q DANEClientID %v; want %q %v", st.ClientName, st.DANEClientID, w.name, w.signalled)
			}
			if !bytes.Equal(st.PeerRawPublicKey, w.rawClient) || (len(st.PeerCertificates) > 0) != w.chain {
				t.Errorf("server: raw key %x, %d certificates; want %x, chain %v", st.PeerRawPublicKey, len(st.PeerCertificates), w.rawClient, w.chain)
			}
			if srvSeen.ClientName != st.ClientName || !bytes.Equal(srvSeen.PeerRawPublicKey, st.PeerRawPublicKey) || len(srvSeen.PeerCertificates) != len(st.PeerCertificates) {
				t.Errorf("server VerifyConnection saw %+v", srvSeen)
			}
			cst := c.ConnectionState()
			if cst.ClientName != w.clientSent {
				t.Errorf("client: ClientName %q, want %q", cst.ClientName, w.clientSent)
			}
			if !bytes.Equal(cst.PeerRawPublicKey, w.rawServer) || (len(cst.PeerCertificates) > 0) == (w.rawServer != nil) {
				t.Errorf("client: raw key %x, %d certificates; want %x", cst.PeerRawPublicKey, len(cst.PeerCertificates), w.rawServer)
			}
			if !bytes.Equal(cliSeen.PeerRawPublicKey, cst.PeerRawPublicKey) {
				t.Errorf("client VerifyConnection saw raw key %x", cliSeen.PeerRawPublicKey)
			}
		})
	}
}

type ctxKey struct{}

// TestVerifyConnectionRefuses: a refusal is a handshake_failure, sent by
// the side that refuses, and VerifyConnection gets the handshake's context.
func TestVerifyConnectionRefuses(t *testing.T) {
	p := testPKI(t)
	refuse := errors.New("not on the list")
	for _, side := range []string{"server", "client"} {
		t.Run(side, func(t *testing.T) {
			scfg := ourServerConfig(p)
			scfg.ClientAuth, scfg.ClientCAs, scfg.RequestClientName = RequireClientCert, p.clientPool, true
			ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, Certificates: []Certificate{p.clients["ed25519"]}, ClientName: deviceName}
			var gotValue any
			verify := func(ctx context.Context, cs ConnectionState) error {
				gotValue = ctx.Value(ctxKey{})
				return refuse
			}
			if side == "server" {
				scfg.VerifyConnection = verify
			} else {
				ccfg.VerifyConnection = verify
			}
			addr, res := startOurServer(t, scfg)
			c := dial(t, addr, ccfg)
			ctx := context.WithValue(context.Background(), ctxKey{}, "handshake")
			cerr := c.HandshakeContext(ctx)
			if side == "server" && cerr == nil {
				// The client's flight is complete before the server
				// refuses it: the alert comes on the next read.
				c.Write([]byte("x"))
				_, cerr = c.Read(make([]byte, 1))
			}
			r := <-res
			refuser, other := r.err, cerr
			if side == "client" {
				refuser, other = cerr, r.err
			}
			if d, ok := alert.Of(refuser); !ok || d != alert.HandshakeFailure || !errors.Is(refuser, refuse) {
				t.Errorf("%s error %v, want handshake_failure wrapping the refusal", side, refuser)
			}
			var rem *RemoteAlertError
			if !errors.As(other, &rem) || alert.Description(rem.Alert) != alert.HandshakeFailure {
				t.Errorf("peer of the %s: %v, want the handshake_failure alert", side, other)
			}
			if side == "client" && gotValue != "handshake" {
				t.Errorf("VerifyConnection's context lacks the handshake's value: %v", gotValue)
			}
		})
	}
}

// TestConfigRefusedBeforeSending: settings that could not work fail the
// handshake before a byte is sent.
func TestConfigRefusedBeforeSending(t *testing.T) {
	p := testPKI(t)
	for name, cfg := range map[string]*Config{
		"bad ClientName":                {ServerName: "server.test", ClientName: "a..b"},
		"ClientName with trailing dot":  {ServerName: "server.test", ClientName: deviceName + "."},
		"raw keys without verification": {ServerName: "server.test", AcceptRawPublicKeys: true},
	} {
		t.Run(name, func(t *testing.T) { checkRefusedBeforeSending(t, cfg) })
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	scfg := ourServerConfig(p)
	scfg.AcceptRawPublicKeys = true
	a.SetDeadline(time.Now().Add(time.Minute))
	if err := Server(a, scfg).Handshake(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("server accepting raw keys without VerifyConnection started")
	}
}

// checkRefusedBeforeSending fails t unless a client handshake with cfg
// fails on its configuration, before writing anything and without an
// alert.
func checkRefusedBeforeSending(t *testing.T, cfg *Config) {
	t.Helper()
	// Twice: what is derived from a Config, its refusal included, is
	// kept for its next handshakes.
	var first error
	for range 2 {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		// Nothing reads b: a write would block until the deadline.
		a.SetDeadline(time.Now().Add(time.Minute))
		err := Client(a, cfg).Handshake()
		if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("handshake started: %v", err)
		}
		if _, ok := alert.Of(err); ok {
			t.Fatalf("configuration error %v names an alert", err)
		}
		if first != nil && err.Error() != first.Error() {
			t.Fatalf("second handshake refused with %v, first with %v", err, first)
		}
		first = err
	}
}

// editCertificate rewrites the client's Certificate message.
func editCertificate(t *testing.T, f func(m *wire.Certificate)) func([]byte) []byte {
	return onType(wire.TypeCertificate, func(msg []byte) []byte {
		var m wire.Certificate
		if err := m.Unmarshal(msg); err != nil {
			t.Error(err)
		}
		f(&m)
		return m.Marshal()
	})
}

// TestServerRefusesClientNameAndRawKey: a client's Certificate that breaks
// the rules of dane_clientid or of RFC 7250 is refused with its alert. The
// client's message is changed before it enters its transcript, so its
// signature and Finished still fit: each case reaches the check it names.
func TestServerRefusesClientNameAndRawKey(t *testing.T) {
	p := testPKI(t)
	rawKey := mustKey(t, "ed25519")
	nameExt := func(name string) wire.Extension { return wire.NewDANEClientIDExtension(0, name) }
	setExts := func(exts ...wire.Extension) func(*wire.Certificate) {
		return func(m *wire.Certificate) { m.Entries[0].Extensions = exts }
	}
	badName := func(name string) func(*wire.Certificate) {
		return setExts(wire.Extension{Type: wire.DefaultDANEClientID, Data: append([]byte{byte(len(name))}, name...)})
	}
	cases := map[string]struct {
		notAsked   bool // the server does not send dane_clientid
		rawClient  bool // the client authenticates with rawKey
		acceptRaw  bool // the server takes raw keys
		edit       func(*wire.Certificate)
		want       alert.Description
		wantName   string
		wantSignal bool
	}{
		"name not asked for":  {notAsked: true, edit: setExts(nameExt(deviceName)), want: alert.UnsupportedExtension},
		"empty not asked for": {notAsked: true, edit: setExts(wire.Extension{Type: wire.DefaultDANEClientID, Data: []byte{}}), want: alert.UnsupportedExtension},
		"two names":           {edit: setExts(nameExt(deviceName), nameExt("other._device.example.com")), want: alert.DecodeError},
		"name in a second entry": {edit: func(m *wire.Certificate) {
			m.Entries = append(m.Entries, wire.CertificateEntry{Data: m.Entries[0].Data, Extensions: []wire.Extension{nameExt(deviceName)}})
		}, want: alert.IllegalParameter},
		"empty label":                       {edit: badName("sensor1.._device.example.com"), want: alert.IllegalParameter},
		"trailing dot":                      {edit: badName(deviceName + "."), want: alert.IllegalParameter},
		"escape":                            {edit: badName(`sensor\0491._device.example.com`), want: alert.IllegalParameter},
		"U-label":                           {edit: badName("sensör._device.example.com"), want: alert.IllegalParameter},
		"space":                             {edit: badName("sensor 1._device.example.com"), want: alert.IllegalParameter},
		"length beyond data":                {edit: setExts(wire.Extension{Type: wire.DefaultDANEClientID, Data: []byte{40, 'a'}}), want: alert.DecodeError},
		"unknown entry extension alongside": {edit: setExts(nameExt(deviceName), wire.Extension{Type: 0x7777}), want: alert.UnsupportedExtension},
		// tls-clientid-07 §3: empty means "my name is in my
		// certificate"; the engine reports it and VerifyConnection
		// decides.
		"empty with a certificate":            {edit: setExts(wire.Extension{Type: wire.DefaultDANEClientID, Data: []byte{}}), want: accepted, wantSignal: true},
		"zero-length name with a certificate": {edit: setExts(wire.Extension{Type: wire.DefaultDANEClientID, Data: []byte{0}}), want: accepted, wantSignal: true},
		// A raw key names no one: the name must be in the extension.
		"empty with a raw key": {rawClient: true, acceptRaw: true, edit: setExts(wire.Extension{Type: wire.DefaultDANEClientID, Data: []byte{}}), want: alert.HandshakeFailure},
		"raw key with name":    {rawClient: true, acceptRaw: true, want: accepted, wantName: deviceName, wantSignal: true},
		// RFC 7250: what the Certificate carries follows from the
		// negotiated type.
		"raw key not negotiated but sent": {edit: func(m *wire.Certificate) { m.Entries[0].Data = spkiOf(t, rawKey) }, want: alert.BadCertificate},
		"certificate sent for a raw key": {rawClient: true, acceptRaw: true, edit: func(m *wire.Certificate) {
			m.Entries[0].Data = p.clients["ecdsa"].Chain[0]
		}, want: alert.BadCertificate},
		"two raw keys": {rawClient: true, acceptRaw: true, edit: func(m *wire.Certificate) {
			m.Entries = append(m.Entries, wire.CertificateEntry{Data: m.Entries[0].Data, Extensions: []wire.Extension{}})
		}, want: alert.IllegalParameter},
		"raw key the server does not take": {rawClient: true, want: alert.CertificateRequired},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var seen ConnectionState
			scfg := ourServerConfig(p)
			scfg.ClientAuth, scfg.ClientCAs = RequireClientCert, p.clientPool
			scfg.RequestClientName = !tc.notAsked
			scfg.AcceptRawPublicKeys = tc.acceptRaw
			scfg.VerifyConnection = acceptAll(&seen)
			ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, Certificates: []Certificate{p.clients["ecdsa"]}, ClientName: deviceName}
			if tc.rawClient {
				ccfg.Certificates = []Certificate{{PrivateKey: rawKey}}
			}
			if tc.edit != nil {
				ccfg.editMessage = editCertificate(t, tc.edit)
			}
			addr, res := startOurServer(t, scfg)
			c := dial(t, addr, ccfg)
			if tc.want == accepted {
				echo(t, c, "ok")
				r := <-res
				if r.err != nil {
					t.Fatalf("server: %v", r.err)
				}
				if r.state.ClientName != tc.wantName || r.state.DANEClientID != tc.wantSignal {
					t.Errorf("ClientName %q DANEClientID %v; want %q %v", r.state.ClientName, r.state.DANEClientID, tc.wantName, tc.wantSignal)
				}
				return
			}
			c.HandshakeContext(context.Background())
			c.Write([]byte("data"))
			r := <-res
			if d, ok := alert.Of(r.err); !ok || d != tc.want {
				t.Fatalf("server error %v, want alert %v", r.err, tc.want)
			}
		})
	}
}

// TestClientRefusesCertTypesAndClientID: a server that selects a
// certificate type the client did not offer, sends a key of the wrong type,
// or misuses dane_clientid is refused with its alert.
func TestClientRefusesCertTypesAndClientID(t *testing.T) {
	p := testPKI(t)
	srvRawKey := mustKey(t, "ecdsa")
	ee := func(exts ...wire.Extension) func([]byte) []byte {
		return onType(wire.TypeEncryptedExtensions, func([]byte) []byte {
			return (&wire.EncryptedExtensions{Extensions: exts}).Marshal()
		})
	}
	cases := map[string]struct {
		acceptRaw bool
		rawServer bool
		edit      func([]byte) []byte
		want      alert.Description
	}{
		"server type selected, none offered": {edit: ee(wire.NewSelectedCertTypeExtension(wire.CertTypeRawPublicKey, true)), want: alert.UnsupportedExtension},
		"client type selected, none offered": {edit: ee(wire.NewSelectedCertTypeExtension(wire.CertTypeRawPublicKey, false)), want: alert.UnsupportedExtension},
		"server type not in the offer":       {acceptRaw: true, edit: ee(wire.NewSelectedCertTypeExtension(1, true)), want: alert.IllegalParameter},
		"server type of two octets":          {acceptRaw: true, edit: ee(wire.Extension{Type: wire.ExtServerCertificateType, Data: []byte{2, 0}}), want: alert.DecodeError},
		// The server says raw key and sends its certificate.
		"certificate for a raw key": {acceptRaw: true, edit: ee(wire.NewSelectedCertTypeExtension(wire.CertTypeRawPublicKey, true)), want: alert.BadCertificate},
		// The server says X.509 and sends a raw key.
		"raw key for a certificate": {acceptRaw: true, rawServer: true, edit: ee(wire.NewSelectedCertTypeExtension(wire.CertTypeX509, true)), want: alert.BadCertificate},
		"raw key, nothing selected": {acceptRaw: true, rawServer: true, edit: ee(), want: alert.BadCertificate},
		"name in the request": {edit: onType(wire.TypeCertificateRequest, func([]byte) []byte {
			return (&wire.CertificateRequest{Context: []byte{}, Extensions: []wire.Extension{
				wire.NewSignatureAlgorithmsExtension([]uint16{wire.SigEd25519}, false), wire.NewDANEClientIDExtension(0, deviceName)}}).Marshal()
		}), want: alert.DecodeError},
		"name in the server's Certificate": {edit: onType(wire.TypeCertificate, func(m []byte) []byte {
			var c wire.Certificate
			if err := c.Unmarshal(m); err != nil {
				t.Error(err)
			}
			c.Entries[0].Extensions = []wire.Extension{wire.NewDANEClientIDExtension(0, deviceName)}
			return c.Marshal()
		}), want: alert.UnsupportedExtension},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			scfg := ourServerConfig(p)
			scfg.ClientAuth, scfg.RequestClientName = RequestClientCert, true
			if tc.rawServer {
				scfg.Certificates = []Certificate{{PrivateKey: srvRawKey}}
			}
			scfg.editMessage = tc.edit
			addr, res := startOurServer(t, scfg)
			var seen ConnectionState
			ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, ClientName: deviceName, AcceptRawPublicKeys: tc.acceptRaw}
			if tc.acceptRaw {
				ccfg.VerifyConnection = acceptAll(&seen)
			}
			c := dial(t, addr, ccfg)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := c.HandshakeContext(ctx)
			if d, ok := alert.Of(err); !ok || d != tc.want {
				t.Fatalf("handshake error %v, want alert %v", err, tc.want)
			}
			r := <-res
			if rem, ok := r.err.(*RemoteAlertError); !ok || alert.Description(rem.Alert) != tc.want {
				t.Fatalf("server error %v, want the client's %v alert", r.err, tc.want)
			}
		})
	}
}

// TestServerCertTypeNegotiation: the server's answers to the client's
// certificate type offers (RFC 7250 §4.2), alert read off the wire.
func TestServerCertTypeNegotiation(t *testing.T) {
	p := testPKI(t)
	rawOnly := &Config{Certificates: []Certificate{{PrivateKey: mustKey(t, "ecdsa")}}}
	cases := map[string]struct {
		cfg   *Config
		extra []wire.Extension
		want  alert.Description
	}{
		"client takes only raw keys, server has a certificate": {ourServerConfig(p), []wire.Extension{wire.NewCertTypesExtension([]uint8{wire.CertTypeRawPublicKey}, true)}, alert.UnsupportedCertificate},
		"client takes only X.509, server has a raw key":        {rawOnly, nil, alert.HandshakeFailure},
		"client lists X.509 and OpenPGP, server has a raw key": {rawOnly, []wire.Extension{wire.NewCertTypesExtension([]uint8{wire.CertTypeX509, 1}, true)}, alert.UnsupportedCertificate},
		// RFC 7250 §4.1: a client with only the default to offer omits the extension.
		"client lists X.509 alone": {rawOnly, []wire.Extension{wire.NewCertTypesExtension([]uint8{wire.CertTypeX509}, true)}, alert.DecodeError},
		"empty type list":          {ourServerConfig(p), []wire.Extension{{Type: wire.ExtServerCertificateType, Data: []byte{0}}}, alert.DecodeError},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			addr, _ := startOurServer(t, tc.cfg)
			c := dialRaw(t, addr)
			h := defaultRawHello()
			h.extra = tc.extra
			if _, err := c.Write(h.marshal(t)); err != nil {
				t.Fatal(err)
			}
			if got, _ := readAlert(t, c); got != tc.want {
				t.Fatalf("alert %v, want %v", got, tc.want)
			}
		})
	}
}

// TestResumptionWithRawKeyNotName: a ticket carries a raw public key and
// its type, so a raw-key session resumes and the resumed connection
// reports the key on both sides, VerifyConnection seeing it again; it does
// not carry a dane_clientid name, so a session that claimed one is never
// resumed. The certificate-only session resumes, as a control.
func TestResumptionWithRawKeyNotName(t *testing.T) {
	p := testPKI(t)
	srvRaw := mustKey(t, "ecdsa")
	cliRaw := mustKey(t, "ed25519")
	cases := map[string]struct {
		setup                func(s, c *Config)
		wantResume           bool
		rawClient, rawServer []byte // the raw keys each side must report
	}{
		"certificate only": {setup: func(s, c *Config) {}, wantResume: true},
		"client name":      {setup: func(s, c *Config) { s.RequestClientName, c.ClientName = true, deviceName }},
		"client raw key": {setup: func(s, c *Config) {
			s.AcceptRawPublicKeys, c.Certificates = true, []Certificate{{PrivateKey: cliRaw}}
		}, wantResume: true, rawClient: spkiOf(t, cliRaw)},
		"server raw key": {setup: func(s, c *Config) {
			s.Certificates, c.AcceptRawPublicKeys = []Certificate{{PrivateKey: srvRaw}}, true
		}, wantResume: true, rawServer: spkiOf(t, srvRaw)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var srvSeen, cliSeen ConnectionState
			scfg := ourServerConfig(p)
			scfg.ClientAuth, scfg.ClientCAs = RequireClientCert, p.clientPool
			scfg.VerifyConnection = acceptAll(&srvSeen)
			ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, Certificates: []Certificate{p.clients["ecdsa"]},
				ClientSessionCache: NewLRUClientSessionCache(0), VerifyConnection: acceptAll(&cliSeen)}
			tc.setup(scfg, ccfg)
			for i := range 2 {
				srvSeen, cliSeen = ConnectionState{}, ConnectionState{}
				addr, res := startOurServer(t, scfg)
				c := dial(t, addr, ccfg)
				echo(t, c, "again")
				r := <-res
				if r.err != nil {
					t.Fatal(r.err)
				}
				want := i > 0 && tc.wantResume
				cst := c.ConnectionState()
				if r.state.Resumed != want || cst.Resumed != want {
					t.Fatalf("connection %d: resumed %v/%v, want %v", i, r.state.Resumed, cst.Resumed, want)
				}
				if !bytes.Equal(r.state.PeerRawPublicKey, tc.rawClient) || !bytes.Equal(srvSeen.PeerRawPublicKey, tc.rawClient) {
					t.Errorf("connection %d: server reports raw key %x, VerifyConnection saw %x; want %x", i, r.state.PeerRawPublicKey, srvSeen.PeerRawPublicKey, tc.rawClient)
				}
				if !bytes.Equal(cst.PeerRawPublicKey, tc.rawServer) || !bytes.Equal(cliSeen.PeerRawPublicKey, tc.rawServer) {
					t.Errorf("connection %d: client reports raw key %x, VerifyConnection saw %x; want %x", i, cst.PeerRawPublicKey, cliSeen.PeerRawPublicKey, tc.rawServer)
				}
			}
		})
	}
}
