package zone

import "github.com/miekg/dns"

// OnlineSigning says whether the DNSSEC answer to a query needs a signature
// made for that query alone, and for which kind of answer. Such signatures
// are the cost of compact denial (RFC 9824) and of wildcard proofs: one
// per query name, never shared with another name, so a flood of random
// names costs one each. The server rate-limits those answers (zone/server);
// everything else is signed once per RRset and cached.
type OnlineSigning int

// Kinds of OnlineSigning.
const (
	// NoOnlineSignature: no signature is made for this query alone: a
	// positive answer (its RRset's signature is made once and cached), or
	// a name outside the zone.
	NoOnlineSignature OnlineSigning = iota
	// SignedNameError: a name that does not exist, proved by a compact NSEC
	// signed for it (RFC 9824 §3.2).
	SignedNameError
	// SignedNoData: a type absent at a name that exists, an empty
	// non-terminal, a wildcard NODATA (RFC 4035 §3.1.3.4), or an NSEC
	// question: one compact NSEC signed for the name.
	SignedNoData
	// SignedWildcard: an answer expanded from a wildcard, whose proof that
	// the query name does not exist is an NSEC signed for it
	// (RFC 4035 §3.1.3.3).
	SignedWildcard
)

func (k OnlineSigning) String() string {
	switch k {
	case NoOnlineSignature:
		return "none"
	case SignedNameError:
		return "nxdomain"
	case SignedNoData:
		return "nodata"
	case SignedWildcard:
		return "wildcard"
	}
	return "unknown"
}

// OnlineSigningOf reports what Query(qname, qtype) with DNSSEC would sign
// for this query alone, without signing or building the answer: the
// decision Query takes, made cheaply so that a server can refuse the work
// before it is done. Query and OnlineSigningOf take the same branches
// (TestOnlineSigningOfMatchesQuery).
func (z *Zone) OnlineSigningOf(qname string, qtype uint16) OnlineSigning {
	name := dns.CanonicalName(qname)
	if !dns.IsSubDomain(z.settings.Origin, name) {
		return NoOnlineSignature
	}
	z.mu.RLock()
	defer z.mu.RUnlock()
	if !z.exists(name) {
		_, w := z.wildcardMatch(name)
		switch {
		case w == nil:
			return SignedNameError
		case qtype == dns.TypeNSEC:
			return SignedNoData
		case qtype == dns.TypeANY && len(w.types()) > 0, w.has(qtype):
			return SignedWildcard
		}
		return SignedNoData
	}
	n := z.names[name]
	switch {
	case qtype == dns.TypeNSEC:
		return SignedNoData
	case qtype == dns.TypeANY && len(n.types()) > 0, n.has(qtype):
		return NoOnlineSignature
	}
	return SignedNoData
}
