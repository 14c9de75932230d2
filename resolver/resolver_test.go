package resolver_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/resolver"
	"github.com/miekg/dns"
)

func newResolver(t testing.TB, h *dnstest.Hierarchy, mod func(*resolver.Config)) *resolver.Resolver {
	t.Helper()
	anchors, err := resolver.ParseAnchorsString(h.Anchors())
	if err != nil {
		t.Fatal(err)
	}
	cfg := resolver.Config{Upstreams: []string{h.Addr()}, Anchors: anchors}
	if mod != nil {
		mod(&cfg)
	}
	r, err := resolver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type lookupCase struct {
	name   string
	qtype  uint16
	status resolver.Status
	kind   resolver.Kind
	ede    resolver.EDE // checked when status is not Secure and ede != 0
	data   string       // substring expected in the first record's data
}

func runCases(t *testing.T, r *resolver.Resolver, cases []lookupCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name+"/"+dns.TypeToString[c.qtype], func(t *testing.T) {
			res, err := r.Lookup(context.Background(), c.name, c.qtype)
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if res.Status != c.status {
				t.Fatalf("status %s, want %s (reason: %s)", res.Status, c.status, res.Reason)
			}
			if c.status == resolver.Secure && res.Reason != nil {
				t.Errorf("secure result with a reason: %s", res.Reason)
			}
			if c.status != resolver.Secure && res.Reason == nil {
				t.Errorf("%s result without a reason", res.Status)
			}
			if c.ede != 0 && res.Reason != nil && res.Reason.Code != c.ede {
				t.Errorf("EDE %d (%s), want %d (%s)", res.Reason.Code, res.Reason, c.ede, c.ede)
			}
			if c.status == resolver.Secure || c.status == resolver.Insecure {
				if res.Kind != c.kind {
					t.Errorf("kind %s, want %s", res.Kind, c.kind)
				}
			}
			if c.data != "" {
				if len(res.Records) == 0 || !strings.Contains(res.Records[0].String(), c.data) {
					t.Errorf("records %v, want data containing %q", res.Records, c.data)
				}
			}
			// Records are typed: the RRset asked for, each of its type.
			for _, rr := range res.Records {
				if rr.Header().Rrtype != c.qtype || reflect.TypeOf(rr) != reflect.TypeOf(dns.TypeToRR[c.qtype]()) {
					t.Errorf("record %T (%s) in the answer to a %s lookup", rr, rr, dns.TypeToString[c.qtype])
				}
			}
			if c.status == resolver.Secure && res.Err() != nil {
				t.Errorf("Err() = %v for a secure result", res.Err())
			}
			if c.status != resolver.Secure && res.Err() == nil {
				t.Errorf("Err() = nil for a %s result", res.Status)
			}
		})
	}
}

// goodCases hold for a correct hierarchy whatever the denial method.
var goodCases = []lookupCase{
	{name: "www.example.test.", qtype: dns.TypeA, status: resolver.Secure, kind: resolver.KindAnswer, data: "192.0.2.10"},
	{name: "_443._tcp.www.example.test.", qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindAnswer, data: "3 1 1 0c72ac70"},
	{name: "dev1._device.example.test.", qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindAnswer, data: "3 1 1 8cb0fc6c"},
	{name: "nope._device.example.test.", qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindNXDomain},
	{name: "nope.example.test.", qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindNXDomain},
	{name: "www.example.test.", qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindNoData},
	{name: "c.example.test.", qtype: dns.TypeTXT, status: resolver.Secure, kind: resolver.KindNoData},
	{name: "a.b.c.example.test.", qtype: dns.TypeTXT, status: resolver.Secure, kind: resolver.KindAnswer, data: "deep"},
	{name: "alias.example.test.", qtype: dns.TypeA, status: resolver.Secure, kind: resolver.KindAnswer, data: "192.0.2.10"},
	{name: "dev.example.test.", qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindAnswer, data: "8cb0fc6c"},
	{name: "www.insecure.example.test.", qtype: dns.TypeA, status: resolver.Insecure, kind: resolver.KindAnswer, data: "192.0.2.20"},
	{name: "nope.insecure.example.test.", qtype: dns.TypeA, status: resolver.Insecure, kind: resolver.KindNXDomain},
	{name: "toinsecure.example.test.", qtype: dns.TypeA, status: resolver.Insecure, kind: resolver.KindAnswer, data: "192.0.2.20"},
	{name: "loop1.example.test.", qtype: dns.TypeA, status: resolver.Bogus, ede: resolver.EDEInvalidData},
	{name: "dev1.olddevices.example.test.", qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindAnswer, data: "8cb0fc6c"},
	{name: "nope.olddevices.example.test.", qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindNXDomain},
	{name: "example.test.", qtype: dns.TypeDS, status: resolver.Secure, kind: resolver.KindAnswer},
	{name: "insecure.example.test.", qtype: dns.TypeDS, status: resolver.Secure, kind: resolver.KindNoData},
}

var wildcardCases = []lookupCase{
	{name: "x.wild.example.test.", qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindAnswer, data: "1f2e3d4c"},
	{name: "y.z.wild.example.test.", qtype: dns.TypeTXT, status: resolver.Secure, kind: resolver.KindAnswer, data: "wildcard"},
	{name: "x.wild.example.test.", qtype: dns.TypeA, status: resolver.Secure, kind: resolver.KindNoData},
}

// agreeWithDelv checks BIND's verdicts on the cases against h (CNAME loops
// left out: delv gives up on them another way).
func agreeWithDelv(t *testing.T, h *dnstest.Hierarchy, cases []lookupCase) {
	t.Helper()
	for _, c := range cases {
		if c.name == "loop1.example.test." {
			continue
		}
		if got := h.Delv(t, c.name, c.qtype); got != c.status.String() {
			t.Errorf("%s %s: delv says %s, want %s", c.name, dns.TypeToString[c.qtype], got, c.status)
		}
	}
}

func TestLookupNSEC(t *testing.T) {
	h := dnstest.Start(t, dnstest.Config{})
	cases := append(append([]lookupCase{}, goodCases...), wildcardCases...)
	runCases(t, newResolver(t, h, nil), cases)
	agreeWithDelv(t, h, cases)
}

func TestLookupNSEC3(t *testing.T) {
	zones := map[string]dnstest.ZoneOptions{}
	for _, z := range []string{dnstest.Root, dnstest.TLD, dnstest.Zone, dnstest.Device} {
		zones[z] = dnstest.ZoneOptions{Denial: dnstest.NSEC3}
	}
	h := dnstest.Start(t, dnstest.Config{Zones: zones})
	cases := append(append([]lookupCase{}, goodCases...), wildcardCases...)
	runCases(t, newResolver(t, h, nil), cases)
	agreeWithDelv(t, h, cases)
}

func TestLookupCompactDenial(t *testing.T) {
	zones := map[string]dnstest.ZoneOptions{}
	for _, z := range []string{dnstest.Root, dnstest.TLD, dnstest.Zone, dnstest.Device} {
		zones[z] = dnstest.ZoneOptions{Denial: dnstest.Compact}
	}
	h := dnstest.Start(t, dnstest.Config{Zones: zones})
	runCases(t, newResolver(t, h, nil), goodCases)
	agreeWithDelv(t, h, goodCases)
}
