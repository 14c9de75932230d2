package tlsa

import (
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary text to the record and file parsers: they must
// never panic, and whatever they accept must survive a round trip through
// the presentation and wire forms.
func FuzzParse(f *testing.F) {
	f.Add("3 1 1 " + h32)
	f.Add("dev1._device.example.com. 300 IN TLSA 3 1 1 " + h32)
	f.Add("x. IN TLSA ( DANE-TA Cert SHA2-512\n " + h32 + h32 + " ) ; c")
	f.Add(`_443._tcp.h. 3600 IN TYPE52 \# 35 030101` + h32)
	f.Add("3 1 1 (" + h32)
	f.Fuzz(func(t *testing.T, in string) {
		rr, err := Parse(in)
		if err == nil {
			if err := rr.Record.Validate(); err != nil {
				t.Fatalf("Parse accepted invalid data: %v", err)
			}
			back, err := Parse(rr.Record.String())
			if err != nil || !back.Record.Equal(rr.Record) {
				t.Fatalf("round trip of %q: %v", rr.Record.String(), err)
			}
			w, err := ParseRDATA(rr.Record.RDATA())
			if err != nil || !w.Equal(rr.Record) {
				t.Fatalf("wire round trip of %q: %v", rr.Record.String(), err)
			}
			if strings.ContainsAny(rr.Record.String(), "\n()") {
				t.Fatalf("String is not one line: %q", rr.Record.String())
			}
		}
		rrs, err := ParseFile("fuzz", strings.NewReader(in))
		if err == nil {
			for _, r := range rrs {
				if r.Record.Validate() != nil {
					t.Fatalf("ParseFile accepted invalid data")
				}
			}
		}
	})
}

// FuzzMatch feeds arbitrary RRsets (RDATA chunks, each prefixed by a
// one-octet length) to Match against a fixed chain: it must never panic,
// and its result must be self-consistent.
func FuzzMatch(f *testing.F) {
	chain := vectorChain(f, "leaf.pem", "inter.pem")
	leafEE, _ := ForCertificate(chain[0], DANEEE, SelectorSPKI, MatchSHA256)
	interTA, _ := ForCertificate(chain[1], DANETA, SelectorCert, MatchSHA256)
	chunk := func(rs ...Record) []byte {
		var b []byte
		for _, r := range rs {
			d := r.RDATA()
			b = append(append(b, byte(len(d))), d...)
		}
		return b
	}
	f.Add(chunk(leafEE))
	f.Add(chunk(interTA))
	f.Add(chunk(interTA, leafEE))
	f.Add([]byte{3, 2, 1, 0})
	opts := Options{Name: leafName, Time: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	f.Fuzz(func(t *testing.T, in []byte) {
		var records []Record
		for len(in) > 0 && len(records) < 16 {
			n := int(in[0])
			in = in[1:]
			if n > len(in) {
				n = len(in)
			}
			d := in[:n]
			in = in[n:]
			if len(d) < 3 {
				continue
			}
			records = append(records, Record{Usage: Usage(d[0]), Selector: Selector(d[1]), MatchingType: MatchingType(d[2]), Data: d[3:]})
		}
		res := Match(chain, records, opts)
		if res.OK() != (res.Depth >= 0) {
			t.Fatalf("%v with depth %d", res.Reason, res.Depth)
		}
		if res.Reason.String() == "" || strings.HasPrefix(res.Reason.String(), "reason(") {
			t.Fatalf("unknown reason %d", int(res.Reason))
		}
		if res.OK() {
			found := false
			for _, r := range records {
				found = found || r.Equal(res.Record)
			}
			if !found || res.Err != nil || len(res.Path) == 0 {
				t.Fatalf("match on %s not among the records, or without a path", res.Record)
			}
		} else if res.Err == nil {
			t.Fatalf("%v without an explanation", res.Reason)
		}
	})
}
