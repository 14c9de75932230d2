package tls13

import (
	"bytes"
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// TestCertificateTypeOrder: Config.PeerCertificateTypes and
// CertificateTypes, our client against our server. The server picks the
// client's type by its own preference among the client's list (RFC 7250
// §4.2), its own type by CertificateTypes, and the client sends only a type
// it offered.
func TestCertificateTypeOrder(t *testing.T) {
	p := testPKI(t)
	cliRaw := mustKey(t, "ed25519")
	srvRaw := mustKey(t, "ecdsa")
	rawAndCert := func() []Certificate { return []Certificate{{PrivateKey: cliRaw}, p.clients["ecdsa"]} }
	certAndRaw := func() []Certificate { return []Certificate{p.clients["ecdsa"], {PrivateKey: cliRaw}} }
	x509, rpk := CertificateTypeX509, CertificateTypeRawPublicKey
	cases := map[string]struct {
		srv, cli  func(s, c *Config)
		rawClient bool // the server got the client's raw key (else a chain)
		rawServer bool // the client got the server's raw key (else a chain)
	}{
		// The client prefers its raw key, the server X.509: X.509.
		"server prefers X.509": {
			srv: func(s, c *Config) { s.PeerCertificateTypes = []CertificateType{x509, rpk} },
			cli: func(s, c *Config) { c.Certificates = rawAndCert() },
		},
		// The client lists X.509 first, the server raw keys: raw key.
		"server prefers raw keys": {
			srv:       func(s, c *Config) { s.PeerCertificateTypes = []CertificateType{rpk, x509} },
			cli:       func(s, c *Config) { c.Certificates = certAndRaw() },
			rawClient: true,
		},
		"server accepts raw keys only": {
			srv:       func(s, c *Config) { s.PeerCertificateTypes = []CertificateType{rpk} },
			cli:       func(s, c *Config) { c.Certificates = certAndRaw() },
			rawClient: true,
		},
		// The client's CertificateTypes order the offer, not its
		// Certificates: [RawPublicKey, X.509] offered, X.509 chosen by
		// the server, and the certificate sent although listed first.
		"client offers in CertificateTypes order": {
			srv: func(s, c *Config) { s.PeerCertificateTypes = []CertificateType{x509, rpk} },
			cli: func(s, c *Config) {
				c.Certificates, c.CertificateTypes = certAndRaw(), []CertificateType{rpk, x509}
			},
		},
		// Both credentials on the server; the client accepts both; the
		// server's CertificateTypes put X.509 first although its raw
		// key is its first Certificate.
		"server sends its type by CertificateTypes": {
			srv: func(s, c *Config) {
				s.Certificates = []Certificate{{PrivateKey: srvRaw}, s.Certificates[0]}
				s.CertificateTypes = []CertificateType{x509, rpk}
			},
			cli: func(s, c *Config) { c.PeerCertificateTypes = []CertificateType{rpk, x509} },
		},
		"client accepts raw keys only": {
			srv: func(s, c *Config) {
				s.Certificates = []Certificate{s.Certificates[0], {PrivateKey: srvRaw}}
			},
			cli:       func(s, c *Config) { c.PeerCertificateTypes = []CertificateType{rpk} },
			rawServer: true,
		},
		// A client that accepts X.509 first still gets the raw key of a
		// server that lists it first (the server's credential order).
		"client prefers X.509, server has only a raw key": {
			srv:       func(s, c *Config) { s.Certificates = []Certificate{{PrivateKey: srvRaw}} },
			cli:       func(s, c *Config) { c.PeerCertificateTypes = []CertificateType{x509, rpk} },
			rawServer: true,
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
			tc.srv(scfg, ccfg)
			tc.cli(scfg, ccfg)
			addr, res := startOurServer(t, scfg)
			c := dial(t, addr, ccfg)
			echo(t, c, "hello")
			r := <-res
			if r.err != nil {
				t.Fatalf("server: %v", r.err)
			}
			if got := r.state.PeerRawPublicKey != nil; got != tc.rawClient || got == (len(r.state.PeerCertificates) > 0) {
				t.Errorf("server got raw key %x and %d certificates; want raw %v", r.state.PeerRawPublicKey, len(r.state.PeerCertificates), tc.rawClient)
			}
			if tc.rawClient && !bytes.Equal(r.state.PeerRawPublicKey, spkiOf(t, cliRaw)) {
				t.Errorf("server got raw key %x, not the client's", r.state.PeerRawPublicKey)
			}
			cst := c.ConnectionState()
			if got := cst.PeerRawPublicKey != nil; got != tc.rawServer || got == (len(cst.PeerCertificates) > 0) {
				t.Errorf("client got raw key %x and %d certificates; want raw %v", cst.PeerRawPublicKey, len(cst.PeerCertificates), tc.rawServer)
			}
		})
	}
}

// TestCertificateTypeRefusals: an endpoint that does not accept X.509
// refuses a chain with unsupported_certificate (RFC 8446 §6.2), and a
// client sends only a credential of a type it offered.
func TestCertificateTypeRefusals(t *testing.T) {
	p := testPKI(t)
	cliRaw := mustKey(t, "ed25519")
	srvRaw := mustKey(t, "ecdsa")
	x509, rpk := CertificateTypeX509, CertificateTypeRawPublicKey
	dropEE := onType(wire.TypeEncryptedExtensions, func([]byte) []byte {
		return (&wire.EncryptedExtensions{Extensions: []wire.Extension{}}).Marshal()
	})
	cases := map[string]struct {
		srv, cli     func(s, c *Config)
		serverAlerts bool // the server refuses (else the client)
		want         alert.Description
	}{
		// The client has only a certificate and offers no types; the
		// server, taking raw keys only, cannot select one and refuses
		// the chain.
		"server takes raw keys only, client sends a certificate": {
			srv:          func(s, c *Config) { s.PeerCertificateTypes = []CertificateType{rpk} },
			serverAlerts: true,
			want:         alert.UnsupportedCertificate,
		},
		// The client offers its raw key only; the server takes X.509
		// only and leaves client_certificate_type out, so X.509 is
		// negotiated: the client has a certificate but did not offer
		// X.509, so it sends none.
		"client offers raw keys only, server takes X.509": {
			cli: func(s, c *Config) {
				c.Certificates = []Certificate{p.clients["ecdsa"], {PrivateKey: cliRaw}}
				c.CertificateTypes = []CertificateType{rpk}
			},
			serverAlerts: true,
			want:         alert.CertificateRequired,
		},
		// The client takes raw keys only; the server's answer is
		// dropped, so X.509 is the type by default, which the client
		// refuses before reading the Certificate.
		"client takes raw keys only, server answers nothing": {
			srv: func(s, c *Config) {
				s.Certificates = []Certificate{{PrivateKey: srvRaw}}
				s.editMessage = dropEE
			},
			cli:  func(s, c *Config) { c.PeerCertificateTypes = []CertificateType{rpk} },
			want: alert.UnsupportedCertificate,
		},
		"client takes X.509 only by PeerCertificateTypes, server has a raw key only": {
			srv:          func(s, c *Config) { s.Certificates = []Certificate{{PrivateKey: srvRaw}} },
			cli:          func(s, c *Config) { c.PeerCertificateTypes = []CertificateType{x509} },
			serverAlerts: true,
			want:         alert.HandshakeFailure,
		},
		// The server's CertificateTypes leave out raw keys: its raw key
		// is not a candidate for a client that takes raw keys only.
		"server CertificateTypes exclude its raw key": {
			srv: func(s, c *Config) {
				s.Certificates = []Certificate{{PrivateKey: srvRaw}, s.Certificates[0]}
				s.CertificateTypes = []CertificateType{x509}
			},
			cli:          func(s, c *Config) { c.PeerCertificateTypes = []CertificateType{rpk} },
			serverAlerts: true,
			want:         alert.UnsupportedCertificate,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var seen ConnectionState
			scfg := ourServerConfig(p)
			scfg.ClientAuth, scfg.ClientCAs = RequireClientCert, p.clientPool
			scfg.VerifyConnection = acceptAll(&seen)
			ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, Certificates: []Certificate{p.clients["ecdsa"]},
				VerifyConnection: acceptAll(&ConnectionState{})}
			if tc.srv != nil {
				tc.srv(scfg, ccfg)
			}
			if tc.cli != nil {
				tc.cli(scfg, ccfg)
			}
			addr, res := startOurServer(t, scfg)
			c := dial(t, addr, ccfg)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cerr := c.HandshakeContext(ctx)
			if cerr == nil {
				// A client learns of a refusal of its Finished flight
				// on its next read. Nothing is written first: the
				// refusing server may be gone, and a write would fail
				// before the alert is read. The deadline only bounds
				// a server that wrongly accepts and waits for data.
				c.SetReadDeadline(time.Now().Add(time.Minute))
				_, cerr = c.Read(make([]byte, 1))
			}
			// An accepting server echoes until the client closes.
			c.Close()
			r := <-res
			mine, theirs := r.err, cerr
			if !tc.serverAlerts {
				mine, theirs = cerr, r.err
			}
			if d, ok := alert.Of(mine); !ok || d != tc.want {
				t.Fatalf("refusing side's error %v, want alert %v", mine, tc.want)
			}
			// The other side reads the alert, unless it was still
			// writing its flight when the refusing side closed.
			if rem, ok := theirs.(*RemoteAlertError); ok && alert.Description(rem.Alert) != tc.want {
				t.Fatalf("other side got the peer's %v alert, want %v", rem.Alert, tc.want)
			} else if !ok && !errors.Is(theirs, syscall.EPIPE) && !errors.Is(theirs, syscall.ECONNRESET) {
				t.Fatalf("other side's error %v, want the peer's %v alert", theirs, tc.want)
			}
		})
	}
}

// TestCertificateTypesConfigRefused: unknown or repeated types, and raw
// keys accepted without a VerifyConnection, are configuration errors
// reported before anything is sent.
func TestCertificateTypesConfigRefused(t *testing.T) {
	for name, cfg := range map[string]*Config{
		"unknown peer type":           {ServerName: "server.test", PeerCertificateTypes: []CertificateType{1}},
		"repeated peer type":          {ServerName: "server.test", PeerCertificateTypes: []CertificateType{0, 0}},
		"unknown own type":            {ServerName: "server.test", CertificateTypes: []CertificateType{5}},
		"raw keys only, no verifier":  {ServerName: "server.test", PeerCertificateTypes: []CertificateType{CertificateTypeRawPublicKey}},
		"X.509 then raw, no verifier": {ServerName: "server.test", PeerCertificateTypes: []CertificateType{CertificateTypeX509, CertificateTypeRawPublicKey}},
	} {
		t.Run(name, func(t *testing.T) { checkRefusedBeforeSending(t, cfg) })
	}
}

// TestRawKeyTicket: a raw-key session resumes only while the resuming
// side still accepts raw keys (else a full handshake authenticates
// afresh), and VerifyConnection checks the ticket's raw key again: its
// refusal ends the resumed handshake with handshake_failure.
func TestRawKeyTicket(t *testing.T) {
	p := testPKI(t)
	cliRaw := mustKey(t, "ed25519")
	srvRaw := mustKey(t, "ecdsa")
	x509, rpk := CertificateTypeX509, CertificateTypeRawPublicKey
	refused := errors.New("raw key no longer trusted")
	cases := map[string]struct {
		rawServer bool // the server authenticates by raw key (else the client)
		// then changes the Configs after the first connection.
		then       func(s, c *Config, refuse *bool)
		wantResume bool
		wantAlert  alert.Description // from the refusing side; 0: accepted
	}{
		"client raw key resumes": {wantResume: true},
		"server raw key resumes": {rawServer: true, wantResume: true},
		"server no longer takes raw keys": {then: func(s, c *Config, _ *bool) {
			s.PeerCertificateTypes = []CertificateType{x509}
		}},
		"client no longer takes raw keys": {rawServer: true, then: func(s, c *Config, _ *bool) {
			c.PeerCertificateTypes = []CertificateType{x509}
		}},
		"server VerifyConnection refuses the ticket's raw key": {then: func(s, c *Config, refuse *bool) { *refuse = true }, wantAlert: alert.HandshakeFailure},
		"client VerifyConnection refuses the ticket's raw key": {rawServer: true, then: func(s, c *Config, refuse *bool) { *refuse = true }, wantAlert: alert.HandshakeFailure},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			refuse := false
			verify := func(_ context.Context, cs ConnectionState) error {
				if refuse && cs.Resumed && cs.PeerRawPublicKey != nil {
					return refused
				}
				return nil
			}
			scfg := ourServerConfig(p)
			scfg.ClientAuth, scfg.ClientCAs = RequireClientCert, p.clientPool
			scfg.PeerCertificateTypes = []CertificateType{rpk, x509}
			ccfg := &Config{ServerName: "server.test", RootCAs: p.roots,
				Certificates:       []Certificate{{PrivateKey: cliRaw}, p.clients["ecdsa"]},
				ClientSessionCache: NewLRUClientSessionCache(0)}
			if tc.rawServer {
				scfg.Certificates = []Certificate{{PrivateKey: srvRaw}, scfg.Certificates[0]}
				scfg.PeerCertificateTypes = []CertificateType{x509}
				ccfg.PeerCertificateTypes = []CertificateType{rpk, x509}
				ccfg.VerifyConnection = verify
			} else {
				scfg.VerifyConnection = verify
			}
			addr, res := startOurServer(t, scfg)
			c := dial(t, addr, ccfg)
			echo(t, c, "first")
			c.Close()
			if r := <-res; r.err != nil {
				t.Fatalf("first connection: %v", r.err)
			}
			if tc.then != nil {
				scfg, ccfg = reconfigure(scfg, ccfg, func(s, c *Config) { tc.then(s, c, &refuse) })
			}
			addr, res = startOurServer(t, scfg)
			c = dial(t, addr, ccfg)
			defer c.Close()
			if tc.wantAlert != 0 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				cerr := c.HandshakeContext(ctx)
				if cerr == nil {
					c.SetReadDeadline(time.Now().Add(time.Minute))
					_, cerr = c.Read(make([]byte, 1))
				}
				r := <-res
				mine := r.err
				if tc.rawServer {
					mine = cerr
				}
				if d, ok := alert.Of(mine); !ok || d != tc.wantAlert || !errors.Is(mine, refused) {
					t.Fatalf("refusing side's error %v, want alert %v from VerifyConnection", mine, tc.wantAlert)
				}
				return
			}
			echo(t, c, "second")
			c.Close()
			r := <-res
			if r.err != nil {
				t.Fatalf("second connection: %v", r.err)
			}
			cst := c.ConnectionState()
			if r.state.Resumed != tc.wantResume || cst.Resumed != tc.wantResume {
				t.Fatalf("resumed %v/%v, want %v", r.state.Resumed, cst.Resumed, tc.wantResume)
			}
			switch {
			case tc.rawServer && tc.wantResume:
				if !bytes.Equal(cst.PeerRawPublicKey, spkiOf(t, srvRaw)) || cst.PeerCertificates != nil {
					t.Errorf("client reports raw key %x, %d certificates", cst.PeerRawPublicKey, len(cst.PeerCertificates))
				}
			case tc.rawServer:
				if cst.PeerRawPublicKey != nil || len(cst.PeerCertificates) == 0 {
					t.Errorf("client reports raw key %x, %d certificates; want the chain", cst.PeerRawPublicKey, len(cst.PeerCertificates))
				}
			case tc.wantResume:
				if !bytes.Equal(r.state.PeerRawPublicKey, spkiOf(t, cliRaw)) || r.state.PeerCertificates != nil {
					t.Errorf("server reports raw key %x, %d certificates", r.state.PeerRawPublicKey, len(r.state.PeerCertificates))
				}
			default:
				if r.state.PeerRawPublicKey != nil || len(r.state.PeerCertificates) == 0 {
					t.Errorf("server reports raw key %x, %d certificates; want the chain", r.state.PeerRawPublicKey, len(r.state.PeerCertificates))
				}
			}
		})
	}
}
