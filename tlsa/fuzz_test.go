package tlsa

import (
	"strings"
	"testing"
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
