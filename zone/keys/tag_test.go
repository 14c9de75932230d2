package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/miekg/dns"
)

// keyWithTag returns a key of zone whose DNSKEY has tag want: a real
// P-256 key whose public key field is then redrawn at random until the tag
// comes out as want (the private half no longer matches, which is all a
// tag test needs).
func keyWithTag(t *testing.T, want uint16) *Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := make([]byte, 64)
	for range 1 << 24 {
		if _, err := rand.Read(pub); err != nil {
			t.Fatal(err)
		}
		k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: "example.test.", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET},
			Flags: FlagsZSK, Protocol: 3, Algorithm: ECDSAP256SHA256, PublicKey: base64.StdEncoding.EncodeToString(pub)}
		if k.KeyTag() == want {
			return &Key{DNSKEY: k, Signer: priv}
		}
	}
	t.Fatalf("no key with tag %d", want)
	return nil
}

// A key whose tag is 0 cannot sign with the DNS library: this is why
// Generate never returns one (a zone given such a key would sign nothing).
func TestTagZeroCannotSign(t *testing.T) {
	k := keyWithTag(t, 0)
	a := &dns.A{Hdr: dns.RR_Header{Name: "a.example.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}}
	sig := &dns.RRSIG{Algorithm: k.DNSKEY.Algorithm, KeyTag: k.Tag(), SignerName: "example.test.", Inception: 1, Expiration: 2}
	if err := sig.Sign(k.Signer, []dns.RR{a}); err == nil {
		t.Fatal("signing with a key whose tag is 0 succeeded; Generate's redraw may no longer be needed")
	}
}

// Generate draws again until the tag is neither 0 nor one of the zone's.
func TestGenerateRedrawsUnusableTags(t *testing.T) {
	good, err := generate("example.test.", ECDSAP256SHA256, FlagsZSK)
	if err != nil {
		t.Fatal(err)
	}
	inUse := keyWithTag(t, 4711)
	draws := []*Key{keyWithTag(t, 0), inUse, good}
	n := 0
	drawKey = func(string, uint8, uint16) (*Key, error) { k := draws[n]; n++; return k, nil }
	t.Cleanup(func() { drawKey = generate })

	k, err := Generate("example.test.", ECDSAP256SHA256, FlagsZSK, 1, 4711)
	if err != nil {
		t.Fatal(err)
	}
	if k != good || n != 3 {
		t.Fatalf("Generate returned the key of draw %d (tag %d), want the third (tag %d)", n, k.Tag(), good.Tag())
	}

	// Draws that never give a usable tag end in an error, not a loop.
	drawKey = func(string, uint8, uint16) (*Key, error) { return inUse, nil }
	if _, err := Generate("example.test.", ECDSAP256SHA256, FlagsZSK, 4711); err == nil {
		t.Fatal("Generate returned a key whose tag is in use")
	}
}

func TestUsableTag(t *testing.T) {
	for _, c := range []struct {
		tag   uint16
		inUse []uint16
		want  bool
	}{
		{0, nil, false},
		{1, nil, true},
		{1, []uint16{2, 3}, true},
		{3, []uint16{2, 3}, false},
		{65535, []uint16{0}, true},
	} {
		if got := UsableTag(c.tag, c.inUse); got != c.want {
			t.Errorf("UsableTag(%d, %v) = %v, want %v", c.tag, c.inUse, got, c.want)
		}
	}
}
