package zone

import (
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/zone/change"
)

const (
	caRecord   = "*._device.devices.test. 300 IN TLSA 2 0 1 " + "aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11"
	devRecord  = "sensor1._device.devices.test. 300 IN TLSA 3 1 1 " + "bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22"
	markerLine = "sensor1._device.devices.test. 300 IN TLSA " + tlsa.RevocationMarker
)

// tlsaAnswer returns the RDATA of the TLSA records a query for name
// answers with, "" for none.
func tlsaAnswer(t *testing.T, z *Zone, name string) string {
	t.Helper()
	a, err := z.Query(name, dns.TypeTLSA, QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rr := range a.Answer {
		if x, ok := rr.(*dns.TLSA); ok {
			out = append(out, strings.TrimSpace(strings.TrimPrefix(x.String(), x.Hdr.String())))
		}
	}
	return strings.Join(out, ",")
}

// TestRevokeUnderWildcard: removing a device's own record leaves it to
// the CA's wildcard; Revoke leaves the marker, which the wildcard does not
// answer over, and reports the wildcard it shadows. Without a wildcard the
// marker is published all the same.
func TestRevokeUnderWildcard(t *testing.T) {
	for _, wildcard := range []bool{true, false} {
		t.Run(map[bool]string{true: "wildcard", false: "no wildcard"}[wildcard], func(t *testing.T) {
			z, _ := newZone(t, newClock())
			recs := []dns.RR{rr(t, devRecord)}
			if wildcard {
				recs = append(recs, rr(t, caRecord))
			}
			if _, err := z.Update(nil, recs, Policy{}); err != nil {
				t.Fatal(err)
			}
			const name = "sensor1._device.devices.test."
			wantCover := map[bool]string{true: "*._device.devices.test.", false: ""}[wildcard]
			if got := z.CoveringWildcard(name); got != wantCover {
				t.Fatalf("CoveringWildcard before = %q, want %q", got, wantCover)
			}
			// Removing alone: the wildcard answers (the trap).
			if _, err := z.Apply([]Change{{Mode: change.Remove, Name: name}}); err != nil {
				t.Fatal(err)
			}
			wantAfterRemove := map[bool]string{true: "2 0 1 aa11", false: ""}[wildcard]
			if got := tlsaAnswer(t, z, name); !strings.HasPrefix(got, wantAfterRemove) || (wantAfterRemove == "") != (got == "") {
				t.Fatalf("after remove: %q, want %q...", got, wantAfterRemove)
			}
			if _, err := z.Update(nil, []dns.RR{rr(t, devRecord)}, Policy{}); err != nil {
				t.Fatal(err)
			}
			_, cover, err := z.Revoke("Sensor1._device.devices.test")
			if err != nil {
				t.Fatal(err)
			}
			if cover != wantCover {
				t.Errorf("Revoke reports wildcard %q, want %q", cover, wantCover)
			}
			if got := tlsaAnswer(t, z, name); got != tlsa.RevocationMarker {
				t.Fatalf("after revoke: %q, want the marker alone", got)
			}
			if !z.Revoked(name) {
				t.Error("Revoked = false after Revoke")
			}
			// A name the zone never held, known only through the wildcard.
			if _, _, err := z.Revoke("sensor2._device.devices.test"); err != nil {
				t.Fatal(err)
			}
			if got := tlsaAnswer(t, z, "sensor2._device.devices.test."); got != tlsa.RevocationMarker {
				t.Fatalf("sensor2 after revoke: %q", got)
			}
			if wildcard {
				if got := tlsaAnswer(t, z, "sensor3._device.devices.test."); !strings.HasPrefix(got, "2 0 1 ") {
					t.Errorf("an unrevoked name under the wildcard: %q", got)
				}
			}
		})
	}
}

// TestRevokedNameHoldsItsMarker: the changes that try to get past a
// revocation. Adding beside the marker is refused through the API path
// and by update keys; update keys cannot delete it in any form; the
// marker cannot be published beside other records; replacing lifts it.
func TestRevokedNameHoldsItsMarker(t *testing.T) {
	z, _ := newZone(t, newClock())
	const name = "sensor1._device.devices.test."
	if _, err := z.Update(nil, []dns.RR{rr(t, caRecord), rr(t, devRecord)}, Policy{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := z.Revoke(name); err != nil {
		t.Fatal(err)
	}
	newKey := rr(t, "sensor1._device.devices.test. 300 IN TLSA 3 1 1 cc33cc33cc33cc33cc33cc33cc33cc33cc33cc33cc33cc33cc33cc33cc33cc33")
	sshfp := rr(t, "sensor1._device.devices.test. 300 IN SSHFP 4 2 abcdef")
	refusals := []struct {
		name string
		do   func() error
	}{
		{"api add", func() error {
			_, err := z.Apply([]Change{{Mode: change.Add, Name: name, Records: []dns.RR{newKey}}})
			return err
		}},
		{"api add other type", func() error {
			_, err := z.Apply([]Change{{Mode: change.Add, Name: name, Records: []dns.RR{sshfp}}})
			return err
		}},
		{"api replace with marker and key", func() error {
			_, err := z.Apply([]Change{{Mode: change.Replace, Name: name, Records: []dns.RR{rr(t, markerLine), newKey}}})
			return err
		}},
		{"update add", func() error { _, err := z.Update(nil, []dns.RR{newKey}, Policy{}); return err }},
		{"update add other type", func() error { _, err := z.Update(nil, []dns.RR{sshfp}, Policy{}); return err }},
		{"update delete rrset", func() error {
			_, err := z.Update(nil, []dns.RR{del(t, markerLine, dns.ClassANY)}, Policy{})
			return err
		}},
		{"update delete name", func() error {
			_, err := z.Update(nil, []dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeANY, Class: dns.ClassANY}}}, Policy{})
			return err
		}},
		{"update delete record", func() error {
			_, err := z.Update(nil, []dns.RR{del(t, markerLine, dns.ClassNONE)}, Policy{})
			return err
		}},
		{"update delete then add", func() error {
			_, err := z.Update(nil, []dns.RR{del(t, markerLine, dns.ClassANY), newKey}, Policy{})
			return err
		}},
		{"update marker beside a key elsewhere", func() error {
			_, err := z.Update(nil, []dns.RR{
				rr(t, "sensor5._device.devices.test. 300 IN TLSA "+tlsa.RevocationMarker),
				rr(t, "sensor5._device.devices.test. 300 IN TLSA 3 1 1 dd44dd44dd44dd44dd44dd44dd44dd44dd44dd44dd44dd44dd44dd44dd44dd44"),
			}, Policy{})
			return err
		}},
	}
	for _, tc := range refusals {
		err := tc.do()
		if !errors.Is(err, ErrRevoked) || RcodeOf(err) != dns.RcodeRefused {
			t.Errorf("%s: err %v (rcode %s), want a REFUSED ErrRevoked", tc.name, err, dns.RcodeToString[RcodeOf(err)])
		}
		if got := tlsaAnswer(t, z, name); got != tlsa.RevocationMarker {
			t.Fatalf("%s: the name answers %q", tc.name, got)
		}
	}
	// An update key may revoke: the marker alone is accepted.
	if _, err := z.Update(nil, []dns.RR{rr(t, "sensor6._device.devices.test. 300 IN TLSA "+tlsa.RevocationMarker)}, Policy{}); err != nil {
		t.Errorf("update publishing the marker alone: %v", err)
	}
	// Replacing lifts the revocation.
	if _, err := z.Apply([]Change{{Mode: change.Replace, Name: name, Records: []dns.RR{newKey}}}); err != nil {
		t.Fatal(err)
	}
	if z.Revoked(name) || !strings.HasPrefix(tlsaAnswer(t, z, name), "3 1 1 cc33") {
		t.Fatalf("after replace: revoked %v, answer %q", z.Revoked(name), tlsaAnswer(t, z, name))
	}
}

// TestCoveringWildcard: the RFC 4592 closest encloser is found with the
// name's own records set aside, empty non-terminals made by the name alone
// included; names with names below them are never covered.
func TestCoveringWildcard(t *testing.T) {
	z, _ := newZone(t, newClock())
	if _, err := z.Update(nil, []dns.RR{
		rr(t, "*.devices.test. 300 IN TLSA 2 0 1 aa11"),
		rr(t, "*._device.devices.test. 300 IN TLSA 2 0 1 aa11"),
		rr(t, "a.b.devices.test. 300 IN TLSA 3 1 1 aa11"),
		rr(t, "x.y.devices.test. 300 IN TLSA 3 1 1 aa11"),
		rr(t, "z.y.devices.test. 300 IN TLSA 3 1 1 aa11"),
		rr(t, "sub._device.devices.test. 300 IN TLSA 3 1 1 aa11"),
		rr(t, "dev.sub._device.devices.test. 300 IN TLSA 3 1 1 aa11"),
	}, Policy{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, want string }{
		{"new._device.devices.test.", "*._device.devices.test."},
		{"a.b.devices.test.", "*.devices.test."}, // b exists only through a.b
		{"x.y.devices.test.", ""},                // y exists through z.y too: no *.y
		{"sub._device.devices.test.", ""},        // has a name below it
		{"dev.sub._device.devices.test.", ""},    // sub exists: no *.sub
		{"deep.new._device.devices.test.", "*._device.devices.test."},
		{"*._device.devices.test.", ""}, // the wildcard itself
		{"other.example.", ""},
	}
	for _, tc := range tests {
		if got := z.CoveringWildcard(tc.name); got != tc.want {
			t.Errorf("CoveringWildcard(%s) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestRevokeAdminName: an administrator's identity is revoked through the
// admin API's path like any other (a lost laptop must be revocable), while
// update keys still cannot write at admin names, the marker included.
func TestRevokeAdminName(t *testing.T) {
	z := adminZone(t, "*._device.ops.devices.test")
	const laptop = "laptop._device.ops.devices.test."
	if _, _, err := z.Revoke(laptop); err != nil {
		t.Fatalf("Revoke of an administrator: %v", err)
	}
	if !z.Revoked(laptop) {
		t.Fatal("the administrator is not revoked")
	}
	_, err := z.Update(nil, []dns.RR{rr(t, "desk._device.ops.devices.test. 300 IN TLSA "+tlsa.RevocationMarker)}, Policy{})
	if RcodeOf(err) != dns.RcodeRefused {
		t.Errorf("update key writing the marker at an admin name: %v", err)
	}
}
