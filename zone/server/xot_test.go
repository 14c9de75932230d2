package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/daemon"
	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/tsigkey"
)

// TestXoTAuthModes: on the XoT listener a transfer gets what its mode
// asks, and nothing less: a client certificate (which the listener's
// configuration authenticates; here crypto/tls only checks that the
// client holds its key), a transfer key, or both. The address list does
// not admit anyone there, and plain TCP keeps its own rules.
func TestXoTAuthModes(t *testing.T) {
	cert, pool := selfSigned(t)
	clientCert, _ := selfSigned(t)
	xk, _ := tsigkey.Generate("xfr.devices.test.", tsigkey.HMACSHA256)
	noCert := &tls.Config{RootCAs: pool, ServerName: "dns.devices.test", NextProtos: []string{ALPN}}
	withCert := noCert.Clone()
	withCert.Certificates = []tls.Certificate{clientCert}
	tls12 := withCert.Clone()
	tls12.MaxVersion = tls.VersionTLS12

	type attempt struct {
		name   string
		client *tls.Config
		key    *tsigkey.Key // nil: unsigned; the update key: a key that may not transfer
		ok     bool
	}
	for _, mode := range []struct {
		auth       XoTAuth
		clientAuth tls.ClientAuthType
		attempts   []attempt
	}{
		{XoTDANE, tls.RequestClientCert, []attempt{
			{"certificate", withCert, nil, true},
			{"no certificate", noCert, nil, false},
			{"no certificate, transfer key", noCert, xk, false},
		}},
		{XoTTSIG, tls.NoClientCert, []attempt{
			{"transfer key", noCert, xk, true},
			{"unsigned", noCert, nil, false},
			{"update key", noCert, nil /* set below */, false},
			{"certificate, unsigned", withCert, nil, false},
		}},
		{XoTBoth, tls.RequestClientCert, []attempt{
			{"certificate and transfer key", withCert, xk, true},
			{"certificate, unsigned", withCert, nil, false},
			{"transfer key, no certificate", noCert, xk, false},
		}},
	} {
		t.Run(mode.auth.String(), func(t *testing.T) {
			var xotAddr string
			ts := startServerListeners(t, zone.InitOptions{}, func(c *Config) {
				c.TransferKeys = []*tsigkey.Key{xk}
				c.XoTAuth = mode.auth
				// Loopback may transfer over TCP with the key: the XoT
				// listener does not use this list.
				c.TransferFrom = loopback
			}, nil, func(ls *Listeners) {
				l, err := ListenXoT("127.0.0.1:0", &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{ALPN},
					Certificates: []tls.Certificate{cert}, ClientAuth: mode.clientAuth})
				if err != nil {
					t.Fatal(err)
				}
				ls.XoT, xotAddr = l, l.Addr().String()
			})
			addRR(t, ts.zone, "s1._device.devices.test. 300 IN TLSA 3 1 1 0102")
			for _, a := range mode.attempts {
				t.Run(a.name, func(t *testing.T) {
					key := a.key
					if a.name == "update key" {
						key = ts.key
					}
					rrs, err := tlsTransfer(t, xotAddr, a.client, key)
					if a.ok {
						if err != nil || countType(rrs, dns.TypeTLSA) != 1 {
							t.Fatalf("refused: %v, %d records", err, len(rrs))
						}
						return
					}
					if err == nil || len(rrs) > 0 || !strings.Contains(err.Error(), "rcode") {
						t.Fatalf("transferred or not refused by an rcode: %v, %d records", err, len(rrs))
					}
				})
			}
			// A request signed with the transfer key's name and another
			// secret: the first answer must be a refusal, read without
			// checking its signature (the forger does not have the key).
			if mode.auth.NeedsTSIG() {
				forged, _ := tsigkey.Generate(xk.Name, tsigkey.HMACSHA256)
				if r := forgedTSIGRequest(t, xotAddr, withCert, forged); r.Rcode == dns.RcodeSuccess || len(r.Answer) > 0 {
					t.Fatalf("forged transfer key: rcode %s, %d records", dns.RcodeToString[r.Rcode], len(r.Answer))
				}
			}
			// TLS 1.2 does not get through the handshake.
			if rrs, err := tlsTransfer(t, xotAddr, tls12, xk); err == nil || len(rrs) > 0 {
				t.Fatalf("TLS 1.2: %v, %d records", err, len(rrs))
			}
			// Plain TCP keeps its rules: the address and the key.
			if rrs, err := axfr(t, ts.addr, dns.TypeAXFR, 0, nil); err == nil && len(rrs) > 0 {
				t.Fatal("unsigned AXFR over TCP transferred")
			}
			if rrs, err := axfr(t, ts.addr, dns.TypeAXFR, 0, xk); err != nil || countType(rrs, dns.TypeTLSA) != 1 {
				t.Fatalf("signed AXFR over TCP: %v", err)
			}
			// Queries are answered on the XoT listener (a secondary's SOA
			// check).
			c := &dns.Client{Net: "tcp-tls", TLSConfig: withCert}
			m := new(dns.Msg)
			m.SetQuestion(origin, dns.TypeSOA)
			if r, _, err := c.Exchange(m, xotAddr); err != nil || r.Rcode != dns.RcodeSuccess || countType(r.Answer, dns.TypeSOA) != 1 {
				t.Fatalf("SOA query over XoT: %v %v", err, r)
			}
		})
	}
}

// TestXoTSettings: what cannot work is refused before serving.
func TestXoTSettings(t *testing.T) {
	if _, err := ListenXoT("127.0.0.1:0", &tls.Config{MinVersion: tls.VersionTLS12}); !errors.Is(err, ErrXoTVersion) {
		t.Fatalf("TLS 1.2 minimum: %v", err)
	}
	dir := t.TempDir() + "/zone"
	if _, err := zone.Init(dir, zone.InitOptions{Origin: origin}); err != nil {
		t.Fatal(err)
	}
	z, err := zone.Open(dir, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	for _, tt := range []struct {
		auth XoTAuth
		want string
	}{
		{XoTTSIG, "needs transfer keys"},
		{XoTBoth, "needs transfer keys"},
		{XoTAuth(9), "unknown XoTAuth(9)"},
	} {
		if _, err := New(Config{Zone: z, XoTAuth: tt.auth}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.auth, err, tt.want)
		}
	}
	for _, s := range []string{"dane", "tsig", "both"} {
		if a, err := ParseXoTAuth(s); err != nil || a.String() != s {
			t.Errorf("ParseXoTAuth(%q) = %v, %v", s, a, err)
		}
	}
	if _, err := ParseXoTAuth("either"); err == nil {
		t.Error("ParseXoTAuth(either) accepted")
	}
}

// TestKnotRemoteHasNoXoT pins why docs/xot.md has no Knot secondary: the
// installed Knot (3.2) has no setting that makes its transfers from a
// remote use TLS or QUIC, or present a key. When a Knot that has them is
// installed, this fails: test it as an XoT secondary then.
func TestKnotRemoteHasNoXoT(t *testing.T) {
	knotc := daemon.Tool(t, "knotc")
	dir := t.TempDir()
	for _, item := range []string{"tls: on", "quic: on", "cert-key: AAAA"} {
		conf := filepath.Join(dir, "knot.conf")
		text := "server:\n    rundir: " + dir + "\nremote:\n  - id: primary\n    address: 127.0.0.1@853\n    " + item + "\n"
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(knotc, "-c", conf, "conf-check").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "invalid item") {
			t.Errorf("knotc accepts remote %q (%v): %s", item, err, out)
		}
	}
	// The same file without the item is valid: the refusal is the item's.
	conf := filepath.Join(dir, "knot.conf")
	os.WriteFile(conf, []byte("server:\n    rundir: "+dir+"\nremote:\n  - id: primary\n    address: 127.0.0.1@853\n"), 0o644)
	if out, err := exec.Command(knotc, "-c", conf, "conf-check").CombinedOutput(); err != nil {
		t.Fatalf("knotc refuses a plain remote: %v: %s", err, out)
	}
}

// switchVerifier authenticates every chain as name while ok is set, and
// refuses it as revoked otherwise.
type switchVerifier struct {
	ok    atomic.Bool
	calls atomic.Int32
}

func (v *switchVerifier) authenticate(_ context.Context, chain []*x509.Certificate) (string, error) {
	v.calls.Add(1)
	if !v.ok.Load() {
		return "", errors.New("revoked")
	}
	return chain[0].DNSNames[0], nil
}

// TestXoTVerifierEachTransfer: with XoTAuthenticate, the secondary's
// certificate is checked again before each transfer, so a verdict that
// changed after the handshake refuses the next transfer; the log names
// the secondary and the reason.
func TestXoTVerifierEachTransfer(t *testing.T) {
	cert, pool := selfSigned(t)
	clientCert, _ := selfSigned(t)
	v := &switchVerifier{}
	v.ok.Store(true)
	var log lockedLog
	var xotAddr string
	ts := startServerListeners(t, zone.InitOptions{}, func(c *Config) {
		c.XoTAuthenticate = v.authenticate
		c.Logger = slog.New(slog.NewTextHandler(&log, nil))
	}, nil, func(ls *Listeners) {
		l, err := ListenXoT("127.0.0.1:0", &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{ALPN},
			Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAnyClientCert})
		if err != nil {
			t.Fatal(err)
		}
		ls.XoT, xotAddr = l, l.Addr().String()
	})
	addRR(t, ts.zone, "s1._device.devices.test. 300 IN TLSA 3 1 1 0102")
	client := &tls.Config{RootCAs: pool, ServerName: "dns.devices.test", NextProtos: []string{ALPN}, Certificates: []tls.Certificate{clientCert}}
	if rrs, err := tlsTransfer(t, xotAddr, client, nil); err != nil || countType(rrs, dns.TypeTLSA) != 1 {
		t.Fatalf("authenticated: %v", err)
	}
	// The transfer's line is written after its last message is sent.
	testwait.For(t, "the transfer logged with the secondary's name", func() bool {
		return strings.Contains(log.String(), "secondary=dns.devices.test")
	})
	v.ok.Store(false)
	if rrs, err := tlsTransfer(t, xotAddr, client, nil); err == nil || len(rrs) > 0 || !strings.Contains(err.Error(), "rcode: 5") {
		t.Fatalf("revoked: %v, %d records; want REFUSED", err, len(rrs))
	}
	if v.calls.Load() != 2 {
		t.Errorf("verifier called %d times, want once per transfer", v.calls.Load())
	}
	testwait.For(t, "the refusal logged with its reason", func() bool {
		return strings.Contains(log.String(), `reason="identity no longer authenticated: revoked"`)
	})
}

type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// forgedTSIGRequest sends an AXFR signed with key over XoT and returns the
// first answer, whose signature it does not check.
func forgedTSIGRequest(t *testing.T, addr string, cfg *tls.Config, key *tsigkey.Key) *dns.Msg {
	t.Helper()
	conn, err := dns.DialTimeoutWithTLS("tcp-tls", addr, cfg, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	m := new(dns.Msg)
	m.SetAxfr(origin)
	m.SetTsig(key.Name, key.WireAlgorithm(), 300, time.Now().Unix())
	conn.TsigSecret = map[string]string{key.Name: key.Base64()}
	if err := conn.WriteMsg(m); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, dns.MaxMsgSize)
	n, err := conn.Read(buf) // one message, its TSIG not checked
	if err != nil {
		t.Fatal(err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(buf[:n]); err != nil {
		t.Fatal(err)
	}
	return r
}
