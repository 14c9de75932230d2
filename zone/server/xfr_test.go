package server

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/daemon"
	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/tsigkey"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// axfr transfers the zone from addr, signing with key when not nil.
func axfr(t testing.TB, addr string, qtype uint16, serial uint32, key *tsigkey.Key) ([]dns.RR, error) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(origin, qtype)
	if qtype == dns.TypeIXFR {
		m.SetIxfr(origin, serial, "ns1.devices.test.", "hostmaster.devices.test.")
	}
	tr := &dns.Transfer{DialTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second}
	if key != nil {
		tr.TsigSecret = map[string]string{key.Name: key.Base64()}
		m.SetTsig(key.Name, key.WireAlgorithm(), 300, time.Now().Unix())
	}
	ch, err := tr.In(m, addr)
	if err != nil {
		return nil, err
	}
	var out []dns.RR
	for env := range ch {
		if env.Error != nil {
			return out, env.Error
		}
		out = append(out, env.RR...)
	}
	return out, nil
}

func TestAXFRAccessControl(t *testing.T) {
	xk, _ := tsigkey.Generate("xfr.devices.test.", tsigkey.HMACSHA256)
	other, _ := tsigkey.Generate("xfr.devices.test.", tsigkey.HMACSHA256)
	ts := startServerWith(t, func(c *Config) {
		c.TransferFrom = loopback
		c.TransferKeys = []*tsigkey.Key{xk}
	})
	for i := 0; i < 300; i++ {
		addRR(t, ts.zone, fmt.Sprintf("d%d._device.devices.test. 300 IN TLSA 3 1 1 %064x", i, i))
	}
	// Signed with the transfer key: the whole zone, in several messages.
	rrs, err := axfr(t, ts.addr, dns.TypeAXFR, 0, xk)
	if err != nil {
		t.Fatal(err)
	}
	if countType(rrs, dns.TypeTLSA) != 300 || countType(rrs, dns.TypeNSEC3) == 0 || rrs[0].Header().Rrtype != dns.TypeSOA {
		t.Fatalf("AXFR: %d records, %d TLSA", len(rrs), countType(rrs, dns.TypeTLSA))
	}
	// IXFR from the current serial: just the SOA.
	rrs, err = axfr(t, ts.addr, dns.TypeIXFR, ts.zone.Serial(), xk)
	if err != nil || len(rrs) != 1 {
		t.Fatalf("IXFR up to date: %v, %d records", err, len(rrs))
	}
	// IXFR from an old serial: the whole zone in AXFR form.
	rrs, err = axfr(t, ts.addr, dns.TypeIXFR, ts.zone.Serial()-5, xk)
	if err != nil || countType(rrs, dns.TypeTLSA) != 300 {
		t.Fatalf("IXFR from old serial: %v, %d TLSA", err, countType(rrs, dns.TypeTLSA))
	}
	// Unsigned, signed with the update key, or with a wrong secret: refused.
	for name, key := range map[string]*tsigkey.Key{"unsigned": nil, "update key": ts.key, "wrong secret": other} {
		rrs, err := axfr(t, ts.addr, dns.TypeAXFR, 0, key)
		if err == nil && countType(rrs, dns.TypeTLSA) > 0 {
			t.Errorf("%s: transfer allowed", name)
		}
	}
	// The update key cannot be a transfer key.
	if _, err := New(Config{Zone: ts.zone, UpdateKeys: []*tsigkey.Key{ts.key}, TransferKeys: []*tsigkey.Key{ts.key}}); err == nil {
		t.Error("New accepted the same key for updates and transfers")
	}
	// The transfer key cannot update.
	m := new(dns.Msg)
	m.SetUpdate(origin)
	r1, _ := dns.NewRR("x.devices.test. 300 IN TLSA 3 1 1 abcd")
	m.Insert([]dns.RR{r1})
	m.SetTsig(xk.Name, dns.HmacSHA256, 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", TsigSecret: map[string]string{xk.Name: xk.Base64()}}
	r, _, err := c.Exchange(m, ts.addr)
	if err != nil || r.Rcode != dns.RcodeRefused {
		t.Fatalf("update with the transfer key: %v %v", err, r)
	}
}

func TestAXFRAddressList(t *testing.T) {
	ts := startServerWith(t, func(c *Config) {
		c.TransferFrom = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	})
	if rrs, err := axfr(t, ts.addr, dns.TypeAXFR, 0, nil); err == nil && len(rrs) > 0 {
		t.Fatal("transfer allowed from an address not listed")
	}
	ts2 := startServerWith(t, func(c *Config) { c.TransferFrom = loopback })
	if rrs, err := axfr(t, ts2.addr, dns.TypeAXFR, 0, nil); err != nil || len(rrs) == 0 {
		t.Fatalf("transfer from a listed address: %v", err)
	}
}

// startKnot runs knotd as a secondary of primary, with TSIG key for
// transfers and NOTIFY accepted from loopback, on port (0: pick one, and
// retry with another if Knot cannot bind it); it returns its address.
func startKnot(t testing.TB, primary string, key *tsigkey.Key, port int) string {
	t.Helper()
	ph, pp, _ := net.SplitHostPort(primary)
	return daemon.Run(t, tool(t, "knotd"), func(cf string) []string { return []string{"-c", cf} }, "knot.conf", origin, port,
		func(dir string, p int) string {
			for _, d := range []string{"storage", "run"} {
				os.MkdirAll(filepath.Join(dir, d), 0o755)
			}
			return fmt.Sprintf(`server:
    rundir: "%[1]s/run"
    listen: 127.0.0.1@%[2]d
log:
  - target: stderr
    any: info
database:
    storage: "%[1]s/storage"
key:
  - id: %[3]s
    algorithm: %[4]s
    secret: %[5]s
remote:
  - id: primary
    address: %[6]s@%[7]s
    key: %[3]s
acl:
  - id: notify_from_primary
    address: 127.0.0.1
    action: notify
  - id: transfer_to_tests
    address: 127.0.0.1
    action: transfer
zone:
  - domain: %[8]s
    storage: "%[1]s/storage"
    master: primary
    acl: [notify_from_primary, transfer_to_tests]
    zonefile-sync: -1
    zonefile-load: none
    journal-content: changes
`, dir, p, key.Name, key.Algorithm, key.Base64(), ph, pp, origin)
		})
}

// startKnotPrimary starts a primary that lets loopback addresses transfer
// with a new TSIG key and NOTIFYs a Knot secondary on knotPort, chosen
// first so that the primary can NOTIFY it (startKnot starts Knot there).
func startKnotPrimary(t testing.TB) (ts *testServer, xk *tsigkey.Key, knotPort int) {
	t.Helper()
	xk, err := tsigkey.Generate("xfr.devices.test.", tsigkey.HMACSHA256)
	if err != nil {
		t.Fatal(err)
	}
	knotPort = freePort(t)
	ts = startServerWith(t, func(c *Config) {
		c.TransferFrom = loopback
		c.TransferKeys = []*tsigkey.Key{xk}
		c.Notify = []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(knotPort))}
	})
	return ts, xk, knotPort
}

// waitSerial polls addr until its SOA serial for the zone is z's serial,
// read at each poll: the primary moves its serial on at its first
// transfer (the one the secondary asks for), after the test looked.
func waitSerial(t testing.TB, addr string, z *zone.Zone) {
	t.Helper()
	testwait.Eventually(t, 60*time.Second, func() error {
		want := z.Serial()
		m := new(dns.Msg)
		m.SetQuestion(origin, dns.TypeSOA)
		r, _, err := (&dns.Client{Timeout: time.Second}).Exchange(m, addr)
		switch {
		case err != nil:
			return fmt.Errorf("%s did not reach serial %d: %w", addr, want, err)
		case len(r.Answer) != 1:
			return fmt.Errorf("%s did not reach serial %d (last: %s)", addr, want, dns.RcodeToString[r.Rcode])
		}
		if soa, ok := r.Answer[0].(*dns.SOA); !ok || soa.Serial != want {
			return fmt.Errorf("%s did not reach serial %d (last: %s)", addr, want, r.Answer[0])
		}
		return nil
	})
}

// TestKnotSecondary: Knot transfers the zone with TSIG (AXFR), follows
// changes after NOTIFY (IXFR from the journal), and Unbound validates
// answers served by Knot.
func TestKnotSecondary(t *testing.T) {
	ts, xk, knotPort := startKnotPrimary(t)
	addRR(t, ts.zone, "s1._device.devices.test. 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	knotAddr := startKnot(t, ts.addr, xk, knotPort)
	waitSerial(t, knotAddr, ts.zone)
	// The zone has the default keys, and Knot serves them and the
	// signatures as they came: the KSK's over the DNSKEY RRset, the
	// ZSK's over the rest.
	if ts.keys.ZSK == nil {
		t.Fatal("the zone has no ZSK")
	}
	if r := query(t, knotAddr, origin, dns.TypeDNSKEY); countType(r.Answer, dns.TypeDNSKEY) != 2 || checkSigners(t, ts, r.Answer) != 1 {
		t.Fatalf("DNSKEY from Knot: %v", r)
	}
	if r := query(t, knotAddr, "s1._device.devices.test.", dns.TypeTLSA); checkSigners(t, ts, r.Answer) != 1 {
		t.Fatalf("TLSA from Knot: %v", r)
	}
	zoneAnchors(t, ts)
	ub := startUnbound(t, filepath.Join(ts.dir, zone.AnchorsFile), origin, knotAddr)
	if r := query(t, ub, "s1._device.devices.test.", dns.TypeTLSA); !r.AuthenticatedData || countType(r.Answer, dns.TypeTLSA) != 1 {
		t.Fatalf("TLSA via Knot: %v", r)
	}
	// Change: add s2, remove s1. Knot follows and Unbound validates both.
	addRR(t, ts.zone, "s2._device.devices.test. 300 IN TLSA 3 1 1 abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
	del := &dns.ANY{Hdr: dns.RR_Header{Name: "s1._device.devices.test.", Rrtype: dns.TypeANY, Class: dns.ClassANY}}
	if _, err := ts.zone.Update(nil, []dns.RR{del}, zone.Policy{}); err != nil {
		t.Fatal(err)
	}
	// The primary's NOTIFY brings Knot to the new serial.
	waitSerial(t, knotAddr, ts.zone)
	if ts.srv.metrics.get("notify_sent") == 0 {
		t.Error("no NOTIFY acknowledged")
	}
	// Knot's first transfer was the whole zone; after NOTIFY it asked for
	// IXFR from that serial and got the differences from the journal.
	// (The server counts a transfer after its last message, which Knot
	// may have applied first.)
	testwait.Until(10*time.Second, func() bool { return ts.srv.metrics.get(xfrIncr.String()) != 0 })
	if m := ts.srv.metrics; m.get(xfrFull.String()) != 1 || m.get(xfrIncr.String()) == 0 {
		t.Errorf("transfers: %d full, %d incremental; want Knot to AXFR then IXFR", m.get(xfrFull.String()), m.get(xfrIncr.String()))
	}
	// The zone Knot built from the differences is a valid signed zone.
	verifySecondary(t, knotAddr)
	if r := query(t, ub, "s2._device.devices.test.", dns.TypeTLSA); !r.AuthenticatedData || countType(r.Answer, dns.TypeTLSA) != 1 {
		t.Fatalf("new TLSA via Knot: %v", r)
	}
	r := query(t, ub, "s1._device.devices.test.", dns.TypeTLSA)
	if !r.AuthenticatedData || len(r.Answer) != 0 || (r.Rcode != dns.RcodeNameError && r.Rcode != dns.RcodeSuccess) {
		t.Fatalf("removed TLSA via Knot: %v", r)
	}
	if countType(r.Ns, dns.TypeNSEC3) == 0 {
		t.Errorf("Knot's denial carries no NSEC3: %v", r.Ns)
	}
}

// verifySecondary transfers the zone from a secondary and checks it with
// kzonecheck, ldns-verify-zone and dnssec-verify (without -z: the zone has
// a KSK, which signs the DNSKEY RRset, and a ZSK, which signs the rest).
func verifySecondary(t *testing.T, addr string) {
	t.Helper()
	rrs, err := axfr(t, addr, dns.TypeAXFR, 0, nil)
	if err != nil || len(rrs) < 2 {
		t.Fatalf("AXFR from the secondary: %v (%d records)", err, len(rrs))
	}
	var b strings.Builder
	for _, rr := range rrs[:len(rrs)-1] {
		b.WriteString(rr.String())
		b.WriteByte('\n')
	}
	file := filepath.Join(t.TempDir(), "secondary.zone")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"kzonecheck", "-o", origin, "-d", "on", file},
		{"ldns-verify-zone", file},
		{"dnssec-verify", "-o", origin, file},
	} {
		if out, err := runTool(t, "", args[0], args[1:]...); err != nil {
			t.Errorf("%s on the secondary's zone: %v\n%s", args[0], err, out)
		}
	}
}
