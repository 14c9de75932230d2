package verify

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
)

// TestVerify runs the core against the signed in-process hierarchy with
// the project's resolver: every verdict comes from real DNSSEC answers.
func TestVerify(t *testing.T) {
	t.Parallel()
	past := func() time.Time { return time.Now().Add(-72 * time.Hour) }

	ecdsa := testident.SelfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	ed := testident.SelfSigned(t, "sensor2._device.example.test", identity.KeyEd25519)
	rsa := testident.SelfSigned(t, "sensor3._device.example.test", identity.KeyRSA2048)
	other := testident.SelfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	org := testident.NewCA(t, identity.OrgCA, "example.test", identity.Options{})
	issued := testident.IssueDevice(t, "sensor4._device.example.test", org, identity.Options{})
	wrongName := testident.IssueDevice(t, "sensor6._device.example.test", org, identity.Options{})
	revoked := testident.IssueDevice(t, "sensor11._device.example.test", org, identity.Options{})
	revokedBeside := testident.IssueDevice(t, "sensor12._device.example.test", org, identity.Options{})
	shortLived := testident.IssueDevice(t, "sensor10._device.example.test", org, identity.Options{Validity: 2 * time.Minute})
	expired := testident.IssueDevice(t, "sensor5._device.example.test", org, identity.Options{Time: past, Validity: time.Hour})
	users := testident.NewCA(t, identity.UserCA, "example.test", identity.Options{})
	alice := testident.IssueUser(t, "Alice", "example.test", users)
	corpUsers := testident.NewCA(t, identity.UserCA, "corp.example.test", identity.Options{})
	bob := testident.IssueUser(t, "bob", "corp.example.test", corpUsers)
	aliceHash, err := identity.HashedUserName("alice", "example.test")
	if err != nil {
		t.Fatal(err)
	}
	carol := testident.IssueUser(t, "carol", "example.test", users)
	svc := testident.SelfSigned(t, "_smtp-client.mta1.example.test", identity.KeyECDSAP256)
	insecure := testident.SelfSigned(t, "sensor1._device.insecure.example.test", identity.KeyECDSAP256)

	h := dnstest.Start(t, dnstest.Config{Records: []string{
		testident.EELine(t, "sensor1._device.example.test", ecdsa.Key.Public()),
		testident.EELine(t, "sensor2._device.example.test", ed.Key.Public()),
		testident.EELine(t, "sensor3._device.example.test", rsa.Key.Public()),
		testident.TALine(t, "sensor4._device.example.test", org.Cert),
		testident.TALine(t, "sensor5._device.example.test", org.Cert),
		testident.TALine(t, "sensor7._device.example.test", org.Cert),
		testident.TALine(t, "sensor10._device.example.test", org.Cert),
		testident.TALine(t, "_user.example.test", users.Cert),
		// One user's own records, at the hash of her name (RFC 7929 §3);
		// carol's key is there too, but she is not alice.
		testident.EELine(t, aliceHash.String(), alice.Key.Public()),
		testident.EELine(t, aliceHash.String(), carol.Key.Public()),
		// A leaf key published at a user CA name: it would let its holder
		// claim any user of the domain.
		testident.EELine(t, "_user.corp.example.test", bob.Key.Public()),
		testident.EELine(t, "_smtp-client.mta1.example.test", svc.Key.Public()),
		testident.EELine(t, "sensor1._device.insecure.example.test", insecure.Key.Public()),
		// Matching type 3 is unassigned: unusable (RFC 6698 §4.1).
		"sensor8._device.example.test. 300 IN TLSA 3 1 3 0102030405",
		// Revoked names (dance zone revoke): the marker alone, and the
		// marker beside a record that would match.
		"sensor11._device.example.test. 300 IN TLSA " + tlsa.RevocationMarker,
		"sensor12._device.example.test. 300 IN TLSA " + tlsa.RevocationMarker,
		testident.TALine(t, "sensor12._device.example.test", org.Cert),
	}})
	r := testident.Resolver(t, h, resolver.Config{})
	core := newCore(t, Config{Resolver: r, Allow: mustAllow(t,
		"*._device.example.test", "_user.example.test", "*._user.example.test", "_user.corp.example.test",
		"_smtp-client.mta1.example.test", "*._device.insecure.example.test")})

	chain := func(cs ...testident.Cred) Presented {
		var p Presented
		for _, c := range cs {
			p.Chain = append(p.Chain, c.Cert)
		}
		return p
	}
	withCA := func(c testident.Cred, ca identity.Issuer) Presented {
		return Presented{Chain: []*x509.Certificate{c.Cert, ca.Cert}}
	}
	tests := []struct {
		name      string
		claim     string
		p         Presented
		reason    Reason // 0: authenticated
		kind      identity.Kind
		user      string
		depth     int
		usage     tlsa.Usage
		noQueries bool      // the allow-list must stop it before any lookup
		notAfter  time.Time // when set, the verdict must expire then
	}{
		{name: "dane-ee ecdsa", claim: "sensor1._device.example.test", p: chain(ecdsa), kind: identity.KindDevice, usage: tlsa.DANEEE},
		{name: "dane-ee ed25519", claim: "sensor2._device.example.test", p: chain(ed), kind: identity.KindDevice, usage: tlsa.DANEEE},
		{name: "dane-ee rsa", claim: "SENSOR3._device.example.test.", p: chain(rsa), kind: identity.KindDevice, usage: tlsa.DANEEE},
		{name: "raw public key", claim: "sensor1._device.example.test", p: Presented{RawPublicKey: ecdsa.SPKI()}, kind: identity.KindDevice, usage: tlsa.DANEEE},
		{name: "service", claim: "_smtp-client.mta1.example.test", p: chain(svc), kind: identity.KindService, usage: tlsa.DANEEE},
		{name: "dane-ta device", claim: "sensor4._device.example.test", p: withCA(issued, org), kind: identity.KindDevice, depth: 1, usage: tlsa.DANETA},
		{name: "dane-ta short-lived leaf", claim: "sensor10._device.example.test", p: withCA(shortLived, org), kind: identity.KindDevice, depth: 1, usage: tlsa.DANETA, notAfter: shortLived.Cert.NotAfter},
		{name: "user", claim: "_user.example.test", p: withCA(alice, users), kind: identity.KindUser, user: "alice@example.test", depth: 1, usage: tlsa.DANETA},
		{name: "hashed user", claim: aliceHash.String(), p: chain(alice), kind: identity.KindUser, user: "alice@example.test", usage: tlsa.DANEEE},
		{name: "hashed name of another user", claim: aliceHash.String(), p: chain(carol), reason: ReasonNoUser},
		{name: "wrong key", claim: "sensor1._device.example.test", p: chain(other), reason: ReasonNoMatch},
		{name: "wrong raw key", claim: "sensor1._device.example.test", p: Presented{RawPublicKey: other.SPKI()}, reason: ReasonNoMatch},
		{name: "key of another name", claim: "sensor2._device.example.test", p: chain(ecdsa), reason: ReasonNoMatch},
		{name: "dane-ta other name", claim: "sensor7._device.example.test", p: withCA(wrongName, org), reason: ReasonNameMismatch},
		{name: "dane-ta expired leaf", claim: "sensor5._device.example.test", p: withCA(expired, org), reason: ReasonUntrusted},
		{name: "user ca without ca", claim: "_user.example.test", p: chain(alice), reason: ReasonNoMatch},
		{name: "user ca name with leaf record", claim: "_user.corp.example.test", p: chain(bob), reason: ReasonPolicy},
		{name: "user raw key", claim: "_user.example.test", p: Presented{RawPublicKey: alice.SPKI()}, reason: ReasonPolicy},
		{name: "device cert as user", claim: "_user.example.test", p: withCA(issued, org), reason: ReasonNoMatch},
		{name: "unusable records", claim: "sensor8._device.example.test", p: chain(ecdsa), reason: ReasonNoUsableRecords},
		{name: "no record", claim: "sensor9._device.example.test", p: chain(ecdsa), reason: ReasonNoRecord},
		{name: "revoked", claim: "sensor11._device.example.test", p: withCA(revoked, org), reason: ReasonRevoked},
		{name: "revoked raw key", claim: "sensor11._device.example.test", p: Presented{RawPublicKey: revoked.SPKI()}, reason: ReasonRevoked},
		{name: "revoked beside a matching record", claim: "sensor12._device.example.test", p: withCA(revokedBeside, org), reason: ReasonRevoked},
		{name: "insecure zone", claim: "sensor1._device.insecure.example.test", p: chain(insecure), reason: ReasonDNSInsecure},
		{name: "not allowed", claim: "sensor1._device.other.test", p: chain(ecdsa), reason: ReasonNotAllowed, noQueries: true},
		{name: "subtree base not allowed", claim: "_device.example.test", p: chain(ecdsa), reason: ReasonNameSyntax, noQueries: true},
		{name: "bad syntax", claim: "sensor\\0491._device.example.test", p: chain(ecdsa), reason: ReasonNameSyntax, noQueries: true},
		{name: "nothing presented", claim: "sensor1._device.example.test", reason: ReasonNoCredential, noQueries: true},
		{name: "nil certificate", claim: "sensor1._device.example.test", p: Presented{Chain: []*x509.Certificate{ecdsa.Cert, nil}}, reason: ReasonNoCredential, noQueries: true},
		{name: "overlong chain", claim: "sensor1._device.example.test", p: chain(ecdsa, ecdsa, ecdsa, ecdsa, ecdsa, ecdsa, ecdsa, ecdsa, ecdsa, ecdsa, ecdsa, ecdsa, ecdsa, ecdsa, ecdsa, ecdsa, ecdsa), reason: ReasonUntrusted, noQueries: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := h.Queries()
			id, err := core.Verify(context.Background(), tc.claim, tc.p)
			if tc.noQueries && h.Queries() != before {
				t.Errorf("%d queries for a refused name, want none", h.Queries()-before)
			}
			if tc.reason != 0 {
				if err == nil {
					t.Fatalf("authenticated %+v, want %s", id, tc.reason)
				}
				if got := ReasonOf(err); got != tc.reason {
					t.Fatalf("reason %s (%v), want %s", got, err, tc.reason)
				}
				if !errors.Is(err, &Error{Reason: tc.reason}) {
					t.Errorf("errors.Is(%v, sentinel %s) is false", err, tc.reason)
				}
				if id != nil {
					t.Errorf("identity %+v returned with an error", id)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			want, _ := identity.ParseName(tc.claim)
			if id.Name != want.String() || id.Kind != tc.kind || id.User != tc.user || id.Depth != tc.depth || id.Record.Usage != tc.usage {
				t.Errorf("identity %+v, want name %s kind %s user %q depth %d usage %s", id, want, tc.kind, tc.user, tc.depth, tc.usage)
			}
			if ttl := time.Until(id.Expires); ttl <= 0 || ttl > 300*time.Second {
				t.Errorf("expires in %s, want within the record TTL of 300s", ttl)
			}
			if !tc.notAfter.IsZero() && !id.Expires.Equal(tc.notAfter) {
				t.Errorf("expires %s, want the leaf's NotAfter %s", id.Expires, tc.notAfter)
			}
		})
	}
}

// TestVerifyFaults checks that answers DNSSEC does not prove never
// authenticate, whatever the key: each zone fault of the hierarchy, with
// the right reason.
func TestVerifyFaults(t *testing.T) {
	t.Parallel()
	dev := testident.SelfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	tests := []struct {
		fault  dnstest.Fault
		reason Reason
	}{
		{dnstest.WrongKey, ReasonDNSBogus},
		{dnstest.ExpiredSignatures, ReasonDNSBogus},
		{dnstest.NotYetValidSignatures, ReasonDNSBogus},
		{dnstest.StripSignatures, ReasonDNSBogus},
		{dnstest.MismatchedDS, ReasonDNSBogus},
		{dnstest.MissingDS, ReasonDNSInsecure},
	}
	for _, tc := range tests {
		t.Run(faultName(tc.fault), func(t *testing.T) {
			t.Parallel()
			h := dnstest.Start(t, dnstest.Config{
				Zones:   map[string]dnstest.ZoneOptions{dnstest.Device: {Fault: tc.fault}},
				Records: []string{testident.EELine(t, "sensor1._device.example.test", dev.Key.Public())},
			})
			core := newCore(t, Config{Resolver: testident.Resolver(t, h, resolver.Config{}), Allow: mustAllow(t, "*._device.example.test")})
			id, err := core.Verify(context.Background(), "sensor1._device.example.test", Presented{Chain: []*x509.Certificate{dev.Cert}})
			if err == nil {
				t.Fatalf("authenticated %+v through a zone with fault %s", id, faultName(tc.fault))
			}
			if got := ReasonOf(err); got != tc.reason {
				t.Fatalf("reason %s (%v), want %s", got, err, tc.reason)
			}
		})
	}
}

func faultName(f dnstest.Fault) string {
	return map[dnstest.Fault]string{
		dnstest.WrongKey: "wrong-key", dnstest.ExpiredSignatures: "expired-rrsig",
		dnstest.NotYetValidSignatures: "future-rrsig", dnstest.StripSignatures: "stripped",
		dnstest.MismatchedDS: "mismatched-ds", dnstest.MissingDS: "missing-ds",
	}[f]
}

// TestVerifyUnreachable: when no upstream answers, the verdict is
// dns-indeterminate (or lookup-timeout if the deadline passes first), never
// an authentication.
func TestVerifyUnreachable(t *testing.T) {
	t.Parallel()
	dev := testident.SelfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	h := dnstest.Start(t, dnstest.Config{})
	// A loopback port where nothing listens: queries fail at once.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().String()
	pc.Close()
	r := testident.Resolver(t, h, resolver.Config{Upstreams: []string{dead}, Attempts: 1})
	core := newCore(t, Config{Resolver: r, Allow: mustAllow(t, "*._device.example.test")})
	_, err = core.Verify(context.Background(), "sensor1._device.example.test", Presented{Chain: []*x509.Certificate{dev.Cert}})
	if got := ReasonOf(err); got != ReasonDNSIndeterminate && got != ReasonLookupTimeout {
		t.Fatalf("reason %s (%v), want %s", got, err, ReasonDNSIndeterminate)
	}
}
