// Package netprefix reads the address lists of access rules: the trusted
// proxies of httpauth, the peers a zone server lets transfer its zone.
// Each entry is a CIDR prefix ("192.0.2.0/24", "2001:db8::/32") or a
// single address ("127.0.0.1", "::1"), the same rule everywhere.
package netprefix

import (
	"fmt"
	"net/netip"
)

// Error reports an entry that is neither a CIDR prefix nor an address.
type Error struct {
	Text string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%q is neither a CIDR prefix nor an address", e.Text)
}

// Parse reads a CIDR prefix, or a single address taken as its own /32 or
// /128 prefix. An IPv4-mapped IPv6 address ("::ffff:192.0.2.1") stands for
// the IPv4 address, as the peers it is compared with are unmapped.
func Parse(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, &Error{Text: s}
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParseList is Parse on every entry, in order; the first bad entry is the
// error.
func ParseList(ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		p, err := Parse(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
