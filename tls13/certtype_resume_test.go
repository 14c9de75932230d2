package tls13

import (
	"context"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/wire"
)

// TestResumedServerCertType: a client that offers server_certificate_type
// gets the server's type in EncryptedExtensions in the resumed handshake
// too (RFC 7250 §4.2), the same as in the full one, although no Certificate
// follows; a client that offers nothing, or whose types the server has no
// credential of, gets none.
func TestResumedServerCertType(t *testing.T) {
	p := testPKI(t)
	srvRaw := mustKey(t, "ecdsa")
	x509, rpk := CertificateTypeX509, CertificateTypeRawPublicKey
	cases := map[string]struct {
		srvCerts func() []Certificate
		cliTypes []CertificateType // the client's PeerCertificateTypes
		want     int               // the type in both EncryptedExtensions; -1: absent
	}{
		"raw key": {
			srvCerts: func() []Certificate { return []Certificate{{PrivateKey: srvRaw}, ourServerConfig(p).Certificates[0]} },
			cliTypes: []CertificateType{rpk, x509}, want: int(rpk),
		},
		"X.509 asked for explicitly": {
			srvCerts: func() []Certificate { return ourServerConfig(p).Certificates },
			cliTypes: []CertificateType{rpk, x509}, want: int(x509),
		},
		"not offered": {
			srvCerts: func() []Certificate { return []Certificate{{PrivateKey: srvRaw}, ourServerConfig(p).Certificates[0]} },
			want:     -1,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var seen []int
			scfg := &Config{Certificates: tc.srvCerts(), editMessage: func(msg []byte) []byte {
				if wire.HandshakeType(msg[0]) == wire.TypeEncryptedExtensions {
					var ee wire.EncryptedExtensions
					if err := ee.Unmarshal(msg); err != nil {
						t.Error(err)
					}
					seen = append(seen, ee.ServerCertType)
				}
				return msg
			}}
			addr, res := serveConns(t, scfg, 2, func(c *Conn) ([]byte, error) {
				_, err := c.Write([]byte("x"))
				return nil, err
			})
			ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, PeerCertificateTypes: tc.cliTypes,
				ClientSessionCache: NewLRUClientSessionCache(1),
				VerifyConnection:   func(context.Context, ConnectionState) error { return nil }}
			for i := range 2 {
				c := dial(t, addr, ccfg)
				if _, err := c.Read(make([]byte, 1)); err != nil {
					t.Fatal(err)
				}
				c.Close()
				if r := <-res; r.err != nil || r.state.Resumed != (i == 1) {
					t.Fatalf("connection %d: %v, resumed %v", i, r.err, r.state.Resumed)
				}
			}
			if len(seen) != 2 || seen[0] != tc.want || seen[1] != tc.want {
				t.Fatalf("server_certificate_type in EncryptedExtensions %v, want %d twice", seen, tc.want)
			}
		})
	}
}
