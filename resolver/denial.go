package resolver

import (
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
	c, life := v.proofRecords(msg, st)
	if c == nil {
		if life.reason != nil && life.reason.Code == EDENSECMissing {
			life.reason = reasonf(EDENSECMissing, st.zone, "negative answer for %s %s has no usable signed NSEC or NSEC3 proof",
				name, typeString(qtype))
		}
		return life
	}
	d := proveDenial(c, msg.Rcode, name, qtype, st.zone)
	d.expires = minTime(d.expires, life.expires)
	d.hard = minTime(d.hard, life.hard)
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

// wildcardProof checks the proof that goes with an answer expanded from a
// wildcard whose closest encloser has sigLabels labels (RFC 4035 §5.3.4,
// RFC 5155 §8.8). It returns Secure, Insecure (an opt-out span, or NSEC3
// iterations above the RFC 9276 insecure limit) or Bogus, with a reason
// when not Secure.
func (v *validator) wildcardProof(msg *dns.Msg, name string, sigLabels uint8, st *zoneState) (Status, *Reason) {
	c, d := v.proofRecords(msg, st)
	if c == nil {
		if d.status == Bogus && d.reason.Code == EDENSECMissing {
			return Bogus, reasonf(EDENSECMissing, st.zone, "wildcard answer for %s without proof that the name does not exist", name)
		}
		return d.status, d.reason
	}
	return proveWildcardAnswer(c, name, sigLabels, st.zone)
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
