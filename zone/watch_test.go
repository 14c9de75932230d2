package zone

import (
	"fmt"
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// TestWatchStop: a watcher hears every change until its stop function is
// called and none after; stopping twice is harmless and leaves the other
// watchers alone.
func TestWatchStop(t *testing.T) {
	z, _ := newZone(t, newClock())
	var a, b []uint32
	stopA := z.Watch(func(s uint32) { a = append(a, s) })
	stopB := z.Watch(func(s uint32) { b = append(b, s) })
	defer stopB()
	update := func(i int) uint32 {
		t.Helper()
		s, err := z.Update(nil, []dns.RR{rr(t, fmt.Sprintf("w%d.devices.test. 300 IN TLSA 3 1 1 abcd", i))}, Policy{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s1 := update(1)
	stopA()
	stopA()
	s2 := update(2)
	if !slices.Equal(a, []uint32{s1}) {
		t.Errorf("stopped watcher heard %v, want only %d", a, s1)
	}
	if !slices.Equal(b, []uint32{s1, s2}) {
		t.Errorf("running watcher heard %v, want %d, %d", b, s1, s2)
	}
}

// TestIdentityTypesCopy: the list cannot be changed through its result.
func TestIdentityTypesCopy(t *testing.T) {
	got := IdentityTypes()
	if !slices.Contains(got, dns.TypeTLSA) || IsIdentityType(dns.TypeA) {
		t.Fatalf("IdentityTypes() = %v", got)
	}
	got[0] = dns.TypeA
	if IsIdentityType(dns.TypeA) || !IsIdentityType(dns.TypeTLSA) || IdentityTypes()[0] == dns.TypeA {
		t.Error("changing IdentityTypes' result changed the zone's identity types")
	}
}
