package zone

import (
	"testing"

	"github.com/miekg/dns"
)

// TestOnlineSigningOfMatchesQuery checks that OnlineSigningOf predicts what
// Query signs for the query alone. Every such signature covers an NSEC
// record (compact denial or a wildcard proof), so a DO answer holds an NSEC
// exactly when a signature was made for it; and the kind matches the
// answer's outcome. The server refuses signing work on this prediction, so
// a query it calls free must really be free.
func TestOnlineSigningOfMatchesQuery(t *testing.T) {
	clock := newClock()
	z, _ := newZone(t, clock)
	const hash = "3 1 1 2222222222222222222222222222222222222222222222222222222222222222"
	if _, err := z.Update(nil, []dns.RR{
		rr(t, "*._device.devices.test. 300 IN TLSA 2 0 1 1111111111111111111111111111111111111111111111111111111111111111"),
		rr(t, "s1._device.devices.test. 300 IN TLSA "+hash),
		rr(t, "leaf.ent._device.devices.test. 300 IN TLSA "+hash),
		rr(t, "s2._user.devices.test. 300 IN SSHFP 1 2 "+hash[6:]),
	}, Policy{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		qname string
		qtype uint16
		want  OnlineSigning
	}{
		{"s1._device.devices.test.", dns.TypeTLSA, NoOnlineSignature},
		{"S1._Device.Devices.Test.", dns.TypeTLSA, NoOnlineSignature},
		{"s1._device.devices.test.", dns.TypeANY, NoOnlineSignature},
		{"s1._device.devices.test.", dns.TypeSSHFP, SignedNoData},
		{"s1._device.devices.test.", dns.TypeNSEC, SignedNoData},
		{"devices.test.", dns.TypeSOA, NoOnlineSignature},
		{"devices.test.", dns.TypeDNSKEY, NoOnlineSignature},
		{"devices.test.", dns.TypeTLSA, SignedNoData},
		{"ent._device.devices.test.", dns.TypeTLSA, SignedNoData},
		{"ent._device.devices.test.", dns.TypeANY, SignedNoData},
		{"_device.devices.test.", dns.TypeTLSA, SignedNoData},
		{"_user.devices.test.", dns.TypeTLSA, SignedNoData},
		{"random1._user.devices.test.", dns.TypeSSHFP, SignedNameError},
		{"a.b.c.devices.test.", dns.TypeTLSA, SignedNameError},
		{"x.ent._device.devices.test.", dns.TypeTLSA, SignedNameError},
		{"dev42._device.devices.test.", dns.TypeTLSA, SignedWildcard},
		{"a.b._device.devices.test.", dns.TypeTLSA, SignedWildcard},
		{"dev42._device.devices.test.", dns.TypeANY, SignedWildcard},
		{"dev42._device.devices.test.", dns.TypeSSHFP, SignedNoData},
		{"dev42._device.devices.test.", dns.TypeNSEC, SignedNoData},
		{"*._device.devices.test.", dns.TypeTLSA, NoOnlineSignature},
		{"outside.example.", dns.TypeTLSA, NoOnlineSignature},
	}
	for _, tc := range tests {
		got := z.OnlineSigningOf(tc.qname, tc.qtype)
		if got != tc.want {
			t.Errorf("%s %s: OnlineSigningOf = %v, want %v", tc.qname, dns.TypeToString[tc.qtype], got, tc.want)
		}
		a, err := z.Query(tc.qname, tc.qtype, QueryOptions{DNSSEC: true})
		if err != nil {
			t.Fatalf("%s: %v", tc.qname, err)
		}
		nsecs := 0
		for _, rr := range append(append([]dns.RR{}, a.Answer...), a.Ns...) {
			if rr.Header().Rrtype == dns.TypeNSEC {
				nsecs++
			}
		}
		if signs := nsecs > 0; signs != (got != NoOnlineSignature) {
			t.Errorf("%s %s: answer has %d NSEC records, but OnlineSigningOf says %v", tc.qname, dns.TypeToString[tc.qtype], nsecs, got)
		}
		wantOutcome := map[OnlineSigning]Outcome{SignedNameError: NameError, SignedNoData: NoData, SignedWildcard: Success}
		if o, ok := wantOutcome[got]; ok && a.Outcome != o && tc.qtype != dns.TypeNSEC {
			t.Errorf("%s %s: outcome %v for kind %v", tc.qname, dns.TypeToString[tc.qtype], a.Outcome, got)
		}
	}
}
