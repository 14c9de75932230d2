package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// askDO asks addr over TCP (never rate-limited) for name's TLSA records
// with DO, and the CO bit when co is set.
func askDO(t *testing.T, addr, name string, co bool) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeTLSA)
	m.SetEdns0(1232, true)
	if co {
		m.IsEdns0().Hdr.Ttl |= ednsFlagCO
	}
	r, _, err := (&dns.Client{Net: "tcp", Timeout: 10 * time.Second}).Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s: %v", addr, name, err)
	}
	return r
}

// TestWalkPrimaryAndSecondary checks what dance zone --help and
// zone/README.md say about listing the zone's names: the primary's denials
// name nothing but the name asked, while a secondary (Knot) serving the
// transferred NSEC3 chain gives away every name's hash to random queries,
// which a dictionary turns back into the names; and the two answer an
// absent name with different response codes (NOERROR with an NXNAME NSEC,
// NXDOMAIN with NSEC3), the primary NXDOMAIN when the CO bit is set.
func TestWalkPrimaryAndSecondary(t *testing.T) {
	ts, xk, knotPort := startKnotPrimary(t)
	secret := []string{"s1._device.devices.test.", "s7._device.devices.test.", "gateway4._device.devices.test."}
	for i, n := range secret {
		addRR(t, ts.zone, fmt.Sprintf("%s 300 IN TLSA 3 1 1 %064x", n, i+1))
	}
	knotAddr := startKnot(t, ts.addr, xk, knotPort)
	waitSerial(t, knotAddr, ts.zone)

	// The chain a transfer carries: one hash per name of the zone.
	rrs, err := axfr(t, ts.addr, dns.TypeAXFR, 0, xk)
	if err != nil {
		t.Fatal(err)
	}
	chain := map[string]bool{}
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeNSEC3 {
			chain[strings.ToUpper(dns.SplitDomainName(rr.Header().Name)[0])] = true
		}
	}
	if len(chain) < len(secret) {
		t.Fatalf("the transfer holds %d NSEC3 records for %d names", len(chain), len(secret))
	}

	given := map[string]bool{} // hashes the secondary's answers gave away
	const queries = 200        // each denial covers an interval of a chain of about 6: all are hit
	for i := 0; i < queries; i++ {
		name := fmt.Sprintf("r%d-%d._device.devices.test.", i, time.Now().UnixNano())
		rp := askDO(t, ts.addr, name, false)
		if rp.Rcode != dns.RcodeSuccess || len(rp.Answer) != 0 {
			t.Fatalf("primary, %s: %s with %d answers, want NOERROR and none", name, dns.RcodeToString[rp.Rcode], len(rp.Answer))
		}
		nsecs := 0
		for _, rr := range rp.Ns {
			switch rr := rr.(type) {
			case *dns.NSEC:
				nsecs++
				if !strings.EqualFold(rr.Hdr.Name, name) || !strings.EqualFold(rr.NextDomain, "\\000."+name) {
					t.Fatalf("primary's NSEC for %s names another name: %v", name, rr)
				}
				nx := false
				for _, tp := range rr.TypeBitMap {
					nx = nx || tp == dns.TypeNXNAME
				}
				if !nx {
					t.Fatalf("primary's NSEC for %s lacks NXNAME: %v", name, rr)
				}
			case *dns.NSEC3:
				t.Fatalf("primary answered with NSEC3: %v", rr)
			}
		}
		if nsecs != 1 {
			t.Fatalf("primary, %s: %d NSEC records, want 1", name, nsecs)
		}
		rk := askDO(t, knotAddr, name, false)
		if rk.Rcode != dns.RcodeNameError {
			t.Fatalf("secondary, %s: %s, want NXDOMAIN", name, dns.RcodeToString[rk.Rcode])
		}
		for _, rr := range rk.Ns {
			if rr.Header().Rrtype == dns.TypeNSEC3 {
				given[strings.ToUpper(dns.SplitDomainName(rr.Header().Name)[0])] = true
			}
		}
	}
	for h := range chain {
		if !given[h] {
			t.Errorf("%d random queries to the secondary did not give away hash %s", queries, h)
		}
	}
	// A dictionary of likely names, hashed offline, finds the secret ones.
	var found []string
	for _, prefix := range []string{"s", "sensor", "gateway"} {
		for i := 0; i < 10; i++ {
			n := fmt.Sprintf("%s%d._device.devices.test.", prefix, i)
			if given[dns.HashName(n, dns.SHA1, 0, "")] {
				found = append(found, n)
			}
		}
	}
	if len(found) != len(secret) {
		t.Errorf("dictionary recovered %v from the secondary's hashes, want %v", found, secret)
	}

	// The CO bit asks the primary for NXDOMAIN.
	if r := askDO(t, ts.addr, "co-test._device.devices.test.", true); r.Rcode != dns.RcodeNameError {
		t.Errorf("primary with CO: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	// Without DO both answer NXDOMAIN.
	for _, addr := range []string{ts.addr, knotAddr} {
		m := new(dns.Msg)
		m.SetQuestion("plain._device.devices.test.", dns.TypeTLSA)
		r, _, err := (&dns.Client{Net: "tcp", Timeout: 10 * time.Second}).Exchange(m, addr)
		if err != nil || r.Rcode != dns.RcodeNameError {
			t.Errorf("%s without DO: %v %v, want NXDOMAIN", addr, err, r)
		}
	}
}
