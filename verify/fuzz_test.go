package verify

import (
	"crypto/x509"
	"strings"
	"testing"
)

// FuzzAllowList: any pattern text is either refused or gives a list whose
// patterns allow what they say, without panicking.
func FuzzAllowList(f *testing.F) {
	f.Fuzz(func(t *testing.T, text, name string) {
		a, err := ReadAllowList(strings.NewReader(text))
		if err != nil {
			return
		}
		b, err := ParseAllowList(a.Patterns())
		if err != nil {
			t.Fatalf("patterns %q of a parsed list do not parse: %v", a.Patterns(), err)
		}
		if a.Allows(name) != b.Allows(name) {
			t.Fatalf("reparsed list disagrees on %q", name)
		}
		if a.Allows(name) && strings.HasPrefix(name, subtreePrefix) {
			t.Fatalf("a pattern %q is allowed as a name", name)
		}
	})
}

// FuzzClaimedName: any certificate crypto/x509 accepts gets a name or a
// typed refusal, never a panic.
func FuzzClaimedName(f *testing.F) {
	f.Fuzz(func(t *testing.T, der []byte) {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return
		}
		name, err := ClaimedName(c)
		if err != nil && ReasonOf(err) == 0 {
			t.Fatalf("untyped error %v", err)
		}
		if err == nil && name == "" {
			t.Fatal("empty name without error")
		}
	})
}
