package server

// Wildcard owners (RFC 4592) served by this server and by a Knot secondary,
// checked by validators: the project's resolver, Unbound and delv.

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/zone"
)

const (
	wildTA = "2 0 1 1111111111111111111111111111111111111111111111111111111111111111"
	ownEE  = "3 1 1 2222222222222222222222222222222222222222222222222222222222222222"
)

// addWildcardZone publishes a CA's record at the wildcard, a device with a
// record of its own, and a device below an empty non-terminal.
func addWildcardZone(t testing.TB, z *zone.Zone) {
	t.Helper()
	addRR(t, z,
		"*._device.devices.test. 300 IN TLSA "+wildTA,
		"s1._device.devices.test. 300 IN TLSA "+ownEE,
		"leaf.ent._device.devices.test. 300 IN TLSA "+ownEE,
	)
}

// wildcardCases are the questions every validator is asked, with the
// answer it must reach securely: the TLSA data, or "" for a negative one.
var wildcardCases = []struct {
	name  string
	qname string
	qtype uint16
	want  string
}{
	{"expanded", "dev42._device.devices.test.", dns.TypeTLSA, wildTA},
	{"expanded two labels down", "a.b._device.devices.test.", dns.TypeTLSA, wildTA},
	{"expanded next to the closest encloser", "\\000._device.devices.test.", dns.TypeTLSA, wildTA},
	{"own record", "s1._device.devices.test.", dns.TypeTLSA, ownEE},
	{"wildcard nodata", "dev42._device.devices.test.", dns.TypeSSHFP, ""},
	{"below an existing name", "x.s1._device.devices.test.", dns.TypeTLSA, ""},
	{"below an empty non-terminal", "x.ent._device.devices.test.", dns.TypeTLSA, ""},
}

func tlsaData(rrs []dns.RR) []string {
	var out []string
	for _, r := range rrs {
		if x, ok := r.(*dns.TLSA); ok {
			out = append(out, fmt.Sprintf("%d %d %d %s", x.Usage, x.Selector, x.MatchingType, x.Certificate))
		}
	}
	return out
}

// TestWildcardProjectResolver: the project's validating resolver proves
// wildcard-expanded answers and wildcard NODATA secure.
func TestWildcardProjectResolver(t *testing.T) {
	ts := startServer(t, nil)
	addWildcardZone(t, ts.zone)
	f, err := os.Open(filepath.Join(ts.dir, zone.AnchorsFile))
	if err != nil {
		t.Fatal(err)
	}
	anchors, err := resolver.ParseAnchors(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{Upstreams: []string{ts.addr}, Anchors: anchors, CacheEntries: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range wildcardCases {
		t.Run(c.name, func(t *testing.T) {
			res, err := r.Lookup(context.Background(), c.qname, c.qtype)
			if err != nil || res.Err() != nil {
				t.Fatalf("lookup: %v %v", err, res.Err())
			}
			if res.Status != resolver.Secure {
				t.Fatalf("status %v, want secure", res.Status)
			}
			var got []string
			for _, rec := range res.Records {
				if x, ok := rec.(*dns.TLSA); ok {
					got = append(got, fmt.Sprintf("%d %d %d %s", x.Usage, x.Selector, x.MatchingType, x.Certificate))
				}
			}
			if c.want == "" {
				if res.Kind == resolver.KindAnswer || len(res.Records) != 0 {
					t.Fatalf("want a negative answer, got %v %v", res.Kind, res.Records)
				}
				return
			}
			if len(got) != 1 || got[0] != c.want || res.Kind != resolver.KindAnswer {
				t.Fatalf("records %v (%v), want %s", got, res.Kind, c.want)
			}
			if n := res.Records[0].Header().Name; n != c.qname {
				t.Errorf("owner %s, want %s", n, c.qname)
			}
		})
	}
}

// checkUnbound asks Unbound at ub every wildcard case: AD on all answers,
// the right data, and negative answers for the names not expanded.
func checkUnbound(t *testing.T, ub string) {
	t.Helper()
	for _, c := range wildcardCases {
		r := query(t, ub, c.qname, c.qtype)
		got := tlsaData(r.Answer)
		switch {
		case !r.AuthenticatedData:
			t.Errorf("%s: no AD (rcode %s)\n%v", c.name, dns.RcodeToString[r.Rcode], r)
		case c.want == "" && (len(r.Answer) != 0 || (r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError)):
			t.Errorf("%s: want a negative answer\n%v", c.name, r)
		case c.want != "" && (len(got) != 1 || got[0] != c.want):
			t.Errorf("%s: TLSA %v, want %s", c.name, got, c.want)
		}
	}
}

// TestWildcardUnboundAndDelv: Unbound with the zone's anchor sets AD on a
// device name answered from the wildcard and on the negative answers, and
// delv fully validates the expanded answer and the wildcard NODATA.
func TestWildcardUnboundAndDelv(t *testing.T) {
	ts := startServer(t, nil)
	addWildcardZone(t, ts.zone)
	ub := startUnbound(t, filepath.Join(ts.dir, zone.AnchorsFile), origin, ts.addr)
	checkUnbound(t, ub)

	dnskey := ts.zone.Get(origin, dns.TypeDNSKEY)
	var anchors strings.Builder
	anchors.WriteString("trust-anchors {\n")
	for _, k := range dnskey {
		k := k.(*dns.DNSKEY)
		if k.Flags&dns.SEP != 0 {
			fmt.Fprintf(&anchors, "  %s static-key %d %d %d %q;\n", origin, k.Flags, k.Protocol, k.Algorithm, k.PublicKey)
		}
	}
	anchors.WriteString("};\n")
	conf := filepath.Join(t.TempDir(), "anchors.conf")
	if err := os.WriteFile(conf, []byte(anchors.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(ts.addr)
	for _, c := range []struct {
		qname, qtype, want string
	}{
		{"dev42._device.devices.test", "TLSA", "; fully validated"},
		{"dev42._device.devices.test", "SSHFP", "; negative response, fully validated"},
		{"x.s1._device.devices.test", "TLSA", "; negative response, fully validated"},
	} {
		out, err := runTool(t, "", "delv", "-a", conf, "@"+host, "-p", port, "+root="+strings.TrimSuffix(origin, "."), c.qname, c.qtype)
		if err != nil || !strings.Contains(out, c.want) {
			t.Errorf("delv %s %s: %v, want %q\n%s", c.qname, c.qtype, err, c.want, out)
		}
		if c.qtype == "TLSA" && c.want == "; fully validated" && !strings.Contains(out, "TLSA\t2 0 1") {
			t.Errorf("delv %s: not the wildcard's record\n%s", c.qname, out)
		}
	}
}

// TestWildcardKnotSecondary: the transferred zone holds the wildcard as an
// ordinary owner with its NSEC3; Knot serves expansions from it with its
// own proofs, kzonecheck accepts Knot's copy, and Unbound through Knot
// sets AD.
func TestWildcardKnotSecondary(t *testing.T) {
	ts, xk, knotPort := startKnotPrimary(t)
	addWildcardZone(t, ts.zone)
	knotAddr := startKnot(t, ts.addr, xk, knotPort)
	waitSerial(t, knotAddr, ts.zone)
	verifySecondary(t, knotAddr)
	r := query(t, knotAddr, "dev42._device.devices.test.", dns.TypeTLSA)
	if got := tlsaData(r.Answer); len(got) != 1 || got[0] != wildTA || countType(r.Ns, dns.TypeNSEC3) == 0 {
		t.Fatalf("Knot's expansion: %v", r)
	}
	ub := startUnbound(t, filepath.Join(ts.dir, zone.AnchorsFile), origin, knotAddr)
	checkUnbound(t, ub)
}

// TestWildcardNsupdate: nsupdate publishes a CA record at *.NAME; an
// asterisk anywhere else, and a type other than the identity types at a
// wildcard, are refused and change nothing.
func TestWildcardNsupdate(t *testing.T) {
	ts := startServer(t, nil)
	host, port, _ := net.SplitHostPort(ts.addr)
	keyFile := filepath.Join(ts.dir, zone.TSIGFile)
	for _, st := range []struct {
		line, fail, name string
	}{
		{"update add *._device.devices.test. 300 TLSA " + wildTA, "", "*._device.devices.test."},
		{"update add a.*._device.devices.test. 300 TLSA " + wildTA, "REFUSED", "a.*._device.devices.test."},
		{"update add *._device.devices.test. 300 TXT hello", "REFUSED", ""},
	} {
		script := fmt.Sprintf("server %s %s\nzone devices.test\n%s\nsend\n", host, port, st.line)
		out, err := runTool(t, script, "nsupdate", "-k", keyFile)
		if st.fail == "" && err != nil {
			t.Fatalf("%s: %v\n%s", st.line, err, out)
		}
		if st.fail != "" && (err == nil || !strings.Contains(out, st.fail)) {
			t.Fatalf("%s: err %v, output %q, want %s", st.line, err, out, st.fail)
		}
		if st.name != "" {
			if got := len(ts.zone.Get(st.name, dns.TypeTLSA)); (got == 1) != (st.fail == "") {
				t.Fatalf("%s: %d TLSA records at %s", st.line, got, st.name)
			}
		}
	}
}

// limitName is a name under the zone whose wire form is total octets
// long (RFC 1035 §2.3.4 allows 255), with a first label of ten octets.
func limitName(t testing.TB, total int) string {
	t.Helper()
	name := "aaaaaaaaaa." + origin
	for rest := total - (len(name) + 1); rest > 0; {
		n := min(63, rest-1)
		if rest-(n+1) == 1 {
			n--
		}
		name = "aaaaaaaaaa." + strings.Repeat("m", n) + "." + name[len("aaaaaaaaaa."):]
		rest -= n + 1
	}
	if len(name)+1 != total {
		t.Fatalf("built a name of %d octets, want %d", len(name)+1, total)
	}
	return name
}

// TestLimitNamesValidate: DO queries for names of 253 to 255 octets get
// signed compact denials (no SERVFAIL) that Unbound and the project's
// resolver prove secure, for names that do not exist and for a name at
// the limit that exists.
func TestLimitNamesValidate(t *testing.T) {
	ts := startServer(t, nil)
	exist := strings.Replace(limitName(t, 255), "aaaaaaaaaa.", "bbbbbbbbbb.", 1)
	addRR(t, ts.zone, exist+" 300 IN TLSA "+ownEE)
	f, err := os.Open(filepath.Join(ts.dir, zone.AnchorsFile))
	if err != nil {
		t.Fatal(err)
	}
	anchors, err := resolver.ParseAnchors(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{Upstreams: []string{ts.addr}, Anchors: anchors, CacheEntries: -1})
	if err != nil {
		t.Fatal(err)
	}
	ub := startUnbound(t, filepath.Join(ts.dir, zone.AnchorsFile), origin, ts.addr)
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{limitName(t, 253), dns.TypeTLSA},
		{limitName(t, 254), dns.TypeTLSA},
		{limitName(t, 255), dns.TypeTLSA},
		{exist, dns.TypeSSHFP},
	} {
		direct := query(t, ts.addr, q.name, q.qtype)
		if direct.Rcode == dns.RcodeServerFailure || countType(direct.Ns, dns.TypeNSEC) != 1 {
			t.Errorf("%d octets: rcode %s, want a compact denial\n%v", len(q.name)+1, dns.RcodeToString[direct.Rcode], direct)
		}
		if m := query(t, ub, q.name, q.qtype); !m.AuthenticatedData || len(m.Answer) != 0 {
			t.Errorf("%d octets via Unbound: rcode %s ad %v", len(q.name)+1, dns.RcodeToString[m.Rcode], m.AuthenticatedData)
		}
		res, err := r.Lookup(context.Background(), q.name, q.qtype)
		if err != nil || res.Status != resolver.Secure || res.Kind == resolver.KindAnswer {
			t.Errorf("%d octets via the project's resolver: %v %+v", len(q.name)+1, err, res)
		}
	}
}
