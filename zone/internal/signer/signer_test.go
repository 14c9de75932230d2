package signer

import (
	"errors"
	"slices"
	"strings"
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

// TestKeysFor checks which keys sign which RRset types, for the key sets
// a zone goes through: a CSK, a KSK/ZSK split, and the rollovers of each.
func TestKeysFor(t *testing.T) {
	gen := func(alg uint8, flags uint16) *keys.Key {
		t.Helper()
		k, err := keys.Generate("example.test.", alg, flags)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	csk1, csk2 := gen(keys.ECDSAP256SHA256, keys.FlagsCSK), gen(keys.ECDSAP256SHA256, keys.FlagsCSK)
	ksk1, ksk2 := gen(keys.ECDSAP256SHA256, keys.FlagsKSK), gen(keys.ECDSAP256SHA256, keys.FlagsKSK)
	zsk1, zsk2 := gen(keys.ECDSAP256SHA256, keys.FlagsZSK), gen(keys.ECDSAP256SHA256, keys.FlagsZSK)
	edCSK := gen(keys.ED25519, keys.FlagsCSK)
	noZone := gen(keys.ECDSAP256SHA256, keys.FlagSEP) // Zone flag clear: never signs
	const (
		apexKeys = "DNSKEY CDS CDNSKEY"
		zoneData = "SOA NS TLSA SMIMEA OPENPGPKEY SSHFP NSEC NSEC3 NSEC3PARAM A AAAA"
	)
	tests := []struct {
		name      string
		keys      []*keys.Key
		keySet    []*keys.Key // signers of DNSKEY, CDS, CDNSKEY
		otherData []*keys.Key // signers of everything else
	}{
		{"csk", []*keys.Key{csk1}, []*keys.Key{csk1}, []*keys.Key{csk1}},
		{"csk double signature", []*keys.Key{csk1, csk2}, []*keys.Key{csk1, csk2}, []*keys.Key{csk1, csk2}},
		{"ksk and zsk", []*keys.Key{ksk1, zsk1}, []*keys.Key{ksk1}, []*keys.Key{zsk1}},
		{"zsk first", []*keys.Key{zsk1, ksk1}, []*keys.Key{ksk1}, []*keys.Key{zsk1}},
		{"double ksk", []*keys.Key{ksk1, zsk1, ksk2}, []*keys.Key{ksk1, ksk2}, []*keys.Key{zsk1}},
		{"two zsks", []*keys.Key{ksk1, zsk1, zsk2}, []*keys.Key{ksk1}, []*keys.Key{zsk1, zsk2}},
		{"split beside another algorithm's csk", []*keys.Key{ksk1, zsk1, edCSK}, []*keys.Key{ksk1, edCSK}, []*keys.Key{zsk1, edCSK}},
		{"key without zone flag", []*keys.Key{noZone, csk1}, []*keys.Key{csk1}, []*keys.Key{csk1}},
		{"zsk alone", []*keys.Key{zsk1}, nil, []*keys.Key{zsk1}},
	}
	tagsOf := func(ks []*keys.Key) []uint16 {
		var out []uint16
		for _, k := range ks {
			out = append(out, k.Tag())
		}
		return out
	}
	rdata := map[uint16]string{
		dns.TypeDNSKEY: "257 3 13 " + csk1.DNSKEY.PublicKey, dns.TypeCDS: "1 13 2 abcd", dns.TypeCDNSKEY: "257 3 13 " + csk1.DNSKEY.PublicKey,
		dns.TypeSOA: "ns1.example.test. h.example.test. 1 2 3 4 5", dns.TypeNS: "ns1.example.test.",
		dns.TypeTLSA: "3 1 1 abcd", dns.TypeSMIMEA: "3 1 1 abcd", dns.TypeOPENPGPKEY: "AQID", dns.TypeSSHFP: "4 2 abcd",
		dns.TypeNSEC: "b.example.test. TLSA", dns.TypeNSEC3: "1 0 0 - 0123456789ABCDEFGHIJKLMNOPQRSTUV TLSA", dns.TypeNSEC3PARAM: "1 0 0 -",
		dns.TypeA: "192.0.2.1", dns.TypeAAAA: "2001:db8::1",
	}
	for _, tt := range tests {
		for _, group := range []struct {
			types string
			want  []*keys.Key
		}{{apexKeys, tt.keySet}, {zoneData, tt.otherData}} {
			for _, ts := range strings.Fields(group.types) {
				typ := dns.StringToType[ts]
				t.Run(tt.name+"/"+ts, func(t *testing.T) {
					s := &Signer{Zone: "example.test.", Keys: tt.keys}
					if got, want := tagsOf(s.KeysFor(typ)), tagsOf(group.want); !slices.Equal(got, want) {
						t.Fatalf("KeysFor(%s) = %v, want %v", ts, got, want)
					}
					rr, err := dns.NewRR("example.test. 300 IN " + ts + " " + rdata[typ])
					if err != nil {
						t.Fatal(err)
					}
					sigs, err := s.Sign([]dns.RR{rr})
					if len(group.want) == 0 {
						if !errors.Is(err, ErrNoKey) {
							t.Fatalf("Sign with no key for %s: %v", ts, err)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					var got []uint16
					for i, r := range sigs {
						sig := r.(*dns.RRSIG)
						got = append(got, sig.KeyTag)
						if err := sig.Verify(group.want[i].DNSKEY, []dns.RR{rr}); err != nil {
							t.Errorf("signature %d does not verify: %v", i, err)
						}
						if sig.TypeCovered != typ {
							t.Errorf("signature covers %s", dns.TypeToString[sig.TypeCovered])
						}
					}
					if want := tagsOf(group.want); !slices.Equal(got, want) {
						t.Fatalf("signed by %v, want %v", got, want)
					}
				})
			}
		}
	}
}

// TestTypeValidity: a type with a validity of its own is signed for it and
// refreshed at half of it; other types keep Validity and Refresh; and a
// signature reaching further than its type's validity (made before the
// validity was shortened) is not fresh.
func TestTypeValidity(t *testing.T) {
	k, err := keys.Generate("example.test.", keys.ED25519, keys.FlagsCSK)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	const short = 48 * time.Hour
	s := &Signer{Zone: "example.test.", Keys: []*keys.Key{k}, Now: func() time.Time { return now },
		TypeValidity: func(t uint16) time.Duration {
			if t == dns.TypeTLSA {
				return short
			}
			return 0
		}}
	tlsa, _ := dns.NewRR("a.example.test. 300 IN TLSA 3 1 1 abcd")
	txt, _ := dns.NewRR("example.test. 300 IN NS ns.example.test.")
	tsig, err := s.Sign([]dns.RR{tlsa})
	if err != nil {
		t.Fatal(err)
	}
	nsig, err := s.Sign([]dns.RR{txt})
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Unix(int64(tsig[0].(*dns.RRSIG).Expiration), 0); !got.Equal(now.Add(short)) {
		t.Errorf("TLSA expiration %v, want %v", got, now.Add(short))
	}
	if got := time.Unix(int64(nsig[0].(*dns.RRSIG).Expiration), 0); !got.Equal(now.Add(DefaultValidity)) {
		t.Errorf("NS expiration %v, want %v", got, now.Add(DefaultValidity))
	}
	for _, tt := range []struct {
		sigs  []dns.RR
		at    time.Duration
		fresh bool
	}{
		{tsig, 0, true},
		{tsig, short/2 - time.Minute, true},
		{tsig, short / 2, false},
		{nsig, short, true},
		{nsig, DefaultValidity - DefaultRefresh, false},
	} {
		s.Now = func() time.Time { return now.Add(tt.at) }
		if got := s.Fresh(tt.sigs); got != tt.fresh {
			t.Errorf("Fresh(%s) at +%v = %v, want %v", dns.TypeToString[tt.sigs[0].(*dns.RRSIG).TypeCovered], tt.at, got, tt.fresh)
		}
	}
	if got := s.RefreshMargin(dns.TypeTLSA); got != short/2 {
		t.Errorf("RefreshMargin(TLSA) = %v, want %v", got, short/2)
	}
	if got := s.RefreshMargin(dns.TypeNS); got != DefaultRefresh {
		t.Errorf("RefreshMargin(NS) = %v, want %v", got, DefaultRefresh)
	}
	// A TLSA signature made for 14 days is not fresh for a 48-hour type.
	s.Now = func() time.Time { return now }
	long := &Signer{Zone: "example.test.", Keys: []*keys.Key{k}, Now: s.Now}
	lsig, err := long.Sign([]dns.RR{tlsa})
	if err != nil {
		t.Fatal(err)
	}
	if s.Fresh(lsig) {
		t.Error("a 14-day TLSA signature counted as fresh with a 48-hour validity")
	}
	if !long.Fresh(lsig) {
		t.Error("a 14-day signature not fresh for the signer that made it")
	}
}
