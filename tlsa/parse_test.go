package tlsa

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const h32 = "0011223344556677889900112233445566778899001122334455667788990011"

func TestParse(t *testing.T) {
	h64 := h32 + h32
	full := Record{Usage: DANEEE, Selector: SelectorSPKI, MatchingType: MatchSHA256, Data: mustHex(h32)}
	tests := []struct {
		in     string
		owner  string
		ttl    int // -1: none
		want   Record
		reason DataReason // expected DataError reason
		field  string     // expected FieldError field
		syntax bool       // expected ErrSyntax
	}{
		{in: "3 1 1 " + h32, ttl: -1, want: full},
		{in: "  3 1 1 " + strings.ToUpper(h32) + "  ", ttl: -1, want: full},
		{in: "DANE-EE SPKI SHA2-256 " + h32, ttl: -1, want: full},
		{in: "dane-ee spki sha2-256 " + h32, ttl: -1, want: full},
		{in: "3 1 1 " + h32[:10] + " " + h32[10:40] + "\t" + h32[40:], ttl: -1, want: full},
		{in: "3 1 1 ( " + h32[:32] + "\n " + h32[32:] + " )", ttl: -1, want: full},
		{in: "( 03 01 01 " + h32 + " )", ttl: -1, want: full},
		{in: "3 1 1 " + h32 + " ; comment", ttl: -1, want: full},
		{in: "3 1 1 " + h32 + " # comment", ttl: -1, want: full},
		{in: "# heading\n3 1 1 " + h32, ttl: -1, want: full},
		{in: "dev1._device.example.com. 300 IN TLSA 3 1 1 " + h32, owner: "dev1._device.example.com.", ttl: 300, want: full},
		{in: "dev1._device.example.com IN 300 TLSA 3 1 1 " + h32, owner: "dev1._device.example.com", ttl: 300, want: full},
		{in: "dev1._device.example.com TLSA 3 1 1 " + h32, owner: "dev1._device.example.com", ttl: -1, want: full},
		{in: "dev1._device.example.com in tlsa 3 1 1 " + h32, owner: "dev1._device.example.com", ttl: -1, want: full},
		{in: "_443._tcp.h.example. 3600 IN TYPE52 \\# 35 030101" + h32, owner: "_443._tcp.h.example.", ttl: 3600, want: full},
		{in: "_443._tcp.h.example. 3600 IN TLSA \\# 35 030101 " + h32, owner: "_443._tcp.h.example.", ttl: 3600, want: full},
		{in: "x. IN TLSA ( 3 1 1\n  " + h32 + " ) ; trailing", owner: "x.", ttl: -1, want: full},
		{in: "2 0 2 " + h64, ttl: -1, want: Record{Usage: DANETA, Selector: SelectorCert, MatchingType: MatchSHA512, Data: mustHex(h64)}},
		{in: "PKIX-TA Cert Full 3082", ttl: -1, want: Record{Usage: PKIXTA, Selector: SelectorCert, MatchingType: MatchFull, Data: []byte{0x30, 0x82}}},
		{in: "PKIX-EE 1 0 00", ttl: -1, want: Record{Usage: PKIXEE, Selector: SelectorSPKI, MatchingType: MatchFull, Data: []byte{0}}},
		{in: "PrivCert PrivSel PrivMatch 01", ttl: -1, want: Record{Usage: 255, Selector: 255, MatchingType: 255, Data: []byte{1}}},
		{in: "4 2 3 abcd", ttl: -1, want: Record{Usage: 4, Selector: 2, MatchingType: 3, Data: []byte{0xab, 0xcd}}},

		{in: "3 1 1", reason: DataEmpty},
		{in: "3 1 0 ", reason: DataEmpty},
		{in: "3 1 1 " + h32[:63], reason: DataOddLength},
		{in: "3 1 1 " + h32[:62] + "zz", reason: DataNotHex},
		{in: "3 1 1 0x" + h32[:62], reason: DataNotHex},
		{in: "3 1 1 " + h32[:62], reason: DataWrongLength},
		{in: "3 1 2 " + h32, reason: DataWrongLength},
		{in: "3 1 1 " + h64, reason: DataWrongLength},
		{in: "3 1 0 " + strings.Repeat("ab", maxDataLen+1), reason: DataTooLong},
		{in: "3 1 255 " + strings.Repeat("ab", maxDataLen+1), reason: DataTooLong},
		{in: "256 1 1 " + h32, field: "usage"},
		{in: "-1 1 1 " + h32, syntax: true},
		{in: "DANE-XX 1 1 " + h32, syntax: true},
		{in: "3 PKI 1 " + h32, field: "selector"},
		{in: "3 1 SHA-256 " + h32, field: "matching type"},
		{in: "3 1 +1 " + h32, field: "matching type"},
		{in: "3 1", syntax: true},
		{in: "", syntax: true},
		{in: "; only a comment", syntax: true},
		{in: "3 1 1 " + h32 + "\n3 1 1 " + h32, syntax: true},
		{in: "x. 300 IN A 192.0.2.1", syntax: true},
		{in: "x. 300 CH TLSA 3 1 1 " + h32, syntax: true},
		{in: "x. 300 IN IN TLSA 3 1 1 " + h32, syntax: true},
		{in: "x. 99999999999 TLSA 3 1 1 " + h32, syntax: true},
		{in: "x. y. TLSA 3 1 1 " + h32, syntax: true},
		{in: `x\.y. TLSA 3 1 1 ` + h32, syntax: true},
		{in: "@ TLSA 3 1 1 " + h32, syntax: true},
		{in: "TLSA 3 1 1 " + h32, syntax: true},
		{in: "3 1 1 (" + h32, syntax: true},
		{in: "3 1 1 " + h32 + ")", syntax: true},
		{in: "3 1 1 \"" + h32 + "\"", syntax: true},
		{in: "3 1 1 " + h32 + "\x00", syntax: true},
		{in: "x. TLSA \\# 3 0301", syntax: true},
		{in: "x. TLSA \\# zz 030101", syntax: true},
		{in: "x. TLSA \\#", syntax: true},
		{in: "x. TLSA \\# 2 0301", syntax: true},
	}
	for _, tc := range tests {
		name := tc.in
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			rr, err := Parse(tc.in)
			var de *DataError
			var fe *FieldError
			switch {
			case tc.reason != 0:
				if !errors.As(err, &de) || de.Reason != tc.reason {
					t.Fatalf("err %v, want data error %v", err, tc.reason)
				}
				return
			case tc.field != "":
				if !errors.As(err, &fe) || fe.Field != tc.field {
					t.Fatalf("err %v, want field error on %s", err, tc.field)
				}
				return
			case tc.syntax:
				if !errors.Is(err, ErrSyntax) {
					t.Fatalf("err %v, want a syntax error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !rr.Record.Equal(tc.want) {
				t.Errorf("record %s, want %s", rr.Record, tc.want)
			}
			if rr.Owner != tc.owner {
				t.Errorf("owner %q, want %q", rr.Owner, tc.owner)
			}
			if rr.HasTTL != (tc.ttl >= 0) || tc.ttl >= 0 && rr.TTL != uint32(tc.ttl) {
				t.Errorf("TTL %d (%v), want %d", rr.TTL, rr.HasTTL, tc.ttl)
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint8
		ok   bool
	}{
		{"3", 3, true}, {"255", 255, true}, {"DANE-EE", 3, true}, {"dane-ta", 2, true},
		{"DANE-EE(3)", 3, true}, {"PKIX-TA(0)", 0, true}, {"DANE-EE(2)", 0, false},
		{"256", 0, false}, {"", 0, false}, {"+3", 0, false}, {"DANE", 0, false}, {"(3)", 0, false},
	} {
		u, err := ParseUsage(tc.in)
		if (err == nil) != tc.ok || tc.ok && uint8(u) != tc.want {
			t.Errorf("ParseUsage(%q) = %d, %v", tc.in, u, err)
		}
	}
	if s, err := ParseSelector("SPKI(1)"); err != nil || s != SelectorSPKI {
		t.Errorf("ParseSelector: %v %v", s, err)
	}
	if m, err := ParseMatchingType("SHA2-512"); err != nil || m != MatchSHA512 {
		t.Errorf("ParseMatchingType: %v %v", m, err)
	}
	var fe *FieldError
	if _, err := ParseMatchingType("SHA-256"); !errors.As(err, &fe) || fe.Field != "matching type" {
		t.Errorf("ParseMatchingType(SHA-256): %v", err)
	}
}

func mustHex(s string) []byte {
	b, err := DecodeData([]string{s}, MatchFull)
	if err != nil {
		panic(err)
	}
	return b
}

// TestParseFileVectors runs the files under testdata/parse. Each states its
// outcome in its first line: "; expect: N records" or
// "; expect: error LINE: TEXT" (TEXT a part of the message).
func TestParseFileVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "parse", "*.tlsa"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			first, _ := bufio.NewReader(f).ReadString('\n')
			expect, ok := strings.CutPrefix(strings.TrimSpace(first), "; expect: ")
			if !ok {
				t.Fatalf("first line %q has no expectation", first)
			}
			if _, err := f.Seek(0, 0); err != nil {
				t.Fatal(err)
			}
			rrs, err := ParseFile(file, f)
			if rest, ok := strings.CutPrefix(expect, "error "); ok {
				line, text, _ := strings.Cut(rest, ": ")
				want := file + ":" + line + ": "
				var pe *ParseError
				if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), text) {
					t.Fatalf("error %v, want %q ... %q", err, want, text)
				}
				if n, _ := strconv.Atoi(line); pe.Line != n || pe.File != file {
					t.Errorf("ParseError at %s:%d", pe.File, pe.Line)
				}
				return
			}
			n, err2 := strconv.Atoi(strings.TrimSuffix(expect, " records"))
			if err2 != nil {
				t.Fatalf("bad expectation %q", expect)
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rrs) != n {
				t.Fatalf("%d records, want %d", len(rrs), n)
			}
			for _, rr := range rrs {
				// Every record must survive a round trip through its
				// presentation form and its wire form.
				back, err := Parse(rr.Record.String())
				if err != nil || !back.Record.Equal(rr.Record) {
					t.Errorf("round trip of %s: %s, %v", rr.Record, back.Record, err)
				}
				w, err := ParseRDATA(rr.Record.RDATA())
				if err != nil || !w.Equal(rr.Record) {
					t.Errorf("wire round trip of %s: %v", rr.Record, err)
				}
			}
		})
	}
}

func TestParseFileBoundsRecords(t *testing.T) {
	in := "x. IN TLSA ( 3 1 0\n" + strings.Repeat(strings.Repeat("ab", 1000)+"\n", 200) + ")\n"
	_, err := ParseFile("big", strings.NewReader(in))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 1 || !errors.Is(err, ErrSyntax) {
		t.Fatalf("err %v, want a syntax error at line 1", err)
	}
	long := "3 1 0 " + strings.Repeat("a", maxLine+10)
	if _, err := ParseFile("long", strings.NewReader(long)); !errors.Is(err, ErrSyntax) {
		t.Fatalf("overlong line: %v", err)
	}
}

func TestParseFileOwnerInheritance(t *testing.T) {
	in := "a.example. 300 IN TLSA 3 1 1 " + h32 + "\n" +
		"           300 IN TLSA 3 1 2 " + h32 + h32 + "\n" +
		"b.example. IN TLSA 3 0 1 " + h32 + "\n"
	rrs, err := ParseFile("x", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	owners := []string{"a.example.", "a.example.", "b.example."}
	for i, rr := range rrs {
		if rr.Owner != owners[i] {
			t.Errorf("record %d owner %q, want %q", i, rr.Owner, owners[i])
		}
	}
}

func TestZoneLineAndString(t *testing.T) {
	r := Record{Usage: DANEEE, Selector: SelectorSPKI, MatchingType: MatchSHA256, Data: mustHex(strings.ToUpper(h32))}
	if got, want := r.String(), "3 1 1 "+h32; got != want {
		t.Errorf("String %q, want %q", got, want)
	}
	for _, owner := range []string{"dev1._device.example.com", "dev1._device.example.com."} {
		if got, want := r.ZoneLine(owner, 300), "dev1._device.example.com. 300 IN TLSA 3 1 1 "+h32; got != want {
			t.Errorf("ZoneLine %q, want %q", got, want)
		}
	}
	rr, err := Parse(r.ZoneLine("x.example", 60))
	if err != nil || !rr.Record.Equal(r) || rr.Owner != "x.example." || rr.TTL != 60 {
		t.Errorf("ZoneLine does not parse back: %+v %v", rr, err)
	}
	names := map[string]string{
		PKIXTA.String(): "PKIX-TA", PKIXEE.String(): "PKIX-EE", DANETA.String(): "DANE-TA", DANEEE.String(): "DANE-EE",
		SelectorCert.String(): "Cert", SelectorSPKI.String(): "SPKI",
		MatchFull.String(): "Full", MatchSHA256.String(): "SHA2-256", MatchSHA512.String(): "SHA2-512",
		Usage(7).String(): "7", Selector(9).String(): "9", MatchingType(200).String(): "200",
	}
	for got, want := range names {
		if got != want {
			t.Errorf("mnemonic %q, want %q", got, want)
		}
	}
}

func TestDNSConversion(t *testing.T) {
	r := Record{Usage: DANETA, Selector: SelectorCert, MatchingType: MatchSHA256, Data: mustHex(h32)}
	d := r.ToDNS("dev1._device.example.com", 300)
	if d.Hdr.Name != "dev1._device.example.com." || d.Hdr.Ttl != 300 || d.Usage != 2 || d.Selector != 0 || d.MatchingType != 1 {
		t.Fatalf("ToDNS: %v", d)
	}
	// The DNS library's own presentation form parses back to the record.
	rr, err := Parse(d.String())
	if err != nil || !rr.Record.Equal(r) {
		t.Fatalf("Parse(%q): %v %v", d.String(), rr.Record, err)
	}
	back, err := FromDNS(d)
	if err != nil || !back.Equal(r) {
		t.Fatalf("FromDNS: %v %v", back, err)
	}
	d.Certificate = h32[:10]
	var de *DataError
	if _, err := FromDNS(d); !errors.As(err, &de) || de.Reason != DataWrongLength {
		t.Errorf("FromDNS short digest: %v", err)
	}
	d.Certificate = "zz"
	if _, err := FromDNS(d); !errors.As(err, &de) || de.Reason != DataNotHex {
		t.Errorf("FromDNS bad hex: %v", err)
	}
	if _, err := FromDNS(nil); err == nil {
		t.Errorf("FromDNS(nil) succeeded")
	}
}
