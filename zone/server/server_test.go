package server

import (
	"context"
	"crypto/tls"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/tsigkey"
)

const origin = "devices.test."

// testServer is a zone served on 127.0.0.1 with a port of its own.
type testServer struct {
	dir     string
	zone    *zone.Zone
	srv     *Server
	addr    string
	tlsAddr string
	key     *tsigkey.Key
	// keys are the zone's keys as zone.Init made them.
	keys *zone.InitResult
}

func startServer(t testing.TB, policies map[string]zone.Policy) *testServer {
	t.Helper()
	return startServerWith(t, func(c *Config) { c.Policies = policies })
}

// startServerWith lets the test adjust the configuration before serving.
func startServerWith(t testing.TB, adjust func(*Config)) *testServer {
	t.Helper()
	return startServerTLS(t, adjust, nil)
}

func startServerTLS(t testing.TB, adjust func(*Config), tlsCfg *tls.Config) *testServer {
	t.Helper()
	return startServerKeys(t, zone.InitOptions{}, adjust, tlsCfg)
}

// startServerKeys serves a zone made with opt (its Origin is set here):
// the default keys, a KSK and a ZSK, or one CSK with opt.CSK.
func startServerKeys(t testing.TB, opt zone.InitOptions, adjust func(*Config), tlsCfg *tls.Config) *testServer {
	t.Helper()
	return startServerListeners(t, opt, adjust, tlsCfg, nil)
}

// startServerListeners is startServerKeys with more listeners, which
// listen adds.
func startServerListeners(t testing.TB, opt zone.InitOptions, adjust func(*Config), tlsCfg *tls.Config, listen func(*Listeners)) *testServer {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "zone")
	opt.Origin = origin
	res, err := zone.Init(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	z, err := zone.Open(dir, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Zone: z, UpdateKeys: []*tsigkey.Key{res.TSIG}}
	if adjust != nil {
		adjust(&cfg)
	}
	tlsAddr := ""
	srv, ls, stop := serveConfig(t, cfg, func(ls *Listeners) {
		if tlsCfg != nil {
			var err error
			if ls.TLS, err = ListenTLS("127.0.0.1:0", tlsCfg); err != nil {
				t.Fatal(err)
			}
			tlsAddr = ls.TLS.Addr().String()
		}
		if listen != nil {
			listen(ls)
		}
	})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
		z.Close()
	})
	return &testServer{dir: dir, zone: z, srv: srv, addr: ls.Addr(), tlsAddr: tlsAddr, key: res.TSIG, keys: res}
}

// serveConfig makes a server of cfg and serves it on 127.0.0.1 (UDP and
// TCP, on a port of its own; listen, when not nil, adds listeners) until
// stop, which ends Serve and returns its error. stop may be called more
// than once; the test fails if Serve does not return within 30 s of it.
func serveConfig(t testing.TB, cfg Config, listen func(*Listeners)) (srv *Server, ls *Listeners, stop func() error) {
	t.Helper()
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ls, err = Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if listen != nil {
		listen(ls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ls) }()
	var once sync.Once
	var serr error
	return srv, ls, func() error {
		once.Do(func() {
			cancel()
			select {
			case serr = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Serve did not return after its context ended")
			}
		})
		return serr
	}
}

func (ts *testServer) exchange(t testing.TB, m *dns.Msg, network string) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	if m.IsTsig() != nil {
		c.TsigSecret = map[string]string{ts.key.Name: ts.key.Base64()}
	}
	r, _, err := c.Exchange(m, ts.addr)
	if err != nil {
		t.Fatalf("%s exchange: %v", network, err)
	}
	return r
}

// exchangeRaw sends a packed message over UDP and returns the raw reply.
func (ts *testServer) exchangeRaw(t testing.TB, b []byte) *dns.Msg {
	t.Helper()
	c, err := net.Dial("udp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(buf[:n]); err != nil {
		t.Fatal(err)
	}
	return r
}

func addRR(t testing.TB, z *zone.Zone, s ...string) {
	t.Helper()
	var rrs []dns.RR
	for _, x := range s {
		r, err := dns.NewRR(x)
		if err != nil {
			t.Fatal(err)
		}
		rrs = append(rrs, r)
	}
	if _, err := z.Update(nil, rrs, zone.Policy{}); err != nil {
		t.Fatal(err)
	}
}

func TestResponses(t *testing.T) {
	ts := startServer(t, nil)
	// A large OPENPGPKEY RRset does not fit a small UDP response.
	big := strings.Repeat("QUJDRA", 150)
	addRR(t, ts.zone,
		"s1._device.devices.test. 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"u1._openpgpkey.devices.test. 300 IN OPENPGPKEY "+big+"AA==",
		"u1._openpgpkey.devices.test. 300 IN OPENPGPKEY "+big+"AB==",
	)
	q := func(name string, qtype uint16, edns bool, do bool, size uint16) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		if edns {
			m.SetEdns0(size, do)
		}
		return m
	}
	tests := []struct {
		name    string
		msg     *dns.Msg
		net     string
		rcode   int
		aa, tc  bool
		answers int
	}{
		{"tlsa udp", q("s1._device.devices.test.", dns.TypeTLSA, false, false, 0), "udp", dns.RcodeSuccess, true, false, 1},
		{"tlsa do", q("s1._device.devices.test.", dns.TypeTLSA, true, true, 1232), "udp", dns.RcodeSuccess, true, false, 2},
		{"nxdomain", q("s2._device.devices.test.", dns.TypeTLSA, false, false, 0), "udp", dns.RcodeNameError, true, false, 0},
		{"compact nxdomain", q("s2._device.devices.test.", dns.TypeTLSA, true, true, 1232), "udp", dns.RcodeSuccess, true, false, 0},
		{"refused outside", q("example.com.", dns.TypeA, false, false, 0), "udp", dns.RcodeRefused, false, false, 0},
		{"truncated", q("u1._openpgpkey.devices.test.", dns.TypeOPENPGPKEY, false, false, 0), "udp", dns.RcodeSuccess, true, true, 0},
		{"tcp full", q("u1._openpgpkey.devices.test.", dns.TypeOPENPGPKEY, true, true, 1232), "tcp", dns.RcodeSuccess, true, false, 3},
		{"axfr refused", q(origin, dns.TypeAXFR, false, false, 0), "tcp", dns.RcodeRefused, false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.exchange(t, tt.msg, tt.net)
			if r.Rcode != tt.rcode || r.Authoritative != tt.aa || r.Truncated != tt.tc || len(r.Answer) != tt.answers {
				t.Fatalf("rcode %s aa %v tc %v answers %d; want %s %v %v %d\n%v",
					dns.RcodeToString[r.Rcode], r.Authoritative, r.Truncated, len(r.Answer),
					dns.RcodeToString[tt.rcode], tt.aa, tt.tc, tt.answers, r)
			}
			if r.RecursionAvailable {
				t.Error("RA set by an authoritative-only server")
			}
			if o := tt.msg.IsEdns0(); o != nil {
				ro := r.IsEdns0()
				if ro == nil || ro.Do() != o.Do() {
					t.Errorf("EDNS/DO not echoed: %v", ro)
				}
			}
			if tt.net == "udp" {
				if b, _ := r.Pack(); len(b) > DefaultMaxUDPSize {
					t.Errorf("UDP response of %d octets", len(b))
				}
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	ts := startServer(t, nil)
	two := new(dns.Msg)
	two.SetQuestion(origin, dns.TypeSOA)
	two.Question = append(two.Question, two.Question[0])
	none := new(dns.Msg)
	none.SetQuestion(origin, dns.TypeSOA)
	none.Question = nil
	v1 := new(dns.Msg)
	v1.SetQuestion(origin, dns.TypeSOA)
	v1.SetEdns0(1232, true)
	v1.IsEdns0().SetVersion(1)
	chaos := new(dns.Msg)
	chaos.SetQuestion("version.bind.", dns.TypeTXT)
	chaos.Question[0].Qclass = dns.ClassCHAOS
	status := new(dns.Msg)
	status.SetQuestion(origin, dns.TypeSOA)
	status.Opcode = dns.OpcodeStatus
	notify := new(dns.Msg)
	notify.SetNotify(origin)
	opt2 := new(dns.Msg)
	opt2.SetQuestion(origin, dns.TypeSOA)
	opt2.SetEdns0(1232, false)
	opt2.Extra = append(opt2.Extra, opt2.Extra[0])
	metaQ := new(dns.Msg)
	metaQ.SetQuestion(origin, dns.TypeTSIG)
	unsigned := new(dns.Msg)
	unsigned.SetUpdate(origin)
	r1, _ := dns.NewRR("x.devices.test. 300 IN TLSA 3 1 1 abcd")
	unsigned.Insert([]dns.RR{r1})
	tests := []struct {
		name  string
		msg   *dns.Msg
		rcode int
	}{
		{"two questions", two, dns.RcodeFormatError},
		{"no question", none, dns.RcodeFormatError},
		{"edns version 1", v1, dns.RcodeBadVers},
		{"chaos", chaos, dns.RcodeRefused},
		{"status opcode", status, dns.RcodeNotImplemented},
		{"notify to primary", notify, dns.RcodeRefused},
		{"two OPT", opt2, dns.RcodeFormatError},
		{"meta qtype", metaQ, dns.RcodeFormatError},
		{"unsigned update", unsigned, dns.RcodeRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.msg.Pack()
			if err != nil {
				t.Fatal(err)
			}
			r := ts.exchangeRaw(t, b)
			if r.Rcode != tt.rcode || r.Id != tt.msg.Id || !r.Response {
				t.Fatalf("rcode %s id %d, want %s id %d", dns.RcodeToString[r.Rcode], r.Id, dns.RcodeToString[tt.rcode], tt.msg.Id)
			}
		})
	}
	if got := ts.zone.Get("x.devices.test.", dns.TypeTLSA); got != nil {
		t.Fatalf("unsigned update applied: %v", got)
	}
}

func TestUpdateOverTheWire(t *testing.T) {
	ts := startServer(t, map[string]zone.Policy{})
	up := func(zoneName string, rrs ...string) *dns.Msg {
		m := new(dns.Msg)
		m.SetUpdate(zoneName)
		var ins []dns.RR
		for _, s := range rrs {
			r, err := dns.NewRR(s)
			if err != nil {
				t.Fatal(err)
			}
			ins = append(ins, r)
		}
		m.Insert(ins)
		m.SetTsig(ts.key.Name, dns.HmacSHA256, 300, time.Now().Unix())
		return m
	}
	r := ts.exchange(t, up(origin, "s1._device.devices.test. 300 IN TLSA 3 1 1 abcd"), "udp")
	if r.Rcode != dns.RcodeSuccess || r.IsTsig() == nil {
		t.Fatalf("update: %v", r)
	}
	if len(ts.zone.Get("s1._device.devices.test.", dns.TypeTLSA)) != 1 {
		t.Fatal("update not applied")
	}
	// The dns client library refuses to verify a NOTAUTH response, so
	// this one is signed by hand and read raw.
	wire, _, err := dns.TsigGenerate(up("other.test.", "s1.other.test. 300 IN TLSA 3 1 1 abcd"), ts.key.Base64(), "", false)
	if err != nil {
		t.Fatal(err)
	}
	r = ts.exchangeRaw(t, wire)
	if r.Rcode != dns.RcodeNotAuth {
		t.Fatalf("update for another zone: %s", dns.RcodeToString[r.Rcode])
	}
	r = ts.exchange(t, up(origin, "s1._device.devices.test. 300 IN TXT hello"), "tcp")
	if r.Rcode != dns.RcodeRefused {
		t.Fatalf("TXT update: %s", dns.RcodeToString[r.Rcode])
	}
	if got := ts.srv.metrics.get("update_applied"); got != 1 {
		t.Fatalf("update_applied = %d", got)
	}
}
