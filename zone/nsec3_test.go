package zone

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/miekg/dns"
)

// TestAppendNSEC3Rec holds the direct packer of NSEC3 records to what
// packing the record nsec3Of builds gives, for every node of a zone with
// several types per name (type bit maps of one and of several windows),
// and for an empty non-terminal.
func TestAppendNSEC3Rec(t *testing.T) {
	z, _ := newZone(t, newClock())
	addIdentities(t, z, 1, 3)
	if _, err := z.Update(nil, []dns.RR{
		rr(t, "s2._device.devices.test. 300 IN SSHFP 4 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
		rr(t, "s1._device.devices.test. 300 IN OPENPGPKEY AQID"),
		rr(t, "s1._device.devices.test. 300 IN SMIMEA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
	}, Policy{}); err != nil {
		t.Fatal(err)
	}
	z.mu.RLock()
	defer z.mu.RUnlock()
	checked := 0
	err := z.chain.eachKey(func(h, next hashKey, sl *chainSlot) error {
		name := string(z.chain.nameOf(sl))
		n := z.names[name]
		for _, ttl := range []uint32{0, 60, 1 << 30} {
			want, err := packRRs([]dns.RR{z.nsec3Of(h.String(), next.String(), n, ttl)})
			if err != nil {
				return err
			}
			if got := appendNSEC3Rec([]byte{0xff}, next, n, ttl); !bytes.Equal(got[1:], want) || got[0] != 0xff {
				return fmt.Errorf("%s (%v):\n got %x\nwant %x", name, n.types(), got, want)
			}
		}
		checked++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The apex, ns1, _device (an empty non-terminal) and the three
	// identities.
	if checked < 6 {
		t.Fatalf("%d chain entries checked", checked)
	}
}

// each is eachKey with the hashes in base32hex, as tests compare them,
// and each entry's name.
func (c *chain) each(fn func(h, next, name string) error) error {
	return c.eachKey(func(h, next hashKey, sl *chainSlot) error {
		return fn(h.String(), next.String(), string(c.nameOf(sl)))
	})
}
