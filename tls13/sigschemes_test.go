package tls13

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/tls13/internal/alert"
)

// TestSignatureSchemesNegotiated: Config.SignatureSchemes limits what a
// side offers and accepts, Certificate.SignatureSchemes orders what a
// credential signs with; each case checks the scheme each side saw, or
// the alert that ended the handshake.
func TestSignatureSchemesNegotiated(t *testing.T) {
	p := testPKI(t)
	cases := map[string]struct {
		server, client func(*Config)
		// wantServerSig / wantClientSig: the scheme of the server's /
		// the client's CertificateVerify; 0 when the handshake fails.
		wantServerSig, wantClientSig uint16
		// wantAlert ends the handshake when non-zero.
		wantAlert alert.Description
	}{
		"client offers only Ed25519 to an ECDSA server": {
			client:    func(c *Config) { c.SignatureSchemes = []SignatureScheme{Ed25519} },
			wantAlert: alert.HandshakeFailure,
		},
		"client offers ECDSA P-256 among others": {
			client:        func(c *Config) { c.SignatureSchemes = []SignatureScheme{Ed25519, ECDSAWithP256AndSHA256} },
			wantServerSig: uint16(ECDSAWithP256AndSHA256),
		},
		"client credential prefers rsa_pss_rsae_sha512": {
			server: func(c *Config) { c.ClientAuth, c.ClientCAs = RequireClientCert, p.clientPool },
			client: func(c *Config) {
				cc := p.clients["rsa"]
				cc.SignatureSchemes = []SignatureScheme{PSSWithSHA512, PSSWithSHA256}
				c.Certificates = []Certificate{cc}
			},
			wantServerSig: uint16(ECDSAWithP256AndSHA256), wantClientSig: uint16(PSSWithSHA512),
		},
		"server asks only for rsa_pss_rsae_sha384": {
			server: func(c *Config) {
				c.ClientAuth, c.ClientCAs = RequireClientCert, p.clientPool
				c.SignatureSchemes = []SignatureScheme{PSSWithSHA384}
			},
			client:        func(c *Config) { c.Certificates = []Certificate{p.clients["rsa"]} },
			wantServerSig: uint16(ECDSAWithP256AndSHA256), wantClientSig: uint16(PSSWithSHA384),
		},
		"server asks for Ed25519, client has only ECDSA": {
			server: func(c *Config) {
				c.ClientAuth, c.ClientCAs = RequireClientCert, p.clientPool
				c.SignatureSchemes = []SignatureScheme{Ed25519}
			},
			client:    func(c *Config) { c.Certificates = []Certificate{p.clients["ecdsa"]} },
			wantAlert: alert.CertificateRequired,
		},
		"server credential limited to a scheme the client does not offer": {
			server: func(c *Config) {
				c.Certificates[0].SignatureSchemes = []SignatureScheme{ECDSAWithP384AndSHA384}
			},
			wantAlert: alert.HandshakeFailure,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			scfg := ourServerConfig(p)
			if tc.server != nil {
				tc.server(scfg)
			}
			ccfg := &Config{ServerName: "server.test", RootCAs: p.roots}
			if tc.client != nil {
				tc.client(ccfg)
			}
			addr, res := startOurServer(t, scfg)
			c := dial(t, addr, ccfg)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := c.HandshakeContext(ctx)
			switch {
			case err == nil && tc.wantAlert != 0:
				// A client learns of a refusal of its certificate
				// when it reads. It writes nothing first: an octet
				// reaching the closed server would make it reset the
				// connection, and the client could see the reset
				// instead of the alert.
				_, err = c.Read(make([]byte, 1))
			case err == nil:
				// An accepted client gets its octet back.
				if _, err = c.Write([]byte{'x'}); err == nil {
					_, err = c.Read(make([]byte, 1))
				}
			}
			c.Close()
			r := <-res
			if tc.wantAlert != 0 {
				// In every case the server refuses: it sends the
				// alert, the client receives it.
				sent, recv := r.err, err
				if d, ok := alert.Of(sent); !ok || d != tc.wantAlert {
					t.Fatalf("server error %v, want alert %v sent", sent, tc.wantAlert)
				}
				var rem *RemoteAlertError
				if !errors.As(recv, &rem) || alert.Description(rem.Alert) != tc.wantAlert {
					t.Fatalf("client error %v, want alert %v received", recv, tc.wantAlert)
				}
				return
			}
			if r.err != nil {
				t.Fatalf("server: %v", r.err)
			}
			if got := c.ConnectionState().PeerSignatureScheme; got != tc.wantServerSig {
				t.Errorf("server signed with %#04x, want %#04x", got, tc.wantServerSig)
			}
			if got := r.state.PeerSignatureScheme; got != tc.wantClientSig {
				t.Errorf("client signed with %#04x, want %#04x", got, tc.wantClientSig)
			}
		})
	}
}

// TestSignatureSchemesRefused: a scheme outside the engine's scope, or
// one listed twice, stops the handshake before anything is sent.
func TestSignatureSchemesRefused(t *testing.T) {
	p := testPKI(t)
	cases := map[string]struct {
		server bool
		edit   func(*Config)
		want   string
	}{
		"client rsa_pkcs1_sha256": {
			edit: func(c *Config) { c.SignatureSchemes = []SignatureScheme{0x0401} },
			want: "Config.SignatureSchemes: signature scheme 0x0401 is not implemented",
		},
		"client scheme twice": {
			edit: func(c *Config) { c.SignatureSchemes = []SignatureScheme{Ed25519, Ed25519} },
			want: "Config.SignatureSchemes: signature scheme 0x0807 twice",
		},
		"client credential ecdsa_secp521r1_sha512": {
			edit: func(c *Config) {
				cc := p.clients["ecdsa"]
				cc.SignatureSchemes = []SignatureScheme{0x0603}
				c.Certificates = []Certificate{cc}
			},
			want: "Config.Certificates[0].SignatureSchemes: signature scheme 0x0603 is not implemented",
		},
		"server unknown scheme": {
			server: true,
			edit:   func(c *Config) { c.SignatureSchemes = []SignatureScheme{0x1234} },
			want:   "Config.SignatureSchemes: signature scheme 0x1234 is not implemented",
		},
		"server credential rsa_pkcs1_sha384": {
			server: true,
			edit:   func(c *Config) { c.Certificates[0].SignatureSchemes = []SignatureScheme{0x0501} },
			want:   "Config.Certificates[0].SignatureSchemes: signature scheme 0x0501 is not implemented",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			a, b := tcpPair(t)
			defer a.Close()
			var c *Conn
			if tc.server {
				cfg := ourServerConfig(p)
				tc.edit(cfg)
				c = Server(b, cfg)
			} else {
				cfg := &Config{ServerName: "server.test", RootCAs: p.roots}
				tc.edit(cfg)
				c = Client(a, cfg)
			}
			err := c.Handshake()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("handshake error %v, want %q", err, tc.want)
			}
			if _, ok := alert.Of(err); ok {
				t.Errorf("configuration error %v carries an alert", err)
			}
		})
	}
}
