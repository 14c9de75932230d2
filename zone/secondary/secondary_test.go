package secondary

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/verify"
)

func rr(t *testing.T, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func soa(t *testing.T, serial int) dns.RR {
	return rr(t, "devices.test. 300 IN SOA ns1.devices.test. hostmaster.devices.test. "+itoa(serial)+" 3600 600 86400 300")
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

// testSecondary is a Secondary for devices.test writing to a temporary
// file, with no network use.
func testSecondary(t *testing.T, file string) *Secondary {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"ns2.devices.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	core, err := verify.New(verify.Config{Resolver: noResolver{}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Zone: "devices.test", Primary: "ns1.devices.test:853", Identity: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		Verifier: core, File: file})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestApply: whole zones, differences and "current" answers are taken;
// answers that do not apply to the copy are refused and leave it as it
// was.
func TestApply(t *testing.T) {
	ns := "devices.test. 300 IN NS ns1.devices.test."
	t1 := "s1._device.devices.test. 300 IN TLSA 3 1 1 0102"
	t2 := "s2._device.devices.test. 300 IN TLSA 3 1 1 0304"
	t3 := "s3._device.devices.test. 300 IN TLSA 3 1 1 0506"
	full := func(serial int, recs ...string) []dns.RR {
		out := []dns.RR{soa(t, serial)}
		for _, r := range recs {
			out = append(out, rr(t, r))
		}
		return append(out, soa(t, serial))
	}
	seq := func(items ...any) []dns.RR {
		var out []dns.RR
		for _, it := range items {
			switch v := it.(type) {
			case int:
				out = append(out, soa(t, v))
			case string:
				out = append(out, rr(t, v))
			}
		}
		return out
	}
	for _, tt := range []struct {
		name  string
		start []dns.RR // an AXFR applied first; nil: no copy
		ans   []dns.RR
		kind  string
		want  []string // records of the copy after, but the SOA
		err   string
	}{
		{"axfr without a copy", nil, full(1, ns, t1), KindFull, []string{ns, t1}, ""},
		{"axfr replaces the copy", full(1, ns, t1), full(2, ns, t2), KindFull, []string{ns, t2}, ""},
		{"current", full(5, ns, t1), seq(5), KindCurrent, []string{ns, t1}, ""},
		{"ixfr one version", full(1, ns, t1), seq(2, 1, t1, 2, t2, 2), KindIncr, []string{ns, t2}, ""},
		{"ixfr two versions", full(1, ns, t1), seq(3, 1, t1, 2, t2, 2, 3, t3, 3), KindIncr, []string{ns, t2, t3}, ""},
		{"ixfr deleting what the copy lacks", full(1, ns, t1), seq(2, 1, t3, 2, t2, 2), "", []string{ns, t1}, "does not hold"},
		{"ixfr from another serial", full(1, ns, t1), seq(3, 2, t1, 3, 3), "", []string{ns, t1}, "differences from serial 2"},
		{"ixfr ending short", full(1, ns, t1), seq(3, 1, t1, 2, t2, 3), "", []string{ns, t1}, "end at serial 2"},
		{"ixfr without a copy", nil, seq(2, 1, t1, 2, t2, 2), "", nil, "without a copy"},
		{"soa alone, newer", full(1, ns, t1), seq(2), "", []string{ns, t1}, "SOA alone"},
		{"no final soa", full(1, ns, t1), seq(2, ns, t2), "", []string{ns, t1}, "does not end with the SOA"},
		{"another zone", full(1, ns, t1), append(seq(2, ns), rr(t, "x.other.test. 300 IN TLSA 3 1 1 01"), soa(t, 2)), "", []string{ns, t1}, "outside the zone"},
		{"not starting with the soa", full(1, ns, t1), seq(ns, 2), "", []string{ns, t1}, "does not start"},
		{"empty", full(1, ns, t1), nil, "", []string{ns, t1}, "no records"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := testSecondary(t, filepath.Join(t.TempDir(), "z"))
			if tt.start != nil {
				if _, err := s.apply(tt.start); err != nil {
					t.Fatal(err)
				}
			}
			res, err := s.apply(tt.ans)
			if tt.err != "" {
				if !errors.Is(err, ErrBadTransfer) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want ErrBadTransfer with %q", err, tt.err)
				}
			} else if err != nil || res.Kind != tt.kind {
				t.Fatalf("%+v %v, want kind %s", res, err, tt.kind)
			}
			var got []string
			for _, r := range s.records {
				got = append(got, key(r))
			}
			var want []string
			for _, w := range tt.want {
				want = append(want, key(rr(t, w)))
			}
			if len(got) != len(want) {
				t.Fatalf("copy holds %d records, want %d: %v", len(got), len(want), got)
			}
			for _, w := range want {
				if _, ok := s.records[w]; !ok {
					t.Errorf("copy lacks %s", w)
				}
			}
		})
	}
}

// TestFileRoundTrip: the file written is read back as the same copy, and
// a file of another zone, or not a zone file, is refused and kept.
func TestFileRoundTrip(t *testing.T) {
	file := filepath.Join(t.TempDir(), "devices.test.zone")
	s := testSecondary(t, file)
	if _, err := s.apply([]dns.RR{soa(t, 7), rr(t, "devices.test. 300 IN NS ns1.devices.test."), rr(t, "S1._device.devices.test. 300 IN TLSA 3 1 1 0102"), soa(t, 7)}); err != nil {
		t.Fatal(err)
	}
	if err := s.write(); err != nil {
		t.Fatal(err)
	}
	again := testSecondary(t, file)
	if serial, ok := again.Serial(); !ok || serial != 7 || len(again.records) != 2 {
		t.Fatalf("read back: serial %d %v, %d records", serial, ok, len(again.records))
	}
	for _, bad := range []string{
		"other.test. 300 IN SOA ns1.other.test. h.other.test. 1 3600 600 86400 300\n",
		"devices.test. 300 IN SOA ns1.devices.test. h.devices.test. 1 3600 600 86400 300\nx.other.test. 300 IN TLSA 3 1 1 01\n",
		"not a zone file\n",
	} {
		f := filepath.Join(t.TempDir(), "z")
		os.WriteFile(f, []byte(bad), 0o644)
		core, _ := verify.New(verify.Config{Resolver: noResolver{}})
		_, err := New(Config{Zone: "devices.test", Primary: "ns1.devices.test:853", Identity: s.cfg.Identity, Verifier: core, File: f})
		var fe *FileError
		if !errors.As(err, &fe) {
			t.Errorf("%q: %v, want a *FileError", bad, err)
		}
		if b, _ := os.ReadFile(f); string(b) != bad {
			t.Errorf("%q: the file changed", bad)
		}
	}
}

// noResolver fails every lookup: these tests make no connection.
type noResolver struct{}

func (noResolver) Lookup(context.Context, string, uint16) (*resolver.Result, error) {
	return nil, errors.New("no lookups in this test")
}
