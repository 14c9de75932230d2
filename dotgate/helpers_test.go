package dotgate

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/verify"
)

// Identities of the tests, all under the in-process hierarchy's _device
// zone.
const (
	nameAll     = "all._device.example.test"     // every zone, no rate limit
	nameNarrow  = "narrow._device.example.test"  // insecure.example.test only, 3 queries a second
	nameRevoked = "revoked._device.example.test" // on the policy, its records revoked
	nameOff     = "off._device.example.test"     // published, not on the policy
)

const testPolicy = `# test policy
all._device.example.test     .                        rate=0
narrow._device.example.test  insecure.example.test.   rate=3
revoked._device.example.test .
`

// client is a credential written as "dance id new" writes it.
type client struct {
	name string
	dir  string
	cert tls.Certificate
}

func (c client) certFile() string { return filepath.Join(c.dir, testident.CertFile) }
func (c client) keyFile() string  { return filepath.Join(c.dir, testident.KeyFile) }

func newClient(t testing.TB, name string) (client, testident.Cred) {
	t.Helper()
	cred := testident.SelfSigned(t, name, identity.KeyECDSAP256)
	dir := testident.Write(t, cred.Key, cred.Cert)
	cert, err := danetls.LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	return client{name: name, dir: dir, cert: cert}, cred
}

// gateEnv is a gate in front of a real Unbound, its clients authenticated
// against the in-process hierarchy.
type gateEnv struct {
	srv      *Server
	addr     string
	reg      *prometheus.Registry
	clients  map[string]client
	stranger client // nameAll's name with an unpublished key
	clock    *fakeClock
	h        *dnstest.Hierarchy // the client names' DNS
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func startGate(t testing.TB, upstream string, tune func(*Config)) *gateEnv {
	t.Helper()
	e := &gateEnv{clients: map[string]client{}, reg: prometheus.NewRegistry(), clock: &fakeClock{t: time.Now()}}
	var recs []string
	for _, n := range []string{nameAll, nameNarrow, nameRevoked, nameOff} {
		c, cred := newClient(t, n)
		e.clients[n] = c
		if n == nameRevoked {
			recs = append(recs, n+". 300 IN TLSA "+tlsa.RevocationMarker)
			continue
		}
		recs = append(recs, testident.EELine(t, n, cred.Key.Public()))
	}
	e.stranger, _ = newClient(t, nameAll)
	h := dnstest.Start(t, dnstest.Config{Records: recs})
	e.h = h
	r := testident.Resolver(t, h, resolver.Config{})
	p, err := ParsePolicy(strings.NewReader(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	al, err := p.AllowList()
	if err != nil {
		t.Fatal(err)
	}
	core, err := verify.New(verify.Config{Resolver: r, Allow: al, Registerer: e.reg})
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := testident.ServerCert(t)
	cfg := Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Verifier: core, Policy: p,
		Upstream: upstream, Registerer: e.reg}
	if tune != nil {
		tune(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.limit.now = e.clock.now
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != ErrServerClosed {
			t.Errorf("Serve: %v", err)
		}
	})
	e.srv, e.addr = srv, ln.Addr().String()
	return e
}

// dial opens an authenticated connection as c.
func (e *gateEnv) dial(t testing.TB, c client) (*tls.Conn, error) {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", e.addr,
		danetls.ClientConfig(&tls.Config{InsecureSkipVerify: true}, c.cert))
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	// A refused client learns it on its first read under TLS 1.3.
	return conn, nil
}

// ask sends one query on conn and reads the answer.
func ask(conn net.Conn, name string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	wire, err := q.Pack()
	if err != nil {
		return nil, err
	}
	if err := writeFramed(conn, wire); err != nil {
		return nil, err
	}
	return readFramed(conn)
}

func writeFramed(conn net.Conn, wire []byte) error {
	buf := make([]byte, 2+len(wire))
	binary.BigEndian.PutUint16(buf, uint16(len(wire)))
	copy(buf[2:], wire)
	_, err := conn.Write(buf)
	return err
}

func readFramed(conn net.Conn) (*dns.Msg, error) {
	var p [2]byte
	if _, err := io.ReadFull(conn, p[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint16(p[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, err
	}
	r := new(dns.Msg)
	return r, r.Unpack(buf)
}

// counter reads a dance_dotgate_* counter with the given label value.
func (e *gateEnv) counter(t *testing.T, name, label string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func realUnbound(t *testing.T) string {
	t.Helper()
	return dnstest.StartReal(t).UnboundAddr
}
