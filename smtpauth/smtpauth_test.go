package smtpauth_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/smtpauth"
	"github.com/dnsbound/dance/verify"
)

const (
	published   = "_smtp-client.mta1.example.test"
	unpublished = "_smtp-client.mta2.example.test"
	offList     = "_smtp-client.mta3.example.test"
)

// fixture is a signed hierarchy publishing one client MTA, a core whose
// allow-list holds the published and the unpublished names, and an SMTP
// server with a smtpauth.Backend on a loopback port.
type fixture struct {
	h     *dnstest.Hierarchy
	addr  string
	pool  *x509.CertPool
	creds map[string]testident.Cred
	// serverCert is the server's certificate, for other servers of a test.
	serverCert []tls.Certificate
	reg        *prometheus.Registry // the Backend's metrics

	mu   sync.Mutex
	seen []string // identities of the authenticated sessions
	log  strings.Builder
}

// Write collects the Backend's log.
func (f *fixture) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.log.Write(p)
}

func (f *fixture) logText() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.log.String()
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureDNS(t, dnstest.Config{}, 0)
}

// newFixtureDNS is newFixture with the hierarchy's faults in hc (the
// client MTAs' records added) and the core's lookup deadline.
func newFixtureDNS(t testing.TB, hc dnstest.Config, lookupTimeout time.Duration) *fixture {
	t.Helper()
	f := &fixture{creds: map[string]testident.Cred{}}
	for _, n := range []string{published, unpublished, offList} {
		f.creds[n] = testident.SelfSigned(t, n, identity.KeyECDSAP256)
	}
	hc.Records = append(hc.Records,
		testident.EELine(t, published, f.creds[published].Key.Public()),
		// offList is published but not allowed: it must never be looked up.
		testident.EELine(t, offList, f.creds[offList].Key.Public()))
	f.h = dnstest.Start(t, hc)
	al, err := verify.ParseAllowList([]string{published, unpublished})
	if err != nil {
		t.Fatal(err)
	}
	core, err := verify.New(verify.Config{Resolver: testident.Resolver(t, f.h, resolver.Config{}), Allow: al, LookupTimeout: lookupTimeout})
	if err != nil {
		t.Fatal(err)
	}
	cert, pool := testident.ServerCert(t)
	f.pool = pool
	f.serverCert = []tls.Certificate{cert}
	f.reg = prometheus.NewRegistry()
	m, err := smtpauth.NewMetrics(f.reg)
	if err != nil {
		t.Fatal(err)
	}
	be := &smtpauth.Backend{Verifier: core, Metrics: m, Log: slog.New(slog.NewTextHandler(f, nil)), Authenticated: func(c *smtp.Conn, id *verify.Identity) (smtp.Session, error) {
		f.mu.Lock()
		f.seen = append(f.seen, id.Name)
		f.mu.Unlock()
		return acceptAll{}, nil
	}}
	s := smtp.NewServer(be)
	s.Domain = "relay.example.test"
	s.TLSConfig = smtpauth.ServerTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = l.Addr().String()
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return f
}

type acceptAll struct{}

func (acceptAll) Reset()                               {}
func (acceptAll) Logout() error                        { return nil }
func (acceptAll) Mail(string, *smtp.MailOptions) error { return nil }
func (acceptAll) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (acceptAll) Data(r io.Reader) error               { _, err := io.Copy(io.Discard, r); return err }

// mail sends MAIL FROM as a client presenting cert (none when name is ""),
// over STARTTLS unless plain, and returns the reply's error.
func (f *fixture) mail(t *testing.T, name string, plain bool) error {
	t.Helper()
	var c *smtp.Client
	var err error
	if plain {
		c, err = smtp.Dial(f.addr)
	} else {
		cfg := &tls.Config{RootCAs: f.pool, ServerName: "localhost"}
		if name != "" {
			cr := f.creds[name]
			cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{cr.Cert.Raw}, PrivateKey: cr.Key, Leaf: cr.Cert}}
		}
		c, err = smtp.DialStartTLS(f.addr, cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The EHLO name claims the published identity whatever the certificate
	// says: only the certificate counts.
	if err := c.Hello("mta1.example.test"); err != nil {
		t.Fatal(err)
	}
	return c.Mail("postmaster@mta1.example.test", nil)
}

func TestBackendReplies(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		cert   string
		plain  bool
		code   int
		enh    smtp.EnhancedCode
		accept bool
	}{
		{name: "published", cert: published, accept: true},
		{name: "before STARTTLS", cert: "", plain: true, code: 530, enh: smtp.EnhancedCode{5, 7, 0}},
		{name: "no certificate", cert: "", code: 530, enh: smtp.EnhancedCode{5, 7, 0}},
		{name: "unpublished", cert: unpublished, code: 550, enh: smtp.EnhancedCode{5, 7, 1}},
		{name: "off the allow-list", cert: offList, code: 550, enh: smtp.EnhancedCode{5, 7, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := f.mail(t, tc.cert, tc.plain)
			if tc.accept {
				if err != nil {
					t.Fatalf("MAIL: %v, want accepted", err)
				}
				return
			}
			var se *smtp.SMTPError
			if !errors.As(err, &se) {
				t.Fatalf("MAIL: %v, want an SMTP reply %d", err, tc.code)
			}
			if se.Code != tc.code || se.EnhancedCode != tc.enh {
				t.Fatalf("MAIL: %d %v %q, want %d %v", se.Code, se.EnhancedCode, se.Message, tc.code, tc.enh)
			}
		})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.Join(f.seen, ",") != published {
		t.Fatalf("authenticated sessions %q, want only %s", f.seen, published)
	}
	// Each client's first EHLO, before STARTTLS, is a no_tls session.
	want := map[string]float64{
		`dance_smtp_sessions_total{result="authenticated"}`:  1,
		`dance_smtp_sessions_total{result="refused"}`:        3,
		`dance_smtp_sessions_total{result="no_tls"}`:         5,
		`dance_smtp_refusals_total{reason="no-certificate"}`: 1,
		`dance_smtp_refusals_total{reason="not-allowed"}`:    1,
		`dance_smtp_refusals_total{reason="no-record"}`:      1,
	}
	got := counters(t, f.reg)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

// counters gathers reg's counters as name{label="value"} -> value.
func counters(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			k := mf.GetName()
			for _, l := range m.GetLabel() {
				k += "{" + l.GetName() + "=\"" + l.GetValue() + "\"}"
			}
			out[k] = m.GetCounter().GetValue()
		}
	}
	return out
}

// TestBackendAllowListFirst: a name off the allow-list is refused without
// a DNS query, though it is published.
func TestBackendAllowListFirst(t *testing.T) {
	f := newFixture(t)
	before := f.h.Queries()
	var se *smtp.SMTPError
	if err := f.mail(t, offList, false); !errors.As(err, &se) || se.Code != 550 {
		t.Fatalf("MAIL: %v, want 550", err)
	}
	if q := f.h.Queries(); q != before {
		t.Fatalf("%d DNS queries for a name off the allow-list, want none", q-before)
	}
}

// TestServerTLSConfig: the client certificate is requested, not checked
// against a CA pool, and TLS 1.2 is the floor.
func TestServerTLSConfig(t *testing.T) {
	base := &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: x509.NewCertPool(), MinVersion: tls.VersionTLS10}
	got := smtpauth.ServerTLSConfig(base)
	if got.ClientAuth != tls.RequestClientCert || got.ClientCAs != nil || got.MinVersion != tls.VersionTLS12 {
		t.Fatalf("ClientAuth %v, ClientCAs %v, MinVersion %x", got.ClientAuth, got.ClientCAs, got.MinVersion)
	}
	if base.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatal("base was changed")
	}
}

// TestBackendDNSFailures: a bogus answer refuses the sender for good
// (550 5.7.1); an answer that does not come in time asks it to retry
// (451 4.7.0), so that no mail is bounced for a slow name server.
func TestBackendDNSFailures(t *testing.T) {
	t.Run("bogus", func(t *testing.T) {
		f := newFixtureDNS(t, dnstest.Config{Zones: map[string]dnstest.ZoneOptions{dnstest.Zone: {Fault: dnstest.ExpiredSignatures}}}, 0)
		var se *smtp.SMTPError
		if err := f.mail(t, published, false); !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) {
			t.Fatalf("MAIL: %v, want 550 5.7.1", err)
		}
	})
	t.Run("slow", func(t *testing.T) {
		hold := make(chan struct{})
		f := newFixtureDNS(t, dnstest.Config{Hold: hold}, time.Second)
		t.Cleanup(func() { close(hold) })
		var se *smtp.SMTPError
		if err := f.mail(t, published, false); !errors.As(err, &se) || se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 7, 0}) {
			t.Fatalf("MAIL: %v, want 451 4.7.0", err)
		}
	})
}

// TestBackendMisconfigured: a Backend without its Verifier refuses every
// session instead of panicking or letting anyone send.
func TestBackendMisconfigured(t *testing.T) {
	s := smtp.NewServer(&smtpauth.Backend{})
	s.Domain = "relay.example.test"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	c, err := smtp.Dial(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var se *smtp.SMTPError
	if err := c.Hello("mta1.example.test"); !errors.As(err, &se) || se.Code != 451 {
		t.Fatalf("EHLO: %v, want 451", err)
	}
}

// TestBackendRefusalLog: a sender refused again and again costs one log
// line per name (per address without a certificate) and interval, while
// the metrics count every refusal; another name gets its own line.
func TestBackendRefusalLog(t *testing.T) {
	f := newFixture(t)
	for range 3 {
		f.mail(t, unpublished, false)
		f.mail(t, offList, false)
		f.mail(t, "", false)
	}
	text := f.logText()
	for _, tc := range []struct {
		re   string
		want int
	}{
		{`msg="smtp client refused".* name=` + regexp.QuoteMeta(unpublished) + ` reason=no-record`, 1},
		{`msg="smtp client refused".* name=` + regexp.QuoteMeta(offList) + ` reason=not-allowed`, 1},
		{`msg="smtp client refused" remote=127\.0\.0\.1:\d+ ehlo=\S+ reason=no-certificate`, 1},
		{`msg="smtp client refused"`, 3},
	} {
		if n := len(regexp.MustCompile(tc.re).FindAllString(text, -1)); n != tc.want {
			t.Errorf("%d lines match %s, want %d:\n%s", n, tc.re, tc.want, text)
		}
	}
	got := counters(t, f.reg)
	if got[`dance_smtp_refusals_total{reason="no-record"}`] != 3 || got[`dance_smtp_refusals_total{reason="not-allowed"}`] != 3 || got[`dance_smtp_refusals_total{reason="no-certificate"}`] != 3 {
		t.Errorf("refusals counted %v, want 3 of each", got)
	}
}
