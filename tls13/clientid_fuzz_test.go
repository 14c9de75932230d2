package tls13

import (
	"bytes"
	"context"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/wire"
)

// FuzzServerHandshakeDANE feeds arbitrary bytes to a server that asks for
// dane_clientid and client credentials and takes raw public keys, with a
// raw key of its own besides its certificate: the paths of RFC 7250 and
// dane_clientid. It must end as FuzzServerHandshake's does.
func FuzzServerHandshakeDANE(f *testing.F) {
	p := testPKI(f)
	rawKey := mustKey(f, "ed25519")
	h := defaultRawHello()
	h.extra = []wire.Extension{
		wire.NewCertTypesExtension([]uint8{wire.CertTypeRawPublicKey, wire.CertTypeX509}, true),
		wire.NewCertTypesExtension([]uint8{wire.CertTypeRawPublicKey}, false),
	}
	f.Add(h.marshalFor(f))
	h.extra = h.extra[:1]
	f.Add(h.marshalFor(f))
	f.Fuzz(func(t *testing.T, in []byte) {
		conn := &scriptConn{r: bytes.NewReader(in)}
		cfg := ourServerConfig(p)
		cfg.Certificates = append([]Certificate{{PrivateKey: rawKey}}, cfg.Certificates...)
		cfg.ClientAuth, cfg.ClientCAs = RequestClientCert, p.clientPool
		cfg.RequestClientName, cfg.AcceptRawPublicKeys = true, true
		cfg.VerifyConnection = func(context.Context, ConnectionState) error { return nil }
		err := Server(conn, cfg).Handshake()
		checkFuzzOutcome(t, err, conn.out.Bytes())
	})
}
