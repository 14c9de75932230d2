package zone

import (
	"slices"

	"github.com/miekg/dns"
)

// Wildcards (RFC 4592). A zone may hold identity records at a wildcard
// owner "*.NAME": an organisation CA's DANE-TA record at *._device.DOMAIN
// (architecture §6.5) then answers for every device name under _device
// that has no records of its own.
//
// Answers synthesised from a wildcard carry the wildcard RRset's own
// signatures (their labels field counts the labels of NAME, RFC 4034
// §3.1.3, so one signature serves every name) and, for DO queries, one
// NSEC signed on the fly that proves the name asked for does not exist
// (RFC 4035 §3.1.3.3). That NSEC is a minimally covering one (RFC 4470):
// its owner is the name just before the next closer name and its next
// name the one just after the next closer name's subtree (RFC 4471
// §3.1), so it covers nothing that could exist besides the names the
// wildcard answers for, and validators derive from it the closest
// encloser the signature names (RFC 4035 §5.3.4). A wildcard NODATA is
// answered in the compact style of RFC 9824 §3.3: one NSEC owned by the
// name asked for, listing the wildcard's types.

// wildcardLabel is the label that makes a name a wildcard (RFC 4592 §2.1.1).
const wildcardLabel = "*"

// checkWildcardOwner enforces the rules for asterisk labels in owner names
// the zone accepts: an asterisk label only as the leftmost label (RFC 4592
// §2.1.1: elsewhere it is no wildcard, only a confusing name), written as
// "*" and not escaped, so the name the server looks up is the name stored.
// Which types a wildcard may own is checked with the types: identity
// types only, as everywhere.
func checkWildcardOwner(name string) error {
	labels := dns.SplitDomainName(name)
	for i, l := range labels {
		if l != wildcardLabel && unescapeLabel(l) == wildcardLabel {
			return updateErr(dns.RcodeRefused, "%s: the asterisk label is escaped; write a wildcard as *.NAME", name)
		}
		if l == wildcardLabel && i > 0 {
			return updateErr(dns.RcodeRefused, "%s: an asterisk label is only allowed leftmost, as in *.NAME (RFC 4592)", name)
		}
	}
	if len(labels) == 1 && labels[0] == wildcardLabel {
		return updateErr(dns.RcodeRefused, "%s: a wildcard needs a parent name", name)
	}
	return nil
}

// wildcardMatch finds the source of synthesis for name, a name that does
// not exist (RFC 4592 §3.3.1): the wildcard child of its closest encloser,
// the longest ancestor that exists. An existing name, empty non-terminals
// included, is never expanded and blocks expansion below it (§2.2.2, §4.1):
// its own wildcard child alone can answer for names below it. It returns
// the next closer name (the closest encloser plus one label of name) and
// the wildcard's node, or nil. Callers hold mu.
func (z *Zone) wildcardMatch(name string) (nextCloser string, w *node) {
	origin := z.settings.Origin
	nextCloser = name
	for p := parent(name); p != ""; p = parent(p) {
		if z.exists(p) {
			w = z.names[wildcardLabel+"."+p]
			if w == nil {
				return "", nil
			}
			return nextCloser, w
		}
		if p == origin {
			break
		}
		nextCloser = p
	}
	return "", nil
}

// wildcardQuery answers name (which does not exist) from a wildcard; ok
// is false when no wildcard matches. Callers hold mu.
func (z *Zone) wildcardQuery(name string, qtype uint16, o QueryOptions) (a *Answer, ok bool, err error) {
	nc, w := z.wildcardMatch(name)
	if w == nil {
		return nil, false, nil
	}
	var types []uint16
	switch qtype {
	case dns.TypeANY:
		types = w.types()
	case dns.TypeNSEC:
		if o.DNSSEC {
			// As for a name that exists: its compact NSEC, with the
			// wildcard's types (RFC 9824 §3.3).
			nsec, err := z.compactNSEC(name, w, false)
			if err != nil {
				return nil, true, err
			}
			sigs, err := z.signer.Load().Sign([]dns.RR{nsec})
			if err != nil {
				return nil, true, err
			}
			return &Answer{Outcome: Success, Rcode: dns.RcodeSuccess, Answer: append([]dns.RR{nsec}, sigs...)}, true, nil
		}
	default:
		if w.has(qtype) {
			types = []uint16{qtype}
		}
	}
	if len(types) == 0 {
		// Wildcard NODATA (RFC 4035 §3.1.3.4), compact: the NSEC owned
		// by name lists the types the wildcard has.
		a, err := z.negative(name, w, false, o)
		return a, true, err
	}
	a = &Answer{Outcome: Success, Rcode: dns.RcodeSuccess}
	for _, t := range types {
		rrs, sigs, err := z.wildcardSet(w, t, o.DNSSEC)
		if err != nil {
			return nil, true, err
		}
		// RFC 4592 §3.3.1: the owner of synthesised records is the name
		// asked for; RFC 4035 §3.1.3.3: so is that of their signatures,
		// whose labels field still counts the wildcard's parent. Both
		// are decoded afresh for this answer (node.rrs, Zone.signed), so
		// they are renamed in place.
		for _, rr := range append(rrs, sigs...) {
			rr.Header().Name = name
			a.Answer = append(a.Answer, rr)
		}
	}
	if !o.DNSSEC {
		return a, true, nil
	}
	nsec, err := z.noCloserNSEC(nc)
	if err != nil {
		return nil, true, err
	}
	sigs, err := z.signer.Load().Sign([]dns.RR{nsec})
	if err != nil {
		return nil, true, err
	}
	a.Ns = append(append(a.Ns, nsec), sigs...)
	return a, true, nil
}

// noCloserNSEC is the NSEC proving that the next closer name nc, and so
// every name below it, does not exist (RFC 4035 §3.1.3.3): owner the
// predecessor of nc, next the name after nc's subtree. Nothing the zone
// could hold lies in between; the owner itself exists only when it is the
// closest encloser (nc being "\000.CE") or a name of the greatest possible
// length, and then the bitmap lists its types. Callers hold mu.
func (z *Zone) noCloserNSEC(nc string) (*dns.NSEC, error) {
	owner, err := predecessor(nc)
	if err != nil {
		return nil, err
	}
	ls, err := labelsOf(nc)
	if err != nil {
		return nil, err
	}
	next, err := afterSubtree(ls, z.settings.Origin)
	if err != nil {
		return nil, err
	}
	owner = dns.CanonicalName(owner)
	types := []uint16{dns.TypeRRSIG, dns.TypeNSEC}
	if z.exists(owner) {
		types = append(types, z.names[owner].types()...)
	}
	slices.Sort(types)
	types = slices.Compact(types)
	return &dns.NSEC{
		Hdr:        dns.RR_Header{Name: owner, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: z.negativeTTL()},
		NextDomain: next,
		TypeBitMap: types,
	}, nil
}

// wildcardSet returns the records of type t at the wildcard node w and,
// with sign, their cached signatures (made with the wildcard owner, so
// valid for every name it answers). This is the one place the wildcard
// code reads the zone's in-memory representation.
func (z *Zone) wildcardSet(w *node, t uint16, sign bool) (rrs, sigs []dns.RR, err error) {
	rrs = w.rrs(t)
	if sign {
		if sigs, err = z.signed(w, t); err != nil {
			return nil, nil, err
		}
	}
	return rrs, sigs, nil
}
