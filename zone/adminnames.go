package zone

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// Administrators of the admin API (zone/admin) can be authenticated by DANE:
// their TLSA records are looked up like any identity's, often in this very
// zone. Update keys (RFC 2136) must then never be able to write at those
// names, or any key, however narrow its policy, could publish a record there
// and log in as an administrator, who can write anywhere and roll the keys.
// Two checks keep the admin names and the update keys' reach apart:
//
//   - CheckPolicy, at configuration time (zone/server.New): a key whose grant
//     (its Policy's subtree, or the whole zone without one) overlaps an admin
//     name is refused, so the separation is visible in the configuration;
//   - Update, at update time: a record whose owner is an admin name, or a
//     wildcard that could answer for one (RFC 4592), is refused whatever the
//     policy, for callers that skip CheckPolicy.
//
// Record types do not matter: an admin name is off limits to update keys
// for every type, deletions included (deleting an administrator's record is
// a denial of service against the admin plane).

// adminPattern is one admin name pattern in canonical form (lower case,
// fully qualified): an exact name, or, with below set, every name strictly
// below base (the "*.NAME" of the verification core's allow-list).
type adminPattern struct {
	base  string
	below bool
}

func (a adminPattern) String() string {
	if a.below {
		return "*." + a.base
	}
	return a.base
}

// parseAdminPatterns reads patterns in the allow-list syntax ("NAME" or
// "*.NAME", any case, with or without the trailing dot) and keeps those
// that can match a name in the zone at origin: the others name identities
// elsewhere, which no update to this zone can reach.
func parseAdminPatterns(origin string, patterns []string) ([]adminPattern, error) {
	var out []adminPattern
	for _, p := range patterns {
		s := strings.TrimSpace(p)
		base, below := strings.CutPrefix(s, "*.")
		if base == "" || base == "." || base == "*" {
			return nil, fmt.Errorf("zone: admin name %q: want NAME or *.NAME", p)
		}
		if _, ok := dns.IsDomainName(base); !ok {
			return nil, fmt.Errorf("zone: admin name %q: not a domain name", p)
		}
		a := adminPattern{base: dns.CanonicalName(base), below: below}
		if strings.Contains(a.base, "*") {
			return nil, fmt.Errorf("zone: admin name %q: an asterisk only as the leftmost label", p)
		}
		if !a.overlapsTree(origin) {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

// isStrictSub reports whether child lies strictly below parent (both
// canonical).
func isStrictSub(parent, child string) bool {
	return parent != child && dns.IsSubDomain(parent, child)
}

// matches reports whether name (canonical) is one of the names a.
func (a adminPattern) matches(name string) bool {
	if a.below {
		return isStrictSub(a.base, name)
	}
	return name == a.base
}

// overlapsTree reports whether some name at or below sub (canonical) is
// one of the names a.
func (a adminPattern) overlapsTree(sub string) bool {
	if a.below {
		// Every name strictly below base: sub lies below base, or base at
		// or below sub (then base's children are below sub too).
		return dns.IsSubDomain(a.base, sub) || dns.IsSubDomain(sub, a.base)
	}
	return dns.IsSubDomain(sub, a.base)
}

// overlapsBelow reports whether some name strictly below parent
// (canonical) is one of the names a: the names a wildcard *.parent can
// answer for (RFC 4592 §2.2).
func (a adminPattern) overlapsBelow(parent string) bool {
	if a.below {
		return dns.IsSubDomain(a.base, parent) || dns.IsSubDomain(parent, a.base)
	}
	return isStrictSub(parent, a.base)
}

// wildcardParent returns P for a wildcard owner "*.P", and false for other
// names.
func wildcardParent(name string) (string, bool) {
	p, ok := strings.CutPrefix(name, wildcardLabel+".")
	return p, ok && p != ""
}

// reaches reports whether records written at owner (canonical) could be
// served at one of the names a: owner is one of them, or it is a wildcard
// whose expansions include one of them.
func (a adminPattern) reaches(owner string) bool {
	if p, ok := wildcardParent(owner); ok {
		return a.overlapsBelow(p)
	}
	return a.matches(owner)
}

// grantOverlaps reports whether a key allowed to write at or below sub
// (canonical; a Policy subtree) could write at one of the names a. A
// subtree that is itself a wildcard "*.P" holds one writable name, the
// wildcard, whose expansions are every name below P.
func (a adminPattern) grantOverlaps(sub string) bool {
	if p, ok := wildcardParent(sub); ok {
		return a.overlapsBelow(p)
	}
	return a.overlapsTree(sub)
}

// AdminOverlapError is a configuration in which an update key could write
// at an administrator's name: CheckPolicy's error.
type AdminOverlapError struct {
	// Key is the update key's name.
	Key string
	// Subtree is where the key may write (the zone's apex for a key
	// without a Policy subtree).
	Subtree string
	// Pattern is the admin name pattern it overlaps.
	Pattern string
}

func (e *AdminOverlapError) Error() string {
	return fmt.Sprintf("zone: update key %s may write at or below %s, which overlaps the admin names %s: update keys must not be able to publish an administrator's identity",
		e.Key, e.Subtree, e.Pattern)
}

// adminNames returns the admin name patterns the zone protects from
// updates (Options.AdminNames that can match a name in the zone), in
// canonical form.
func (z *Zone) adminNames() []string {
	out := make([]string, len(z.admin))
	for i, a := range z.admin {
		out[i] = a.String()
	}
	return out
}

// CheckPolicy returns an *AdminOverlapError when the update key named key,
// limited by p, could write at one of the zone's admin names
// (Options.AdminNames), whatever the types p allows. A key without a Policy
// subtree may write anywhere in the zone and so overlaps every admin name
// in it. Call it for every update key when the keys or policies are set or
// reloaded; Update refuses such writes in any case.
func (z *Zone) CheckPolicy(key string, p Policy) error {
	sub := z.settings.Origin
	if p.Subtree != "" {
		sub = dns.CanonicalName(p.Subtree)
	}
	for _, a := range z.admin {
		if a.grantOverlaps(sub) {
			return &AdminOverlapError{Key: dns.CanonicalName(key), Subtree: sub, Pattern: a.String()}
		}
	}
	return nil
}

// checkAdminName refuses an update record at owner (canonical) that could
// be served at an admin name.
func (z *Zone) checkAdminName(owner string) error {
	for _, a := range z.admin {
		if a.reaches(owner) {
			return updateErr(dns.RcodeRefused, "%s: within the admin names %s, which update keys may not write", owner, a)
		}
	}
	return nil
}
