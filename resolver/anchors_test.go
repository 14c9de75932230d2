package resolver

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestRootAnchors checks the built-in IANA root anchors: the key tags are
// 20326 and 38696, computed from the DNSKEY data, and each DS digest is the
// SHA-256 of the matching DNSKEY.
func TestRootAnchors(t *testing.T) {
	a := RootAnchors()
	an := a.closest("example.com.")
	if an == nil || an.zone != "." {
		t.Fatalf("closest anchor for example.com. = %v, want the root", an)
	}
	if len(an.ds) != 2 || len(an.dnskeys) != 2 {
		t.Fatalf("%d DS and %d DNSKEY, want 2 and 2", len(an.ds), len(an.dnskeys))
	}
	want := map[uint16]bool{20326: true, 38696: true}
	for _, k := range an.dnskeys {
		tag := k.KeyTag()
		if !want[tag] {
			t.Errorf("DNSKEY with key tag %d, want one of 20326, 38696", tag)
		}
		if k.Flags != dns.ZONE|dns.SEP || k.Algorithm != dns.RSASHA256 {
			t.Errorf("key %d: flags %d algorithm %d", tag, k.Flags, k.Algorithm)
		}
		if !matchesDS(k, an.ds) {
			t.Errorf("key %d matches no built-in DS", tag)
		}
		// Cross-check the digest code against miekg/dns's own.
		if got, lib := dsDigest(k, dns.SHA256), k.ToDS(dns.SHA256).Digest; !strings.EqualFold(got, lib) {
			t.Errorf("key %d: digest %s, library %s", tag, got, lib)
		}
	}
	for _, d := range an.ds {
		if !want[d.KeyTag] {
			t.Errorf("DS with key tag %d", d.KeyTag)
		}
	}
}

func TestParseAnchors(t *testing.T) {
	tests := []struct {
		desc    string
		in      string
		wantErr bool
		lookup  string
		zone    string
	}{
		{desc: "DS", in: "example.com. IN DS 1 13 2 0011", lookup: "a.b.example.com.", zone: "example.com."},
		{desc: "DNSKEY with comment", in: "; private tree\n_device.example.com. 3600 IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==",
			lookup: "dev1._device.example.com.", zone: "_device.example.com."},
		{desc: "closest anchor wins", in: ". IN DS 1 8 2 00\nexample.com. IN DS 2 13 2 00\n", lookup: "www.example.com.", zone: "example.com."},
		{desc: "outside every anchor", in: "example.com. IN DS 1 13 2 00", lookup: "example.org.", zone: ""},
		{desc: "wrong type", in: "example.com. IN A 192.0.2.1", wantErr: true},
		{desc: "not a zone key", in: "example.com. IN DNSKEY 0 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==", wantErr: true},
		{desc: "empty", in: "; nothing\n", wantErr: true},
		{desc: "garbage", in: "example.com. IN DS x y z", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			a, err := ParseAnchorsString(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			an := a.closest(tc.lookup)
			got := ""
			if an != nil {
				got = an.zone
			}
			if got != tc.zone {
				t.Errorf("closest(%s) = %q, want %q", tc.lookup, got, tc.zone)
			}
		})
	}
}

func TestCanonicalOrder(t *testing.T) {
	// RFC 4034 §6.1 example, in order.
	names := []string{"example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.",
		"zABC.a.EXAMPLE.", "z.example.", "\\001.z.example.", "*.z.example.", "\\200.z.example."}
	for i := 0; i+1 < len(names); i++ {
		if c := canonicalCompare(names[i], names[i+1]); c >= 0 {
			t.Errorf("compare(%s, %s) = %d, want < 0", names[i], names[i+1], c)
		}
		if c := canonicalCompare(names[i+1], names[i]); c <= 0 {
			t.Errorf("compare(%s, %s) = %d, want > 0", names[i+1], names[i], c)
		}
	}
	if canonicalCompare("A.example.", "a.EXAMPLE.") != 0 {
		t.Error("case must not matter")
	}
}
