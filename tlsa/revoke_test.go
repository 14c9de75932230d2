package tlsa

import (
	"crypto/x509"
	"testing"
	"time"
)

// TestRevocationMarker: the marker parses as a usable DANE-EE record, is
// recognised, and matches neither a certificate nor a raw public key; the
// records next to it in shape are not taken for it.
func TestRevocationMarker(t *testing.T) {
	rr, err := Parse(RevocationMarker)
	if err != nil {
		t.Fatalf("Parse(%q): %v", RevocationMarker, err)
	}
	m := rr.Record
	if !m.IsRevocationMarker() {
		t.Fatalf("%s is not recognised as the marker", m)
	}
	if m.String() != RevocationMarker {
		t.Fatalf("String() = %q, want %q", m.String(), RevocationMarker)
	}
	zero := make([]byte, 32)
	one := make([]byte, 32)
	one[31] = 1
	for _, r := range []Record{
		{Usage: DANEEE, Selector: SelectorSPKI, MatchingType: MatchSHA256, Data: one},
		{Usage: DANETA, Selector: SelectorSPKI, MatchingType: MatchSHA256, Data: zero},
		{Usage: DANEEE, Selector: SelectorCert, MatchingType: MatchSHA256, Data: zero},
		{Usage: DANEEE, Selector: SelectorSPKI, MatchingType: MatchSHA512, Data: make([]byte, 64)},
		{Usage: DANEEE, Selector: SelectorSPKI, MatchingType: MatchSHA256, Data: zero[:31]},
		{Usage: DANEEE, Selector: SelectorSPKI, MatchingType: MatchFull, Data: zero},
	} {
		if r.IsRevocationMarker() {
			t.Errorf("%s taken for the marker", r)
		}
	}
	p := newPKI(t)
	leaf := issue(t, certSpec{cn: "dev", dns: []string{leafName}}, p.inter)
	res := Match([]*x509.Certificate{leaf.cert, p.inter.cert}, []Record{m}, Options{Name: leafName, Time: testNow.Add(time.Minute)})
	if res.Reason != NoMatch {
		t.Errorf("certificate against the marker: %s, want %s (a usable record that matches nothing)", res.Reason, NoMatch)
	}
	spki, err := x509MarshalPKIX(newKey(t, "ed25519").Public())
	if err != nil {
		t.Fatal(err)
	}
	if res := MatchRawPublicKey(spki, []Record{m}); res.Reason != NoMatch {
		t.Errorf("raw public key against the marker: %s, want %s", res.Reason, NoMatch)
	}
}
