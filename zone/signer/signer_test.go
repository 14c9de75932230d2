package signer

import (
	"errors"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/keys"
)

func TestSignAndFresh(t *testing.T) {
	k, err := keys.Generate("example.test.", keys.ED25519, keys.FlagsCSK)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	s := &Signer{Zone: "example.test.", Keys: []*keys.Key{k}, Now: func() time.Time { return now }}
	rr, _ := dns.NewRR("a.example.test. 300 IN TLSA 3 1 1 abcd")
	sigs, err := s.Sign([]dns.RR{rr})
	if err != nil {
		t.Fatal(err)
	}
	sig := sigs[0].(*dns.RRSIG)
	if err := sig.Verify(k.DNSKEY, []dns.RR{rr}); err != nil {
		t.Fatal(err)
	}
	if sig.Hdr.Ttl != 300 || sig.OrigTtl != 300 || sig.Labels != 3 || sig.SignerName != "example.test." {
		t.Fatalf("RRSIG fields: %v", sig)
	}
	if got := time.Unix(int64(sig.Inception), 0); !got.Equal(now.Add(-time.Hour)) {
		t.Errorf("inception %v", got)
	}
	if got := time.Unix(int64(sig.Expiration), 0); !got.Equal(now.Add(DefaultValidity)) {
		t.Errorf("expiration %v", got)
	}
	tests := []struct {
		at    time.Duration
		fresh bool
	}{
		{0, true},
		{DefaultValidity - DefaultRefresh - time.Minute, true},
		{DefaultValidity - DefaultRefresh, false},
		{DefaultValidity + time.Hour, false},
	}
	for _, tt := range tests {
		s.Now = func() time.Time { return now.Add(tt.at) }
		if got := s.Fresh(sigs); got != tt.fresh {
			t.Errorf("Fresh at +%v = %v, want %v", tt.at, got, tt.fresh)
		}
	}
	// A signature that has not begun is not fresh (clock moved back).
	s.Now = func() time.Time { return now.Add(-2 * time.Hour) }
	if s.Fresh(sigs) {
		t.Error("signature from the future counted as fresh")
	}
	if s.Fresh(nil) {
		t.Error("no signatures counted as fresh")
	}
}

func TestNoKey(t *testing.T) {
	rr, _ := dns.NewRR("a.example.test. 300 IN TLSA 3 1 1 abcd")
	if _, err := (&Signer{Zone: "example.test."}).Sign([]dns.RR{rr}); !errors.Is(err, ErrNoKey) {
		t.Fatalf("err = %v", err)
	}
}

func TestShortValidity(t *testing.T) {
	// With a validity shorter than the default refresh, signatures are
	// refreshed at half their life.
	s := &Signer{Validity: 2 * time.Hour}
	if s.refresh() != time.Hour {
		t.Fatalf("refresh %v", s.refresh())
	}
}
