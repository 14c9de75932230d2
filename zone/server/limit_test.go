package server

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsbound/dance/zone"
)

// testClock is a clock the test moves by hand: the limiters refill only
// when it says so, so no test depends on how fast it runs.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Unix(1_800_000_000, 0)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRRLBuckets(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name  string
		cfg   RateLimit
		steps []struct {
			addr  string
			class zone.OnlineSigning
			after time.Duration // clock advance before this step
			want  string        // one letter per answer: a(llow) s(lip) d(rop)
		}
	}{
		{"burst then slip every second", RateLimit{Rate: 3, Slip: 2}, []struct {
			addr  string
			class zone.OnlineSigning
			after time.Duration
			want  string
		}{
			{"192.0.2.1", zone.SignedNameError, 0, "aaadsdsds"},
			// Same /24: the same bucket.
			{"192.0.2.200", zone.SignedNameError, 0, "ds"},
			// Another /24, another kind: buckets of their own.
			{"192.0.3.1", zone.SignedNameError, 0, "aaad"},
			{"192.0.2.1", zone.SignedNoData, 0, "aaad"},
			// 400 ms refill 1.2 tokens (3/s): one answer.
			{"192.0.2.1", zone.SignedNameError, 400 * time.Millisecond, "ads"},
			// A long pause refills up to the burst only.
			{"192.0.2.1", zone.SignedNameError, time.Hour, "aaads"},
		}},
		{"slip 1 truncates every limited answer", RateLimit{Rate: 1, Slip: 1}, []struct {
			addr  string
			class zone.OnlineSigning
			after time.Duration
			want  string
		}{{"198.51.100.7", zone.SignedWildcard, 0, "asss"}}},
		{"SlipNever drops them all", RateLimit{Rate: 2, Slip: SlipNever}, []struct {
			addr  string
			class zone.OnlineSigning
			after time.Duration
			want  string
		}{{"198.51.100.7", zone.SignedNameError, 0, "aadddd"}}},
		{"burst larger than rate", RateLimit{Rate: 1, Burst: 4, Slip: SlipNever}, []struct {
			addr  string
			class zone.OnlineSigning
			after time.Duration
			want  string
		}{{"198.51.100.7", zone.SignedNameError, 0, "aaaad"}, {"198.51.100.7", zone.SignedNameError, time.Second, "ad"}}},
		{"IPv6 grouped by /56", RateLimit{Rate: 2, Slip: SlipNever}, []struct {
			addr  string
			class zone.OnlineSigning
			after time.Duration
			want  string
		}{
			{"2001:db8:0:ff::1", zone.SignedNameError, 0, "aad"},
			{"2001:db8:0:1::99", zone.SignedNameError, 0, "d"}, // same /56
			{"2001:db8:0:100::1", zone.SignedNameError, 0, "aad"},
			// An IPv4-mapped address counts as IPv4.
			{"::ffff:192.0.2.9", zone.SignedNameError, 0, "aa"},
			{"192.0.2.10", zone.SignedNameError, 0, "d"},
		}},
		{"prefix lengths are settings", RateLimit{Rate: 1, Slip: SlipNever, IPv4Prefix: 32, IPv6Prefix: 128}, []struct {
			addr  string
			class zone.OnlineSigning
			after time.Duration
			want  string
		}{
			{"192.0.2.1", zone.SignedNameError, 0, "ad"},
			{"192.0.2.2", zone.SignedNameError, 0, "ad"},
			{"2001:db8::1", zone.SignedNameError, 0, "ad"},
			{"2001:db8::2", zone.SignedNameError, 0, "ad"},
		}},
	}
	letter := map[verdict]byte{allow: 'a', slip: 's', drop: 'd'}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newTestClock()
			l := newRRL(tc.cfg, clock.Now)
			for i, st := range tc.steps {
				clock.Advance(st.after)
				var got []byte
				for range st.want {
					got = append(got, letter[l.take(a(st.addr), st.class)])
				}
				if string(got) != st.want {
					t.Errorf("step %d (%s %v): got %s, want %s", i, st.addr, st.class, got, st.want)
				}
			}
		})
	}
}

// TestRRLTableBounded floods the limiter from a million fake sources, one
// answer each, while one prefix keeps asking: the table never holds more
// buckets than its size, and the prefix that keeps asking keeps its bucket,
// so it never gets more than its burst (the clock stands still). It asks
// after every other source: fewer new buckets than rrlWays come between two
// of its asks, so no hash seed can push it out of its set (asking less
// often, a seed that sends rrlWays new sources to its set between two asks
// evicts it and gives it a new burst, as any least-recently-used table does).
func TestRRLTableBounded(t *testing.T) {
	const size = 256
	clock := newTestClock()
	l := newRRL(RateLimit{Rate: 5, TableSize: size, Slip: SlipNever}, clock.Now)
	flooder := netip.MustParseAddr("203.0.113.9")
	allowed := 0
	for i := 0; i < 1_000_000; i++ {
		var b [16]byte
		b[0], b[1], b[2], b[3] = 0x20, 0x01, byte(i>>16), byte(i>>8)
		b[4], b[9], b[15] = byte(i), byte(i>>3), byte(i>>11)
		src := netip.AddrFrom16(b)
		if i%2 == 0 {
			src = netip.AddrFrom4([4]byte{byte(11 + i>>16), byte(i >> 8), byte(i), 7})
		}
		if l.take(src, classes[i%len(classes)]) != allow {
			t.Fatalf("source %d, seen once, was limited", i)
		}
		if i%2 == 0 && l.take(flooder, zone.SignedNameError) == allow {
			allowed++
		}
		if n := l.Len(); n > size {
			t.Fatalf("%d buckets in a table of %d", n, size)
		}
	}
	if allowed != 5 {
		t.Errorf("the flooding prefix got %d answers, want its burst of 5", allowed)
	}
	if got := len(l.sets) * rrlWays; got != size {
		t.Errorf("table of %d buckets, want %d", got, size)
	}
	if l.Len() != size {
		t.Errorf("%d buckets in use after a million sources, want all %d", l.Len(), size)
	}
}

func TestSigningCeilingBucket(t *testing.T) {
	clock := newTestClock()
	g := newCeiling(SigningLimit{Rate: 10, Burst: 4}, clock.Now)
	take := func(n int) (ok int) {
		for i := 0; i < n; i++ {
			if g.take() {
				ok++
			}
		}
		return ok
	}
	if got := take(10); got != 4 {
		t.Errorf("burst: %d admitted, want 4", got)
	}
	clock.Advance(300 * time.Millisecond)
	if got := take(10); got != 3 {
		t.Errorf("after 300 ms at 10/s: %d admitted, want 3", got)
	}
	clock.Advance(time.Hour)
	if got := take(10); got != 4 {
		t.Errorf("after an hour: %d admitted, want the burst of 4", got)
	}
	if g.admitted.Load() != 11 || g.refused.Load() != 19 {
		t.Errorf("counters: admitted %d refused %d, want 11 and 19", g.admitted.Load(), g.refused.Load())
	}
}

func TestLimitsOnByDefault(t *testing.T) {
	ts := startServer(t, nil)
	l := ts.srv.limits
	if l.rrl == nil || l.ceiling == nil {
		t.Fatal("a zero Config must rate-limit and cap online signing")
	}
	if l.rrl.rate != DefaultRRLRate || l.rrl.slip != DefaultRRLSlip || l.rrl.v4 != 24 || l.rrl.v6 != 56 ||
		len(l.rrl.sets)*rrlWays != DefaultRRLTableSize || l.ceiling.rate != DefaultSigningRate {
		t.Errorf("defaults: %+v %+v", l.rrl, l.ceiling)
	}
	off := startServerWith(t, func(c *Config) { c.RateLimit.Off, c.SigningLimit.Off = true, true })
	if off.srv.limits.rrl != nil || off.srv.limits.ceiling != nil {
		t.Error("Off does not disable the limits")
	}
}

// randomQuery is a DO query for a name the zone does not hold.
func randomQuery(i int) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(fmt.Sprintf("flood%d-%d._device.devices.test.", i, time.Now().UnixNano()), dns.TypeTLSA)
	m.SetEdns0(1232, true)
	return m
}

// signedNSEC counts the RRSIGs over NSEC records in m: the signatures
// made for this answer alone.
func signedNSEC(m *dns.Msg) int {
	n := 0
	for _, rr := range append(append([]dns.RR{}, m.Answer...), m.Ns...) {
		if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == dns.TypeNSEC {
			n++
		}
	}
	return n
}

const legitTLSA = "3 1 1 8f1c0000000000000000000000000000000000000000000000000000000000e2"

// checkLegit asks for a presigned identity over UDP from src and checks the
// answer: the record and its signature.
func checkLegit(t *testing.T, ts *testServer, src string) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("real._device.devices.test.", dns.TypeTLSA)
	m.SetEdns0(1232, true)
	r := exchangeFrom(t, ts.addr, src, "udp", m)
	if r == nil || r.Rcode != dns.RcodeSuccess || r.Truncated || len(r.Answer) != 2 {
		t.Fatalf("legitimate TLSA query from %s: %v", src, r)
	}
	if tl, ok := r.Answer[0].(*dns.TLSA); !ok || !strings.HasSuffix(tl.String(), legitTLSA) {
		t.Errorf("legitimate TLSA answer: %v", r.Answer[0])
	}
	if s, ok := r.Answer[1].(*dns.RRSIG); !ok || s.TypeCovered != dns.TypeTLSA {
		t.Errorf("legitimate TLSA answer without its signature: %v", r.Answer)
	}
}

// exchangeFrom sends m from local address src (127.0.0.0/8 is all this
// machine's) and returns the answer.
func exchangeFrom(t *testing.T, addr, src, network string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 10 * time.Second}
	if network == "udp" {
		c.Dialer = &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(src)}}
	} else {
		c.Dialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s exchange from %s: %v", network, src, err)
	}
	return r
}

// TestRRLFlood floods the server over UDP with random names from one
// prefix: beyond the burst, answers are dropped except every second,
// which comes back empty with TC set; nothing over the limit is signed. A
// presigned identity is still answered to that same prefix, another prefix
// and TCP from the flooding address still get signed negative answers.
func TestRRLFlood(t *testing.T) {
	const (
		rate  = 5
		flood = 45
	)
	clock := newTestClock()
	var logs lockedBuffer
	ts := startServerWith(t, func(c *Config) {
		c.RateLimit = RateLimit{Rate: rate, Slip: 2}
		c.SigningLimit.Off = true
		c.Time = clock.Now
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	addRR(t, ts.zone, "real._device.devices.test. 300 IN TLSA "+legitTLSA)
	checkLegit(t, ts, "127.0.0.1") // signs the RRset once, ahead of the flood

	conn, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.1")}, mustUDPAddr(t, ts.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ids := map[uint16]bool{}
	for i := 0; i < flood; i++ {
		m := randomQuery(i)
		ids[m.Id] = true
		b, _ := m.Pack()
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	// Over the limit: flood-rate answers, every second one slipped.
	wantSlips := (flood - rate) / 2
	wantDrops := flood - rate - wantSlips
	var signed, slips, other int
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 65535)
	for signed+slips+other < rate+wantSlips {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("after %d signed and %d slipped answers: %v", signed, slips, err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil || !ids[r.Id] {
			t.Fatalf("unexpected reply %v: %v", r, err)
		}
		switch {
		case r.Truncated && len(r.Answer)+len(r.Ns) == 0 && r.Rcode == dns.RcodeSuccess:
			slips++
		case !r.Truncated && signedNSEC(r) == 1:
			signed++
		default:
			other++
			t.Errorf("neither a signed answer nor a slip: %v", r)
		}
	}
	if signed != rate || slips != wantSlips {
		t.Errorf("%d signed answers and %d slips, want %d and %d", signed, slips, rate, wantSlips)
	}
	rl := ts.srv.limits.rrl
	k := zone.SignedNameError
	if d, s, l := rl.dropped[k].Load(), rl.slipped[k].Load(), rl.limited[k].Load(); d != uint64(wantDrops) || s != uint64(wantSlips) || l != uint64(flood-rate) {
		t.Errorf("counters: dropped %d slipped %d limited %d, want %d %d %d", d, s, l, wantDrops, wantSlips, flood-rate)
	}

	// One line tells the operator (the clock stands still: one line per
	// interval, whatever the flood).
	if l := logs.String(); strings.Count(l, "response rate limiting") != 1 || !strings.Contains(l, "prefix=127.0.0.0/24 kind=nxdomain") {
		t.Errorf("log: %s", l)
	}
	// The flooding prefix still gets presigned identities.
	checkLegit(t, ts, "127.0.0.1")
	// Another /24 gets signed negative answers.
	if r := exchangeFrom(t, ts.addr, "127.0.1.1", "udp", randomQuery(1000)); r.Truncated || signedNSEC(r) != 1 {
		t.Errorf("another prefix during the flood: %v", r)
	}
	// TCP from the flooding address is not rate-limited.
	for i := 0; i < 2*rate; i++ {
		if r := exchangeFrom(t, ts.addr, "127.0.0.1", "tcp", randomQuery(2000+i)); r.Truncated || signedNSEC(r) != 1 {
			t.Fatalf("TCP during the flood: %v", r)
		}
	}
	// A second later, the prefix has tokens again.
	clock.Advance(time.Second)
	if r := exchangeFrom(t, ts.addr, "127.0.0.1", "udp", randomQuery(3000)); r.Truncated || signedNSEC(r) != 1 {
		t.Errorf("after the refill: %v", r)
	}

	for _, k := range []string{"nxdomain", "nodata", "wildcard"} {
		want := 0.0
		if k == "nxdomain" {
			want = float64(wantDrops)
		}
		if got := limitMetric(t, ts.srv, "dance_zone_rrl_dropped_total", k); got != want {
			t.Errorf("dance_zone_rrl_dropped_total{kind=%s} = %v, want %v", k, got, want)
		}
	}
	if got := limitMetric(t, ts.srv, "dance_zone_rrl_slipped_total", "nxdomain"); got != float64(wantSlips) {
		t.Errorf("dance_zone_rrl_slipped_total{kind=nxdomain} = %v, want %d", got, wantSlips)
	}
}

func mustUDPAddr(t testing.TB, s string) *net.UDPAddr {
	t.Helper()
	a, err := net.ResolveUDPAddr("udp", s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestSigningCeiling sends more random names over TCP (not rate-limited)
// than the ceiling admits: exactly the budget gets signed answers, the rest
// REFUSED with nothing signed; the budget refills with the clock only;
// a refused answer is not cached; presigned identities keep being answered
// while the budget is spent.
func TestSigningCeiling(t *testing.T) {
	const burst = 8
	clock := newTestClock()
	ts := startServerWith(t, func(c *Config) {
		c.RateLimit.Off = true
		c.SigningLimit = SigningLimit{Rate: 20, Burst: burst}
		c.Time = clock.Now
	})
	addRR(t, ts.zone, "real._device.devices.test. 300 IN TLSA "+legitTLSA)
	checkLegit(t, ts, "127.0.0.1")

	var refusedQ []*dns.Msg
	signatures, refused := 0, 0
	for i := 0; i < 3*burst; i++ {
		m := randomQuery(i)
		r := exchangeFrom(t, ts.addr, "127.0.0.1", "tcp", m)
		signatures += signedNSEC(r)
		switch {
		case r.Rcode == dns.RcodeRefused && len(r.Answer)+len(r.Ns) == 0:
			refused++
			refusedQ = append(refusedQ, m)
		case r.Rcode == dns.RcodeRefused:
			t.Errorf("REFUSED with records: %v", r)
		}
	}
	if signatures != burst || refused != 2*burst {
		t.Errorf("%d signatures and %d refused, want %d and %d", signatures, refused, burst, 2*burst)
	}
	// UDP gets the same ceiling.
	if r := exchangeFrom(t, ts.addr, "127.0.0.1", "udp", randomQuery(100)); r.Rcode != dns.RcodeRefused || signedNSEC(r) != 0 {
		t.Errorf("UDP over the ceiling: %v", r)
	}
	checkLegit(t, ts, "127.0.0.1")
	// 250 ms at 20/s: five more signatures.
	clock.Advance(250 * time.Millisecond)
	signatures = 0
	for _, m := range refusedQ[:6] {
		m.Id = dns.Id()
		r := exchangeFrom(t, ts.addr, "127.0.0.1", "tcp", m)
		signatures += signedNSEC(r)
		if signedNSEC(r) == 0 && r.Rcode != dns.RcodeRefused {
			t.Errorf("after the refill: %v", r)
		}
	}
	if signatures != 5 {
		t.Errorf("after 250 ms: %d signatures, want 5 (a REFUSED answer must not be cached)", signatures)
	}
	g := ts.srv.limits.ceiling
	if g.admitted.Load() != burst+5 || g.refused.Load() != 2*burst+2 {
		t.Errorf("counters: admitted %d refused %d", g.admitted.Load(), g.refused.Load())
	}
	if got := limitMetric(t, ts.srv, "dance_zone_signing_refused_total", ""); got != 2*burst+2 {
		t.Errorf("dance_zone_signing_refused_total = %v", got)
	}
}

// lockedBuffer is a bytes.Buffer the server's goroutines may write to
// while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// limitMetric gathers the server's limit metrics as Prometheus would and
// returns the value of name (with label kind, unless empty).
func limitMetric(t *testing.T, s *Server, name, kind string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(s.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if kind != "" && (len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != kind) {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s{kind=%q}", name, kind)
	return 0
}

// TestLimitsCannotBeBypassed tries to get answers that need their own
// signature past the limits with every variation of the question that
// still costs a signature: case, CD and RD bits, an EDNS option (which
// takes the UDP path that parses the whole message), wildcard expansions,
// NODATA and NSEC questions at existing names, the CO bit, and a TSIG
// record with an unknown key. Over TCP only the ceiling's budget is
// signed; over UDP from one prefix only the RRL burst.
func TestLimitsCannotBeBypassed(t *testing.T) {
	const budget = 3
	variants := func(i int) []*dns.Msg {
		q := func(name string, qtype uint16, edit func(*dns.Msg)) *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion(name, qtype)
			m.SetEdns0(1232, true)
			if edit != nil {
				edit(m)
			}
			return m
		}
		n := fmt.Sprintf("v%d-%d", i, time.Now().UnixNano())
		return []*dns.Msg{
			q(n+"._device.devices.test.", dns.TypeTLSA, nil),
			q(strings.ToUpper(n)+"._DEVICE.devices.test.", dns.TypeTLSA, nil),
			q(n+".a._device.devices.test.", dns.TypeTLSA, func(m *dns.Msg) { m.CheckingDisabled, m.RecursionDesired = true, false }),
			q(n+".b._device.devices.test.", dns.TypeTLSA, func(m *dns.Msg) {
				o := m.IsEdns0()
				o.Option = append(o.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
			}),
			q(n+".c._device.devices.test.", dns.TypeTLSA, func(m *dns.Msg) { m.IsEdns0().Hdr.Ttl |= ednsFlagCO }),
			q(n+".wild.devices.test.", dns.TypeTLSA, nil),                        // expanded from *.wild
			q(n+".wild.devices.test.", dns.TypeSSHFP, nil),                       // wildcard NODATA
			q(fmt.Sprintf("s%d.wild.devices.test.", i), dns.TypeNSEC, nil),       // NSEC question, existing name
			q(fmt.Sprintf("s%d.wild.devices.test.", i), dns.TypeOPENPGPKEY, nil), // NODATA at an existing name
		}
	}
	// Each name is asked once: a repeated question is answered from the
	// response cache, which makes no signature.
	records := []string{"*.wild.devices.test. 300 IN TLSA " + legitTLSA}
	for i := 0; i < 3; i++ {
		records = append(records, fmt.Sprintf("s%d.wild.devices.test. 300 IN TLSA %s", i, legitTLSA))
	}

	t.Run("tcp, ceiling", func(t *testing.T) {
		clock := newTestClock()
		ts := startServerWith(t, func(c *Config) {
			c.RateLimit.Off = true
			c.SigningLimit = SigningLimit{Rate: 1, Burst: budget}
			c.Time = clock.Now
		})
		addRR(t, ts.zone, records...)
		signatures := 0
		for i := 0; i < 3; i++ {
			for _, m := range variants(i) {
				r := exchangeFrom(t, ts.addr, "127.0.0.1", "tcp", m)
				signatures += signedNSEC(r)
				if signedNSEC(r) == 0 && r.Rcode != dns.RcodeRefused {
					t.Errorf("neither signed nor REFUSED: %v", r)
				}
			}
		}
		if signatures != budget {
			t.Errorf("%d signatures made, budget %d", signatures, budget)
		}
		// An unknown TSIG key gets NOTAUTH and nothing signed.
		m := randomQuery(99)
		m.SetTsig("nobody.", dns.HmacSHA256, 300, time.Now().Unix())
		c := &dns.Client{Net: "tcp", Timeout: 10 * time.Second, TsigSecret: map[string]string{"nobody.": "AAAA"}}
		r, _, err := c.Exchange(m, ts.addr)
		if r == nil || r.Rcode != dns.RcodeNotAuth || signedNSEC(r) != 0 {
			t.Errorf("unknown TSIG key: %v %v", r, err)
		}
	})

	t.Run("udp, rrl", func(t *testing.T) {
		clock := newTestClock()
		ts := startServerWith(t, func(c *Config) {
			c.RateLimit = RateLimit{Rate: 1, Burst: budget, Slip: 1}
			c.SigningLimit.Off = true
			c.Time = clock.Now
		})
		addRR(t, ts.zone, records...)
		// Slip 1: every limited answer comes back truncated, so each
		// query gets a reply and nothing waits for a timeout.
		signatures := map[string]int{}
		for i := 0; i < 3; i++ {
			for _, m := range variants(i) {
				r := exchangeFrom(t, ts.addr, "127.0.0.1", "udp", m)
				if signedNSEC(r) == 0 && !r.Truncated {
					t.Errorf("neither signed nor truncated: %v", r)
				}
				if signedNSEC(r) > 0 {
					signatures[zoneKind(ts, m)]++
				}
			}
		}
		// One bucket per kind, each with the burst.
		for _, k := range []string{"nxdomain", "nodata", "wildcard"} {
			if signatures[k] != budget {
				t.Errorf("%s: %d signed answers, burst %d", k, signatures[k], budget)
			}
		}
	})
}

func zoneKind(ts *testServer, m *dns.Msg) string {
	return ts.zone.OnlineSigningOf(m.Question[0].Name, m.Question[0].Qtype).String()
}

// BenchmarkLimitTake is the rate limiter's and the ceiling's cost for one
// answer that needs its own signature, from many prefixes (the table
// churns) and from one.
func BenchmarkLimitTake(b *testing.B) {
	l := newRRL(RateLimit{}, time.Now)
	g := newCeiling(SigningLimit{}, time.Now)
	b.Run("many prefixes", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			l.take(netip.AddrFrom4([4]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), 1}), zone.SignedNameError)
			g.take()
		}
	})
	b.Run("one prefix", func(b *testing.B) {
		a := netip.MustParseAddr("192.0.2.1")
		for i := 0; i < b.N; i++ {
			l.take(a, zone.SignedNameError)
			g.take()
		}
	})
}
