package zone

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// identitySig returns the RRSIGs over the TLSA RRset at name that a DO
// query gets, and those over the apex SOA.
func identitySigs(t *testing.T, z *Zone, name string) (tlsa, soa []*dns.RRSIG) {
	t.Helper()
	for _, q := range []struct {
		name string
		t    uint16
		out  *[]*dns.RRSIG
	}{{name, dns.TypeTLSA, &tlsa}, {z.Origin(), dns.TypeSOA, &soa}} {
		a, err := z.Query(q.name, q.t, QueryOptions{DNSSEC: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, rr := range a.Answer {
			if sig, ok := rr.(*dns.RRSIG); ok && sig.TypeCovered == q.t {
				*q.out = append(*q.out, sig)
			}
		}
		if len(*q.out) == 0 {
			t.Fatalf("no RRSIG over %s %s", q.name, dns.TypeToString[q.t])
		}
	}
	return tlsa, soa
}

func left(sig *dns.RRSIG, now time.Time) time.Duration {
	return time.Unix(int64(sig.Expiration), 0).Sub(now)
}

// TestIdentitySignatureValidity: identity RRsets are signed for the
// configured validity (2 days by default), the rest of the zone for the
// signer's 14 days, and an identity signature is replaced before half its
// validity has passed: whenever it is served, more than half is left. So
// an answer captured before a removal validates at most that long after.
// Before, identity records were signed for 14 days like the rest.
func TestIdentitySignatureValidity(t *testing.T) {
	const name = "s1._device.devices.test."
	for _, tt := range []struct {
		name string
		init time.Duration // InitOptions
		open time.Duration // Options
		want time.Duration
	}{
		{"default", 0, 0, DefaultIdentitySigValidity},
		{"zone setting", 24 * time.Hour, 0, 24 * time.Hour},
		{"override when opened", 24 * time.Hour, 13 * time.Hour, 13 * time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want > 2*24*time.Hour {
				t.Fatalf("identity signature validity %v is above two days", tt.want)
			}
			clock := newClock()
			dir := filepath.Join(t.TempDir(), "z")
			if _, err := Init(dir, InitOptions{Origin: "devices.test", Time: clock.Now, IdentitySigValidity: tt.init}); err != nil {
				t.Fatal(err)
			}
			z, err := Open(dir, Options{Time: clock.Now, IdentitySigValidity: tt.open})
			if err != nil {
				t.Fatal(err)
			}
			defer z.Close()
			if z.IdentitySigValidity() != tt.want {
				t.Fatalf("IdentitySigValidity() = %v, want %v", z.IdentitySigValidity(), tt.want)
			}
			if _, err := z.Update(nil, []dns.RR{rr(t, name+" 300 IN TLSA 3 1 1 0102")}, Policy{}); err != nil {
				t.Fatal(err)
			}
			tlsa, soa := identitySigs(t, z, name)
			now := clock.Now()
			for _, sig := range tlsa {
				if got := left(sig, now); got != tt.want {
					t.Fatalf("TLSA signature valid for %v, want %v", got, tt.want)
				}
				if got := now.Sub(time.Unix(int64(sig.Inception), 0)); got != time.Hour {
					t.Fatalf("TLSA signature begins %v before now, want 1h", got)
				}
			}
			if got := left(soa[0], now); got != 14*24*time.Hour {
				t.Fatalf("SOA signature valid for %v, want the signer's 14 days", got)
			}
			// Over three validities, in steps of a sixteenth: every
			// served signature has more than half its validity left and
			// was made with this validity; it is replaced (a later
			// expiration) at least once per half validity.
			first := tlsa[0].Expiration
			renewed := 0
			last := first
			for step := time.Duration(0); step < 3*tt.want; step += tt.want / 16 {
				clock.Advance(tt.want / 16)
				// A transfer (Presign, then every RRset) and queries see
				// the same signatures.
				if _, err := z.Presign(t.Context()); err != nil {
					t.Fatal(err)
				}
				tlsa, _ := identitySigs(t, z, name)
				now := clock.Now()
				for _, sig := range tlsa {
					l := left(sig, now)
					if l <= tt.want/2 || l > tt.want {
						t.Fatalf("at +%v a TLSA signature with %v left is served (validity %v)", step, l, tt.want)
					}
				}
				if tlsa[0].Expiration != last {
					renewed++
					last = tlsa[0].Expiration
				}
			}
			if renewed < 5 {
				t.Fatalf("signature renewed %d times over three validities", renewed)
			}
			rrs, err := z.Transfer()
			if err != nil {
				t.Fatal(err)
			}
			for _, rr := range rrs {
				if sig, ok := rr.(*dns.RRSIG); ok && sig.TypeCovered == dns.TypeTLSA {
					if l := left(sig, clock.Now()); l <= tt.want/2 || l > tt.want {
						t.Fatalf("transferred TLSA signature with %v left (validity %v)", l, tt.want)
					}
				}
			}
		})
	}
}

// TestIdentitySignatureValidityShortened: signatures made with a longer
// validity (cached in memory or in the signature cache file) are not
// served once the validity is shortened: they are made again.
func TestIdentitySignatureValidityShortened(t *testing.T) {
	const name = "s1._device.devices.test."
	clock := newClock()
	dir := filepath.Join(t.TempDir(), "z")
	if _, err := Init(dir, InitOptions{Origin: "devices.test", Time: clock.Now}); err != nil {
		t.Fatal(err)
	}
	z, err := Open(dir, Options{Time: clock.Now, IdentitySigValidity: 14 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := z.Update(nil, []dns.RR{rr(t, name+" 300 IN TLSA 3 1 1 0102")}, Policy{}); err != nil {
		t.Fatal(err)
	}
	if _, err := z.Transfer(); err != nil { // signs everything
		t.Fatal(err)
	}
	if tlsa, _ := identitySigs(t, z, name); left(tlsa[0], clock.Now()) != 14*24*time.Hour {
		t.Fatalf("TLSA signature valid for %v, want 14 days", left(tlsa[0], clock.Now()))
	}
	if n, err := z.saveSignatures(); err != nil || n == 0 {
		t.Fatalf("saveSignatures: %d %v", n, err)
	}
	z.Close()
	clock.Advance(time.Hour)
	z, err = Open(dir, Options{Time: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	if n, err := z.SignaturesLoaded(); n == 0 || err != nil {
		t.Fatalf("signature cache not loaded: %d %v", n, err)
	}
	tlsa, soa := identitySigs(t, z, name)
	if l := left(tlsa[0], clock.Now()); l != DefaultIdentitySigValidity {
		t.Fatalf("after shortening, a TLSA signature with %v left is served", l)
	}
	if l := left(soa[0], clock.Now()); l != 14*24*time.Hour-time.Hour {
		t.Fatalf("the cached SOA signature (%v left) was not kept", l)
	}
	if err := CheckIdentitySigValidity(time.Hour); err == nil {
		t.Fatal("an hour of identity signature validity accepted")
	}
	if _, err := Open(dir, Options{IdentitySigValidity: 30 * 24 * time.Hour}); err == nil {
		t.Fatal("30 days of identity signature validity accepted")
	}
}
