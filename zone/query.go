package zone

import (
	"sort"

	"github.com/miekg/dns"
)

// Outcome is the kind of answer a query gets, before it is turned into a
// response code and sections.
type Outcome int

// Outcomes of Query.
const (
	// Success: the answer section holds the RRset asked for.
	Success Outcome = iota
	// NoData: the name exists but has no data of the type asked for.
	NoData
	// NameError: the name does not exist.
	NameError
	// NotInZone: the name is outside the zone; the server refuses.
	NotInZone
)

func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case NoData:
		return "nodata"
	case NameError:
		return "nxdomain"
	case NotInZone:
		return "refused"
	}
	return "unknown"
}

// QueryOptions say what the client can take.
type QueryOptions struct {
	// DNSSEC is the DO bit (RFC 3225): add signatures and denial records.
	DNSSEC bool
	// CompactOK is the CO bit (RFC 9824 §5): with DNSSEC, a name error is
	// reported with rcode NXDOMAIN next to the compact denial proof.
	CompactOK bool
}

// Answer is the result of a query: outcome, response code and sections.
type Answer struct {
	Outcome Outcome
	Rcode   int
	Answer  []dns.RR
	Ns      []dns.RR
}

// Query answers qname/qtype from the zone. Negative answers signed for DO
// queries use compact denial of existence (RFC 9824): an NSEC record owned
// by the query name whose next name is its immediate successor, so nothing
// about other names is revealed and the zone cannot be walked. Without DO,
// a name error is an ordinary NXDOMAIN. The error is non-nil only when
// signing fails.
func (z *Zone) Query(qname string, qtype uint16, o QueryOptions) (*Answer, error) {
	name := dns.CanonicalName(qname)
	origin := z.settings.Origin
	if !dns.IsSubDomain(origin, name) {
		return &Answer{Outcome: NotInZone, Rcode: dns.RcodeRefused}, nil
	}
	z.mu.RLock()
	defer z.mu.RUnlock()

	n := z.names[name]
	if !z.exists(name) {
		// RFC 4592 §3.3.1: a name that does not exist may still be
		// answered from a wildcard at its closest encloser.
		if a, ok, err := z.wildcardQuery(name, qtype, o); ok {
			return a, err
		}
		return z.negative(name, nil, true, o)
	}
	var sets []uint16
	switch qtype {
	case dns.TypeANY:
		// RFC 8482 allows any subset; the sets of one name are small.
		sets = n.types()
	case dns.TypeNSEC:
		if o.DNSSEC {
			nsec, err := z.compactNSEC(name, n, false)
			if err != nil {
				return nil, err
			}
			a := &Answer{Outcome: Success, Rcode: dns.RcodeSuccess, Answer: []dns.RR{nsec}}
			sigs, err := z.signer.Load().Sign([]dns.RR{nsec})
			if err != nil {
				return nil, err
			}
			a.Answer = append(a.Answer, sigs...)
			return a, nil
		}
	default:
		if n.has(qtype) {
			sets = []uint16{qtype}
		}
	}
	if len(sets) == 0 {
		return z.negative(name, n, false, o)
	}
	a := &Answer{Outcome: Success, Rcode: dns.RcodeSuccess}
	for _, t := range sets {
		a.Answer = append(a.Answer, n.rrs(t)...)
		if o.DNSSEC {
			sigs, err := z.signed(n, t)
			if err != nil {
				return nil, err
			}
			a.Answer = append(a.Answer, sigs...)
		}
	}
	return a, nil
}

// negativeTTL is min(SOA TTL, SOA minimum) (RFC 2308 §3, RFC 9077 §3).
func (z *Zone) negativeTTL() uint32 {
	soa := z.soa()
	if soa.Minttl < soa.Hdr.Ttl {
		return soa.Minttl
	}
	return soa.Hdr.Ttl
}

// negative builds a NODATA or name-error answer: the SOA (with the negative
// TTL, RFC 2308 §3) and, for DO queries, its signature and a signed compact
// NSEC. Callers hold mu.
func (z *Zone) negative(name string, n *node, nxname bool, o QueryOptions) (*Answer, error) {
	a := &Answer{Outcome: NoData, Rcode: dns.RcodeSuccess}
	if nxname {
		a.Outcome = NameError
		a.Rcode = dns.RcodeNameError
	}
	ttl := z.negativeTTL()
	apex := z.names[z.settings.Origin]
	soa := dns.Copy(z.soa())
	soa.Header().Ttl = ttl
	a.Ns = append(a.Ns, soa)
	if !o.DNSSEC {
		return a, nil
	}
	if nxname && !o.CompactOK {
		// RFC 9824 §3: the name is shown to exist with only NSEC, RRSIG
		// and NXNAME, so the response code is NOERROR.
		a.Rcode = dns.RcodeSuccess
	}
	sigs, err := z.signed(apex, dns.TypeSOA)
	if err != nil {
		return nil, err
	}
	for _, s := range sigs {
		s.Header().Ttl = ttl
		a.Ns = append(a.Ns, s)
	}
	nsec, err := z.compactNSEC(name, n, nxname)
	if err != nil {
		return nil, err
	}
	nsigs, err := z.signer.Load().Sign([]dns.RR{nsec})
	if err != nil {
		return nil, err
	}
	a.Ns = append(a.Ns, nsec)
	a.Ns = append(a.Ns, nsigs...)
	return a, nil
}

// compactNSEC is the NSEC record of RFC 9824 §2 and §3 for name: next owner
// the immediate successor of name in canonical order ("\000.name", or for a
// name too long for that, the name after its subtree), so the record covers
// no other name. Its type bitmap lists the types at n plus RRSIG and NSEC,
// or for a name that does not exist RRSIG, NSEC and NXNAME.
func (z *Zone) compactNSEC(name string, n *node, nxname bool) (*dns.NSEC, error) {
	next, err := immediateSuccessor(name, z.settings.Origin)
	if err != nil {
		return nil, err
	}
	types := []uint16{dns.TypeRRSIG, dns.TypeNSEC}
	if nxname {
		types = append(types, dns.TypeNXNAME)
	} else {
		types = append(types, n.types()...)
	}
	sort.Slice(types, func(i, j int) bool { return types[i] < types[j] })
	return &dns.NSEC{
		Hdr:        dns.RR_Header{Name: name, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: z.negativeTTL()},
		NextDomain: next,
		TypeBitMap: types,
	}, nil
}
