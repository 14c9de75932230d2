package zone

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/change"
)

// A node is one allocation holding its own copy of the name and records:
// changing the slices it was made from afterwards changes nothing, and
// its records cannot be appended to in place.
func TestNodeOneAllocation(t *testing.T) {
	name := []byte("d1._device.devices.test.")
	a, b := []byte{1, 2, 3}, []byte{4, 5}
	n := newNode(string(name), a, nil, b)
	if n == nil {
		t.Fatal("no node")
	}
	a[0], b[0], name[0] = 9, 9, 'x'
	if got := n.name(); got != "d1._device.devices.test." {
		t.Errorf("name %q", got)
	}
	w := n.wire()
	if !bytes.Equal(w, []byte{1, 2, 3, 4, 5}) {
		t.Errorf("wire % x", w)
	}
	if cap(w) != len(w) {
		t.Errorf("wire has capacity %d past its %d octets: an append would write into the node", cap(w), len(w))
	}
	_ = append(w, 7)
	if got := n.wire(); !bytes.Equal(got, []byte{1, 2, 3, 4, 5}) {
		t.Errorf("append changed the node: % x", got)
	}
	if got := testing.AllocsPerRun(100, func() { newNode("d1._device.devices.test.", a, b) }); got != 1 {
		t.Errorf("newNode makes %v allocations, want 1", got)
	}
	for _, tc := range []struct {
		name  string
		parts [][]byte
	}{
		{"no records", nil},
		{"empty records", [][]byte{{}, nil}},
		{"", [][]byte{{1}}},
	} {
		if newNode(tc.name, tc.parts...) != nil {
			t.Errorf("newNode(%q, %v) is not nil", tc.name, tc.parts)
		}
	}
}

// The name map's keys are the nodes' own names, also after a change
// replaced a node: the map keeps no other copy of a name, and no replaced
// node alive through its key.
func TestNameMapKeyIsNodeName(t *testing.T) {
	z, _ := newZone(t, newClock())
	const name = "d1._device.devices.test."
	for _, rec := range []string{"3 1 1 01", "3 1 1 02"} {
		if _, err := z.Apply([]Change{{Mode: change.Replace, Name: name, Records: []dns.RR{rr(t, name+" 300 IN TLSA "+rec)}}}); err != nil {
			t.Fatal(err)
		}
	}
	z.mu.RLock()
	defer z.mu.RUnlock()
	if z.names[name] == nil {
		t.Fatalf("%s not in the zone", name)
	}
	for k, n := range z.names {
		if k != n.name() {
			t.Errorf("key %q holds the node of %q", k, n.name())
		}
		if unsafe.StringData(k) != unsafe.StringData(n.name()) {
			t.Errorf("key %q is a copy of its node's name", k)
		}
	}
	if got := z.names[name].rrs(dns.TypeTLSA); len(got) != 1 || got[0].(*dns.TLSA).Certificate != "02" {
		t.Errorf("TLSA at %s is %v", name, got)
	}
}
