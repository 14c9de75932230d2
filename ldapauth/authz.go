package ldapauth

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/dnsbound/dance/identity"
)

// AuthzPolicy says which authenticated users may assume which other
// identities by an authorization identity in their SASL EXTERNAL bind
// (RFC 4422 §3.4.1, RFC 4513 §5.2.1.8). Without a rule, a user may name
// only itself. The zero value (or nil) has no rules.
type AuthzPolicy struct {
	rules map[string][]string // authenticated user -> targets: "bob@d", "*@d", "*"
}

// AuthzError says where an authorization policy file is wrong.
type AuthzError struct {
	Line   int
	Reason string
}

func (e *AuthzError) Error() string {
	return fmt.Sprintf("authz policy: line %d: %s", e.Line, e.Reason)
}

// ParseAuthzPolicy reads rules, one a line:
//
//	# USER              MAY ACT AS
//	admin@example.com   *@example.com       # any user of example.com
//	helpdesk@example.com alice@example.com bob@example.com
//	root@example.com    *                   # any user of any served domain
//
// USER and each target are uid@domain (compared in the canonical form of
// identity.CanonicalUserName and lower-case domains); "*@domain" is every
// user of the domain and "*" every user. "#" starts a comment.
func ParseAuthzPolicy(r io.Reader) (*AuthzPolicy, error) {
	p := &AuthzPolicy{rules: map[string][]string{}}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 2 {
			return nil, &AuthzError{Line: n, Reason: fmt.Sprintf("%q names no identity to act as", f[0])}
		}
		who, err := canonicalUser(f[0])
		if err != nil {
			return nil, &AuthzError{Line: n, Reason: err.Error()}
		}
		for _, t := range f[1:] {
			switch {
			case t == "*":
			case strings.HasPrefix(t, "*@"):
				d, err := canonicalDomain(t[2:])
				if err != nil {
					return nil, &AuthzError{Line: n, Reason: err.Error()}
				}
				t = "*@" + d
			default:
				if t, err = canonicalUser(t); err != nil {
					return nil, &AuthzError{Line: n, Reason: err.Error()}
				}
			}
			p.rules[who] = append(p.rules[who], t)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

// Allows reports whether the authenticated user may act as target (both
// canonical uid@domain).
func (p *AuthzPolicy) Allows(user, target string) bool {
	if user == target {
		return true
	}
	if p == nil {
		return false
	}
	_, dom, _ := strings.Cut(target, "@")
	for _, t := range p.rules[user] {
		if t == "*" || t == target || t == "*@"+dom {
			return true
		}
	}
	return false
}

// canonicalUser returns uid@domain in the form the verification core
// gives user identities: the canonical user name, "@", the lower-case
// Unicode form of the domain.
func canonicalUser(s string) (string, error) {
	i := strings.LastIndexByte(s, '@')
	if i <= 0 || i == len(s)-1 {
		return "", fmt.Errorf("%q is not uid@domain", s)
	}
	u, err := identity.CanonicalUserName(s[:i])
	if err != nil {
		return "", err
	}
	d, err := canonicalDomain(s[i+1:])
	if err != nil {
		return "", err
	}
	return u + "@" + d, nil
}

// canonicalDomain returns the lower-case Unicode form of a plain domain
// name given in either form.
func canonicalDomain(s string) (string, error) {
	n, err := identity.ParseName(s)
	if err != nil {
		return "", err
	}
	if n.Kind() != identity.KindHost {
		return "", fmt.Errorf("%q is not a plain domain name", s)
	}
	return strings.ToLower(n.ToUnicode()), nil
}
