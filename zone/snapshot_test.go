package zone

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/change"
)

// Transfers taken while updates go on are each a consistent zone: the
// NSEC3 chain covers exactly the names present (and their empty
// non-terminals), every RRset carries its signatures, the SOA opens and
// closes it; and updates are not held up for the length of a transfer.
func TestTransferDuringUpdates(t *testing.T) {
	z, _ := newZone(t, newClock())
	add := func(i int) {
		name := fmt.Sprintf("d%d.g%d._device.devices.test.", i, i%7)
		if _, err := z.Apply([]Change{{Mode: change.Replace, Name: name, Records: []dns.RR{rr(t, fmt.Sprintf("%s 300 IN TLSA 3 1 1 %064x", name, i))}}}); err != nil {
			t.Error(err)
		}
	}
	for i := 0; i < 300; i++ {
		add(i)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 300; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			add(i)
			if i%3 == 0 {
				name := fmt.Sprintf("d%d.g%d._device.devices.test.", i-200, (i-200)%7)
				if _, err := z.Apply([]Change{{Mode: change.Remove, Name: name}}); err != nil {
					t.Error(err)
				}
			}
		}
	}()
	for k := 0; k < 8; k++ {
		rrs, err := z.Transfer()
		if err != nil {
			t.Fatal(err)
		}
		checkConsistent(t, rrs)
	}
	close(stop)
	wg.Wait()
}

// checkConsistent checks an AXFR-form zone of devices.test for the
// properties a snapshot must have.
func checkConsistent(t *testing.T, rrs []dns.RR) {
	t.Helper()
	first, ok1 := rrs[0].(*dns.SOA)
	last, ok2 := rrs[len(rrs)-1].(*dns.SOA)
	if !ok1 || !ok2 || first.Serial != last.Serial {
		t.Fatalf("transfer does not open and close with one SOA")
	}
	names := map[string]bool{}
	sets := map[string]bool{}
	signed := map[string]bool{}
	hashes := map[string]bool{}
	for _, r := range rrs[1 : len(rrs)-1] {
		h := r.Header()
		switch h.Rrtype {
		case dns.TypeRRSIG:
			signed[fmt.Sprintf("%s/%d", h.Name, r.(*dns.RRSIG).TypeCovered)] = true
		case dns.TypeNSEC3:
			hashes[strings.ToUpper(dns.SplitDomainName(h.Name)[0])] = true
			sets[fmt.Sprintf("%s/%d", h.Name, h.Rrtype)] = true
		default:
			names[h.Name] = true
			sets[fmt.Sprintf("%s/%d", h.Name, h.Rrtype)] = true
		}
	}
	for s := range sets {
		if !signed[s] {
			t.Errorf("RRset %s has no signature", s)
		}
	}
	// Every name with data and every empty non-terminal between it and
	// the apex has its NSEC3 record, and no other hash is in the chain.
	want := map[string]bool{}
	for n := range names {
		for p := n; dns.IsSubDomain(origin, p); p = parent(p) {
			want[dns.HashName(p, dns.SHA1, 0, "")] = true
			if p == origin {
				break
			}
		}
	}
	for h := range want {
		if !hashes[h] {
			t.Errorf("hash %s of a present name has no NSEC3 record", h)
		}
	}
	if len(hashes) != len(want) {
		t.Errorf("chain has %d hashes, the names present need %d", len(hashes), len(want))
	}
}
