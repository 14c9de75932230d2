package signer

import (
	"bytes"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/keys"
)

// TestSignWireMatchesSign: SignWire makes the RRSIGs Sign makes, field
// for field (and octet for octet with Ed25519, whose signatures are
// deterministic), and they verify, for plain and wildcard owners, RRsets
// of one and several records given in any order, split and combined keys.
func TestSignWireMatchesSign(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	gen := func(alg uint8, flags uint16) *keys.Key {
		k, err := keys.Generate("example.test.", alg, flags)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	sets := [][]string{
		{"s1._device.example.test. 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		{
			"*._user.example.test. 300 IN TLSA 3 1 1 ffff456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			"*._user.example.test. 300 IN TLSA 3 1 1 0000456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			"*._user.example.test. 300 IN TLSA 2 0 1 0000456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		},
		{"1avvqn74sg75ukfvf25dgcethgq638ek.example.test. 60 IN NSEC3 1 0 0 - 2VPTU5TIMAMQTTGL4LUU9KG21E0AOR3S RRSIG TLSA"},
	}
	for _, alg := range []uint8{keys.ECDSAP256SHA256, keys.ED25519} {
		for _, ks := range [][]*keys.Key{{gen(alg, keys.FlagsKSK), gen(alg, keys.FlagsZSK)}, {gen(alg, keys.FlagsCSK)}} {
			s := &Signer{Zone: "example.test.", Keys: ks, Now: func() time.Time { return now }}
			for _, set := range sets {
				var rrs []dns.RR
				var rdatas [][]byte
				for _, line := range set {
					r, err := dns.NewRR(line)
					if err != nil {
						t.Fatal(err)
					}
					rrs = append(rrs, r)
					buf := make([]byte, 512)
					end, err := dns.PackRR(r, buf, 0, nil, false)
					if err != nil {
						t.Fatal(err)
					}
					rdatas = append(rdatas, buf[end-int(r.Header().Rdlength):end])
				}
				owner := make([]byte, 256)
				n, _ := dns.PackDomainName(rrs[0].Header().Name, owner, 0, nil, false)
				want, err := s.Sign(rrs)
				if err != nil {
					t.Fatal(err)
				}
				w, count, err := s.SignWire(owner[:n], rrs[0].Header().Rrtype, rrs[0].Header().Ttl, rdatas)
				if err != nil || count != len(want) {
					t.Fatalf("SignWire: %v, %d signatures, want %d", err, count, len(want))
				}
				for i, ws := range want {
					hdr := dns.RR_Header{Name: rrs[0].Header().Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: rrs[0].Header().Ttl}
					off := i * (len(w) / count)
					hdr.Rdlength = uint16(len(w)/count - 10)
					got, _, err := dns.UnpackRRWithHeader(hdr, w, off+10)
					if err != nil {
						t.Fatal(err)
					}
					g, e := got.(*dns.RRSIG), ws.(*dns.RRSIG)
					if !alg15(alg) {
						g2 := *g
						g2.Signature = e.Signature
						g = &g2
					}
					if g.String() != e.String() {
						t.Errorf("alg %d, %s:\n got %s\nwant %s", alg, set[0], g, e)
					}
					gotSig := got.(*dns.RRSIG)
					var key *dns.DNSKEY
					for _, k := range ks {
						if k.Tag() == gotSig.KeyTag {
							key = k.DNSKEY
						}
					}
					if err := gotSig.Verify(key, rrs); err != nil {
						t.Errorf("alg %d, %s: SignWire's signature does not verify: %v", alg, set[0], err)
					}
				}
				if !bytes.Equal(w[:2], []byte{0, byte(dns.TypeRRSIG)}) {
					t.Errorf("packed type %x", w[:2])
				}
			}
		}
	}
}

func alg15(a uint8) bool { return a == keys.ED25519 }

// BenchmarkSign and BenchmarkSignWire sign one TLSA RRset with a ZSK
// (ECDSA P-256) through dns.RR values and from wire form:
//
//	go test -run '^$' -bench 'Sign(Wire)?$' -benchmem ./zone/internal/signer/
func BenchmarkSign(b *testing.B) {
	s, rrs, _, _ := benchSet(b)
	for b.Loop() {
		if _, err := s.Sign(rrs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignWire(b *testing.B) {
	s, rrs, owner, rdatas := benchSet(b)
	for b.Loop() {
		if _, _, err := s.SignWire(owner, dns.TypeTLSA, rrs[0].Header().Ttl, rdatas); err != nil {
			b.Fatal(err)
		}
	}
}

func benchSet(b *testing.B) (*Signer, []dns.RR, []byte, [][]byte) {
	k, err := keys.Generate("example.test.", keys.ECDSAP256SHA256, keys.FlagsZSK)
	if err != nil {
		b.Fatal(err)
	}
	ksk, err := keys.Generate("example.test.", keys.ECDSAP256SHA256, keys.FlagsKSK)
	if err != nil {
		b.Fatal(err)
	}
	r, err := dns.NewRR("s1._device.example.test. 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 512)
	end, _ := dns.PackRR(r, buf, 0, nil, false)
	owner := make([]byte, 256)
	n, _ := dns.PackDomainName(r.Header().Name, owner, 0, nil, false)
	return &Signer{Zone: "example.test.", Keys: []*keys.Key{ksk, k}}, []dns.RR{r}, owner[:n], [][]byte{buf[end-int(r.Header().Rdlength) : end]}
}

// TestAppendECDSARaw: DER signatures become r and s in 32 octets each,
// short integers padded and the sign octet dropped; anything but a DER
// SEQUENCE of two non-negative INTEGERs of at most 32 octets (and its
// sign octet) is refused.
func TestAppendECDSARaw(t *testing.T) {
	full := bytes.Repeat([]byte{0x7f}, 32)
	high := append([]byte{0}, bytes.Repeat([]byte{0x80}, 32)...)
	seq := func(parts ...[]byte) []byte {
		var body []byte
		for _, p := range parts {
			body = append(body, p...)
		}
		return append([]byte{0x30, byte(len(body))}, body...)
	}
	integer := func(v []byte) []byte { return append([]byte{0x02, byte(len(v))}, v...) }
	pad := func(v []byte) []byte {
		v = bytes.TrimLeft(v, "\x00")
		return append(make([]byte, 32-len(v)), v...)
	}
	for _, tc := range []struct {
		name string
		der  []byte
		want []byte // nil: refused
	}{
		{"full", seq(integer(full), integer(full)), append(pad(full), pad(full)...)},
		{"sign octets", seq(integer(high), integer(full)), append(pad(high), pad(full)...)},
		{"short", seq(integer([]byte{1}), integer([]byte{0, 0x80})), append(pad([]byte{1}), pad([]byte{0x80})...)},
		{"negative", seq(integer([]byte{0x80}), integer(full)), nil},
		{"too long", seq(integer(append([]byte{1}, full...)), integer(full)), nil},
		{"empty integer", seq(integer(nil), integer(full)), nil},
		{"one integer", seq(integer(full)), nil},
		{"three integers", seq(integer(full), integer(full), integer(full)), nil},
		{"not a sequence", append([]byte{0x31}, seq(integer(full), integer(full))[1:]...), nil},
		{"not an integer", seq([]byte{0x04, 1, 1}, integer(full)), nil},
		{"length past end", append(seq(integer(full), integer(full))[:10], 0), nil},
		{"long form", append([]byte{0x30, 0x81, 70}, seq(integer(full), integer(full))[2:]...), nil},
		{"empty", nil, nil},
	} {
		got, err := appendECDSARaw([]byte{0xee}, tc.der)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%s: accepted %x as %x", tc.name, tc.der, got)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, append([]byte{0xee}, tc.want...)) {
			t.Errorf("%s: got %x, %v; want ee%x", tc.name, got, err, tc.want)
		}
	}
}
