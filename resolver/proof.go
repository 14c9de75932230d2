package resolver

import (
	"strings"
	"time"

	"github.com/miekg/dns"
)

// The proof engine. Every answer that rests on the non-existence of names or
// types (NXDOMAIN, NODATA, wildcard answers, wildcard NODATA, the absence of
// a DS at a zone cut) is proven here, by the same few rules, whether the
// zone uses NSEC (RFC 4035 §5.4) or NSEC3 (RFC 5155 §8). The two kinds of
// chain differ only in how they answer a few questions (see denialChain);
// closest encloser, next closer name, covering and opt-out are decided once,
// in proveDenial and proveWildcardAnswer.

// denialChain is the verified NSEC or NSEC3 records of one zone in one
// response.
type denialChain interface {
	// exists returns the types at name when the records prove that name
	// exists: a record owned by name, or an empty non-terminal (NSEC: a
	// record whose next name is below name; NSEC3: a matching record with
	// no types).
	exists(name string) (types []uint16, ok bool)
	// absent reports whether the records prove that neither name nor any
	// name below it exists, and whether that proof is an opt-out span that
	// may hide unsigned delegations (RFC 5155 §6).
	absent(name string) (ok, optOut bool)
	// closestEncloser returns the deepest ancestor of name (a name that
	// does not exist) that the records prove to exist (RFC 5155 §8.3,
	// RFC 4035 §5.4).
	closestEncloser(name string) (string, bool)
	// compact reports whether the chain may use the RFC 9824 NXNAME type.
	compact() bool
}

// nsecChain is a set of verified NSEC records of zone.
type nsecChain struct {
	zone    string
	records []*dns.NSEC
}

func (c *nsecChain) compact() bool { return true }

func (c *nsecChain) exists(name string) ([]uint16, bool) {
	for _, n := range c.records {
		if dns.CanonicalName(n.Hdr.Name) == name {
			return n.TypeBitMap, true
		}
	}
	for _, n := range c.records {
		// RFC 4035 §3.1.3.2: an empty non-terminal lies between an NSEC's
		// owner and its next name, which is below it.
		if nsecCovers(n.Hdr.Name, n.NextDomain, name) && isStrictlyBelow(name, n.NextDomain) {
			return nil, true
		}
	}
	return nil, false
}

// cover returns the NSEC whose span holds name and that may deny it.
func (c *nsecChain) cover(name string) *dns.NSEC {
	if !isBelow(c.zone, name) {
		return nil
	}
	for _, n := range c.records {
		if !nsecCovers(n.Hdr.Name, n.NextDomain, name) {
			continue
		}
		owner := dns.CanonicalName(n.Hdr.Name)
		if isStrictlyBelow(owner, name) && (hasType(n.TypeBitMap, dns.TypeDNAME) ||
			hasType(n.TypeBitMap, dns.TypeNS) && !hasType(n.TypeBitMap, dns.TypeSOA)) {
			// RFC 6840 §4.1: names below a delegation (or a DNAME, RFC
			// 6672 §5.3.2) are not the zone's to deny.
			continue
		}
		return n
	}
	return nil
}

func (c *nsecChain) absent(name string) (bool, bool) {
	n := c.cover(name)
	// A next name below name means that name has descendants (it is an
	// empty non-terminal), so it is not absent.
	return n != nil && !isStrictlyBelow(name, n.NextDomain), false
}

func (c *nsecChain) closestEncloser(name string) (string, bool) {
	n := c.cover(name)
	if n == nil {
		return "", false
	}
	// The deepest ancestor shared with the owner or the next name exists
	// (RFC 4035 §5.4); nothing between it and name does.
	ce := commonAncestor(name, n.Hdr.Name)
	if c2 := commonAncestor(name, n.NextDomain); dns.CountLabel(c2) > dns.CountLabel(ce) {
		ce = c2
	}
	if !isBelow(c.zone, ce) {
		ce = c.zone
	}
	return ce, ce != name
}

// nsec3Set is a set of verified NSEC3 records of zone with one parameter
// set; it hashes names with those parameters, memoising results.
type nsec3Set struct {
	zone    string
	records []*dns.NSEC3
	hashes  map[string]string
	salt    string
	iter    uint16
}

func (s *nsec3Set) compact() bool { return false }

func (s *nsec3Set) hash(name string) string {
	if h, ok := s.hashes[name]; ok {
		return h
	}
	h := dns.HashName(name, dns.SHA1, s.iter, s.salt)
	s.hashes[name] = h
	return h
}

func ownerHash(n *dns.NSEC3) string {
	owner := n.Hdr.Name
	if i := strings.IndexByte(owner, '.'); i > 0 {
		return strings.ToUpper(owner[:i])
	}
	return ""
}

func (s *nsec3Set) match(name string) *dns.NSEC3 {
	h := s.hash(name)
	for _, n := range s.records {
		if ownerHash(n) == h {
			return n
		}
	}
	return nil
}

func (s *nsec3Set) cover(name string) *dns.NSEC3 {
	h := s.hash(name)
	for _, n := range s.records {
		o, next := ownerHash(n), strings.ToUpper(n.NextDomain)
		switch {
		case o < next:
			if o < h && h < next {
				return n
			}
		default: // last in the chain, or a single record
			if h > o || h < next {
				return n
			}
		}
	}
	return nil
}

func (s *nsec3Set) exists(name string) ([]uint16, bool) {
	if m := s.match(name); m != nil {
		return m.TypeBitMap, true
	}
	return nil, false
}

func (s *nsec3Set) absent(name string) (bool, bool) {
	// A hash covers no other name; names below name hash elsewhere, but
	// they cannot exist without name existing (as an empty non-terminal,
	// with its own NSEC3, RFC 5155 §7.1).
	if c := s.cover(name); c != nil {
		return true, c.Flags&nsec3OptOut != 0
	}
	return false, false
}

func (s *nsec3Set) closestEncloser(name string) (string, bool) {
	for c := parentName(name); isBelow(s.zone, c); c = parentName(c) {
		if s.match(c) != nil {
			return c, true
		}
		if c == s.zone || c == "." {
			break
		}
	}
	return "", false
}

// NSEC3 flags (RFC 5155 §3.1.2).
const nsec3OptOut = 0x01

// nsec3Chain keeps the NSEC3 records of zone that this validator can use
// and checks their parameters. It returns nil and the verdict when the
// records cannot prove anything: none usable (Bogus: RFC 5155 §8.1 and
// §8.2 ignore unknown hash algorithms and flags, leaving no proof), two
// parameter sets (Bogus) or too many iterations (RFC 9276 §3.2: Insecure or
// Bogus).
func (v *validator) nsec3Chain(recs []*dns.NSEC3, zone string) (*nsec3Set, denialResult) {
	set := &nsec3Set{zone: zone, hashes: map[string]string{}}
	for _, n := range recs {
		// RFC 5155 §8.1/§8.2: ignore unknown hash algorithms and flags,
		// and records of another zone.
		if n.Hash != dns.SHA1 || n.Flags&^nsec3OptOut != 0 || parentName(dns.CanonicalName(n.Hdr.Name)) != zone {
			continue
		}
		if len(set.records) > 0 && (n.Iterations != set.iter || !strings.EqualFold(n.Salt, set.salt)) {
			// RFC 5155 §7.2: one parameter set per zone.
			return nil, bogusDenial(EDEDNSSECBogus, zone, "NSEC3 records with different parameters")
		}
		set.iter, set.salt = n.Iterations, n.Salt
		set.records = append(set.records, n)
	}
	if len(set.records) == 0 {
		return nil, bogusDenial(EDENSECMissing, zone, "no NSEC3 record with a supported hash algorithm and flags")
	}
	// RFC 9276 §3.2: check the cost before hashing anything.
	if set.iter > v.nsec3Bogus {
		return nil, bogusDenial(EDEUnsupportedNSEC3Iterations, zone, "NSEC3 iterations %d above the limit %d", set.iter, v.nsec3Bogus)
	}
	if set.iter > v.nsec3Insecure {
		return nil, denialResult{status: Insecure, reason: reasonf(EDEUnsupportedNSEC3Iterations, zone,
			"NSEC3 iterations %d above %d: treated as insecure", set.iter, v.nsec3Insecure)}
	}
	return set, denialResult{}
}

// proofRecords verifies the NSEC, NSEC3 and signed SOA RRsets of msg's
// authority section against the secure zone st and returns their chain,
// with the lifetime of the proof. When no chain can be had, the second
// result is the verdict (Bogus, or Insecure for RFC 9276 iterations).
func (v *validator) proofRecords(msg *dns.Msg, st *zoneState) (denialChain, denialResult) {
	var nsecs []*dns.NSEC
	var nsec3s []*dns.NSEC3
	var expires, hard time.Time
	sets := groupRRsets(msg.Ns)
	if len(sets) > maxDenialRRsets {
		return nil, bogusDenial(EDEDNSSECBogus, st.zone, "%d RRsets in the authority section, at most %d are checked", len(sets), maxDenialRRsets)
	}
	for _, set := range sets {
		h := set.rrs[0].Header()
		switch h.Rrtype {
		case dns.TypeNSEC, dns.TypeNSEC3, dns.TypeSOA:
		default:
			continue
		}
		if h.Rrtype == dns.TypeSOA && len(set.sigs) == 0 {
			continue
		}
		sig, exp, r := v.verifyRRset(set.rrs, set.sigs, st)
		if r == nil && expanded(sig, h.Name) {
			// A proof is never expanded from a wildcard (RFC 4592 §4.7:
			// a wildcard's NSEC is returned only for the wildcard name
			// itself; an NSEC3 owner is a hash; an SOA is at the apex).
			// A wildcard's own NSEC, renamed, still verifies: it would
			// deny the types of any name below the wildcard's parent.
			r = reasonf(EDEDNSSECBogus, st.zone, "%s %s is signed as a wildcard expansion",
				dns.CanonicalName(h.Name), typeString(h.Rrtype))
		}
		if r != nil {
			r.Text = "denial of existence: " + r.Text
			return nil, denialResult{status: Bogus, reason: r}
		}
		lt := v.lifetime(set.rrs, sig, exp)
		if h.Rrtype == dns.TypeSOA {
			// RFC 2308 §5: a negative answer lives min(SOA TTL, SOA MINIMUM).
			if soa, ok := set.rrs[0].(*dns.SOA); ok {
				lt = minTime(lt, v.now().Add(time.Duration(soa.Minttl)*time.Second))
			}
		}
		expires = minTime(expires, lt)
		hard = minTime(hard, exp)
		for _, rr := range set.rrs {
			switch x := rr.(type) {
			case *dns.NSEC:
				nsecs = append(nsecs, x)
			case *dns.NSEC3:
				nsec3s = append(nsec3s, x)
			}
		}
	}
	life := denialResult{expires: expires, hard: hard}
	switch {
	case len(nsecs) > 0:
		return &nsecChain{zone: st.zone, records: nsecs}, life
	case len(nsec3s) > 0:
		set, d := v.nsec3Chain(nsec3s, st.zone)
		if set == nil {
			d.expires, d.hard = expires, hard
			return nil, d
		}
		return set, life
	}
	return nil, bogusDenial(EDENSECMissing, st.zone, "no signed NSEC or NSEC3 record")
}

// proveNoData judges the types at name, a name that exists, for a NODATA
// answer to qtype (RFC 4035 §5.4, RFC 5155 §8.5 and §8.6, RFC 6840 §4.1 and
// §4.4).
func proveNoData(types []uint16, name string, qtype uint16, zone, what string) denialResult {
	typeName := typeString(qtype)
	if hasType(types, qtype) || hasType(types, dns.TypeCNAME) {
		return bogusDenial(EDEDNSSECBogus, zone, "%s at %s shows the %s type or a CNAME exists", what, name, typeName)
	}
	deleg := hasType(types, dns.TypeNS) && !hasType(types, dns.TypeSOA)
	if qtype == dns.TypeDS && hasType(types, dns.TypeSOA) && name != "." {
		// RFC 6840 §4.4: the child's apex record cannot deny the parent's DS.
		return bogusDenial(EDEDNSSECBogus, zone, "%s from the child apex %s cannot deny a DS", what, name)
	}
	if qtype != dns.TypeDS && deleg {
		// RFC 6840 §4.1: a parent-side delegation record says nothing
		// about the child's data.
		return bogusDenial(EDEDNSSECBogus, zone, "delegation %s at %s cannot deny %s", what, name, typeName)
	}
	return denialResult{kind: KindNoData, status: Secure, delegation: deleg}
}

// proveClosestEncloser proves that name does not exist: its closest
// encloser exists and is neither a delegation nor a DNAME, and the next
// closer name is absent (RFC 5155 §8.3, RFC 4035 §5.4). optOut says the
// next closer name lies in an opt-out span.
func proveClosestEncloser(c denialChain, name, zone, what string) (ce string, optOut bool, bad *denialResult) {
	ce, ok := c.closestEncloser(name)
	if !ok {
		d := bogusDenial(EDENSECMissing, zone, "no %s proves a closest encloser of %s", what, name)
		return "", false, &d
	}
	if types, ok := c.exists(ce); ok && ce != zone && (hasType(types, dns.TypeDNAME) ||
		hasType(types, dns.TypeNS) && !hasType(types, dns.TypeSOA)) {
		// A delegation or DNAME cannot be the closest encloser of a name
		// whose denial the zone signs.
		d := bogusDenial(EDEDNSSECBogus, zone, "%s closest encloser %s is a delegation or DNAME", what, ce)
		return "", false, &d
	}
	nc := nextCloser(name, ce)
	ok, optOut = c.absent(nc)
	if !ok {
		d := bogusDenial(EDENSECMissing, zone, "no %s proves the next closer name %s absent", what, nc)
		return "", false, &d
	}
	return ce, optOut, nil
}

// proveDenial checks that the chain proves the negative answer (rcode) to
// name/qtype.
func proveDenial(c denialChain, rcode int, name string, qtype uint16, zone string) denialResult {
	what := "NSEC"
	if !c.compact() {
		what = "NSEC3"
	}
	if types, ok := c.exists(name); ok {
		if c.compact() && hasType(types, dns.TypeNXNAME) {
			// RFC 9824 §3: compact denial; the name does not exist whatever
			// RCODE the server chose.
			return denialResult{kind: KindNXDomain, status: Secure}
		}
		if rcode == dns.RcodeNameError {
			return bogusDenial(EDEDNSSECBogus, zone, "NXDOMAIN for %s but an %s proves the name exists", name, what)
		}
		return proveNoData(types, name, qtype, zone, what)
	}
	ce, optOut, bad := proveClosestEncloser(c, name, zone, what)
	if bad != nil {
		return *bad
	}
	if qtype == dns.TypeDS && rcode == dns.RcodeSuccess && optOut {
		// RFC 5155 §8.6: the DS of an unsigned delegation in an opt-out
		// span is not proven absent, the delegation is insecure (§9.2).
		return denialResult{kind: KindNoData, status: Insecure,
			reason: reasonf(EDEOther, zone, "no DS for %s: proven only by an opt-out NSEC3 span", name)}
	}
	wildcard := wildcardOf(ce)
	if rcode == dns.RcodeNameError {
		if _, ok := c.exists(wildcard); ok {
			return bogusDenial(EDEDNSSECBogus, zone, "NXDOMAIN for %s but the wildcard %s exists", name, wildcard)
		}
		if ok, _ := c.absent(wildcard); !ok {
			return bogusDenial(EDENSECMissing, zone, "no %s proves the wildcard %s absent", what, wildcard)
		}
		if optOut {
			// RFC 5155 §9.2: the name may be an unsigned delegation inside
			// the opt-out span; its absence is not proven.
			return denialResult{kind: KindNXDomain, status: Insecure,
				reason: reasonf(EDEOther, zone, "NXDOMAIN proven only by an opt-out NSEC3 span")}
		}
		return denialResult{kind: KindNXDomain, status: Secure}
	}
	// RFC 4035 §3.1.3.4, RFC 5155 §8.7: wildcard NODATA.
	types, ok := c.exists(wildcard)
	if !ok {
		return bogusDenial(EDENSECMissing, zone, "NOERROR without data for %s but no %s proves it", name, what)
	}
	d := proveNoData(types, wildcard, qtype, zone, what)
	if d.status == Secure && optOut {
		// RFC 5155 §9.2, as for a wildcard answer.
		return denialResult{kind: KindNoData, status: Insecure,
			reason: reasonf(EDEOther, zone, "wildcard NODATA for %s proven only by an opt-out NSEC3 span", name)}
	}
	d.delegation = false
	return d
}

// proveWildcardAnswer checks that an answer expanded from a wildcard was not
// for a name that exists (RFC 4035 §5.3.4, RFC 5155 §8.8): the RRSIG's
// Labels field names the closest encloser, and the next closer name must be
// proven absent. Covering only the query name is not enough: a signature
// replayed from a higher wildcard would pass for a name below an existing
// one.
func proveWildcardAnswer(c denialChain, name string, sigLabels uint8, zone string) (Status, *Reason) {
	nc := ancestorWithLabels(name, int(sigLabels)+1)
	ok, optOut := c.absent(nc)
	switch {
	case !ok:
		return Bogus, reasonf(EDENSECMissing, zone, "wildcard answer for %s without proof that %s does not exist", name, nc)
	case optOut:
		// RFC 5155 §6 and §9.2: an opt-out span may hold unsigned
		// delegations, so no closer match is ruled out: the name may lie
		// in an unsigned child zone.
		return Insecure, reasonf(EDEOther, zone, "wildcard answer for %s proven only by an opt-out NSEC3 span", name)
	}
	return Secure, nil
}

// wildcardOf returns the wildcard name at ce (RFC 4592 §2.1.1).
func wildcardOf(ce string) string {
	if ce == "." {
		return "*."
	}
	return "*." + ce
}

// nextCloser returns the ancestor-or-self of name one label below ce
// (RFC 5155 §1.3).
func nextCloser(name, ce string) string {
	return ancestorWithLabels(name, dns.CountLabel(ce)+1)
}
