package resolver

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestVectors runs the fixed vectors in testdata/vectors. Each file states
// its expected outcome and the validation time: "; expect: secure", or
// "; expect: bogus" followed by the RFC 8914 name of the failure the
// validator must report ("; expect: bogus Signature Expired"). A secure
// vector's DNSKEYs must match its DS records, and its RRSIG must verify the
// other records with them; a bogus one must fail for the reason stated,
// not for any other.
func TestVectors(t *testing.T) {
	files, err := filepath.Glob("testdata/vectors/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			expect, at, rrs := readVector(t, f)
			var dss []*dns.DS
			var keys []*dns.DNSKEY
			var data []dns.RR
			var sigs []*dns.RRSIG
			for _, rr := range rrs {
				switch x := rr.(type) {
				case *dns.DS:
					dss = append(dss, x)
				case *dns.DNSKEY:
					keys = append(keys, x)
				case *dns.RRSIG:
					sigs = append(sigs, x)
				default:
					data = append(data, rr)
				}
			}
			st := &zoneState{zone: dns.CanonicalName(keys[0].Hdr.Name), status: Secure}
			for _, k := range keys {
				if matchesDS(k, dss) {
					st.keys = append(st.keys, k)
					st.tags = append(st.tags, k.KeyTag())
				}
			}
			v := &validator{now: func() time.Time { return at }}
			var r *Reason
			if len(st.keys) == 0 {
				r = reasonf(EDEDNSKEYMissing, st.zone, "no DNSKEY matches the DS")
			} else {
				_, _, r = v.verifyRRset(data, sigs, st)
			}
			status, failure, _ := strings.Cut(expect, " ")
			switch status {
			case "secure":
				if r != nil {
					t.Fatalf("want secure, got %s", r)
				}
			case "bogus":
				want, ok := edeByName(failure)
				if !ok {
					t.Fatalf("expectation %q does not name an Extended DNS Error", expect)
				}
				if r == nil {
					t.Fatalf("want bogus (%s), the signature verified", want)
				}
				if r.Code != want {
					t.Fatalf("want bogus with EDE %d (%s), got %s", uint16(want), want, r)
				}
			default:
				t.Fatalf("unknown expectation %q", expect)
			}
		})
	}
}

// edeByName returns the code whose RFC 8914 name is name.
func edeByName(name string) (EDE, bool) {
	for code, n := range edeNames {
		if n == name {
			return code, true
		}
	}
	return 0, false
}

func readVector(t *testing.T, path string) (string, time.Time, []dns.RR) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var expect string
	var at time.Time
	var rrs []dns.RR
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "; expect:"):
			expect = strings.TrimSpace(strings.TrimPrefix(line, "; expect:"))
		case strings.HasPrefix(line, "; time:"):
			ts, err := dns.StringToTime(strings.TrimSpace(strings.TrimPrefix(line, "; time:")))
			if err != nil {
				t.Fatal(err)
			}
			at = time.Unix(int64(ts), 0).UTC()
		case line == "" || strings.HasPrefix(line, ";"):
		default:
			rr, err := dns.NewRR(line)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			rrs = append(rrs, rr)
		}
	}
	if expect == "" || at.IsZero() || len(rrs) == 0 {
		t.Fatalf("%s: needs expect, time and records", path)
	}
	return expect, at, rrs
}

// TestVerificationCap feeds one RRset with many bad signatures under one
// key tag before a good one: the validator gives up after maxVerifications
// checks instead of trying them all (CVE-2023-50387).
func TestVerificationCap(t *testing.T) {
	_, at, rrs := readVector(t, "testdata/vectors/rfc6605-p256.txt")
	var key *dns.DNSKEY
	var data []dns.RR
	var good *dns.RRSIG
	for _, rr := range rrs {
		switch x := rr.(type) {
		case *dns.DNSKEY:
			key = x
		case *dns.RRSIG:
			good = x
		case *dns.A:
			data = append(data, x)
		}
	}
	st := &zoneState{zone: "example.net.", status: Secure, keys: []*dns.DNSKEY{key}, tags: []uint16{key.KeyTag()}}
	v := &validator{now: func() time.Time { return at }}
	for _, bad := range []int{maxVerifications - 1, maxVerifications} {
		var sigs []*dns.RRSIG
		for range bad {
			b := *good
			b.Signature = "AAAA" + b.Signature[4:]
			sigs = append(sigs, &b)
		}
		sigs = append(sigs, good)
		_, _, r := v.verifyRRset(data, sigs, st)
		if fits := bad < maxVerifications; fits != (r == nil) {
			t.Errorf("%d bad signatures before the good one: reason %v", bad, r)
		}
	}
}
