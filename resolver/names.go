package resolver

import (
	"bytes"
	"strings"

	"github.com/miekg/dns"
)

// wireLabels returns the labels of name in wire form (escapes resolved),
// lower-cased as RFC 4034 §6.2 requires for canonical comparison. A name that
// does not pack yields nil.
func wireLabels(name string) [][]byte {
	buf := make([]byte, 256)
	off, err := dns.PackDomainName(dns.Fqdn(name), buf, 0, nil, false)
	if err != nil {
		return nil
	}
	buf = buf[:off]
	var labels [][]byte
	for i := 0; i < len(buf) && buf[i] != 0; {
		l := int(buf[i])
		if i+1+l > len(buf) {
			return nil
		}
		labels = append(labels, bytes.ToLower(buf[i+1:i+1+l]))
		i += 1 + l
	}
	return labels
}

// canonicalCompare orders two names as RFC 4034 §6.1 does: label by label
// from the right, each label compared as lower-cased octets, a missing label
// sorting first.
func canonicalCompare(a, b string) int {
	la, lb := wireLabels(a), wireLabels(b)
	i, j := len(la)-1, len(lb)-1
	for i >= 0 && j >= 0 {
		if c := bytes.Compare(la[i], lb[j]); c != 0 {
			return c
		}
		i--
		j--
	}
	switch {
	case i < 0 && j < 0:
		return 0
	case i < 0:
		return -1
	default:
		return 1
	}
}

// nsecCovers reports whether name falls strictly between owner and next in
// canonical order, counting the wrap-around of the last NSEC in a zone
// (RFC 4034 §4.1.1).
func nsecCovers(owner, next, name string) bool {
	c1 := canonicalCompare(owner, name)
	c2 := canonicalCompare(name, next)
	if canonicalCompare(owner, next) < 0 {
		return c1 < 0 && c2 < 0
	}
	return c1 < 0 || c2 < 0
}

// isBelow reports whether child is parent or a name below it.
func isBelow(parent, child string) bool {
	return dns.IsSubDomain(dns.CanonicalName(parent), dns.CanonicalName(child))
}

// isStrictlyBelow reports whether child is a proper descendant of parent.
func isStrictlyBelow(parent, child string) bool {
	return isBelow(parent, child) && !strings.EqualFold(dns.Fqdn(parent), dns.Fqdn(child))
}

// commonAncestor returns the longest name that is an ancestor-or-self of
// both a and b.
func commonAncestor(a, b string) string {
	a, b = dns.CanonicalName(a), dns.CanonicalName(b)
	n := dns.CompareDomainName(a, b)
	if n == 0 {
		return "."
	}
	labels := dns.SplitDomainName(a)
	return dns.Fqdn(strings.Join(labels[len(labels)-n:], "."))
}

// ancestorWithLabels returns the ancestor-or-self of name with n labels.
func ancestorWithLabels(name string, n int) string {
	labels := dns.SplitDomainName(name)
	if n <= 0 {
		return "."
	}
	if n >= len(labels) {
		return dns.CanonicalName(name)
	}
	return dns.CanonicalName(strings.Join(labels[len(labels)-n:], "."))
}

// namesBetween lists the names strictly below top down to and including
// bottom, top-down order. bottom must be at or below top.
func namesBetween(top, bottom string) []string {
	var out []string
	for n := dns.CanonicalName(bottom); n != top && n != "."; n = parentName(n) {
		out = append(out, n)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
