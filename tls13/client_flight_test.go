package tls13

import (
	"context"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// onType applies f to the server's message of type t and passes the others.
func onType(t wire.HandshakeType, f func(msg []byte) []byte) func([]byte) []byte {
	return func(msg []byte) []byte {
		if wire.HandshakeType(msg[0]) == t {
			return f(msg)
		}
		return msg
	}
}

func drop([]byte) []byte { return nil }

// accepted marks a case the client must accept.
const accepted alert.Description = 255

// TestClientRefusesServerFlight has our server send a changed, missing or
// extra protected message; the client must refuse it with the alert RFC
// 8446 §4.2, §4.3, §4.4 and §6 name. The messages are changed before they
// enter the server's transcript, so signatures and Finished still match
// what is sent: each case reaches the check it names.
func TestClientRefusesServerFlight(t *testing.T) {
	p := testPKI(t)
	ee := func(exts ...wire.Extension) func([]byte) []byte {
		return onType(wire.TypeEncryptedExtensions, func([]byte) []byte {
			return (&wire.EncryptedExtensions{Extensions: exts}).Marshal()
		})
	}
	cases := map[string]struct {
		clientAuth bool
		alpn       []string
		edit       func([]byte) []byte
		want       alert.Description
	}{
		"unknown extension in EE":     {edit: ee(wire.Extension{Type: 0x7777}), want: alert.UnsupportedExtension},
		"ALPN not offered":            {edit: ee(wire.NewALPNExtension([]string{"h2"})), want: alert.UnsupportedExtension},
		"ALPN protocol not offered":   {alpn: []string{"dance/1"}, edit: ee(wire.NewALPNExtension([]string{"h2"})), want: alert.IllegalParameter},
		"server_name acknowledged":    {edit: ee(wire.Extension{Type: wire.ExtServerName}), want: accepted},
		"EE missing":                  {edit: onType(wire.TypeEncryptedExtensions, drop), want: alert.UnexpectedMessage},
		"Certificate missing":         {edit: onType(wire.TypeCertificate, drop), want: alert.UnexpectedMessage},
		"CertificateVerify missing":   {edit: onType(wire.TypeCertificateVerify, drop), want: alert.UnexpectedMessage},
		"empty Certificate":           {edit: onType(wire.TypeCertificate, func([]byte) []byte { return (&wire.Certificate{Context: []byte{}}).Marshal() }), want: alert.DecodeError},
		"Certificate with a context":  {edit: onType(wire.TypeCertificate, func(m []byte) []byte { return withContext(t, m) }), want: alert.IllegalParameter},
		"certificate entry extension": {edit: onType(wire.TypeCertificate, func(m []byte) []byte { return withEntryExt(t, m) }), want: alert.UnsupportedExtension},
		"Finished altered":            {edit: onType(wire.TypeFinished, func(m []byte) []byte { m[len(m)-1] ^= 1; return m }), want: alert.DecryptError},
		"Finished short":              {edit: onType(wire.TypeFinished, func(m []byte) []byte { return (&wire.Finished{VerifyData: m[5:]}).Marshal() }), want: alert.DecodeError},
		"CertificateRequest context": {clientAuth: true, edit: onType(wire.TypeCertificateRequest, func([]byte) []byte {
			return (&wire.CertificateRequest{Context: []byte{1}, Extensions: []wire.Extension{wire.NewSignatureAlgorithmsExtension([]uint16{wire.SigEd25519}, false)}}).Marshal()
		}), want: alert.IllegalParameter},
		"no certificate asked, none sent": {clientAuth: true, want: accepted},
		"certificate_authorities empty": {clientAuth: true, edit: onType(wire.TypeCertificateRequest, func([]byte) []byte {
			return (&wire.CertificateRequest{Context: []byte{}, Extensions: []wire.Extension{wire.NewSignatureAlgorithmsExtension([]uint16{wire.SigEd25519}, false),
				{Type: wire.ExtCertificateAuthorities, Data: []byte{0, 0}}}}).Marshal()
		}), want: alert.DecodeError},
		"certificate_authorities trailing data": {clientAuth: true, edit: onType(wire.TypeCertificateRequest, func([]byte) []byte {
			return (&wire.CertificateRequest{Context: []byte{}, Extensions: []wire.Extension{wire.NewSignatureAlgorithmsExtension([]uint16{wire.SigEd25519}, false),
				{Type: wire.ExtCertificateAuthorities, Data: []byte{0, 2, 0x30, 0, 0}}}}).Marshal()
		}), want: alert.DecodeError},
		"certificate_authorities": {clientAuth: true, edit: onType(wire.TypeCertificateRequest, func([]byte) []byte {
			return (&wire.CertificateRequest{Context: []byte{}, Extensions: []wire.Extension{wire.NewSignatureAlgorithmsExtension([]uint16{wire.SigEd25519}, false),
				wire.NewCertificateAuthoritiesExtension([][]byte{{0x30, 0}})}}).Marshal()
		}), want: accepted},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := ourServerConfig(p)
			cfg.editMessage = tc.edit
			cfg.NextProtos = tc.alpn
			if tc.clientAuth {
				cfg.ClientAuth = RequestClientCert
			}
			addr, res := startOurServer(t, cfg)
			c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots, NextProtos: tc.alpn})
			err := c.HandshakeContext(context.Background())
			if tc.want == accepted {
				if err != nil {
					t.Fatal(err)
				}
				c.Close()
				if r := <-res; r.err != nil {
					t.Fatalf("server: %v", r.err)
				}
				return
			}
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

func withContext(t *testing.T, msg []byte) []byte {
	var m wire.Certificate
	if err := m.Unmarshal(msg); err != nil {
		t.Error(err)
	}
	m.Context = []byte{1}
	return m.Marshal()
}

func withEntryExt(t *testing.T, msg []byte) []byte {
	var m wire.Certificate
	if err := m.Unmarshal(msg); err != nil {
		t.Error(err)
	}
	m.Entries[0].Extensions = []wire.Extension{{Type: 0x7777}}
	return m.Marshal()
}

// TestServerRefusesClientFlight is the server-side twin: our client
// changes or drops its Certificate, CertificateVerify or Finished, and our
// server refuses with the alert RFC 8446 §4.4 names.
func TestServerRefusesClientFlight(t *testing.T) {
	p := testPKI(t)
	cases := map[string]struct {
		edit func([]byte) []byte
		want alert.Description
	}{
		"CertificateVerify missing":   {onType(wire.TypeCertificateVerify, drop), alert.UnexpectedMessage},
		"Certificate missing":         {onType(wire.TypeCertificate, drop), alert.UnexpectedMessage},
		"Certificate with a context":  {onType(wire.TypeCertificate, func(m []byte) []byte { return withContext(t, m) }), alert.IllegalParameter},
		"certificate entry extension": {onType(wire.TypeCertificate, func(m []byte) []byte { return withEntryExt(t, m) }), alert.UnsupportedExtension},
		"not a certificate": {onType(wire.TypeCertificate, func([]byte) []byte {
			return (&wire.Certificate{Context: []byte{}, Entries: []wire.CertificateEntry{{Data: []byte{0x30, 0}, Extensions: []wire.Extension{}}}}).Marshal()
		}), alert.BadCertificate},
		"signature altered": {onType(wire.TypeCertificateVerify, func(m []byte) []byte { m[len(m)-5] ^= 1; return m }), alert.DecryptError},
		"Finished altered":  {onType(wire.TypeFinished, func(m []byte) []byte { m[len(m)-1] ^= 1; return m }), alert.DecryptError},
		// Without a Finished the server still reads with the
		// handshake keys; the client's application data does not
		// authenticate under them.
		"Finished missing": {onType(wire.TypeFinished, drop), alert.BadRecordMAC},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			scfg := ourServerConfig(p)
			scfg.ClientAuth, scfg.ClientCAs = RequireClientCert, p.clientPool
			addr, res := startOurServer(t, scfg)
			c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots,
				Certificates: []Certificate{p.clients["ed25519"]}, editMessage: tc.edit})
			// The client's flight may or may not be written in full
			// before the server refuses it; only the server's verdict
			// is checked.
			c.HandshakeContext(context.Background())
			// For the case without Finished: data the server must
			// not accept in its place. Otherwise the server has
			// refused already, and the write's outcome is moot.
			c.Write([]byte("data"))
			r := <-res
			if d, ok := alert.Of(r.err); !ok || d != tc.want {
				t.Fatalf("server error %v, want alert %v", r.err, tc.want)
			}
		})
	}
}
