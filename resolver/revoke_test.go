package resolver_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/resolver"
)

// keyLine rewrites the base64 public key of the DNSKEY line s with f.
func keyLine(t *testing.T, s string, f func(b64 string) string) string {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	k := rr.(*dns.DNSKEY)
	i := strings.LastIndex(s, k.PublicKey)
	if i < 0 {
		t.Fatalf("no key in %q", s)
	}
	return s[:i] + f(k.PublicKey)
}

// flipFirstLetter swaps the case of the first ASCII letter of the base64
// text b. Base64 is ASCII, so the swap stays inside its alphabet and makes
// other key bytes; unicode.SimpleFold would not do ('s' folds to U+017F and
// 'k' to U+212A, which are not base64 at all).
func flipFirstLetter(b string) string {
	r := []byte(b)
	for i, c := range r {
		switch {
		case 'a' <= c && c <= 'z':
			r[i] = c - 'a' + 'A'
			return string(r)
		case 'A' <= c && c <= 'Z':
			r[i] = c - 'A' + 'a'
			return string(r)
		}
	}
	return b
}

// TestDNSKEYAnchorComparesKeyBytes: a DNSKEY trust anchor names a key by
// its bytes (RFC 4034 §2.1.4: the key field is base64 text of binary data),
// whatever the base64 text looks like, and never by text that merely looks
// alike.
func TestDNSKEYAnchorComparesKeyBytes(t *testing.T) {
	h := dnstest.Start(t, dnstest.Config{})
	tests := []struct {
		desc   string
		key    func(b64 string) string
		status resolver.Status
	}{
		{"as published", func(b string) string { return b }, resolver.Secure},
		{"without padding", func(b string) string { return strings.TrimRight(b, "=") }, resolver.Secure},
		{"split by whitespace", func(b string) string { return b[:10] + " " + b[10:40] + "\t" + b[40:] }, resolver.Secure},
		{"one letter in the other case", func(b string) string {
			return flipFirstLetter(b)
		}, resolver.Bogus},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			line := keyLine(t, h.DNSKEY(dnstest.Root), tc.key)
			anchors, err := resolver.ParseAnchorsString(line)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			r, err := resolver.New(resolver.Config{Exchange: h.Exchange, Anchors: anchors})
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Lookup(context.Background(), tlsaName, dns.TypeTLSA)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status {
				t.Fatalf("anchor %q: %s (%s), want %s", line, res.Status, res.Reason, tc.status)
			}
		})
	}
}

// TestRevokedKeys: a key with the REVOKE flag (RFC 5011 §2.1, §7: "the key
// MUST NOT be used to validate") validates nothing: not as a trust anchor,
// not named by a DS, not as the signer of data beside a good key.
func TestRevokedKeys(t *testing.T) {
	tests := []struct {
		desc  string
		zones map[string]dnstest.ZoneOptions
		// anchor picks the trust anchor line; nil means the root's DS.
		anchor func(h *dnstest.Hierarchy) string
		cases  []lookupCase
	}{
		{desc: "revoked root key named by the DS anchor", zones: map[string]dnstest.ZoneOptions{dnstest.Root: {Revoked: true}},
			cases: []lookupCase{{name: tlsaName, qtype: dns.TypeTLSA, status: resolver.Bogus, ede: resolver.EDEDNSKEYMissing}}},
		{desc: "revoked child key named by the parent's DS", zones: map[string]dnstest.ZoneOptions{dnstest.Device: {Revoked: true}},
			cases: []lookupCase{
				{name: "dev1._device.example.test.", qtype: dns.TypeTLSA, status: resolver.Bogus, ede: resolver.EDEDNSKEYMissing},
				{name: tlsaName, qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindAnswer},
			}},
		{desc: "data signed by a published revoked key", zones: map[string]dnstest.ZoneOptions{dnstest.Zone: {Fault: dnstest.RevokedSigner}},
			cases: []lookupCase{
				{name: tlsaName, qtype: dns.TypeTLSA, status: resolver.Bogus, ede: resolver.EDEDNSKEYMissing},
				{name: "nope.example.test.", qtype: dns.TypeTLSA, status: resolver.Bogus},
				{name: "dev1._device.example.test.", qtype: dns.TypeTLSA, status: resolver.Bogus},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			h := dnstest.Start(t, dnstest.Config{Zones: tc.zones})
			anchors, err := resolver.ParseAnchorsString(h.Anchors())
			if err != nil {
				t.Fatal(err)
			}
			r, err := resolver.New(resolver.Config{Exchange: h.Exchange, Anchors: anchors})
			if err != nil {
				t.Fatal(err)
			}
			runCases(t, r, tc.cases)
		})
	}
	// A DNSKEY anchor with the REVOKE flag is refused when read.
	h := dnstest.Start(t, dnstest.Config{Zones: map[string]dnstest.ZoneOptions{dnstest.Root: {Revoked: true}}})
	if _, err := resolver.ParseAnchorsString(h.DNSKEY(dnstest.Root)); err == nil {
		t.Errorf("revoked DNSKEY anchor %q accepted", h.DNSKEY(dnstest.Root))
	}
}

// TestFlipFirstLetter: the case swap stays base64 for every letter a key's
// text can start with, and changes the bytes it decodes to.
func TestFlipFirstLetter(t *testing.T) {
	for _, c := range "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" {
		in := string(c) + "AAA"
		out := flipFirstLetter(in)
		if out == in {
			t.Fatalf("%q unchanged", in)
		}
		a, err := base64.StdEncoding.DecodeString(in)
		if err != nil {
			t.Fatal(err)
		}
		b, err := base64.StdEncoding.DecodeString(out)
		if err != nil {
			t.Fatalf("%q → %q: %v", in, out, err)
		}
		if bytes.Equal(a, b) {
			t.Fatalf("%q and %q decode alike", in, out)
		}
	}
}
