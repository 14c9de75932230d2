package resolver

import (
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Kind says what a lookup found.
type Kind uint8

const (
	// KindAnswer: the RRset exists.
	KindAnswer Kind = iota
	// KindNoData: the name exists, the type does not (RFC 2308 §2.2).
	KindNoData
	// KindNXDomain: the name does not exist (RFC 2308 §2.1; for compact
	// denial, RFC 9824 §3: an NSEC with the NXNAME type at the name).
	KindNXDomain
)

// String returns "answer", "nodata" or "nxdomain".
func (k Kind) String() string {
	switch k {
	case KindNoData:
		return "nodata"
	case KindNXDomain:
		return "nxdomain"
	default:
		return "answer"
	}
}

// MarshalText implements encoding.TextMarshaler.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// maxDenialRRsets bounds the authority RRsets whose signatures are checked
// for one proof: an NSEC3 name error needs three NSEC3 RRsets and the SOA, a
// response with dozens is an attack on the validator's CPU.
const maxDenialRRsets = 16

// denialResult is the outcome of checking a negative answer's proof.
type denialResult struct {
	kind    Kind
	status  Status
	reason  *Reason
	expires time.Time
	hard    time.Time // earliest signature expiration of the proof
	// delegation: the proof shows the name is a delegation point (NS without
	// SOA in the matching NSEC/NSEC3 bitmap).
	delegation bool
	// optOut: the proof relies on an opt-out NSEC3 span (RFC 5155 §6).
	optOut bool
}

func bogusDenial(code EDE, zone, format string, a ...any) denialResult {
	return denialResult{status: Bogus, reason: reasonf(code, zone, format, a...)}
}

// denial checks the authority section of a negative response for name/qtype
// against the secure zone st: every NSEC/NSEC3 RRset must verify, and they
// must prove the name error or the missing type (RFC 4035 §5.4, RFC 5155 §8,
// RFC 9824).
func (v *validator) denial(msg *dns.Msg, name string, qtype uint16, st *zoneState) denialResult {
	name = dns.CanonicalName(name)
	var nsecs []*dns.NSEC
	var nsec3s []*dns.NSEC3
	var expires, hard time.Time
	sets := groupRRsets(msg.Ns)
	if len(sets) > maxDenialRRsets {
		return bogusDenial(EDEDNSSECBogus, st.zone, "%d RRsets in the authority section, at most %d are checked", len(sets), maxDenialRRsets)
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
		if r != nil {
			r.Text = "denial of existence: " + r.Text
			return denialResult{status: Bogus, reason: r}
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
	var d denialResult
	switch {
	case len(nsecs) > 0:
		d = v.nsecDenial(msg.Rcode, name, qtype, nsecs, st.zone)
	case len(nsec3s) > 0:
		d = v.nsec3Denial(msg.Rcode, name, qtype, nsec3s, st.zone)
	default:
		return bogusDenial(EDENSECMissing, st.zone, "negative answer for %s %s has no signed NSEC or NSEC3 proof",
			name, dns.TypeToString[qtype])
	}
	d.expires = minTime(d.expires, expires)
	d.hard = minTime(d.hard, hard)
	return d
}

func hasType(bitmap []uint16, t uint16) bool {
	for _, b := range bitmap {
		if b == t {
			return true
		}
	}
	return false
}

// nsecDenial checks an NSEC proof (RFC 4035 §5.4, RFC 6840 §4.1 and §4.3,
// RFC 9824 §3 for compact answers).
func (v *validator) nsecDenial(rcode int, name string, qtype uint16, nsecs []*dns.NSEC, zone string) denialResult {
	typeName := dns.TypeToString[qtype]
	for _, n := range nsecs {
		if dns.CanonicalName(n.Hdr.Name) != name {
			continue
		}
		if hasType(n.TypeBitMap, dns.TypeNXNAME) {
			// RFC 9824 §3: compact denial; the name does not exist whatever
			// RCODE the server chose.
			return denialResult{kind: KindNXDomain, status: Secure}
		}
		if rcode == dns.RcodeNameError {
			return bogusDenial(EDEDNSSECBogus, zone, "NXDOMAIN for %s but an NSEC proves the name exists", name)
		}
		if hasType(n.TypeBitMap, qtype) || hasType(n.TypeBitMap, dns.TypeCNAME) {
			return bogusDenial(EDEDNSSECBogus, zone, "NSEC at %s shows the %s type or a CNAME exists", name, typeName)
		}
		deleg := hasType(n.TypeBitMap, dns.TypeNS) && !hasType(n.TypeBitMap, dns.TypeSOA)
		if qtype == dns.TypeDS && hasType(n.TypeBitMap, dns.TypeSOA) && name != "." {
			// RFC 6840 §4.4: the child's apex NSEC cannot deny the parent's DS.
			return bogusDenial(EDEDNSSECBogus, zone, "NSEC from the child apex %s cannot deny a DS", name)
		}
		if qtype != dns.TypeDS && deleg {
			// RFC 6840 §4.1: a parent-side delegation NSEC says nothing
			// about the child's data.
			return bogusDenial(EDEDNSSECBogus, zone, "delegation NSEC at %s cannot deny %s", name, typeName)
		}
		return denialResult{kind: KindNoData, status: Secure, delegation: deleg}
	}
	var cover *dns.NSEC
	for _, n := range nsecs {
		if isBelow(zone, name) && nsecCovers(n.Hdr.Name, n.NextDomain, name) {
			owner := dns.CanonicalName(n.Hdr.Name)
			if hasType(n.TypeBitMap, dns.TypeNS) && !hasType(n.TypeBitMap, dns.TypeSOA) && isStrictlyBelow(owner, name) {
				// RFC 6840 §4.1: names below a delegation are not the
				// parent's to deny.
				continue
			}
			cover = n
			break
		}
	}
	if cover == nil {
		return bogusDenial(EDENSECMissing, zone, "no NSEC matches or covers %s", name)
	}
	next := dns.CanonicalName(cover.NextDomain)
	if rcode == dns.RcodeSuccess && isStrictlyBelow(name, next) {
		// RFC 4035 §3.1.3.2: an empty non-terminal.
		return denialResult{kind: KindNoData, status: Secure}
	}
	// The closest encloser is the deepest ancestor shared with the NSEC's
	// owner or next name (RFC 4035 §5.4).
	ce := commonAncestor(name, cover.Hdr.Name)
	if c2 := commonAncestor(name, next); dns.CountLabel(c2) > dns.CountLabel(ce) {
		ce = c2
	}
	if !isBelow(zone, ce) {
		ce = zone
	}
	wildcard := "*." + ce
	if ce == "." {
		wildcard = "*."
	}
	if rcode == dns.RcodeNameError {
		for _, n := range nsecs {
			if dns.CanonicalName(n.Hdr.Name) == wildcard {
				return bogusDenial(EDEDNSSECBogus, zone, "NXDOMAIN for %s but the wildcard %s exists", name, wildcard)
			}
		}
		for _, n := range nsecs {
			if nsecCovers(n.Hdr.Name, n.NextDomain, wildcard) {
				return denialResult{kind: KindNXDomain, status: Secure}
			}
		}
		return bogusDenial(EDENSECMissing, zone, "no NSEC proves the wildcard %s absent", wildcard)
	}
	// RFC 4035 §3.1.3.4: wildcard NODATA.
	for _, n := range nsecs {
		if dns.CanonicalName(n.Hdr.Name) == wildcard {
			if hasType(n.TypeBitMap, qtype) || hasType(n.TypeBitMap, dns.TypeCNAME) {
				return bogusDenial(EDEDNSSECBogus, zone, "wildcard %s has the %s type", wildcard, typeName)
			}
			return denialResult{kind: KindNoData, status: Secure}
		}
	}
	return bogusDenial(EDENSECMissing, zone, "NOERROR without data for %s but no NSEC proves it", name)
}

// nsec3Hasher hashes names with one NSEC3 parameter set, memoising results.
type nsec3Set struct {
	zone    string
	records []*dns.NSEC3
	hashes  map[string]string
	salt    string
	iter    uint16
}

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

// NSEC3 flags (RFC 5155 §3.1.2).
const nsec3OptOut = 0x01

// nsec3Chain keeps the NSEC3 records of zone that this validator can use
// and checks their parameters. It returns nil and the verdict when the
// records cannot prove anything: none usable (Insecure), two parameter sets
// (Bogus) or too many iterations (RFC 9276 §3.2: Insecure or Bogus). Every
// NSEC3 proof, denial or wildcard, goes through it.
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
		return nil, denialResult{status: Insecure,
			reason: reasonf(EDEDNSSECIndeterminate, zone, "no NSEC3 record with a supported hash algorithm and flags")}
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

// nsec3Denial checks an NSEC3 proof (RFC 5155 §8), after the iteration
// limits of RFC 9276 §3.2.
func (v *validator) nsec3Denial(rcode int, name string, qtype uint16, recs []*dns.NSEC3, zone string) denialResult {
	typeName := dns.TypeToString[qtype]
	set, d := v.nsec3Chain(recs, zone)
	if set == nil {
		return d
	}
	if m := set.match(name); m != nil {
		// RFC 5155 §8.5 and §8.6: NODATA.
		if rcode == dns.RcodeNameError {
			return bogusDenial(EDEDNSSECBogus, zone, "NXDOMAIN for %s but an NSEC3 proves the name exists", name)
		}
		if hasType(m.TypeBitMap, qtype) || hasType(m.TypeBitMap, dns.TypeCNAME) {
			return bogusDenial(EDEDNSSECBogus, zone, "NSEC3 for %s shows the %s type or a CNAME exists", name, typeName)
		}
		deleg := hasType(m.TypeBitMap, dns.TypeNS) && !hasType(m.TypeBitMap, dns.TypeSOA)
		if qtype == dns.TypeDS && hasType(m.TypeBitMap, dns.TypeSOA) && name != "." {
			return bogusDenial(EDEDNSSECBogus, zone, "NSEC3 from the child apex %s cannot deny a DS", name)
		}
		if qtype != dns.TypeDS && deleg {
			return bogusDenial(EDEDNSSECBogus, zone, "delegation NSEC3 at %s cannot deny %s", name, typeName)
		}
		return denialResult{kind: KindNoData, status: Secure, delegation: deleg}
	}
	// RFC 5155 §8.3: closest encloser proof.
	ce, nc := "", name
	for c := parentName(name); ; c = parentName(c) {
		if !isBelow(zone, c) {
			break
		}
		if set.match(c) != nil {
			ce = c
			break
		}
		nc = c
		if c == zone || c == "." {
			break
		}
	}
	if ce == "" {
		return bogusDenial(EDENSECMissing, zone, "no NSEC3 closest encloser for %s", name)
	}
	if m := set.match(ce); ce != zone && (hasType(m.TypeBitMap, dns.TypeDNAME) ||
		hasType(m.TypeBitMap, dns.TypeNS) && !hasType(m.TypeBitMap, dns.TypeSOA)) {
		// RFC 5155 §8.3: a delegation or DNAME cannot be the closest
		// encloser of a name whose denial the zone signs.
		return bogusDenial(EDEDNSSECBogus, zone, "NSEC3 closest encloser %s is a delegation or DNAME", ce)
	}
	ncCover := set.cover(nc)
	if ncCover == nil {
		return bogusDenial(EDENSECMissing, zone, "no NSEC3 covers the next closer name %s", nc)
	}
	optOut := ncCover.Flags&nsec3OptOut != 0
	if qtype == dns.TypeDS && rcode == dns.RcodeSuccess && optOut {
		// RFC 5155 §8.6: an opt-out span may hide an unsigned delegation.
		return denialResult{kind: KindNoData, status: Secure, optOut: true}
	}
	wildcard := "*." + ce
	if ce == "." {
		wildcard = "*."
	}
	if rcode == dns.RcodeNameError {
		if set.cover(wildcard) == nil {
			return bogusDenial(EDENSECMissing, zone, "no NSEC3 proves the wildcard %s absent", wildcard)
		}
		if optOut {
			// RFC 5155 §9.2: the name may be an unsigned delegation inside
			// the opt-out span; its absence is not proven.
			return denialResult{kind: KindNXDomain, status: Insecure, optOut: true,
				reason: reasonf(EDEOther, zone, "NXDOMAIN proven only by an opt-out NSEC3 span")}
		}
		return denialResult{kind: KindNXDomain, status: Secure}
	}
	// RFC 5155 §8.7: wildcard NODATA.
	if w := set.match(wildcard); w != nil {
		if hasType(w.TypeBitMap, qtype) || hasType(w.TypeBitMap, dns.TypeCNAME) {
			return bogusDenial(EDEDNSSECBogus, zone, "wildcard %s has the %s type", wildcard, typeName)
		}
		return denialResult{kind: KindNoData, status: Secure}
	}
	return bogusDenial(EDENSECMissing, zone, "NOERROR without data for %s but no NSEC3 proves it", name)
}

// wildcardProof checks that an answer expanded from a wildcard was not for a
// name that exists (RFC 4035 §5.3.4, RFC 5155 §8.8): the closest encloser has
// sigLabels labels, and the next closer name must be proven absent.
//
// It returns Secure, Insecure (an NSEC3 proof above the RFC 9276 insecure
// limit) or Bogus, with a reason when not Secure.
func (v *validator) wildcardProof(msg *dns.Msg, name string, sigLabels uint8, st *zoneState) (Status, *Reason) {
	var nsecs []*dns.NSEC
	var nsec3s []*dns.NSEC3
	sets := groupRRsets(msg.Ns)
	if len(sets) > maxDenialRRsets {
		return Bogus, reasonf(EDEDNSSECBogus, st.zone, "%d RRsets in the authority section, at most %d are checked", len(sets), maxDenialRRsets)
	}
	for _, set := range sets {
		t := set.rrs[0].Header().Rrtype
		if t != dns.TypeNSEC && t != dns.TypeNSEC3 {
			continue
		}
		if _, _, r := v.verifyRRset(set.rrs, set.sigs, st); r != nil {
			return Bogus, r
		}
		for _, rr := range set.rrs {
			switch x := rr.(type) {
			case *dns.NSEC:
				nsecs = append(nsecs, x)
			case *dns.NSEC3:
				nsec3s = append(nsec3s, x)
			}
		}
	}
	// RFC 4035 §5.3.4: the NSEC must prove that no closer match exists,
	// that is that the next closer name (one label below the closest
	// encloser the RRSIG's Labels field names) does not exist, and with it
	// every name below it. Covering only the query name is not enough: a
	// signature replayed from a higher wildcard would pass for a name below
	// an existing one.
	nc := ancestorWithLabels(name, int(sigLabels)+1)
	for _, n := range nsecs {
		if nsecCovers(n.Hdr.Name, n.NextDomain, nc) && !isStrictlyBelow(nc, n.NextDomain) {
			return Secure, nil
		}
	}
	if len(nsec3s) > 0 {
		set, d := v.nsec3Chain(nsec3s, st.zone)
		if set == nil {
			if d.status == Insecure && d.reason.Code != EDEUnsupportedNSEC3Iterations {
				// No usable NSEC3: no proof at all.
				return Bogus, reasonf(EDENSECMissing, st.zone, "wildcard answer for %s without a usable NSEC3 proof", name)
			}
			return d.status, d.reason
		}
		// RFC 5155 §8.8: the next closer name must be covered.
		if c := set.cover(nc); c != nil {
			if c.Flags&nsec3OptOut != 0 {
				// RFC 5155 §6 and §9.2: an opt-out span may hold unsigned
				// delegations, so no closer match is ruled out: the name
				// may lie in an unsigned child zone.
				return Insecure, reasonf(EDEOther, st.zone, "wildcard answer for %s proven only by an opt-out NSEC3 span", name)
			}
			return Secure, nil
		}
	}
	return Bogus, reasonf(EDENSECMissing, st.zone, "wildcard answer for %s without proof that the name does not exist", name)
}

type rrset struct {
	rrs  []dns.RR
	sigs []*dns.RRSIG
}

// groupRRsets groups a section into RRsets (by owner, class and type) with
// their RRSIGs, in order of first appearance.
func groupRRsets(section []dns.RR) []rrset {
	type key struct {
		name string
		t    uint16
	}
	idx := map[key]int{}
	var out []rrset
	var sigs []*dns.RRSIG
	for _, rr := range section {
		h := rr.Header()
		if h.Class != dns.ClassINET {
			continue
		}
		if s, ok := rr.(*dns.RRSIG); ok {
			sigs = append(sigs, s)
			continue
		}
		k := key{dns.CanonicalName(h.Name), h.Rrtype}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, rrset{})
		}
		out[i].rrs = append(out[i].rrs, rr)
	}
	for _, s := range sigs {
		if i, ok := idx[key{dns.CanonicalName(s.Hdr.Name), s.TypeCovered}]; ok {
			out[i].sigs = append(out[i].sigs, s)
		}
	}
	return out
}
