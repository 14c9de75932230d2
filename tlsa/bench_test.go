package tlsa

import (
	"crypto/x509"
	"testing"
)

func benchMatch(b *testing.B, records func(p *testPKI) []Record) {
	p := newPKI(b)
	chain := []*x509.Certificate{p.leaf.cert, p.inter.cert}
	recs := records(p)
	opts := Options{Name: leafName, Time: testNow}
	b.ReportAllocs()
	for b.Loop() {
		if r := Match(chain, recs, opts); !r.OK() {
			b.Fatal(r.Reason, r.Err)
		}
	}
}

// BenchmarkMatchDANEEE is the common case: 3 1 1 for a device's own key.
func BenchmarkMatchDANEEE(b *testing.B) {
	benchMatch(b, func(p *testPKI) []Record {
		return []Record{mustRecord(b, p.leaf.cert, DANEEE, SelectorSPKI, MatchSHA256)}
	})
}

// BenchmarkMatchDANETA validates a path to an anchor in the chain (2 0 1).
func BenchmarkMatchDANETA(b *testing.B) {
	benchMatch(b, func(p *testPKI) []Record {
		return []Record{mustRecord(b, p.inter.cert, DANETA, SelectorCert, MatchSHA256)}
	})
}

// BenchmarkMatchDANETAKey builds a stand-in anchor from a bare key (2 1 0).
func BenchmarkMatchDANETAKey(b *testing.B) {
	benchMatch(b, func(p *testPKI) []Record {
		return []Record{mustRecord(b, p.root.cert, DANETA, SelectorSPKI, MatchFull)}
	})
}

func BenchmarkParse(b *testing.B) {
	line := "dev1._device.example.com. 300 IN TLSA 3 1 1 " + h32
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(line); err != nil {
			b.Fatal(err)
		}
	}
}
