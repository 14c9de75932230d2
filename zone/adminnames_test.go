package zone

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/change"
)

// TestAdminPatternOverlap checks the two questions the admin-name checks
// ask of one pattern: can a key granted a subtree write at one of its names
// (grantOverlaps), and can records written at one owner be served at one of
// its names (reaches). Names come in any case, with or without the trailing
// dot, and wildcards on either side.
func TestAdminPatternOverlap(t *testing.T) {
	tests := []struct {
		pattern string
		name    string
		grant   bool // a Policy subtree at name overlaps the pattern
		reach   bool // a record owned by name can be served at a matched name
	}{
		// Exact admin name.
		{"laptop._device.ops.devices.test", "laptop._device.ops.devices.test.", true, true},
		{"laptop._device.ops.devices.test", "LAPTOP._Device.Ops.Devices.Test", true, true},
		{"Laptop._device.ops.devices.test.", "laptop._device.ops.devices.test", true, true},
		{"laptop._device.ops.devices.test", "_device.ops.devices.test.", true, false},
		{"laptop._device.ops.devices.test", "devices.test.", true, false},
		{"laptop._device.ops.devices.test", "a.laptop._device.ops.devices.test.", false, false},
		{"laptop._device.ops.devices.test", "laptop2._device.ops.devices.test.", false, false},
		{"laptop._device.ops.devices.test", "laptop._device.devices.test.", false, false},
		{"laptop._device.ops.devices.test", "xlaptop._device.ops.devices.test.", false, false},
		// A wildcard owner answers for names strictly below its parent.
		{"laptop._device.ops.devices.test", "*._device.ops.devices.test.", true, true},
		{"laptop._device.ops.devices.test", "*.ops.devices.test.", true, true},
		{"laptop._device.ops.devices.test", "*.Devices.Test", true, true},
		{"laptop._device.ops.devices.test", "*.laptop._device.ops.devices.test.", false, false},
		{"laptop._device.ops.devices.test", "*._device.devices.test.", false, false},
		// Subtree admin pattern: every name strictly below the base.
		{"*._device.ops.devices.test", "laptop._device.ops.devices.test.", true, true},
		{"*._device.ops.devices.test", "A.B._DEVICE.ops.devices.test", true, true},
		{"*._device.ops.devices.test.", "_device.ops.devices.test.", true, false},
		{"*._Device.Ops.Devices.Test", "ops.devices.test", true, false},
		{"*._device.ops.devices.test", "devices.test.", true, false},
		{"*._device.ops.devices.test", "_device.devices.test.", false, false},
		{"*._device.ops.devices.test", "x.ops.devices.test.", false, false},
		{"*._device.ops.devices.test", "_device.ops2.devices.test.", false, false},
		// Wildcards on both sides.
		{"*._device.ops.devices.test", "*._device.ops.devices.test.", true, true},
		{"*._device.ops.devices.test", "*.x._device.ops.devices.test.", true, true},
		{"*._device.ops.devices.test", "*.ops.devices.test.", true, true},
		{"*._device.ops.devices.test", "*.devices.test.", true, true},
		{"*._device.ops.devices.test", "*.x.ops.devices.test.", false, false},
		{"*._device.ops.devices.test", "*._device.devices.test.", false, false},
		// A pattern above the zone makes every name of the zone an admin
		// name.
		{"*.test", "s1._device.devices.test.", true, true},
		{"*.test", "*.devices.test.", true, true},
		{"*.test", "devices.test.", true, true},
	}
	for _, tt := range tests {
		ps, err := parseAdminPatterns(origin, []string{tt.pattern})
		if err != nil || len(ps) != 1 {
			t.Fatalf("parse %q: %v %v", tt.pattern, ps, err)
		}
		name := dns.CanonicalName(tt.name)
		if got := ps[0].grantOverlaps(name); got != tt.grant {
			t.Errorf("pattern %q, policy subtree %q: overlap %v, want %v", tt.pattern, tt.name, got, tt.grant)
		}
		if got := ps[0].reaches(name); got != tt.reach {
			t.Errorf("pattern %q, owner %q: reaches %v, want %v", tt.pattern, tt.name, got, tt.reach)
		}
	}
}

func TestParseAdminPatterns(t *testing.T) {
	ps, err := parseAdminPatterns(origin, []string{
		"Laptop._Device.Ops.Devices.Test", // in the zone
		"*._device.ops.devices.test.",     // in the zone
		"admin.example.com",               // elsewhere: ignored
		"*._device.example.com",           // elsewhere: ignored
		"*.test",                          // above the zone: every name of it
		"devices.test.evil",               // not below the zone
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	want := []string{"laptop._device.ops.devices.test.", "*._device.ops.devices.test.", "*.test."}
	if !slices.Equal(got, want) {
		t.Fatalf("patterns %q, want %q", got, want)
	}
	for _, bad := range []string{"", "*", "*.", "*.*.devices.test", "a.*.devices.test", "bad..name", "."} {
		if _, err := parseAdminPatterns(origin, []string{bad}); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
}

// adminZone opens a zone with admin names, after publishing an
// administrator's record the way an administrator would (Apply, the admin
// API's path).
func adminZone(t *testing.T, names ...string) *Zone {
	t.Helper()
	clock := newClock()
	dir := filepath.Join(t.TempDir(), "z")
	if _, err := Init(dir, InitOptions{Origin: origin, Time: clock.Now}); err != nil {
		t.Fatal(err)
	}
	z, err := Open(dir, Options{Time: clock.Now, AdminNames: names})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	if _, err := z.Apply([]Change{{Mode: change.Add, Name: "laptop._device.ops.devices.test.",
		Records: []dns.RR{rr(t, "laptop._device.ops.devices.test. 300 IN TLSA 3 1 1 aaaa")}}}); err != nil {
		t.Fatalf("the admin path must still write admin names: %v", err)
	}
	return z
}

// TestCheckPolicyAdminNames: a key that could write at an admin name is
// refused at configuration time, with the key, its reach and the pattern.
func TestCheckPolicyAdminNames(t *testing.T) {
	z := adminZone(t, "*._Device.Ops.Devices.Test.", "boss.devices.test", "admin.example.com")
	if got := z.adminNames(); !slices.Equal(got, []string{"*._device.ops.devices.test.", "boss.devices.test."}) {
		t.Fatalf("AdminNames %q", got)
	}
	tests := []struct {
		subtree string
		pattern string // "" when allowed
	}{
		{"", "*._device.ops.devices.test."}, // no subtree: the whole zone
		{"devices.test.", "*._device.ops.devices.test."},
		{"ops.devices.test.", "*._device.ops.devices.test."},
		{"_device.ops.devices.test", "*._device.ops.devices.test."},
		{"*._device.ops.devices.test.", "*._device.ops.devices.test."},
		{"x._DEVICE.ops.devices.test.", "*._device.ops.devices.test."},
		{"Boss.Devices.Test", "boss.devices.test."},
		{"*.devices.test.", "*._device.ops.devices.test."},
		{"_device.devices.test.", ""},
		{"*._device.devices.test.", ""},
		{"x.ops.devices.test.", ""},
		{"a.boss.devices.test.", ""},
		{"_user.devices.test.", ""},
	}
	for _, tt := range tests {
		err := z.CheckPolicy("Fleet.Devices.Test", Policy{Subtree: tt.subtree, Types: []uint16{dns.TypeSSHFP}})
		var oe *AdminOverlapError
		switch {
		case tt.pattern == "" && err != nil:
			t.Errorf("subtree %q refused: %v", tt.subtree, err)
		case tt.pattern != "" && !errors.As(err, &oe):
			t.Errorf("subtree %q: %v, want an AdminOverlapError", tt.subtree, err)
		case tt.pattern != "" && (oe.Pattern != tt.pattern || oe.Key != "fleet.devices.test."):
			t.Errorf("subtree %q: %+v, want pattern %s, key fleet.devices.test.", tt.subtree, oe, tt.pattern)
		}
	}
	// Without admin names, every policy is fine.
	z2, _ := newZone(t, newClock())
	if err := z2.CheckPolicy("k.", Policy{}); err != nil {
		t.Fatal(err)
	}
}

// TestUpdateRefusesAdminNames: whatever the key's policy, an update cannot
// publish or delete at an admin name, nor add a wildcard that would answer
// for one; an update with one such record applies nothing.
func TestUpdateRefusesAdminNames(t *testing.T) {
	z := adminZone(t, "*._device.ops.devices.test", "Boss.Devices.Test.")
	tlsa := func(name string) dns.RR { return rr(t, name+" 300 IN TLSA 3 1 1 bbbb") }
	tests := []struct {
		name   string
		policy Policy
		rr     dns.RR
		rcode  int
	}{
		{"exact admin name", Policy{}, tlsa("BOSS.devices.test."), dns.RcodeRefused},
		{"below subtree pattern", Policy{}, tlsa("evil._device.ops.devices.test."), dns.RcodeRefused},
		{"deep below, mixed case", Policy{}, tlsa("a.EVIL._device.Ops.devices.test"), dns.RcodeRefused},
		{"wildcard of the pattern", Policy{}, tlsa("*._device.ops.devices.test."), dns.RcodeRefused},
		{"wildcard restricted key", Policy{Subtree: "*._device.ops.devices.test."}, tlsa("*._device.ops.devices.test."), dns.RcodeRefused},
		{"wildcard above", Policy{}, tlsa("*.ops.devices.test."), dns.RcodeRefused},
		{"wildcard at apex", Policy{}, tlsa("*.devices.test."), dns.RcodeRefused},
		{"delete admin rrset", Policy{}, del(t, "laptop._device.ops.devices.test. 0 IN TLSA 3 1 1 aaaa", dns.ClassANY), dns.RcodeRefused},
		{"delete admin record", Policy{}, del(t, "laptop._device.ops.devices.test. 0 IN TLSA 3 1 1 aaaa", dns.ClassNONE), dns.RcodeRefused},
		{"delete admin name", Policy{}, &dns.ANY{Hdr: dns.RR_Header{Name: "laptop._device.ops.devices.test.", Rrtype: dns.TypeANY, Class: dns.ClassANY}}, dns.RcodeRefused},
		{"other type at admin name", Policy{}, rr(t, "evil._device.ops.devices.test. 300 IN SSHFP 4 2 aaaa"), dns.RcodeRefused},
		{"outside", Policy{}, tlsa("s1._device.devices.test."), dns.RcodeSuccess},
		{"the base itself", Policy{}, tlsa("_device.ops.devices.test."), dns.RcodeSuccess},
		{"wildcard elsewhere", Policy{}, tlsa("*.x.ops.devices.test."), dns.RcodeSuccess},
		{"below the exact name", Policy{}, tlsa("a.boss.devices.test."), dns.RcodeSuccess},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := z.Serial()
			// With a key that may write anywhere else, the refused record
			// comes second: nothing of the update applies.
			canary := tlsa(fmt.Sprintf("canary%d.devices.test.", i))
			updates := []dns.RR{tt.rr}
			if tt.policy.Subtree == "" {
				updates = []dns.RR{canary, tt.rr}
			}
			_, err := z.Update(nil, updates, tt.policy)
			if rc := RcodeOf(err); rc != tt.rcode {
				t.Fatalf("rcode %s (%v), want %s", dns.RcodeToString[rc], err, dns.RcodeToString[tt.rcode])
			}
			if tt.rcode != dns.RcodeSuccess {
				if z.Serial() != before || len(z.Get(canary.Header().Name, dns.TypeTLSA)) != 0 {
					t.Fatal("a refused update changed the zone")
				}
			}
		})
	}
	// The administrator's record is intact, and no name under the admin
	// pattern is answered by anything an update key wrote.
	if got := z.Get("laptop._device.ops.devices.test.", dns.TypeTLSA); len(got) != 1 || got[0].(*dns.TLSA).Certificate != "aaaa" {
		t.Fatalf("admin record: %v", got)
	}
	a, err := z.Query("evil._device.ops.devices.test.", dns.TypeTLSA, QueryOptions{})
	if err != nil || len(a.Answer) != 0 {
		t.Fatalf("evil admin name answered: %v %v", a, err)
	}
}
