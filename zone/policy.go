package zone

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/miekg/dns"
)

// PolicyFile is the optional file in a zone directory that limits update
// keys: one line per key, "KEY-NAME SUBTREE [TYPE ...]", '#' comments. A
// key without a line may change identity records anywhere in the zone.
const PolicyFile = "update-policy"

// ParsePolicies reads policy lines for zone origin. Subtrees must lie in
// the zone; types must be identity types.
func ParsePolicies(r io.Reader, origin string) (map[string]Policy, error) {
	out := map[string]Policy{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		if len(f) < 2 {
			return nil, fmt.Errorf("zone: policy line %d: want KEY-NAME SUBTREE [TYPE ...]", line)
		}
		key := dns.CanonicalName(f[0])
		if _, ok := dns.IsDomainName(f[0]); !ok {
			return nil, fmt.Errorf("zone: policy line %d: bad key name %q", line, f[0])
		}
		sub := dns.CanonicalName(dns.Fqdn(f[1]))
		if _, ok := dns.IsDomainName(f[1]); !ok || !dns.IsSubDomain(dns.CanonicalName(origin), sub) {
			return nil, fmt.Errorf("zone: policy line %d: subtree %q is not in %s", line, f[1], origin)
		}
		p := Policy{Subtree: sub}
		for _, ts := range f[2:] {
			t, ok := dns.StringToType[strings.ToUpper(ts)]
			if !ok || !IsIdentityType(t) {
				return nil, fmt.Errorf("zone: policy line %d: %q is not an identity type", line, ts)
			}
			p.Types = append(p.Types, t)
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("zone: policy line %d: second line for key %s", line, key)
		}
		out[key] = p
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("zone: policy: %w", err)
	}
	return out, nil
}
