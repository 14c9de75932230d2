package identity

import (
	"errors"
	"strings"
	"testing"
)

func TestParseName(t *testing.T) {
	l63 := strings.Repeat("a", 63)
	l64 := strings.Repeat("a", 64)
	// 253 octets: four labels of 61 plus one of 5, joined by dots.
	n253 := strings.Repeat(strings.Repeat("b", 61)+".", 4) + "ccccc"
	n254 := "d" + n253
	n256 := strings.Repeat(strings.Repeat("e", 63)+".", 4)[:256]
	if len(n253) != 253 || len(n254) != 254 || len(n256) != 256 {
		t.Fatalf("test setup: lengths %d %d %d", len(n253), len(n254), len(n256))
	}
	tests := []struct {
		in     string
		want   string
		kind   Kind
		reason NameReason
	}{
		{in: "mta1.example.com", want: "mta1.example.com", kind: KindHost},
		{in: "MTA1.Example.COM.", want: "mta1.example.com", kind: KindHost},
		{in: "localhost", want: "localhost", kind: KindHost},
		{in: "sensor1._device.example.com", want: "sensor1._device.example.com", kind: KindDevice},
		{in: "Sensor-1._DEVICE.Example.com.", want: "sensor-1._device.example.com", kind: KindDevice},
		{in: "_smtp-client.mta1.example.com", want: "_smtp-client.mta1.example.com", kind: KindService},
		{in: "_user.example.com", want: "_user.example.com", kind: KindUser},
		{in: "c93f1e400f26708f98cb19d936620da35eec8f72e57f9eec01c1afd6._user.example.com", want: "c93f1e400f26708f98cb19d936620da35eec8f72e57f9eec01c1afd6._user.example.com", kind: KindUser},
		{in: "xn--bcher-kva.example", want: "xn--bcher-kva.example", kind: KindHost},
		{in: "XN--MNCHEN-3YA.de", want: "xn--mnchen-3ya.de", kind: KindHost},
		{in: "dev1._device.xn--fiqs8s", want: "dev1._device.xn--fiqs8s", kind: KindDevice},
		{in: l63 + ".example", want: l63 + ".example", kind: KindHost},
		{in: n253, want: n253, kind: KindHost},
		{in: n253 + ".", want: n253, kind: KindHost},
		{in: "123.example.com", want: "123.example.com", kind: KindHost},

		{in: "", reason: ReasonEmpty},
		{in: ".", reason: ReasonEmpty},
		{in: "a..b", reason: ReasonEmptyLabel},
		{in: ".example.com", reason: ReasonEmptyLabel},
		{in: "example.com..", reason: ReasonEmptyLabel},
		{in: l64 + ".example", reason: ReasonLabelTooLong},
		{in: n254, reason: ReasonNameTooLong},
		{in: n256, reason: ReasonNameTooLong},
		{in: `a\.b.example.com`, reason: ReasonEscape},
		{in: `a\065.example.com`, reason: ReasonEscape},
		{in: `sensor\0321._device.example.com`, reason: ReasonEscape},
		{in: "bücher.example", reason: ReasonNonASCII},
		{in: "例え.jp", reason: ReasonNonASCII},
		{in: "a b.example", reason: ReasonBadCharacter},
		{in: "a*b.example", reason: ReasonBadCharacter},
		{in: "*.example.com", reason: ReasonBadCharacter},
		{in: "a_b.example.com", reason: ReasonBadCharacter},
		{in: "_.example.com", reason: ReasonBadCharacter},
		{in: "-a.example", reason: ReasonHyphen},
		{in: "a-.example", reason: ReasonHyphen},
		{in: "_-smtp.example", reason: ReasonHyphen},
		{in: "xn--0.example", reason: ReasonBadALabel},
		{in: "xn--.example", reason: ReasonHyphen},
		{in: "xn--abc-0.example", reason: ReasonBadALabel},
		{in: "xn--99999999999a.example", reason: ReasonBadALabel},
		{in: "xn--a.example", reason: ReasonBadALabel}, // decodes to U+0080, a C1 control
		// Well-formed Punycode whose U-label IDNA2008 refuses (RFC 5892, RFC 5893).
		{in: "xn--a-ecp.example", reason: ReasonBadALabel},     // "a⒈": U+2488 is DISALLOWED
		{in: "xn--bcher-2pa.example", reason: ReasonBadALabel}, // "bÜcher": upper case is mapped, not PVALID
		{in: "xn--ecole-6ed.example", reason: ReasonBadALabel}, // "e" + U+0301: not in NFC
		{in: "xn--a-wbb.example", reason: ReasonBadALabel},     // starts with a combining mark
		{in: "xn--ab-m1t.example", reason: ReasonBadALabel},    // ZERO WIDTH JOINER without its context
		{in: "xn--1-0hc.example", reason: ReasonBadALabel},     // "1א": fails the bidi rule
		{in: "xn--ab--c-ova.example", reason: ReasonBadALabel}, // U-label with "--" in positions 3 and 4
		{in: "xn--xn--bcher-kva.example", reason: ReasonBadALabel},
		{in: "_device.example.com", reason: ReasonShape},
		{in: "_user", reason: ReasonShape},
		{in: "_smtp", reason: ReasonShape},
		{in: "a._tcp.example.com", reason: ReasonShape},
		{in: "_a._b.example.com", reason: ReasonShape},
		{in: "_x._device.example.com", reason: ReasonShape},
		{in: "a._device", reason: ReasonShape},
		{in: "a._device._b.example", reason: ReasonShape},
		{in: "_user._user.example", reason: ReasonShape},
		{in: "x._user", reason: ReasonShape},
		{in: "example._user.com._device.x", reason: ReasonShape},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			n, err := ParseName(tc.in)
			if tc.reason != 0 {
				var ne *NameError
				if !errors.As(err, &ne) {
					t.Fatalf("ParseName(%q) = %q, %v; want NameError %v", tc.in, n, err, tc.reason)
				}
				if ne.Reason != tc.reason {
					t.Fatalf("ParseName(%q) reason = %v, want %v (%v)", tc.in, ne.Reason, tc.reason, err)
				}
				if !strings.Contains(err.Error(), tc.reason.String()) {
					t.Errorf("error %q does not say %q", err, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseName(%q): %v", tc.in, err)
			}
			if n.String() != tc.want || n.Kind() != tc.kind {
				t.Errorf("ParseName(%q) = %q (%v), want %q (%v)", tc.in, n, n.Kind(), tc.want, tc.kind)
			}
			if n.FQDN() != tc.want+"." {
				t.Errorf("FQDN = %q", n.FQDN())
			}
			// Canonical form is a fixed point.
			again, err := ParseName(n.String())
			if err != nil || again != n {
				t.Errorf("ParseName(canonical %q) = %q, %v", n, again, err)
			}
		})
	}
}

func TestNameDomain(t *testing.T) {
	tests := []struct{ in, domain string }{
		{"mta1.example.com", "mta1.example.com"},
		{"sensor1._device.example.com", "example.com"},
		{"_smtp-client.mta1.example.com", "mta1.example.com"},
		{"_user.example.org", "example.org"},
		{HashLocalPart("alice") + "._user.example.org", "example.org"},
	}
	for _, tc := range tests {
		if got := MustParseName(tc.in).Domain(); got != tc.domain {
			t.Errorf("Domain(%q) = %q, want %q", tc.in, got, tc.domain)
		}
	}
}

func TestNameBuilders(t *testing.T) {
	tests := []struct {
		name string
		got  func() (Name, error)
		want string
		bad  bool
	}{
		{"device", func() (Name, error) { return DeviceName("Sensor1", "Example.com.") }, "sensor1._device.example.com", false},
		{"device with dot", func() (Name, error) { return DeviceName("a.b", "example.com") }, "", true},
		{"device underscore", func() (Name, error) { return DeviceName("_a", "example.com") }, "", true},
		{"device bad domain", func() (Name, error) { return DeviceName("a", "_x.example.com") }, "", true},
		{"service", func() (Name, error) { return ServiceName("smtp-client", "mta1.example.com") }, "_smtp-client.mta1.example.com", false},
		{"service underscore given", func() (Name, error) { return ServiceName("_xot", "ns1.example.net.") }, "_xot.ns1.example.net", false},
		{"service in device", func() (Name, error) { return ServiceName("x", "d._device.example.com") }, "", true},
		{"user CA", func() (Name, error) { return UserCAName("Example.ORG") }, "_user.example.org", false},
		{"user CA of device", func() (Name, error) { return UserCAName("a._device.example.org") }, "", true},
		{"hashed user", func() (Name, error) { return HashedUserName("Hugh", "example.com") }, "c93f1e400f26708f98cb19d936620da35eec8f72e57f9eec01c1afd6._user.example.com", false},
		{"hashed user empty", func() (Name, error) { return HashedUserName("", "example.com") }, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := tc.got()
			if tc.bad {
				if err == nil {
					t.Fatalf("got %q, want error", n)
				}
				return
			}
			if err != nil || n.String() != tc.want {
				t.Fatalf("got %q, %v; want %q", n, err, tc.want)
			}
		})
	}
}

func TestNameToUnicode(t *testing.T) {
	// Expected U-labels computed independently (Python's "idna" codec).
	tests := []struct{ in, want string }{
		{"xn--bcher-kva.example", "bücher.example"},
		{"www.xn--mnchen-3ya.de", "www.münchen.de"},
		{"xn--fiqs8s", "中国"},
		{"xn--eckwd4c7cu47r2wf.jp", "ドメイン名例.jp"},
		{"xn--hxajbheg2az3al.xn--e1afmkfd", "παράδειγμα.пример"},
		{"plain.example", "plain.example"},
	}
	for _, tc := range tests {
		if got := MustParseName(tc.in).ToUnicode(); got != tc.want {
			t.Errorf("ToUnicode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"mta1.example.com", "sensor1._device.example.com.", "_smtp-client.mta1.example.com",
		"_user.example.com", "xn--bcher-kva.example", `a\065.b`, "a..b", "xn--abc-", "bücher.example", "xn--a-ecp.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseName(s)
		if err != nil {
			var ne *NameError
			if !errors.As(err, &ne) {
				t.Fatalf("error %v is not a NameError", err)
			}
			return
		}
		c := n.String()
		if len(c) > MaxNameLength || c == "" || strings.HasSuffix(c, ".") || c != strings.ToLower(c) {
			t.Fatalf("ParseName(%q) = %q: not canonical", s, c)
		}
		for _, l := range strings.Split(c, ".") {
			if l == "" || len(l) > MaxLabelLength {
				t.Fatalf("ParseName(%q) = %q: bad label %q", s, c, l)
			}
		}
		again, err := ParseName(c)
		if err != nil || again != n {
			t.Fatalf("canonical %q does not parse to itself: %q, %v", c, again, err)
		}
		_ = n.ToUnicode()
		_ = n.Domain()
	})
}

func TestHashLocalPart(t *testing.T) {
	// The RFC 7929 §3 example: hugh@example.com.
	if got := HashLocalPart("hugh"); got != "c93f1e400f26708f98cb19d936620da35eec8f72e57f9eec01c1afd6" {
		t.Errorf("HashLocalPart(hugh) = %s", got)
	}
	// RFC 7929 does no case folding: another spelling, another label.
	if HashLocalPart("Hugh") == HashLocalPart("hugh") {
		t.Error("HashLocalPart folds case")
	}
	// Non-ASCII local parts are hashed as UTF-8; openssl computes the
	// expected digest independently.
	for _, lp := range []string{"rené", "josé.garcía", "用户"} {
		p := writeTemp(t, t.TempDir(), "lp", []byte(lp))
		out := runOpenSSL(t, "dgst", "-sha256", "-r", p)
		want := strings.Fields(out)[0][:2*HashedLocalPartLength]
		if got := HashLocalPart(lp); got != want {
			t.Errorf("HashLocalPart(%q) = %s, openssl %s", lp, got, want)
		}
	}
}
