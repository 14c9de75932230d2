package zone

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/internal/signer"
)

// Every type a zone holds survives packing and unpacking unchanged,
// RDATA, TTL and class included.
func TestPackedRoundTrip(t *testing.T) {
	cases := []string{
		"devices.test. 3600 IN SOA ns1.devices.test. hostmaster.devices.test. 7 3600 600 1209600 60",
		"devices.test. 3600 IN NS ns1.devices.test.",
		"ns1.devices.test. 3600 IN A 192.0.2.1",
		"ns1.devices.test. 3600 IN AAAA 2001:db8::1",
		"devices.test. 3600 IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==",
		"devices.test. 3600 IN CDS 2371 13 2 1F987CC6583E92DF0890718C42C4AE2A8EBF3C0A80B4D7C1B8A93C1CBBA6E1C5",
		"devices.test. 3600 IN CDNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==",
		"devices.test. 0 IN NSEC3PARAM 1 0 0 -",
		"d1._device.devices.test. 300 IN TLSA 3 1 1 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
		"d1._device.devices.test. 300 IN TLSA 2 0 1 ffff",
		"x._smimecert.devices.test. 300 IN SMIMEA 3 1 1 abcdef",
		"x._openpgpkey.devices.test. 300 IN OPENPGPKEY AQID",
		"host.devices.test. 300 IN SSHFP 4 2 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
	}
	for _, c := range cases {
		in := rr(t, c)
		w, err := packSet([]dns.RR{in})
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		out, err := unpackRRs(in.Header().Name, w)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if len(out) != 1 || out[0].String() != in.String() {
			t.Errorf("round trip of %q gave %v", c, out)
		}
	}
}

// A node keeps RRsets sorted by type; with replaces one and leaves the
// others (and their signatures) alone; removing the last leaves nothing.
func TestNodeWith(t *testing.T) {
	const name = "d1._device.devices.test."
	pack := func(ss ...string) []byte {
		var rrs []dns.RR
		for _, s := range ss {
			rrs = append(rrs, rr(t, s))
		}
		w, err := packSet(rrs)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	sshfp := pack(name + " 300 IN SSHFP 4 2 0102")
	tlsa := pack(name+" 300 IN TLSA 3 1 1 01", name+" 300 IN TLSA 3 1 1 02")
	smimea := pack(name + " 300 IN SMIMEA 3 1 1 03")

	z := nodeTestZone()
	st := &z.chain.store
	var n *node
	n = n.with(st, name, dns.TypeTLSA, tlsa)
	n = n.with(st, name, dns.TypeSSHFP, sshfp)
	n = n.with(st, name, dns.TypeSMIMEA, smimea)
	if got, want := n.types(), []uint16{dns.TypeSSHFP, dns.TypeTLSA, dns.TypeSMIMEA}; !slices.Equal(got, want) {
		t.Fatalf("types %v, want %v", got, want)
	}
	if got := n.rrs(dns.TypeTLSA); len(got) != 2 {
		t.Fatalf("TLSA set %v", got)
	}
	if n.has(dns.TypeA) || n.rrs(dns.TypeA) != nil {
		t.Fatal("type A reported at a node without it")
	}

	// Signatures for two sets; replacing one set drops only its own.
	sg := testSigner(t)
	for _, typ := range []uint16{dns.TypeSSHFP, dns.TypeTLSA} {
		if _, err := signedForTest(z, sg, n, typ); err != nil {
			t.Fatal(err)
		}
	}
	if n.cachedSigs(st, sg, dns.TypeSSHFP) == nil || n.cachedSigs(st, sg, dns.TypeTLSA) == nil {
		t.Fatal("signatures not cached")
	}
	n2 := n.with(st, name, dns.TypeTLSA, pack(name+" 300 IN TLSA 3 1 1 09"))
	if n2.cachedSigs(st, sg, dns.TypeTLSA) != nil {
		t.Error("signatures of the replaced TLSA set carried over")
	}
	if got, want := n2.cachedSigs(st, sg, dns.TypeSSHFP), n.cachedSigs(st, sg, dns.TypeSSHFP); !bytes.Equal(got, want) {
		t.Error("signatures of the unchanged SSHFP set were not carried over")
	}
	if other := testSigner(t); n2.cachedSigs(st, other, dns.TypeSSHFP) != nil {
		t.Error("signatures by another signer count")
	}
	if got := n2.rrs(dns.TypeTLSA); len(got) != 1 || got[0].(*dns.TLSA).Certificate != "09" {
		t.Errorf("replaced TLSA set is %v", got)
	}

	n3 := n2.with(st, name, dns.TypeSSHFP, nil).with(st, name, dns.TypeTLSA, nil)
	if got := n3.types(); !slices.Equal(got, []uint16{dns.TypeSMIMEA}) {
		t.Fatalf("after removals types %v", got)
	}
	if n3.with(st, name, dns.TypeSMIMEA, nil) != nil {
		t.Error("a node without RRsets is not nil")
	}
}

// Cached signatures are fresh until the signer's refresh point; after it
// they are made anew.
func TestPackedSignatureRefresh(t *testing.T) {
	const name = "d1._device.devices.test."
	clock := newClock()
	sg := testSigner(t)
	sg.Now = clock.Now
	w, err := packSet([]dns.RR{rr(t, name+" 300 IN TLSA 3 1 1 01")})
	if err != nil {
		t.Fatal(err)
	}
	z := nodeTestZone()
	st := &z.chain.store
	n := (*node)(nil).with(st, name, dns.TypeTLSA, w)
	first, err := signedForTest(z, sg, n, dns.TypeTLSA)
	if err != nil {
		t.Fatal(err)
	}
	if n.cachedSigs(st, sg, dns.TypeTLSA) == nil {
		t.Fatal("fresh signature not cached")
	}
	clock.Advance(signer.DefaultValidity - signer.DefaultRefresh + time.Hour)
	if n.cachedSigs(st, sg, dns.TypeTLSA) != nil {
		t.Fatal("signature past its refresh point still counts as fresh")
	}
	second, err := signedForTest(z, sg, n, dns.TypeTLSA)
	if err != nil {
		t.Fatal(err)
	}
	if first[0].(*dns.RRSIG).Expiration >= second[0].(*dns.RRSIG).Expiration {
		t.Error("refreshed signature does not expire later")
	}
}

// Corrupt packed data is reported, never read past its end.
func TestUnpackCorrupt(t *testing.T) {
	w, err := packSet([]dns.RR{rr(t, "a.devices.test. 300 IN TLSA 3 1 1 0102")})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(w); i++ {
		if _, err := unpackRRs("a.devices.test.", w[:i]); err == nil {
			t.Errorf("truncated to %d octets: no error", i)
		}
	}
}

func testSigner(t *testing.T) *signer.Signer {
	t.Helper()
	z, _ := newZone(t, newClock())
	o := z.signer.Load()
	return &signer.Signer{Zone: o.Zone, Keys: o.Keys, Validity: o.Validity, Refresh: o.Refresh, TypeValidity: o.TypeValidity, Now: o.Now}
}

// nodeTestZone is a zone with nothing but the arena nodes' signatures go
// into, for tests of nodes alone.
func nodeTestZone() *Zone {
	return &Zone{chain: newChain()}
}

func signedForTest(z *Zone, sg *signer.Signer, n *node, typ uint16) ([]dns.RR, error) {
	if w := n.cachedSigs(&z.chain.store, sg, typ); w != nil {
		return unpackRRs(n.name, w)
	}
	w, _, err := z.signNode(sg, n, typ)
	if err != nil {
		return nil, err
	}
	return unpackRRs(n.name, w)
}

// The binary chain hashes are the NSEC3 hashes of RFC 5155 §5 as
// dns.HashName computes them, and the chain walks them in base32hex
// order (which is what secondaries and validators sort by).
func TestHashKey(t *testing.T) {
	names := []string{"devices.test.", "_device.devices.test.", "D1._Device.Devices.Test.", "a.b.c.d.e.devices.test.", "x-y_z.devices.test."}
	c := newChain()
	for _, n := range names {
		if got, want := hashOf(n), dns.HashName(n, dns.SHA1, 0, ""); got != want {
			t.Errorf("hash of %s: %s, want %s", n, got, want)
		}
		c.add(dns.CanonicalName(n))
	}
	for i := 0; i < 3000; i++ {
		c.add(fmt.Sprintf("d%d._device.devices.test.", i))
	}
	var prev string
	count := 0
	err := c.each(func(h, next, name string) error {
		if prev != "" && h <= prev {
			t.Fatalf("chain out of order: %s after %s", h, prev)
		}
		if hashOf(name) != h {
			t.Fatalf("entry %s under hash %s", name, h)
		}
		prev = h
		count++
		return nil
	})
	if err != nil || count != c.n || count != len(names)-1+3000 {
		t.Fatalf("walked %d of %d entries (%v)", count, c.n, err)
	}
}

// hashOf is the NSEC3 hash of name in base32hex (upper case), as
// dns.HashName gives it and the tests compare with.
func hashOf(name string) string { return hashKeyOf(name).String() }
