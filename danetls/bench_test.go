package danetls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/cputime"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/verify"
)

// BenchmarkHandshake compares full TLS 1.3 handshakes (no resumption, no
// session tickets) with DANE client authentication through ServerConfig
// against plain mutual TLS with a CA pool (RequireAndVerifyClientCert):
// the same client certificate, key types, crypto/tls and in-memory
// transport. The DANE variant runs with a warm verdict cache (the steady
// state of a server) and, for comparison, with the verdict cache off and
// the resolver's cache warm (tlsa.Match on every handshake).
func BenchmarkHandshake(b *testing.B) {
	for _, kt := range []identity.KeyType{identity.KeyECDSAP256, identity.KeyEd25519} {
		clientCfg, variants := benchSetup(b, kt)
		for _, v := range variants {
			b.Run(string(kt)+"/"+v.name, func(b *testing.B) {
				for b.Loop() {
					if err := handshake(clientCfg, v.cfg); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
			})
		}
	}
}

// BenchmarkHandshakeRatio measures the handshakes of BenchmarkHandshake
// (plain mTLS, DANE with a warm verdict cache, DANE without one) in
// alternating short rounds, counting the process's CPU time (client and
// server sides together) instead of wall time, so that load from other
// processes on a shared machine falls on every variant alike. It reports
// each DANE variant's handshakes per CPU second as a fraction of mTLS's.
func BenchmarkHandshakeRatio(b *testing.B) {
	const round = 10
	for _, kt := range []identity.KeyType{identity.KeyECDSAP256, identity.KeyEd25519} {
		clientCfg, variants := benchSetup(b, kt)
		b.Run(string(kt), func(b *testing.B) {
			spent := make([]time.Duration, len(variants))
			for b.Loop() {
				for i, v := range variants {
					start := cpuTime()
					for range round {
						if err := handshake(clientCfg, v.cfg); err != nil {
							b.Fatal(err)
						}
					}
					spent[i] += cpuTime() - start
				}
			}
			// variants[0] is plain mTLS.
			for i, v := range variants {
				b.ReportMetric(float64(b.N*round)/spent[i].Seconds(), v.name+"-handshakes/cpu-s")
				if i > 0 {
					b.ReportMetric(float64(spent[0])/float64(spent[i]), v.name+"/mtls")
				}
			}
		})
	}
}

type benchVariant struct {
	name string
	cfg  *tls.Config
}

// benchSetup returns the client configuration and the server variants:
// mTLS with a CA pool, DANE with a warm verdict cache, DANE without one.
func benchSetup(b *testing.B, kt identity.KeyType) (*tls.Config, []benchVariant) {
	b.Helper()
	{
		caKey := testident.Key(b, identity.KeyECDSAP256)
		ca, err := identity.NewCA(identity.OrgCA, identity.MustParseName("example.test"), caKey, identity.Options{})
		if err != nil {
			b.Fatal(err)
		}
		name := "sensor1._device.example.test"
		clientKey := testident.Key(b, kt)
		clientCert, err := identity.IssueDevice(identity.MustParseName(name), clientKey.Public(), identity.Issuer{Cert: ca, Key: caKey}, identity.Options{})
		if err != nil {
			b.Fatal(err)
		}
		serverKey := testident.Key(b, kt)
		serverCert, err := identity.SelfSigned(identity.MustParseName("server.example.test"), serverKey, identity.Options{})
		if err != nil {
			b.Fatal(err)
		}
		h := dnstest.Start(b, dnstest.Config{Records: []string{testident.EELine(b, name, clientKey.Public())}})
		r := testident.Resolver(b, h, resolver.Config{Exchange: h.Exchange})
		allow := mustAllow(b, "*._device.example.test")
		base := func() *tls.Config {
			return &tls.Config{
				Certificates:           []tls.Certificate{{Certificate: [][]byte{serverCert.Raw}, PrivateKey: serverKey}},
				MinVersion:             tls.VersionTLS13,
				SessionTicketsDisabled: true,
			}
		}
		pool := x509.NewCertPool()
		pool.AddCert(ca)
		pki := base()
		pki.ClientAuth = tls.RequireAndVerifyClientCert
		pki.ClientCAs = pool

		cached, err := verify.New(verify.Config{Resolver: r, Allow: allow})
		if err != nil {
			b.Fatal(err)
		}
		uncached, err := verify.New(verify.Config{Resolver: r, Allow: allow, CacheEntries: -1})
		if err != nil {
			b.Fatal(err)
		}
		clientCfg := ClientConfig(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13},
			tls.Certificate{Certificate: [][]byte{clientCert.Raw}, PrivateKey: clientKey})
		// Warm the caches and check every variant authenticates.
		for _, v := range []*verify.Core{cached, uncached} {
			if _, err := v.Verify(context.Background(), name, verify.Presented{Chain: []*x509.Certificate{clientCert}}); err != nil {
				b.Fatal(err)
			}
		}
		return clientCfg, []benchVariant{
			{"mtls-ca-pool", pki},
			{"dane-warm", ServerConfig(base(), cached)},
			{"dane-no-verdict-cache", ServerConfig(base(), uncached)},
		}
	}
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	d, err := cputime.Process()
	if err != nil {
		panic(err)
	}
	return d
}

// handshake runs one full handshake over an in-memory connection.
func handshake(clientCfg, serverCfg *tls.Config) error {
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	done := make(chan error, 1)
	go func() {
		ts := tls.Server(s, serverCfg)
		err := ts.Handshake()
		if err == nil {
			// The client learns of a TLS 1.3 refusal on its first read:
			// write one byte so that the client's read completes only
			// after the server has accepted its certificate.
			_, err = ts.Write([]byte{1})
		}
		done <- err
	}()
	tc := tls.Client(c, clientCfg)
	if err := tc.Handshake(); err != nil {
		return err
	}
	var one [1]byte
	if _, err := tc.Read(one[:]); err != nil {
		return err
	}
	return <-done
}
