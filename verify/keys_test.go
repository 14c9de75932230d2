package verify

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
)

// fullLine is the DANE-EE SPKI Full (3 1 0) record of pub at owner.
func fullLine(t *testing.T, owner string, pub any) string {
	t.Helper()
	r, err := tlsa.ForPublicKey(pub, tlsa.DANEEE, tlsa.MatchFull)
	if err != nil {
		t.Fatal(err)
	}
	return r.ZoneLine(owner, 300)
}

// TestPublishedKeys checks that the keys of "3 1 0" records come back from
// a validated lookup, that every other record gives none, and that the
// refusals Verify makes before matching are made here too.
func TestPublishedKeys(t *testing.T) {
	t.Parallel()
	a := testident.SelfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	b := testident.SelfSigned(t, "sensor1._device.example.test", identity.KeyEd25519)
	digest := testident.SelfSigned(t, "sensor2._device.example.test", identity.KeyECDSAP256)
	revoked := testident.SelfSigned(t, "sensor3._device.example.test", identity.KeyECDSAP256)
	users := testident.NewCA(t, identity.UserCA, "example.test", identity.Options{})
	h := dnstest.Start(t, dnstest.Config{Records: []string{
		fullLine(t, "sensor1._device.example.test", a.Key.Public()),
		fullLine(t, "sensor1._device.example.test", b.Key.Public()),
		testident.EELine(t, "sensor2._device.example.test", digest.Key.Public()),
		fullLine(t, "sensor3._device.example.test", revoked.Key.Public()),
		"sensor3._device.example.test. 300 IN TLSA " + tlsa.RevocationMarker,
		testident.TALine(t, "_user.example.test", users.Cert),
		"sensor4._device.example.test. 300 IN TLSA 3 1 0 3059301306072a8648ce3d020106082a8648ce3d03010703420004",
	}})
	r := testident.Resolver(t, h, resolver.Config{})
	core := newCore(t, Config{Allow: mustAllow(t, "*._device.example.test", "_user.example.test"), Resolver: r})
	ctx := context.Background()

	keys, err := core.PublishedKeys(ctx, "Sensor1._device.example.test.")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("got %d keys, want 2", len(keys))
	}
	for i, want := range []Cred{a, b} {
		if !bytes.Equal(keys[i].SPKI, want.SPKI()) || keys[i].Record.String()[:6] != "3 1 0 " {
			t.Errorf("key %d: record %s, want the 3 1 0 record of %T", i, keys[i].Record, want.Key)
		}
		spki, err := x509.MarshalPKIXPublicKey(keys[i].Key)
		if err != nil || !bytes.Equal(spki, want.SPKI()) {
			t.Errorf("key %d: parsed key differs from the record", i)
		}
		id, err := core.Verify(ctx, "sensor1._device.example.test", Presented{RawPublicKey: keys[i].SPKI})
		if err != nil || id.Record.MatchingType != tlsa.MatchFull {
			t.Errorf("key %d: Verify with the published key: %v, %+v", i, err, id)
		}
	}

	for _, tc := range []struct {
		name string
		want error
	}{
		{"sensor2._device.example.test", ErrNoUsableRecords}, // 3 1 1 only: the peer must present its certificate
		{"sensor3._device.example.test", ErrRevoked},
		{"sensor4._device.example.test", ErrNoUsableRecords}, // a 3 1 0 record whose key does not parse
		{"sensor9._device.example.test", ErrNoRecord},
		{"_user.example.test", ErrPolicy},
		{"sensor1._device.other.test", ErrNotAllowed},
		{"bad..name", ErrNameSyntax},
	} {
		_, err := core.PublishedKeys(ctx, tc.name)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	// Architecture §4.1.1: no lookup for a name that is not allowed.
	before := h.Queries()
	if _, err := core.PublishedKeys(ctx, "sensor7._device.other.test"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("not allowed: %v", err)
	}
	if n := h.Queries() - before; n != 0 {
		t.Errorf("a name that is not allowed caused %d queries", n)
	}
}

// Cred is testident.Cred, named for the table above.
type Cred = testident.Cred
