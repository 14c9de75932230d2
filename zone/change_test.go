package zone

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/miekg/dns"
)

// parseLong is the record dns.NewRR makes of the parts, as ParseRecord
// makes it when parseAssociation does not read them.
func parseLong(name string, t uint16, ttl uint32, data string) (dns.RR, error) {
	return dns.NewRR(fmt.Sprintf("%s %d IN %s %s", dns.Fqdn(name), ttl, dns.TypeToString[t], data))
}

// TestParseAssociation: TLSA and SMIMEA records read the short way are
// the records dns.NewRR makes; what the short way does not read, it
// leaves to NewRR.
func TestParseAssociation(t *testing.T) {
	hex := "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name string
		t    uint16
		data string
		ok   bool // read the short way
	}{
		{"d1._device.devices.test", dns.TypeTLSA, "3 1 1 " + hex, true},
		{"d1._device.devices.test.", dns.TypeTLSA, "3 1 1 " + hex, true},
		{"*._user.devices.test", dns.TypeSMIMEA, "3 0 1 " + hex, true},
		{"Mixed-Case_x.devices.test", dns.TypeTLSA, "  2   0  1  0123 4567  89ab ", true},
		{"d.devices.test", dns.TypeTLSA, "003 001 000 ab", true},
		{"d.devices.test", dns.TypeTLSA, "255 255 255 ab", true},
		{"d.devices.test", dns.TypeTLSA, "256 1 1 ab", false},
		{"d.devices.test", dns.TypeTLSA, "-1 1 1 ab", false},
		{"d.devices.test", dns.TypeTLSA, "+1 1 1 ab", false},
		{"d.devices.test", dns.TypeTLSA, "a 1 1 ab", false},
		{"d.devices.test", dns.TypeTLSA, "3 1 1", false},
		{"d.devices.test", dns.TypeTLSA, "", false},
		{"d.devices.test", dns.TypeSSHFP, "1 1 " + hex[:40], false},
		{"d.devices.test", dns.TypeOPENPGPKEY, "AAAA", false},
		{"caf\u00e9.devices.test", dns.TypeTLSA, "3 1 1 ab", false},
		{"a@b.devices.test", dns.TypeTLSA, "3 1 1 ab", false},
	} {
		got, ok := parseAssociation(tc.name, tc.t, 300, tc.data)
		if ok != tc.ok {
			t.Errorf("%s %q: read the short way: %v, want %v", tc.name, tc.data, ok, tc.ok)
		}
		if !ok {
			continue
		}
		want, err := parseLong(tc.name, tc.t, 300, tc.data)
		if err != nil {
			t.Errorf("%s %q: short way read what NewRR refuses: %v", tc.name, tc.data, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s %q:\n got %#v\nwant %#v", tc.name, tc.data, got, want)
		}
	}
}

// FuzzParseAssociation: whatever parseAssociation reads, dns.NewRR
// reads to the same record.
func FuzzParseAssociation(f *testing.F) {
	f.Add("d1._device.devices.test", uint16(dns.TypeTLSA), "3 1 1 0123456789abcdef")
	f.Add("*.x", uint16(dns.TypeSMIMEA), " 0 0 0 ab cd ")
	f.Fuzz(func(t *testing.T, name string, typ uint16, data string) {
		// ParseRecord's checks before the short way.
		if _, ok := dns.IsDomainName(name); !ok || name == "" {
			return
		}
		for _, c := range data {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '+' || c == '/' || c == '=' || c == ' ') {
				return
			}
		}
		got, ok := parseAssociation(name, typ, 300, data)
		if !ok {
			return
		}
		want, err := parseLong(name, typ, 300, data)
		if err != nil {
			t.Fatalf("%q %q: short way read what NewRR refuses: %v", name, data, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q %q:\n got %#v\nwant %#v", name, data, got, want)
		}
	})
}
