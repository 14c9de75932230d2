package zone

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/change"
)

// TestNodeSigsCompaction re-signs every node until more than half of the
// arena is their replaced signatures, and checks that compaction keeps
// every node's signatures (the same transfer, octet for octet, and
// nothing to sign again) and drops the garbage.
func TestNodeSigsCompaction(t *testing.T) {
	z, _ := sigZone(t, newClock(), 300)
	s := &z.chain.store
	s.mu.Lock()
	s.compactMin = 0
	s.mu.Unlock()
	before, err := z.transferImage()
	if err != nil {
		t.Fatal(err)
	}
	base := s.view.Load().base
	sg := z.signer.Load()
	nodes := z.signedNodes()
	if len(nodes) < 300 {
		t.Fatalf("%d nodes with signatures after presigning 300 names", len(nodes))
	}
	// The same signatures stored again, four times: every earlier record
	// of a node is garbage, more than the chain's live records and the
	// nodes' together.
	for k := 0; k < 4; k++ {
		for _, n := range nodes {
			w, by := s.nodeSigs(n)
			if by == nil {
				t.Fatalf("%s has no signatures", n.name())
			}
			if err := s.setSigs(n, by, bytes.Clone(w)); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.mu.Lock()
	wasteful := s.wastefulLocked()
	s.mu.Unlock()
	if !wasteful {
		t.Fatal("every node's signatures replaced four times, and the arena is not wasteful")
	}
	z.compactChain()
	if s.view.Load().base == base {
		t.Fatal("no compaction")
	}
	for _, n := range nodes {
		for _, typ := range n.types() {
			if n.cachedSigs(s, sg, typ) == nil {
				t.Fatalf("%s lost its signatures of type %d", n.name(), typ)
			}
		}
	}
	sameAfterCompaction(t, z, before)
}

// TestNodeSigsStaleNode holds a node the zone no longer has, as a
// positive answer may (it reads the node after the zone's lock): its
// signatures read as none, never as another record, whether the node
// gave them up on leaving the zone or a signer stored new ones on it
// before a compaction dropped their slab.
func TestNodeSigsStaleNode(t *testing.T) {
	z, _ := sigZone(t, newClock(), 50)
	s := &z.chain.store
	s.mu.Lock()
	s.compactMin = 0
	s.mu.Unlock()
	const name = "d7.g2._device.devices.test."
	sg := z.signer.Load()
	z.mu.RLock()
	n := z.names[name]
	z.mu.RUnlock()
	w := n.cachedSigs(s, sg, dns.TypeTLSA)
	if w == nil {
		t.Fatal("presigned node without signatures")
	}
	w = bytes.Clone(w)
	if _, err := z.Apply([]Change{{Mode: change.Replace, Name: name, Records: []dns.RR{rr(t, name+" 300 IN TLSA 3 1 1 "+fmt.Sprintf("%064x", 99))}}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.nodeSigs(n); got != nil {
		t.Fatal("a node replaced in the zone still has signatures")
	}
	// A signer that took n before it was replaced stores on it.
	if err := s.storeSigs(n, sg, dns.TypeTLSA, w); err != nil {
		t.Fatal(err)
	}
	if n.cachedSigs(s, sg, dns.TypeTLSA) == nil {
		t.Fatal("signatures stored on a node are not read back")
	}
	// Compaction copies only the zone's nodes, and drops n's slab.
	s.compactMu.Lock()
	s.compactCopy(z.signedNodes)
	z.mu.Lock()
	s.compactFinish()
	z.mu.Unlock()
	s.compactMu.Unlock()
	if slab, _ := ref(n.sigs.Load()).parts(); slab >= s.view.Load().base {
		t.Fatal("the stale node's record was copied or its slab kept")
	}
	if got, by := s.nodeSigs(n); got != nil || by != nil {
		t.Fatal("a stale node's signatures read from a dropped slab")
	}
	if n.cachedSigs(s, sg, dns.TypeTLSA) != nil {
		t.Fatal("a stale node's dropped signatures count as cached")
	}
}
