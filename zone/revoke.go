package zone

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/tlsa"
)

// Revocation. Removing an identity's records does not revoke it when a
// wildcard covers the name: the name then stops existing and is answered
// from the wildcard (RFC 4592 §3.3.1), so a device an organisation CA
// issued, published with its own record and the CA's at
// *._device.DOMAIN, is still authenticated through the CA (DANE-TA).
// Revoke therefore leaves at the name one TLSA record, tlsa.RevocationMarker:
// a name that owns records is never answered from a wildcard (RFC 4592
// §2.2.2), and the marker matches no key. It is published whether or not a
// wildcard covers the name today, so that a wildcard added later does not
// bring a revoked identity back.
//
// A revoked name keeps its marker until an explicit step lifts it: the
// admin API's replace (dance zone add --replace) or remove. Adding records
// beside the marker is refused (ErrRevoked), and RFC 2136 update keys
// cannot change a revoked name at all.

// ErrRevoked is wrapped by the UpdateError refusing a change that would
// add to, or (for update keys) lift, a revocation.
var ErrRevoked = errors.New("the name is revoked")

// isMarker reports whether rr is the revocation marker.
func isMarker(rr dns.RR) bool {
	t, ok := rr.(*dns.TLSA)
	if !ok {
		return false
	}
	data, err := hex.DecodeString(t.Certificate)
	if err != nil {
		return false
	}
	return tlsa.Record{Usage: tlsa.Usage(t.Usage), Selector: tlsa.Selector(t.Selector), MatchingType: tlsa.MatchingType(t.MatchingType), Data: data}.IsRevocationMarker()
}

// holdsMarker reports whether the TLSA RRset rrs holds the marker.
func holdsMarker(rrs []dns.RR) bool {
	for _, rr := range rrs {
		if isMarker(rr) {
			return true
		}
	}
	return false
}

// Revoked reports whether the identity at name is revoked: its TLSA
// RRset holds the revocation marker.
func (z *Zone) Revoked(name string) bool {
	return holdsMarker(z.Get(dns.Fqdn(name), dns.TypeTLSA))
}

// CoveringWildcard returns the owner of the wildcard that answers for
// name when name owns no records of its own (RFC 4592 §3.3.1: the
// wildcard child of the closest encloser), or "" when none would: no such
// wildcard, or name has names below it and so exists anyway, an empty
// non-terminal that is never expanded (§2.2.2). The records at name are
// set aside, so it tells what removing them would leave.
func (z *Zone) CoveringWildcard(name string) string {
	name = dns.CanonicalName(dns.Fqdn(name))
	origin := z.settings.Origin
	if !dns.IsSubDomain(origin, name) || name == origin {
		return ""
	}
	z.mu.RLock()
	defer z.mu.RUnlock()
	if z.ents[name] > 0 {
		return ""
	}
	self := 0
	if z.names[name] != nil {
		self = 1 // name counts in the ents of each of its ancestors
	}
	for p := parent(name); p != ""; p = parent(p) {
		if z.names[p] != nil || z.ents[p]-self > 0 || p == origin {
			w := wildcardLabel + "." + p
			if w == name || z.names[w] == nil {
				return ""
			}
			return w
		}
	}
	return ""
}

// Revoke removes every identity record at name and publishes
// tlsa.RevocationMarker there alone, with the zone's default TTL. It
// returns the serial after the change and the wildcard that would answer
// for the name without the marker (CoveringWildcard), "" if none. A name
// without records can be revoked: a device known only through its CA's
// wildcard is revoked the same way. Like Apply, it is the admin API's
// path: administrators' names (Options.AdminNames) can be revoked too.
func (z *Zone) Revoke(name string) (serial uint32, wildcard string, err error) {
	name = dns.CanonicalName(dns.Fqdn(name))
	if err := z.checkOwner(name); err != nil {
		return 0, "", err
	}
	if name == z.settings.Origin {
		return 0, "", updateErr(dns.RcodeRefused, "%s: the apex is not an identity", name)
	}
	marker, err := dns.NewRR(fmt.Sprintf("%s %d IN TLSA %s", name, z.settings.TTL, tlsa.RevocationMarker))
	if err != nil {
		return 0, "", fmt.Errorf("zone: revocation marker: %w", err)
	}
	wildcard = z.CoveringWildcard(name)
	serial, err = z.change(func(v *view) error {
		for _, t := range v.typesAt(name) {
			if IsIdentityType(t) {
				if err := v.set(name, t, nil); err != nil {
					return err
				}
			}
		}
		return v.set(name, dns.TypeTLSA, []dns.RR{marker})
	})
	return serial, wildcard, err
}

// checkMarkers refuses a change that leaves the revocation marker beside
// other identity records at a name it touches: verifiers other than ours
// would use them.
func (v *view) checkMarkers() error {
	seen := map[string]bool{}
	for _, k := range v.order {
		if seen[k.name] {
			continue
		}
		seen[k.name] = true
		tl := v.get(k.name, dns.TypeTLSA)
		if !holdsMarker(tl) {
			continue
		}
		others := len(tl) - 1
		for _, t := range v.typesAt(k.name) {
			if t != dns.TypeTLSA && IsIdentityType(t) {
				others += len(v.get(k.name, t))
			}
		}
		if others > 0 {
			return &UpdateError{Rcode: dns.RcodeRefused, Err: ErrRevoked,
				Reason: fmt.Sprintf("%s: the revocation marker (TLSA %s) stands alone at its name", k.name, tlsa.RevocationMarker)}
		}
	}
	return nil
}

// frozenRevoked refuses an RFC 2136 update that changes a name revoked
// before it: update keys cannot lift a revocation, only the admin API can.
// Callers hold mu for reading.
func (v *view) frozenRevoked() error {
	for _, k := range v.order {
		if !holdsMarker(v.z.names[k.name].rrs(dns.TypeTLSA)) {
			continue
		}
		cur := v.z.names[k.name].rrs(k.t)
		if !sameRRset(cur, v.pending[k]) || !sameTTL(cur, v.pending[k]) {
			return &UpdateError{Rcode: dns.RcodeRefused, Err: ErrRevoked,
				Reason: fmt.Sprintf("%s is revoked; update keys cannot change it (the admin API lifts a revocation: dance zone add --replace)", k.name)}
		}
	}
	return nil
}
