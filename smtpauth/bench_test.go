package smtpauth_test

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/dnsbound/dance/smtpauth"
)

// BenchmarkSession is one whole SMTP session per iteration: connect,
// EHLO, STARTTLS with the client certificate, EHLO, MAIL, QUIT. "dane"
// authenticates the client through the core (its cache warm after the
// first session); "baseline" is the same server and TLS, the certificate
// requested, without any authentication.
//
//	go test -run '^$' -bench BenchmarkSession -benchtime 2s ./smtpauth
func BenchmarkSession(b *testing.B) {
	f := newFixture(b)
	cr := f.creds[published]
	cert := tls.Certificate{Certificate: [][]byte{cr.Cert.Raw}, PrivateKey: cr.Key, Leaf: cr.Cert}
	b.Run("dane", func(b *testing.B) { benchSessions(b, f.addr, cert) })
	b.Run("baseline", func(b *testing.B) {
		s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return acceptAll{}, nil }))
		s.Domain = "relay.example.test"
		s.TLSConfig = smtpauth.ServerTLSConfig(&tls.Config{Certificates: f.serverCert})
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go s.Serve(l)
		defer s.Close()
		benchSessions(b, l.Addr().String(), cert)
	})
}

func benchSessions(b *testing.B, addr string, cert tls.Certificate) {
	cfg := &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}} // the server's certificate is not what is measured
	b.ReportAllocs()
	for b.Loop() {
		c, err := smtp.DialStartTLS(addr, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Hello("mta1.example.test"); err != nil {
			b.Fatal(err)
		}
		if err := c.Mail("postmaster@mta1.example.test", nil); err != nil {
			b.Fatal(err)
		}
		if err := c.Quit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
}
