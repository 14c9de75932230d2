package ldapauth

import (
	"errors"
	"strings"
	"testing"
)

// TestParseLDIF: folded lines, base64 values and comments are read; what
// is not a directory of content records is refused with its line.
func TestParseLDIF(t *testing.T) {
	d, err := ParseLDIF(strings.NewReader("version: 1\n\n# c\ndn: uid=a,dc=x\ncn: long\n  name\ndescription:: w6k=\r\n\n\n\ndn: dc=x\ndc: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := d.Lookup("UID=a, dc=X")
	if d.Entries() != 2 || e == nil || e.values("cn")[0] != "long name" || e.values("description")[0] != "é" {
		t.Fatalf("parsed %+v", e)
	}
	cases := []struct {
		name, in string
		line     int
	}{
		{"no dn", "cn: x\n", 1},
		{"continuation first", " x\n", 1},
		{"duplicate", "dn: dc=x\n\ndn: DC=x\n", 3},
		{"changetype", "dn: dc=x\nchangetype: add\n", 1},
		{"url value", "dn: dc=x\njpegPhoto:< file:///etc/passwd\n", 1},
		{"bad base64", "dn: dc=x\ncn:: !!!\n", 1},
		{"bad dn", "dn: nonsense\n", 1},
		{"no colon", "dn: dc=x\nnonsense\n", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseLDIF(strings.NewReader(tc.in))
			var le *LDIFError
			if !errors.As(err, &le) || le.Line != tc.line {
				t.Errorf("err = %v, want an LDIFError at line %d", err, tc.line)
			}
		})
	}
}

// TestParseAuthzPolicy: rules are read in canonical form; malformed lines
// are refused with their line.
func TestParseAuthzPolicy(t *testing.T) {
	p, err := ParseAuthzPolicy(strings.NewReader("# rules\nHelpDesk@Example.TEST alice@example.test *@other.test\nroot@example.test * # all\n"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		user, target string
		want         bool
	}{
		{"helpdesk@example.test", "alice@example.test", true},
		{"helpdesk@example.test", "bob@other.test", true},
		{"helpdesk@example.test", "bob@example.test", false},
		{"alice@example.test", "helpdesk@example.test", false},
		{"alice@example.test", "alice@example.test", true},
		{"root@example.test", "anyone@else.test", true},
	}
	for _, tc := range cases {
		if got := p.Allows(tc.user, tc.target); got != tc.want {
			t.Errorf("Allows(%s, %s) = %v", tc.user, tc.target, got)
		}
	}
	var nilPolicy *AuthzPolicy
	if nilPolicy.Allows("a@b.test", "c@b.test") || !nilPolicy.Allows("a@b.test", "a@b.test") {
		t.Error("nil policy")
	}
	for _, in := range []string{"alice@example.test\n", "alice alice@example.test\n", "a@example.test b@x._device.example.test\n", "a@example.test *@\n", "a@example.test b c\n"} {
		_, err := ParseAuthzPolicy(strings.NewReader("# first\n" + in))
		var ae *AuthzError
		if !errors.As(err, &ae) || ae.Line != 2 {
			t.Errorf("%q: err = %v, want an AuthzError at line 2", in, err)
		}
	}
}
