package zone

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestParsePolicies(t *testing.T) {
	good := `# fleet keys
fleet-a.devices.test.  _device.devices.test  TLSA
users.devices.test     _user.devices.test.   smimea openpgpkey   # users
`
	ps, err := ParsePolicies(strings.NewReader(good), origin)
	if err != nil {
		t.Fatal(err)
	}
	a := ps["fleet-a.devices.test."]
	if a.Subtree != "_device.devices.test." || len(a.Types) != 1 || a.Types[0] != dns.TypeTLSA {
		t.Fatalf("fleet-a: %+v", a)
	}
	if !a.allows(origin, "s1._device.devices.test.", dns.TypeTLSA) || a.allows(origin, "s1._device.devices.test.", dns.TypeSSHFP) || a.allows(origin, "u._user.devices.test.", dns.TypeTLSA) {
		t.Fatal("fleet-a policy allows the wrong things")
	}
	if u := ps["users.devices.test."]; len(u.Types) != 2 {
		t.Fatalf("users: %+v", u)
	}
	for _, bad := range []string{
		"k. _device.example.com.",
		"k. _device.devices.test. A",
		"k.",
		"k. devices.test.\nk. devices.test.",
		"bad..key devices.test.",
	} {
		if _, err := ParsePolicies(strings.NewReader(bad), origin); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
