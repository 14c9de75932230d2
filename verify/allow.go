package verify

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/dnsbound/dance/identity"
)

// subtreePrefix starts a pattern that allows every name strictly below the
// rest of the pattern.
const subtreePrefix = "*."

// AllowList is the set of names a server accepts to look up: exact names
// and subtrees. The zero value and nil allow nothing (default deny). An
// AllowList is immutable; to reload one, parse a new list and swap it in
// with Core.SetAllowList.
type AllowList struct {
	exact    map[string]struct{}
	subtrees map[string]struct{} // the names below which every name is allowed
	patterns []string
}

// ParseAllowList reads patterns: an exact owner name
// ("sensor1._device.example.com"), or "*." followed by a name, which allows
// every name strictly below it ("*._device.example.com" allows
// "sensor1._device.example.com" and "a.b._device.example.com", not
// "_device.example.com"). Names are compared case-insensitively, without
// the trailing dot. A pattern that allows everything ("*", "*.") is refused:
// an allow-list is a decision about whose lookups the server pays for.
func ParseAllowList(patterns []string) (*AllowList, error) {
	a := newAllowList()
	for _, p := range patterns {
		if err := a.add(p); err != nil {
			return nil, err
		}
	}
	sort.Strings(a.patterns)
	return a, nil
}

// ReadAllowList reads one pattern a line; blank lines and text after "#"
// are ignored. Errors name the line.
func ReadAllowList(r io.Reader) (*AllowList, error) {
	sc := bufio.NewScanner(r)
	line := 0
	a := newAllowList()
	for sc.Scan() {
		line++
		t := sc.Text()
		if i := strings.IndexByte(t, '#'); i >= 0 {
			t = t[:i]
		}
		for _, f := range strings.Fields(t) {
			if err := a.add(f); err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("allow-list: %w", err)
	}
	sort.Strings(a.patterns)
	return a, nil
}

func newAllowList() *AllowList {
	return &AllowList{exact: make(map[string]struct{}), subtrees: make(map[string]struct{})}
}

func (a *AllowList) add(p string) error {
	orig := p
	// ASCII case only: strings.ToLower would turn the Kelvin sign into
	// "k" and a dotted capital I into "i", so that a pattern naming no
	// DNS name (labels are ASCII, RFC 5890 §2.3.1) would allow one.
	p = asciiLower(strings.TrimSuffix(strings.TrimSpace(p), "."))
	if base, ok := strings.CutPrefix(p, subtreePrefix); ok {
		if err := checkBase(base); err != nil {
			return fmt.Errorf("allow-list: pattern %q: %w", orig, err)
		}
		if _, dup := a.subtrees[base]; !dup {
			a.subtrees[base] = struct{}{}
			a.patterns = append(a.patterns, subtreePrefix+base)
		}
		return nil
	}
	n, err := identity.ParseName(p)
	if err != nil {
		return fmt.Errorf("allow-list: pattern %q: %w", orig, err)
	}
	if _, dup := a.exact[n.String()]; !dup {
		a.exact[n.String()] = struct{}{}
		a.patterns = append(a.patterns, n.String())
	}
	return nil
}

// asciiLower maps A-Z to a-z and leaves every other byte as it is.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// checkBase checks the name below which a subtree pattern allows names. It
// need not be a DANCE owner name itself ("_device.example.com" is not), so
// only the label syntax is checked: letters, digits, hyphens, a leading
// underscore, no empty label, no wildcard.
func checkBase(base string) error {
	if base == "" {
		return fmt.Errorf("a subtree needs a name after %q", subtreePrefix)
	}
	if len(base) > identity.MaxNameLength {
		return fmt.Errorf("name longer than %d octets", identity.MaxNameLength)
	}
	for l := range strings.SplitSeq(base, ".") {
		if l == "" || l == "_" || len(l) > identity.MaxLabelLength {
			return fmt.Errorf("label %q is empty, bare or longer than %d octets", l, identity.MaxLabelLength)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
			case c == '_' && i == 0:
			default:
				return fmt.Errorf("character %q not allowed in a label", c)
			}
		}
	}
	return nil
}

// Allows reports whether name (canonical form: lower case, no trailing dot)
// is on the list.
func (a *AllowList) Allows(name string) bool {
	if a == nil {
		return false
	}
	if _, ok := a.exact[name]; ok {
		return true
	}
	// Every proper suffix that starts after a dot is a name strictly above
	// this one: one map lookup per label, whatever the size of the list.
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			if _, ok := a.subtrees[name[i+1:]]; ok {
				return true
			}
		}
	}
	return false
}

// Patterns returns the list's patterns in canonical form, sorted.
func (a *AllowList) Patterns() []string {
	if a == nil {
		return nil
	}
	return append([]string(nil), a.patterns...)
}

// Len returns the number of patterns.
func (a *AllowList) Len() int {
	if a == nil {
		return 0
	}
	return len(a.patterns)
}

// ZoneNames returns names whose zones hold the TLSA records the list
// allows, for checking that those zones validate (resolver.CheckZones):
// the name below which each subtree pattern allows names, and the parent
// of each exact name (a device's zone is its parent's, whatever the
// number of devices), without duplicates, sorted.
func (a *AllowList) ZoneNames() []string {
	if a == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for base := range a.subtrees {
		add(base)
	}
	for n := range a.exact {
		if p := parentOf(n); strings.Contains(p, ".") {
			add(p)
		} else {
			add(n)
		}
	}
	sort.Strings(out)
	return out
}
