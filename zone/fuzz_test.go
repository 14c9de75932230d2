package zone

import (
	"maps"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzUpdate runs the prerequisite and update sections of arbitrary
// messages through Update with the default policy: no panic; a failed
// update changes nothing; only identity types ever get in.
func FuzzUpdate(f *testing.F) {
	clock := newClock()
	z, _ := newZone(f, clock)
	if _, err := z.Update(nil, []dns.RR{rr(f, "s1._device.devices.test. 300 IN TLSA 3 1 1 0102")}, Policy{}); err != nil {
		f.Fatal(err)
	}
	// The zone's own records (apex, name server addresses) never change.
	own := func() map[setKey]bool {
		z.mu.RLock()
		defer z.mu.RUnlock()
		m := map[setKey]bool{}
		for name, n := range z.names {
			for _, typ := range n.types() {
				if !IsIdentityType(typ) {
					m[setKey{name, typ}] = true
				}
			}
		}
		return m
	}
	initial := own()
	f.Fuzz(func(t *testing.T, b []byte) {
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			return
		}
		clock.Advance(time.Second)
		before := z.Serial()
		count := z.RRsetCount()
		_, err := z.Update(m.Answer, m.Ns, Policy{})
		if err != nil {
			if z.Serial() != before || z.RRsetCount() != count {
				t.Fatalf("failed update (%v) changed the zone", err)
			}
			return
		}
		if got := own(); !maps.Equal(got, initial) {
			t.Fatalf("the zone's own records changed: %v", got)
		}
	})
}
