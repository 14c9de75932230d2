package zone

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/keys"
)

const origin = "devices.test."

// newZone initialises and opens a zone in a temporary directory, with a
// clock the test controls and the default keys: a KSK and a ZSK.
func newZone(t testing.TB, clock *fakeClock) (*Zone, string) {
	t.Helper()
	return newZoneWith(t, clock, InitOptions{})
}

// newCSKZone is newZone with one combined signing key.
func newCSKZone(t testing.TB, clock *fakeClock) (*Zone, string) {
	t.Helper()
	return newZoneWith(t, clock, InitOptions{CSK: true})
}

// newZoneWith is newZone with opt (its Origin and Time are set here).
func newZoneWith(t testing.TB, clock *fakeClock, opt InitOptions) (*Zone, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "z")
	opt.Origin, opt.Time = "Devices.Test", clock.Now
	if _, err := Init(dir, opt); err != nil {
		t.Fatal(err)
	}
	z, err := Open(dir, Options{Time: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	return z, dir
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Now().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func rr(t testing.TB, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// del builds an RFC 2136 delete record: class ANY (whole RRset or name) or
// NONE (one record).
func del(t testing.TB, s string, class uint16) dns.RR {
	r := rr(t, s)
	r.Header().Class = class
	r.Header().Ttl = 0
	if class == dns.ClassANY {
		return &dns.ANY{Hdr: dns.RR_Header{Name: r.Header().Name, Rrtype: r.Header().Rrtype, Class: dns.ClassANY}}
	}
	return r
}

func TestInitRefusesExisting(t *testing.T) {
	clock := newClock()
	_, dir := newZone(t, clock)
	if _, err := Init(dir, InitOptions{Origin: origin}); !errors.Is(err, ErrExists) {
		t.Fatalf("second Init: %v, want ErrExists", err)
	}
	for _, f := range []string{TSIGFile, DBFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v mode %v, want 0600", f, err, st.Mode())
		}
	}
	keysFiles, _ := filepath.Glob(filepath.Join(dir, KeysDir, "*.private"))
	if len(keysFiles) != 2 {
		t.Fatalf("private keys: %v", keysFiles)
	}
	for _, f := range keysFiles {
		if st, _ := os.Stat(f); st.Mode().Perm() != 0o600 {
			t.Errorf("private key %s mode %v", f, st.Mode().Perm())
		}
	}
}

// TestInitKeys checks the keys Init makes: a KSK and a ZSK by default, one
// CSK with InitOptions.CSK; the DS, CDS, CDNSKEY and DIR/anchors name the
// KSK or CSK only.
func TestInitKeys(t *testing.T) {
	tests := []struct {
		name  string
		opt   InitOptions
		flags []uint16 // of the DNSKEY RRset, in order
		roles []KeyRole
	}{
		{"default", InitOptions{}, []uint16{keys.FlagsKSK, keys.FlagsZSK}, []KeyRole{RoleKSK, RoleZSK}},
		{"ed25519", InitOptions{Algorithm: keys.ED25519}, []uint16{keys.FlagsKSK, keys.FlagsZSK}, []KeyRole{RoleKSK, RoleZSK}},
		{"csk", InitOptions{CSK: true}, []uint16{keys.FlagsCSK}, []KeyRole{RoleCSK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "z")
			opt := tt.opt
			opt.Origin = origin
			res, err := Init(dir, opt)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Key.IsSEP() || (res.ZSK == nil) != opt.CSK || (res.ZSK != nil && res.ZSK.IsSEP()) {
				t.Fatalf("Init result: key flags %d, zsk %v", res.Key.DNSKEY.Flags, res.ZSK)
			}
			if len(res.DS) != 1 || res.DS[0].KeyTag != res.Key.Tag() {
				t.Fatalf("DS %v, want one for tag %d", res.DS, res.Key.Tag())
			}
			z, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer z.Close()
			dnskeys := z.Get(origin, dns.TypeDNSKEY)
			if len(dnskeys) != len(tt.flags) {
				t.Fatalf("DNSKEY RRset %v", dnskeys)
			}
			for i, r := range dnskeys {
				k := r.(*dns.DNSKEY)
				want := opt.Algorithm
				if want == 0 {
					want = keys.ECDSAP256SHA256
				}
				if k.Flags != tt.flags[i] || k.Algorithm != want {
					t.Errorf("DNSKEY %d: flags %d algorithm %d, want %d %d", i, k.Flags, k.Algorithm, tt.flags[i], want)
				}
			}
			var roles []KeyRole
			for _, k := range z.Keys() {
				roles = append(roles, k.Role)
				if k.State != "active" || (k.Role == RoleZSK) != (k.DS == "") {
					t.Errorf("key %+v", k)
				}
			}
			if !slices.Equal(roles, tt.roles) {
				t.Errorf("roles %v, want %v", roles, tt.roles)
			}
			cds, cdnskey := z.Get(origin, dns.TypeCDS), z.Get(origin, dns.TypeCDNSKEY)
			if len(cds) != 1 || cds[0].(*dns.CDS).KeyTag != res.Key.Tag() || len(cdnskey) != 1 || cdnskey[0].(*dns.CDNSKEY).PublicKey != res.Key.DNSKEY.PublicKey {
				t.Errorf("CDS %v CDNSKEY %v, want the key of tag %d", cds, cdnskey, res.Key.Tag())
			}
			b, err := os.ReadFile(filepath.Join(dir, AnchorsFile))
			if err != nil {
				t.Fatal(err)
			}
			if want := res.DS[0].String() + "\n" + res.Key.DNSKEY.String() + "\n"; string(b) != want || res.Anchors != want {
				t.Errorf("anchors:\n%s\nwant:\n%s", b, want)
			}
		})
	}
}

func TestQueryOutcomes(t *testing.T) {
	clock := newClock()
	z, _ := newZone(t, clock)
	if _, err := z.Update(nil, []dns.RR{
		rr(t, "sensor1._device.devices.test. 300 IN TLSA 3 1 1 abcdef"),
		rr(t, "host.devices.test. 300 IN SSHFP 4 2 abcdef"),
	}, Policy{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		qname   string
		qtype   uint16
		o       QueryOptions
		outcome Outcome
		rcode   int
		answer  []uint16 // types in the answer section, in order
		ns      []uint16 // types in the authority section
		bitmap  []uint16 // NSEC type bitmap, if any
	}{
		{"tlsa", "Sensor1._device.devices.test.", dns.TypeTLSA, QueryOptions{}, Success, dns.RcodeSuccess, []uint16{dns.TypeTLSA}, nil, nil},
		{"tlsa do", "sensor1._device.devices.test.", dns.TypeTLSA, QueryOptions{DNSSEC: true}, Success, dns.RcodeSuccess, []uint16{dns.TypeTLSA, dns.TypeRRSIG}, nil, nil},
		{"dnskey do", origin, dns.TypeDNSKEY, QueryOptions{DNSSEC: true}, Success, dns.RcodeSuccess, []uint16{dns.TypeDNSKEY, dns.TypeDNSKEY, dns.TypeRRSIG}, nil, nil},
		{"cds do", origin, dns.TypeCDS, QueryOptions{DNSSEC: true}, Success, dns.RcodeSuccess, []uint16{dns.TypeCDS, dns.TypeRRSIG}, nil, nil},
		{"cds", origin, dns.TypeCDS, QueryOptions{}, Success, dns.RcodeSuccess, []uint16{dns.TypeCDS}, nil, nil},
		{"cdnskey", origin, dns.TypeCDNSKEY, QueryOptions{}, Success, dns.RcodeSuccess, []uint16{dns.TypeCDNSKEY}, nil, nil},
		{"nxdomain", "sensor2._device.devices.test.", dns.TypeTLSA, QueryOptions{}, NameError, dns.RcodeNameError, nil, []uint16{dns.TypeSOA}, nil},
		{"nxdomain compact", "sensor2._device.devices.test.", dns.TypeTLSA, QueryOptions{DNSSEC: true}, NameError, dns.RcodeSuccess, nil,
			[]uint16{dns.TypeSOA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeRRSIG}, []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNXNAME}},
		{"nxdomain compact CO", "sensor2._device.devices.test.", dns.TypeTLSA, QueryOptions{DNSSEC: true, CompactOK: true}, NameError, dns.RcodeNameError, nil,
			[]uint16{dns.TypeSOA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeRRSIG}, []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNXNAME}},
		{"nodata type", "sensor1._device.devices.test.", dns.TypeSSHFP, QueryOptions{DNSSEC: true}, NoData, dns.RcodeSuccess, nil,
			[]uint16{dns.TypeSOA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeRRSIG}, []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeTLSA}},
		{"ent", "_device.devices.test.", dns.TypeTLSA, QueryOptions{DNSSEC: true}, NoData, dns.RcodeSuccess, nil,
			[]uint16{dns.TypeSOA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeRRSIG}, []uint16{dns.TypeRRSIG, dns.TypeNSEC}},
		{"ent no do", "_device.devices.test.", dns.TypeTLSA, QueryOptions{}, NoData, dns.RcodeSuccess, nil, []uint16{dns.TypeSOA}, nil},
		{"A never served", "host.devices.test.", dns.TypeA, QueryOptions{DNSSEC: true}, NoData, dns.RcodeSuccess, nil,
			[]uint16{dns.TypeSOA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeRRSIG}, []uint16{dns.TypeSSHFP, dns.TypeRRSIG, dns.TypeNSEC}},
		{"apex nodata", origin, dns.TypeTLSA, QueryOptions{DNSSEC: true}, NoData, dns.RcodeSuccess, nil,
			[]uint16{dns.TypeSOA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeRRSIG},
			[]uint16{dns.TypeNS, dns.TypeSOA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeDNSKEY, dns.TypeNSEC3PARAM, dns.TypeCDS, dns.TypeCDNSKEY}},
		{"out of zone", "example.com.", dns.TypeTLSA, QueryOptions{}, NotInZone, dns.RcodeRefused, nil, nil, nil},
		{"parent", "test.", dns.TypeSOA, QueryOptions{}, NotInZone, dns.RcodeRefused, nil, nil, nil},
		{"any", "host.devices.test.", dns.TypeANY, QueryOptions{}, Success, dns.RcodeSuccess, []uint16{dns.TypeSSHFP}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := z.Query(tt.qname, tt.qtype, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if a.Outcome != tt.outcome || a.Rcode != tt.rcode {
				t.Fatalf("outcome %v rcode %s, want %v %s", a.Outcome, dns.RcodeToString[a.Rcode], tt.outcome, dns.RcodeToString[tt.rcode])
			}
			if got := typesOf(a.Answer); !equalTypes(got, tt.answer) {
				t.Errorf("answer types %v, want %v", got, tt.answer)
			}
			if got := typesOf(a.Ns); !equalTypes(got, tt.ns) {
				t.Errorf("authority types %v, want %v", got, tt.ns)
			}
			for _, r := range append(append([]dns.RR{}, a.Answer...), a.Ns...) {
				switch x := r.(type) {
				case *dns.NSEC:
					if !equalTypes(x.TypeBitMap, tt.bitmap) {
						t.Errorf("NSEC bitmap %v, want %v", x.TypeBitMap, tt.bitmap)
					}
					if x.Hdr.Name != dns.CanonicalName(tt.qname) || x.NextDomain != "\\000."+dns.CanonicalName(tt.qname) {
						t.Errorf("NSEC %v is not the compact form for %s", x, tt.qname)
					}
					if x.Hdr.Ttl != DefaultNegativeTTL {
						t.Errorf("NSEC TTL %d, want %d", x.Hdr.Ttl, DefaultNegativeTTL)
					}
				case *dns.SOA:
					if a.Outcome != Success && x.Hdr.Ttl != DefaultNegativeTTL {
						t.Errorf("negative SOA TTL %d", x.Hdr.Ttl)
					}
				}
			}
			// verifyAll checks that each RRset is signed once, by the
			// key of the right role.
			verifyAll(t, z, a.Answer)
			verifyAll(t, z, a.Ns)
		})
	}
}

func typesOf(rrs []dns.RR) []uint16 {
	var out []uint16
	for _, r := range rrs {
		out = append(out, r.Header().Rrtype)
	}
	return out
}

func equalTypes(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// verifyAll checks the RRSIGs in rrs at the zone's clock: every RRset in
// rrs carries exactly one, by the key whose role signs its type (RFC 6781
// §3.1): the KSK for the DNSKEY, CDS and CDNSKEY RRsets, the ZSK for any
// other; the CSK for all in a zone with one combined signing key. The zone
// must not be in a rollover (verifyAllKeys is for those).
func verifyAll(t *testing.T, z *Zone, rrs []dns.RR) {
	t.Helper()
	var ksk, zsk *dns.DNSKEY
	for _, r := range z.Get(origin, dns.TypeDNSKEY) {
		k := r.(*dns.DNSKEY)
		p := &zsk
		if k.Flags&keys.FlagSEP != 0 {
			p = &ksk
		}
		if *p != nil {
			t.Fatalf("verifyAll: more than one key of flags %d in the DNSKEY RRset", k.Flags)
		}
		*p = k
	}
	if ksk == nil {
		t.Fatal("verifyAll: no KSK or CSK in the DNSKEY RRset")
	}
	type rrset struct {
		name  string
		qtype uint16
	}
	sigs := map[rrset]int{}
	for _, r := range rrs {
		if r.Header().Rrtype != dns.TypeRRSIG {
			sigs[rrset{strings.ToLower(r.Header().Name), r.Header().Rrtype}] += 0
		}
	}
	for _, r := range rrs {
		sig, ok := r.(*dns.RRSIG)
		if !ok {
			continue
		}
		sigs[rrset{strings.ToLower(sig.Hdr.Name), sig.TypeCovered}]++
		key, role := ksk, "KSK"
		if zsk != nil && sig.TypeCovered != dns.TypeDNSKEY && sig.TypeCovered != dns.TypeCDS && sig.TypeCovered != dns.TypeCDNSKEY {
			key, role = zsk, "ZSK"
		}
		if sig.KeyTag != key.KeyTag() || sig.SignerName != origin {
			t.Errorf("RRSIG over %s %s by %d/%s, want the %s %d/%s", sig.Hdr.Name, dns.TypeToString[sig.TypeCovered], sig.KeyTag, sig.SignerName, role, key.KeyTag(), origin)
			continue
		}
		var set []dns.RR
		for _, o := range rrs {
			if o.Header().Rrtype == sig.TypeCovered && strings.EqualFold(o.Header().Name, sig.Hdr.Name) {
				set = append(set, o)
			}
		}
		if err := sig.Verify(key, set); err != nil {
			t.Errorf("RRSIG over %s %s does not verify: %v", sig.Hdr.Name, dns.TypeToString[sig.TypeCovered], err)
		}
		if !sig.ValidityPeriod(z.now()) {
			t.Errorf("RRSIG over %s not valid now", sig.Hdr.Name)
		}
	}
	hasSigs := false
	for _, n := range sigs {
		hasSigs = hasSigs || n > 0
	}
	for set, n := range sigs {
		if hasSigs && n != 1 {
			t.Errorf("%s %s has %d signatures, want 1", set.name, dns.TypeToString[set.qtype], n)
		}
	}
}

func TestSortCanonical(t *testing.T) {
	// RFC 4034 §6.1's example, shuffled.
	want := []string{"example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.", "zABC.a.EXAMPLE.", "z.example.", "\\001.z.example.", "*.z.example.", "\\200.z.example."}
	got := []string{want[4], want[8], want[0], want[6], want[2], want[7], want[1], want[5], want[3]}
	sortCanonical(got)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
	for i := 1; i < len(want); i++ {
		if !canonicalLess(want[i-1], want[i]) || canonicalLess(want[i], want[i-1]) {
			t.Fatalf("canonicalLess disagrees at %s < %s", want[i-1], want[i])
		}
	}
}
