package verify

import (
	"bytes"
	"context"
	"encoding/hex"
	"testing"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
)

// TestPublishedKeys runs PublishedKeys against the signed in-process
// hierarchy: only 3 1 0 keys of Secure answers come back, and only those
// Verify would accept.
func TestPublishedKeys(t *testing.T) {
	t.Parallel()
	a := testident.Key(t, identity.KeyEd25519)
	b := testident.Key(t, identity.KeyECDSAP256)
	c := testident.Key(t, identity.KeyEd25519)
	full := func(owner string, k any) string {
		r, err := tlsa.ForPublicKey(k, tlsa.DANEEE, tlsa.MatchFull)
		if err != nil {
			t.Fatal(err)
		}
		return r.ZoneLine(owner, 300)
	}
	spki := func(k any) []byte {
		r, err := tlsa.ForPublicKey(k, tlsa.DANEEE, tlsa.MatchFull)
		if err != nil {
			t.Fatal(err)
		}
		return r.Data
	}
	h := dnstest.Start(t, dnstest.Config{Records: []string{
		full("two.example.test", a.Public()),
		full("two.example.test", b.Public()),
		// A digest names a key without giving it.
		testident.EELine(t, "digest.example.test", a.Public()),
		// Revoked: the marker beside a full key.
		full("revoked.example.test", c.Public()),
		"revoked.example.test. 300 IN TLSA " + tlsa.RevocationMarker,
		// A full record under a certificate usage binds a certificate
		// key under PKIX, not a bare key.
		"pkix.example.test. 300 IN TLSA 1 1 0 " + hex.EncodeToString(spki(a.Public())),
		full("c.insecure.example.test", c.Public()),
	}})
	core := newCore(t, Config{Resolver: testident.Resolver(t, h, resolver.Config{}),
		Allow: mustAllow(t, "*.example.test", "_user.example.test")})
	ctx := context.Background()

	keys, err := core.PublishedKeys(ctx, "TWO.example.test.")
	if err != nil || len(keys) != 2 {
		t.Fatalf("two keys: %v %v", keys, err)
	}
	got := map[string]bool{string(keys[0].SPKI): true, string(keys[1].SPKI): true}
	if !got[string(spki(a.Public()))] || !got[string(spki(b.Public()))] {
		t.Fatal("PublishedKeys did not return the two published keys")
	}
	for _, k := range keys {
		if k.Identity == nil || k.Identity.Name != "two.example.test" || k.Identity.Record.MatchingType != tlsa.MatchFull ||
			!bytes.Equal(k.Identity.Record.Data, k.SPKI) {
			t.Fatalf("identity %+v", k.Identity)
		}
		// What PublishedKeys lists, Verify accepts.
		if _, err := core.Verify(ctx, "two.example.test", Presented{RawPublicKey: k.SPKI}); err != nil {
			t.Fatalf("Verify refuses a listed key: %v", err)
		}
	}
	before := h.Queries()
	for _, tc := range []struct {
		name   string
		reason Reason
	}{
		{"digest.example.test", ReasonNoUsableRecords},
		{"revoked.example.test", ReasonRevoked},
		{"pkix.example.test", ReasonNoUsableRecords},
		{"absent.example.test", ReasonNoRecord},
		{"c.insecure.example.test", ReasonDNSInsecure},
		{"_user.example.test", ReasonPolicy},
		{"other.test", ReasonNotAllowed},
		{"bad name", ReasonNameSyntax},
	} {
		keys, err := core.PublishedKeys(ctx, tc.name)
		if len(keys) != 0 || ReasonOf(err) != tc.reason {
			t.Errorf("%s: %d keys, %v; want %s", tc.name, len(keys), err, tc.reason)
		}
	}
	if h.Queries() == before {
		t.Fatal("no query at all: the cases above were not looked up")
	}
	q := h.Queries()
	if _, err := core.PublishedKeys(ctx, "other.test"); ReasonOf(err) != ReasonNotAllowed || h.Queries() != q {
		t.Fatalf("a name off the allow-list was looked up (%v)", err)
	}
}

func TestPublishedKeysBogus(t *testing.T) {
	t.Parallel()
	k := testident.Key(t, identity.KeyEd25519)
	r, err := tlsa.ForPublicKey(k.Public(), tlsa.DANEEE, tlsa.MatchFull)
	if err != nil {
		t.Fatal(err)
	}
	for _, fault := range []dnstest.Fault{dnstest.WrongKey, dnstest.StripSignatures, dnstest.ExpiredSignatures} {
		h := dnstest.Start(t, dnstest.Config{
			Zones:   map[string]dnstest.ZoneOptions{dnstest.Device: {Fault: fault}},
			Records: []string{r.ZoneLine("laptop._device.example.test", 300)},
		})
		core := newCore(t, Config{Resolver: testident.Resolver(t, h, resolver.Config{}), Allow: mustAllow(t, "*._device.example.test")})
		keys, err := core.PublishedKeys(context.Background(), "laptop._device.example.test")
		if len(keys) != 0 || ReasonOf(err) != ReasonDNSBogus {
			t.Errorf("fault %s: %d keys, %v; want dns-bogus", faultName(fault), len(keys), err)
		}
	}
}
