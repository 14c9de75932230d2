package signer

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/keys"
)

// TestSameKeysAndAccepts: signatures are kept across signers exactly when
// the keys of their type are the same, or are retiring ZSKs.
func TestSameKeysAndAccepts(t *testing.T) {
	gen := func(flags uint16) *keys.Key {
		k, err := keys.Generate("example.test.", keys.ECDSAP256SHA256, flags)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	ksk, ksk2, zsk, zsk2, other := gen(keys.FlagsKSK), gen(keys.FlagsKSK), gen(keys.FlagsZSK), gen(keys.FlagsZSK), gen(keys.FlagsZSK)
	s := func(ks []*keys.Key, retiring ...*keys.Key) *Signer {
		return &Signer{Zone: "example.test.", Keys: ks, Retiring: retiring}
	}
	base := s([]*keys.Key{ksk, zsk})
	tests := []struct {
		name     string
		old, cur *Signer
		t        uint16
		same     bool
		accepts  bool
	}{
		{"same signer", base, base, dns.TypeTLSA, true, true},
		{"same keys, other order", base, s([]*keys.Key{zsk, ksk}), dns.TypeTLSA, true, true},
		{"KSK added: data", base, s([]*keys.Key{ksk, ksk2, zsk}), dns.TypeTLSA, true, true},
		{"KSK added: DNSKEY", base, s([]*keys.Key{ksk, ksk2, zsk}), dns.TypeDNSKEY, false, false},
		{"KSK added: CDS", base, s([]*keys.Key{ksk, ksk2, zsk}), dns.TypeCDS, false, false},
		{"new ZSK, old retiring: data", base, s([]*keys.Key{ksk, zsk2}, zsk), dns.TypeTLSA, false, true},
		{"new ZSK, old retiring: NSEC3", base, s([]*keys.Key{ksk, zsk2}, zsk), dns.TypeNSEC3, false, true},
		{"new ZSK, old retiring: DNSKEY", base, s([]*keys.Key{ksk, zsk2}, zsk), dns.TypeDNSKEY, true, true},
		{"new ZSK, another retiring", base, s([]*keys.Key{ksk, zsk2}, other), dns.TypeTLSA, false, false},
		{"new ZSK, none retiring", base, s([]*keys.Key{ksk, zsk2}), dns.TypeTLSA, false, false},
		{"other keys altogether", base, s([]*keys.Key{ksk2, other}), dns.TypeTLSA, false, false},
		{"no signer", nil, base, dns.TypeTLSA, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cur.SameKeys(tt.old, tt.t); got != tt.same {
				t.Errorf("SameKeys = %v, want %v", got, tt.same)
			}
			if got := tt.cur.Accepts(tt.old, tt.t); got != tt.accepts {
				t.Errorf("Accepts = %v, want %v", got, tt.accepts)
			}
		})
	}
}
