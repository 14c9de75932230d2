package tls13

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/cputime"
)

// Benchmarks of this engine side by side with crypto/tls: each pair runs
// the same work with impl=dance and impl=crypto-tls, in one process, over
// TCP on 127.0.0.1. A handshake op is both sides of one handshake, with
// client authentication. Besides wall time per op, cpu-ns/op is the
// process's CPU time per op, the figure to compare on a busy machine.
//
//	go test ./tls13 -run '^$' -bench . -benchmem
//
// bench/tls13.sh runs them in alternating rounds and prints the medians
// and the ratios to crypto/tls.

// cpuTime returns the CPU time this process has used, user and system:
// what a handshake costs on a loaded machine, where wall time also counts
// waiting for a core.
func cpuTime(b *testing.B) time.Duration {
	d, err := cputime.Process()
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// reportCPU adds the metric cpu-ns/op: process CPU time since start per
// iteration, both sides of the connection included.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

// benchCerts is a CA, a server and a client certificate of one key type.
type benchCerts struct {
	roots          *x509.CertPool
	server, client Certificate
}

var (
	benchCertsMu sync.Mutex
	benchCertsBy = map[string]*benchCerts{}
)

func benchKey(b *testing.B, kind string) crypto.Signer {
	var k crypto.Signer
	var err error
	switch kind {
	case "P-256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "Ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// certsFor returns certificates whose keys, CA's included, are all of kind.
func certsFor(b *testing.B, kind string) *benchCerts {
	benchCertsMu.Lock()
	defer benchCertsMu.Unlock()
	if c, ok := benchCertsBy[kind]; ok {
		return c
	}
	now := time.Now()
	caKey := benchKey(b, kind)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER := issue(b, caTmpl, caTmpl, caKey.Public(), caKey)
	ca, _ := x509.ParseCertificate(caDER)
	c := &benchCerts{roots: x509.NewCertPool()}
	c.roots.AddCert(ca)
	leaf := func(serial int64, name string, usage x509.ExtKeyUsage) Certificate {
		k := benchKey(b, kind)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			DNSNames: []string{name}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature}
		return Certificate{Chain: [][]byte{issue(b, tmpl, ca, k.Public(), caKey)}, PrivateKey: k}
	}
	c.server = leaf(2, "server.test", x509.ExtKeyUsageServerAuth)
	c.client = leaf(3, "client.test", x509.ExtKeyUsageClientAuth)
	benchCertsBy[kind] = c
	return c
}

func tlsCert(c Certificate) tls.Certificate {
	return tls.Certificate{Certificate: c.Chain, PrivateKey: c.PrivateKey}
}

// handshaker is one implementation's side of a connection.
type handshaker interface {
	Handshake() error
	io.ReadWriteCloser
}

// benchImpl builds the two sides of one implementation.
type benchImpl struct {
	client func(net.Conn) handshaker
	server func(net.Conn) handshaker
}

func implsFor(b *testing.B, kind, group string, tickets bool) map[string]benchImpl {
	c := certsFor(b, kind)
	ours := map[string][]CurveID{"X25519": {X25519}, "X25519MLKEM768": {X25519MLKEM768}}[group]
	theirs := map[string][]tls.CurveID{"X25519": {tls.X25519}, "X25519MLKEM768": {tls.X25519MLKEM768}}[group]
	oc := &Config{ServerName: "server.test", RootCAs: c.roots, Certificates: []Certificate{c.client}, CurvePreferences: ours}
	os := &Config{Certificates: []Certificate{c.server}, ClientAuth: RequireClientCert, ClientCAs: c.roots,
		CurvePreferences: ours, SessionTicketsDisabled: !tickets}
	tc := &tls.Config{ServerName: "server.test", RootCAs: c.roots, Certificates: []tls.Certificate{tlsCert(c.client)},
		CurvePreferences: theirs, MinVersion: tls.VersionTLS13}
	ts := &tls.Config{Certificates: []tls.Certificate{tlsCert(c.server)}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: c.roots, CurvePreferences: theirs, MinVersion: tls.VersionTLS13, SessionTicketsDisabled: !tickets}
	if tickets {
		oc.ClientSessionCache = NewLRUClientSessionCache(1)
		tc.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	}
	return map[string]benchImpl{
		"dance": {
			client: func(n net.Conn) handshaker { return Client(n, oc) },
			server: func(n net.Conn) handshaker { return Server(n, os) },
		},
		"crypto-tls": {
			client: func(n net.Conn) handshaker { return tls.Client(n, tc) },
			server: func(n net.Conn) handshaker { return tls.Server(n, ts) },
		},
	}
}

// benchListener accepts connections and hands them out in order.
type benchListener struct {
	ln    net.Listener
	conns chan net.Conn
}

func newBenchListener(b *testing.B) *benchListener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	l := &benchListener{ln: ln, conns: make(chan net.Conn)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(l.conns)
				return
			}
			l.conns <- c
		}
	}()
	b.Cleanup(func() { ln.Close() })
	return l
}

// pair dials the listener and returns both ends.
func (l *benchListener) pair(b *testing.B) (cli, srv net.Conn) {
	cli, err := net.Dial("tcp", l.ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	return cli, <-l.conns
}

// handshakeOnce runs one handshake between impl's two sides and, with
// readTicket, has the client read the server's ticket.
func handshakeOnce(b *testing.B, l *benchListener, impl benchImpl, readTicket bool) (cli, srv handshaker) {
	cr, sr := l.pair(b)
	cli, srv = impl.client(cr), impl.server(sr)
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	if err := cli.Handshake(); err != nil {
		b.Fatal(err)
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	if readTicket {
		// The ticket comes after the handshake; a round trip takes it in.
		go func() {
			var one [1]byte
			io.ReadFull(srv, one[:])
			srv.Write(one[:])
		}()
		var one [1]byte
		if _, err := cli.Write(one[:]); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(cli, one[:]); err != nil {
			b.Fatal(err)
		}
	}
	return cli, srv
}

// BenchmarkHandshake: full handshakes with client certificates, for both
// certificate key types and both groups.
func BenchmarkHandshake(b *testing.B) {
	for _, kind := range []string{"P-256", "Ed25519"} {
		for _, group := range []string{"X25519", "X25519MLKEM768"} {
			impls := implsFor(b, kind, group, false)
			for _, name := range []string{"dance", "crypto-tls"} {
				b.Run("cert="+kind+"/group="+group+"/impl="+name, func(b *testing.B) {
					l := newBenchListener(b)
					b.ReportAllocs()
					start := cpuTime(b)
					for b.Loop() {
						cli, srv := handshakeOnce(b, l, impls[name], false)
						cli.Close()
						srv.Close()
					}
					reportCPU(b, start)
				})
			}
		}
	}
}

// BenchmarkResumedHandshake: handshakes resuming a session (PSK with
// X25519), client authentication configured.
func BenchmarkResumedHandshake(b *testing.B) {
	impls := implsFor(b, "P-256", "X25519", true)
	for _, name := range []string{"dance", "crypto-tls"} {
		b.Run("group=X25519/impl="+name, func(b *testing.B) {
			l := newBenchListener(b)
			cli, srv := handshakeOnce(b, l, impls[name], true)
			cli.Close()
			srv.Close()
			b.ReportAllocs()
			start := cpuTime(b)
			for b.Loop() {
				cli, srv := handshakeOnce(b, l, impls[name], false)
				if r, ok := cli.(interface{ ConnectionState() ConnectionState }); ok && !r.ConnectionState().Resumed {
					b.Fatal("not resumed")
				}
				if r, ok := cli.(*tls.Conn); ok && !r.ConnectionState().DidResume {
					b.Fatal("not resumed")
				}
				cli.Close()
				srv.Close()
			}
			reportCPU(b, start)
		})
	}
}

// BenchmarkThroughput: 16 KiB writes from client to server on one
// established connection (AES-128-GCM, the first choice of both).
func BenchmarkThroughput(b *testing.B) {
	impls := implsFor(b, "P-256", "X25519", false)
	const size = 16 << 10
	for _, name := range []string{"dance", "crypto-tls"} {
		b.Run("write=16KiB/impl="+name, func(b *testing.B) {
			l := newBenchListener(b)
			cli, srv := handshakeOnce(b, l, impls[name], false)
			done := make(chan error, 1)
			go func() {
				_, err := io.Copy(io.Discard, srv)
				done <- err
			}()
			buf := make([]byte, size)
			b.SetBytes(size)
			b.ReportAllocs()
			start := cpuTime(b)
			for b.Loop() {
				if _, err := cli.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			cli.Close()
			<-done
			reportCPU(b, start)
			srv.Close()
		})
	}
}
