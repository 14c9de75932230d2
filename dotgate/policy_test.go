package dotgate

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy(strings.NewReader(`
# comment
Dev1._device.Example.COM.  example.com corp.internal.  rate=20   # trailing comment
alice@example.com           .
svc._device.example.com     example.net rate=0
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Identities(), " "); got != "alice@example.com dev1._device.example.com svc._device.example.com" {
		t.Errorf("identities = %s", got)
	}
	r := p.Rule("DEV1._device.example.com")
	if r == nil || r.Rate != 20 {
		t.Fatalf("rule = %+v", r)
	}
	for q, want := range map[string]bool{
		"example.com": true, "www.Example.com.": true, "a.corp.internal": true,
		"example.org": false, "notexample.com": false, "com": false,
	} {
		if r.Allows(q) != want {
			t.Errorf("Allows(%q) = %v", q, !want)
		}
	}
	if a := p.Rule("alice@example.com"); a == nil || a.Rate != DefaultRate || !a.Allows("anything.org") {
		t.Errorf("alice = %+v", a)
	}
	if s := p.Rule("svc._device.example.com"); s == nil || s.Rate != 0 {
		t.Errorf("svc = %+v", s)
	}
	if p.Rule("other._device.example.com") != nil {
		t.Error("a name off the policy has a rule")
	}
	al, err := p.AllowList()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(al.Patterns(), " "); !strings.Contains(got, "_user.example.com") || strings.Contains(got, "*") {
		t.Errorf("allow-list = %s", got)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "# nothing\n", "no client identity"},
		{"no zone", "a._device.example.com rate=3\n", "no zone"},
		{"bad rate", "a._device.example.com . rate=-1\n", "rate=N"},
		{"bad rate text", "a._device.example.com . rate=fast\n", "rate=N"},
		{"wildcard identity", "*._device.example.com .\n", "want a DNS name"},
		{"bad user", "@example.com .\n", "want a DNS name"},
		{"twice", "a.example.com .\nA.example.com. .\n", "given twice"},
		{"bad zone", "a.example.com exa..mple\n", "not a domain name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			var pe *PolicyError
			if tc.name != "empty" && !errors.As(err, &pe) {
				t.Errorf("not a *PolicyError: %T", err)
			}
		})
	}
}
