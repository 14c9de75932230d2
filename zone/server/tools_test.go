package server

// Tests against real DNS software: Unbound validating through a stub zone,
// BIND's nsupdate and delv, Knot's kdig. The tools are required (they are
// in scripts/debian-packages); a missing tool fails the test.

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/daemon"
	"github.com/dnsbound/dance/zone"
)

// The helpers shared with the other zone packages' tests.
var (
	tool     = daemon.Tool
	freePort = daemon.FreePort
)

// startUnbound runs a validating Unbound in the foreground with the zone's
// trust anchors and a stub zone at the server; it returns its address.
func startUnbound(t testing.TB, anchors, zoneName, stubAddr string) string {
	t.Helper()
	host, sport, _ := net.SplitHostPort(stubAddr)
	return daemon.Run(t, tool(t, "unbound"), func(cf string) []string { return []string{"-d", "-c", cf} }, "unbound.conf", zoneName, 0,
		func(dir string, port int) string {
			return fmt.Sprintf(`server:
  interface: 127.0.0.1
  port: %d
  do-daemonize: no
  chroot: ""
  username: ""
  directory: %q
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 1
  do-ip6: no
  do-not-query-localhost: no
  local-zone: "test." nodefault
  trust-anchor-file: %q
  module-config: "validator iterator"
  val-log-level: 2
  # Nothing is cached, so each query reaches the zone server: a removed
  # identity is seen at once without waiting out a TTL.
  cache-max-ttl: 0
  cache-max-negative-ttl: 0
  qname-minimisation: no
remote-control:
  control-enable: no
stub-zone:
  name: %q
  stub-addr: %s@%s
`, port, dir, anchors, zoneName, host, sport)
		})
}

func query(t testing.TB, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, true)
	c := &dns.Client{Timeout: 10 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("query %s %s at %s: %v", name, dns.TypeToString[qtype], addr, err)
	}
	return r
}

func countType(rrs []dns.RR, t uint16) int {
	n := 0
	for _, r := range rrs {
		if r.Header().Rrtype == t {
			n++
		}
	}
	return n
}

// keyKinds are the two kinds of zone the tools validate: the default, a
// KSK and a ZSK, and one combined signing key.
var keyKinds = []struct {
	name string
	opt  zone.InitOptions
}{
	{"ksk+zsk", zone.InitOptions{}},
	{"csk", zone.InitOptions{CSK: true}},
}

// zoneAnchors reads DIR/anchors and checks that it names the zone's KSK
// (or CSK) and nothing else: its DS and its DNSKEY, never the ZSK.
func zoneAnchors(t testing.TB, ts *testServer) (*dns.DS, *dns.DNSKEY) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ts.dir, zone.AnchorsFile))
	if err != nil {
		t.Fatal(err)
	}
	var ds []*dns.DS
	var dnskeys []*dns.DNSKEY
	zp := dns.NewZoneParser(strings.NewReader(string(b)), "", zone.AnchorsFile)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		switch x := rr.(type) {
		case *dns.DS:
			ds = append(ds, x)
		case *dns.DNSKEY:
			dnskeys = append(dnskeys, x)
		default:
			t.Fatalf("anchors: unexpected record %v", rr)
		}
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("anchors: %v", err)
	}
	ksk := ts.keys.Key
	if len(ds) != 1 || len(dnskeys) != 1 || dnskeys[0].PublicKey != ksk.DNSKEY.PublicKey || dnskeys[0].Flags != ksk.DNSKEY.Flags ||
		ds[0].KeyTag != ksk.Tag() || !strings.EqualFold(ds[0].Digest, ksk.DNSKEY.ToDS(dns.SHA256).Digest) {
		t.Fatalf("anchors name other keys than the KSK %d:\n%s", ksk.Tag(), b)
	}
	return ds[0], dnskeys[0]
}

// checkSigners checks that every RRSIG in rrs is by the key whose role
// signs the type it covers (RFC 6781 §3.1): the KSK for the DNSKEY, CDS
// and CDNSKEY RRsets, the ZSK for every other; the CSK for all in a zone
// without a ZSK. It returns the number of RRSIGs.
func checkSigners(t testing.TB, ts *testServer, rrs []dns.RR) int {
	t.Helper()
	ksk := ts.keys.Key.Tag()
	zsk := ksk
	if ts.keys.ZSK != nil {
		zsk = ts.keys.ZSK.Tag()
	}
	n := 0
	for _, r := range rrs {
		sig, ok := r.(*dns.RRSIG)
		if !ok {
			continue
		}
		n++
		want := zsk
		switch sig.TypeCovered {
		case dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY:
			want = ksk
		}
		if sig.KeyTag != want {
			t.Errorf("RRSIG over %s %s by key %d, want %d", sig.Hdr.Name, dns.TypeToString[sig.TypeCovered], sig.KeyTag, want)
		}
	}
	return n
}

// TestUnboundValidates: Unbound, given the KSK's DS from DIR/anchors,
// validates TLSA answers (AD) and secure negative answers, in a zone with a
// KSK and a ZSK (validation enters through the DNSKEY RRset the KSK signs
// and trusts the ZSK's signatures through it) and in a zone with a CSK.
func TestUnboundValidates(t *testing.T) {
	for _, kind := range keyKinds {
		t.Run(kind.name, func(t *testing.T) { testUnboundValidates(t, kind.opt) })
	}
}

func testUnboundValidates(t *testing.T, opt zone.InitOptions) {
	ts := startServerKeys(t, opt, nil, nil)
	if (ts.keys.ZSK == nil) != opt.CSK {
		t.Fatalf("zone keys: ksk %v zsk %v", ts.keys.Key, ts.keys.ZSK)
	}
	addRR(t, ts.zone,
		"s1._device.devices.test. 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"s2._device.devices.test. 300 IN TLSA 3 1 1 abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
	)
	// The server's own answers carry the signatures of the right keys.
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"s1._device.devices.test.", dns.TypeTLSA},
		{origin, dns.TypeDNSKEY},
		{origin, dns.TypeCDS},
		{"nobody._device.devices.test.", dns.TypeTLSA},
	} {
		r := query(t, ts.addr, q.name, q.qtype)
		if n := checkSigners(t, ts, append(r.Answer, r.Ns...)); n == 0 {
			t.Errorf("%s %s: no signatures", q.name, dns.TypeToString[q.qtype])
		}
	}
	ds, _ := zoneAnchors(t, ts)
	dsFile := filepath.Join(t.TempDir(), "ds.anchor")
	if err := os.WriteFile(dsFile, []byte(ds.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ub := startUnbound(t, dsFile, origin, ts.addr)

	r := query(t, ub, "s1._device.devices.test.", dns.TypeTLSA)
	if r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData || countType(r.Answer, dns.TypeTLSA) != 1 {
		t.Fatalf("TLSA via unbound: rcode %s ad %v\n%v", dns.RcodeToString[r.Rcode], r.AuthenticatedData, r)
	}
	// Names that never existed, empty non-terminals and types never served
	// are secure negative answers.
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"nobody._device.devices.test.", dns.TypeTLSA},
		{"_device.devices.test.", dns.TypeTLSA},
		{"s1._device.devices.test.", dns.TypeA},
		{"deep.below.nothing.devices.test.", dns.TypeSSHFP},
	} {
		r := query(t, ub, q.name, q.qtype)
		if (r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError) || !r.AuthenticatedData || len(r.Answer) != 0 {
			t.Errorf("%s %s: rcode %s ad %v answers %d, want a secure negative answer",
				q.name, dns.TypeToString[q.qtype], dns.RcodeToString[r.Rcode], r.AuthenticatedData, len(r.Answer))
		}
	}
	// Revocation: remove s1; the next answer is a secure negative one.
	del := &dns.ANY{Hdr: dns.RR_Header{Name: "s1._device.devices.test.", Rrtype: dns.TypeANY, Class: dns.ClassANY}}
	if _, err := ts.zone.Update(nil, []dns.RR{del}, zone.Policy{}); err != nil {
		t.Fatal(err)
	}
	r = query(t, ub, "s1._device.devices.test.", dns.TypeTLSA)
	if (r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError) || !r.AuthenticatedData || len(r.Answer) != 0 {
		t.Fatalf("removed identity: rcode %s ad %v\n%v", dns.RcodeToString[r.Rcode], r.AuthenticatedData, r)
	}
	// s2 is untouched.
	if r := query(t, ub, "s2._device.devices.test.", dns.TypeTLSA); !r.AuthenticatedData || countType(r.Answer, dns.TypeTLSA) != 1 {
		t.Fatalf("s2 after removing s1: %v", r)
	}
}

// TestUnboundRejectsWrongAnchor shows the AD bit above is earned: with the
// anchors of another zone's key, or with the DS of the zone's ZSK (which
// signs no DNSKEY RRset, so validation cannot enter the zone through it),
// the same answers are bogus (SERVFAIL).
func TestUnboundRejectsWrongAnchor(t *testing.T) {
	ts := startServer(t, nil)
	addRR(t, ts.zone, "s1._device.devices.test. 300 IN TLSA 3 1 1 abcdef")
	other := filepath.Join(t.TempDir(), "other")
	if _, err := zone.Init(other, zone.InitOptions{Origin: origin}); err != nil {
		t.Fatal(err)
	}
	zskDS := filepath.Join(t.TempDir(), "zsk.anchor")
	if err := os.WriteFile(zskDS, []byte(ts.keys.ZSK.DNSKEY.ToDS(dns.SHA256).String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, anchors string }{
		{"another zone's anchors", filepath.Join(other, zone.AnchorsFile)},
		{"the ZSK's DS", zskDS},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ub := startUnbound(t, tt.anchors, origin, ts.addr)
			r := query(t, ub, "s1._device.devices.test.", dns.TypeTLSA)
			if r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 {
				t.Fatalf("wrong anchor: rcode %s, answers %d", dns.RcodeToString[r.Rcode], len(r.Answer))
			}
		})
	}
}

func runTool(t testing.TB, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool(t, name), args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestNsupdate(t *testing.T) {
	ts := startServer(t, nil)
	host, port, _ := net.SplitHostPort(ts.addr)
	keyFile := filepath.Join(ts.dir, zone.TSIGFile)
	script := func(lines ...string) string {
		return fmt.Sprintf("server %s %s\nzone devices.test\n%s\nsend\n", host, port, strings.Join(lines, "\n"))
	}
	const tlsa = "s1._device.devices.test. 300 TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

	// A wrong secret under the right key name: BADSIG, nothing applied.
	wrong := filepath.Join(t.TempDir(), "wrong.key")
	os.WriteFile(wrong, []byte(`key "update.devices.test." { algorithm hmac-sha256; secret "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; };`), 0o600)
	out, err := runTool(t, script("update add "+tlsa), "nsupdate", "-k", wrong)
	if err == nil || !strings.Contains(out, "BADSIG") {
		t.Fatalf("wrong secret: err %v, output %q", err, out)
	}
	// An unknown key name: BADKEY.
	unknown := filepath.Join(t.TempDir(), "unknown.key")
	os.WriteFile(unknown, []byte(`key "someone.else." { algorithm hmac-sha256; secret "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; };`), 0o600)
	out, err = runTool(t, script("update add "+tlsa), "nsupdate", "-k", unknown)
	if err == nil || !strings.Contains(out, "BADKEY") {
		t.Fatalf("unknown key: err %v, output %q", err, out)
	}
	if ts.zone.Get("s1._device.devices.test.", dns.TypeTLSA) != nil {
		t.Fatal("update with a bad key was applied")
	}

	steps := []struct {
		name    string
		lines   []string
		fail    string // expected failure text, "" for success
		present int    // TLSA records at s1 afterwards
	}{
		{"add", []string{"prereq nxdomain s1._device.devices.test", "update add " + tlsa}, "", 1},
		{"prereq nxdomain fails", []string{"prereq nxdomain s1._device.devices.test", "update add s1._device.devices.test. 300 TLSA 3 1 1 ffff"}, "YXDOMAIN", 1},
		{"A refused", []string{"update add host.devices.test. 300 A 192.0.2.1"}, "REFUSED", 1},
		{"mixed refused whole", []string{"update add s1._device.devices.test. 300 TLSA 3 1 1 eeee", "update add s1._device.devices.test. 300 TXT no"}, "REFUSED", 1},
		{"rollover", []string{"prereq yxrrset s1._device.devices.test TLSA", "update add s1._device.devices.test. 300 TLSA 3 1 1 eeee"}, "", 2},
		{"delete", []string{"update delete s1._device.devices.test TLSA"}, "", 0},
	}
	for _, st := range steps {
		out, err := runTool(t, script(st.lines...), "nsupdate", "-k", keyFile)
		if st.fail == "" && err != nil {
			t.Fatalf("%s: %v\n%s", st.name, err, out)
		}
		if st.fail != "" && (err == nil || !strings.Contains(out, st.fail)) {
			t.Fatalf("%s: err %v, output %q, want %s", st.name, err, out, st.fail)
		}
		if got := len(ts.zone.Get("s1._device.devices.test.", dns.TypeTLSA)); got != st.present {
			t.Fatalf("%s: %d TLSA records, want %d", st.name, got, st.present)
		}
	}
}

// TestDelvAndKdig: delv validates positive and negative answers from the
// anchors of DIR/anchors (the KSK, as a key and as a DS) and not from the
// ZSK's key; kdig gets the TLSA RRset signed by the ZSK over TCP.
func TestDelvAndKdig(t *testing.T) {
	ts := startServer(t, nil)
	addRR(t, ts.zone, "s1._device.devices.test. 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	ds, ksk := zoneAnchors(t, ts)
	zsk := ts.keys.ZSK.DNSKEY
	staticKey := func(k *dns.DNSKEY) string {
		return fmt.Sprintf("static-key %d %d %d %q", k.Flags, k.Protocol, k.Algorithm, k.PublicKey)
	}
	host, port, _ := net.SplitHostPort(ts.addr)
	for _, tt := range []struct {
		name, anchor string
		valid        bool
	}{
		{"the KSK's DNSKEY", staticKey(ksk), true},
		{"the KSK's DS", fmt.Sprintf("static-ds %d %d %d %q", ds.KeyTag, ds.Algorithm, ds.DigestType, ds.Digest), true},
		{"the ZSK's DNSKEY", staticKey(zsk), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conf := filepath.Join(t.TempDir(), "anchors.conf")
			if err := os.WriteFile(conf, []byte(fmt.Sprintf("trust-anchors { %s %s; };\n", origin, tt.anchor)), 0o644); err != nil {
				t.Fatal(err)
			}
			delv := func(name string) string {
				out, err := runTool(t, "", "delv", "-a", conf, "@"+host, "-p", port, "+root="+strings.TrimSuffix(origin, "."), name, "TLSA")
				if err != nil && tt.valid {
					t.Fatalf("delv %s: %v\n%s", name, err, out)
				}
				return out
			}
			pos, neg := delv("s1._device.devices.test"), delv("s9._device.devices.test")
			if !tt.valid {
				if strings.Contains(pos, "fully validated") || strings.Contains(neg, "fully validated") || !strings.Contains(pos, "broken trust chain") || !strings.Contains(neg, "broken trust chain") {
					t.Fatalf("delv validated with the ZSK as anchor:\n%s\n%s", pos, neg)
				}
				return
			}
			if !strings.Contains(pos, "; fully validated") || !strings.Contains(pos, "TLSA\t3 1 1") {
				t.Fatalf("delv positive:\n%s", pos)
			}
			if !strings.Contains(neg, "; negative response, fully validated") {
				t.Fatalf("delv negative:\n%s", neg)
			}
		})
	}
	// kdig over TCP with DO: the answer carries the ZSK's signature.
	out, err := runTool(t, "", "kdig", "@"+host, "-p", port, "+tcp", "+dnssec", "s1._device.devices.test", "TLSA")
	if err != nil || !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, "RRSIG\tTLSA 13") || !strings.Contains(out, "qr aa") ||
		!strings.Contains(out, fmt.Sprintf(" %d %s ", ts.keys.ZSK.Tag(), origin)) {
		t.Fatalf("kdig (ZSK tag %d): %v\n%s", ts.keys.ZSK.Tag(), err, out)
	}
}
