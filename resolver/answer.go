package resolver

import (
	"context"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// stepResult is the validated outcome of one query in a (possibly CNAME)
// chain.
type stepResult struct {
	status  Status
	reason  *Reason
	kind    Kind
	records []dns.RR // the RRset (or CNAME) that was validated
	target  string   // CNAME target to follow, "" when done
	expires time.Time
	hard    time.Time // earliest signature expiration (see zoneState.hard)
	msg     *dns.Msg
}

func indeterminate(r *Reason) *stepResult { return &stepResult{status: Indeterminate, reason: r} }

// validateResponse classifies msg, the response to name/qtype, fetching the
// chain of keys it needs through v.query. It never panics on malformed input
// and returns a result for every message.
func (v *validator) validateResponse(ctx context.Context, name string, qtype uint16, msg *dns.Msg) *stepResult {
	name = dns.CanonicalName(name)
	if msg == nil {
		return indeterminate(reasonf(EDENetworkError, "", "no response"))
	}
	if msg.Rcode != dns.RcodeSuccess && msg.Rcode != dns.RcodeNameError {
		return indeterminate(reasonf(EDENoReachableAuthority, "", "server answered %s", dns.RcodeToString[msg.Rcode]))
	}
	if rrs, sigs := rrsetWithSigs(msg.Answer, name, qtype); len(rrs) > 0 {
		if msg.Rcode != dns.RcodeSuccess {
			return &stepResult{status: Bogus, msg: msg, reason: reasonf(EDEInvalidData, "", "NXDOMAIN with an answer for %s", name)}
		}
		return v.positive(ctx, name, rrs, sigs, msg)
	}
	if qtype != dns.TypeDNAME {
		if res := v.dname(ctx, name, msg); res != nil {
			return res
		}
	}
	if qtype != dns.TypeCNAME {
		if rrs, sigs := rrsetWithSigs(msg.Answer, name, dns.TypeCNAME); len(rrs) > 0 {
			if len(rrs) != 1 {
				return &stepResult{status: Bogus, msg: msg, reason: reasonf(EDEInvalidData, "", "%d CNAME records at %s", len(rrs), name)}
			}
			res := v.positive(ctx, name, rrs, sigs, msg)
			if cn, ok := rrs[0].(*dns.CNAME); ok {
				res.target = dns.CanonicalName(cn.Target)
			}
			return res
		}
	}
	return v.negative(ctx, name, qtype, msg)
}

// positive validates an RRset found in the answer section (RFC 4035 §5.3).
func (v *validator) positive(ctx context.Context, name string, rrs []dns.RR, sigs []*dns.RRSIG, msg *dns.Msg) *stepResult {
	res := &stepResult{kind: KindAnswer, records: rrs, msg: msg}
	var signer string
	for _, s := range sigs {
		if sn := dns.CanonicalName(s.SignerName); isBelow(sn, name) {
			signer = sn
			break
		}
	}
	st, ok := v.signerZone(ctx, res, name, signer, "answer", func(zone string) *Reason {
		return reasonf(EDERRSIGsMissing, zone, "answer for %s is not signed", name)
	}, func() time.Time { return v.lifetime(rrs, nil, time.Time{}) })
	if !ok {
		return res
	}
	sig, exp, r := v.verifyRRset(rrs, sigs, st)
	if r != nil {
		res.status, res.reason = Bogus, r
		return res
	}
	// An answer expanded from a wildcard needs the proof that no closer
	// match exists.
	if expanded(sig, name) {
		if status, r := v.wildcardProof(msg, name, sig.Labels, st); status != Secure {
			res.status, res.reason = status, r
			if status == Insecure {
				res.expires = v.lifetime(rrs, sig, exp)
			}
			return res
		}
	}
	res.status = Secure
	res.expires = minTime(v.lifetime(rrs, sig, exp), st.expires)
	res.hard = minTime(exp, st.hard)
	return res
}

// negative validates a NODATA or NXDOMAIN response (RFC 4035 §5.4).
func (v *validator) negative(ctx context.Context, name string, qtype uint16, msg *dns.Msg) *stepResult {
	res := &stepResult{kind: KindNoData, msg: msg}
	if msg.Rcode == dns.RcodeNameError {
		res.kind = KindNXDomain
	}
	var signer string
	for _, rr := range msg.Ns {
		if s, ok := rr.(*dns.RRSIG); ok {
			switch s.TypeCovered {
			case dns.TypeSOA, dns.TypeNSEC, dns.TypeNSEC3:
				if sn := dns.CanonicalName(s.SignerName); isBelow(sn, name) && (signer == "" || dns.CountLabel(sn) > dns.CountLabel(signer)) {
					signer = sn
				}
			}
		}
	}
	negTTL := func() time.Time {
		for _, rr := range msg.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				return v.lifetime([]dns.RR{soa}, nil, v.now().Add(time.Duration(soa.Minttl)*time.Second))
			}
		}
		return v.now()
	}
	st, ok := v.signerZone(ctx, res, name, signer, "denial", func(zone string) *Reason {
		return reasonf(EDENSECMissing, zone, "negative answer for %s %s has no signed proof", name, dns.TypeToString[qtype])
	}, negTTL)
	if !ok {
		return res
	}
	d := v.denial(msg, name, qtype, st)
	res.status, res.reason = d.status, d.reason
	if d.status == Secure || d.status == Insecure {
		if d.kind != KindAnswer {
			res.kind = d.kind
		}
		res.expires = minTime(d.expires, st.expires)
		res.hard = minTime(d.hard, st.hard)
	}
	return res
}

// signerZone establishes the zone that signed a response for name, the
// signer named by its RRSIGs ("" when it has none). It reports true with
// the signer's secure zone when validation can go on; otherwise it settles
// res and reports false:
//   - unsigned: acceptable only below a proven insecure delegation (then
//     Insecure, valid until insecureExpires); under a secure zone it is
//     Bogus with the reason unsigned gives for that zone;
//   - a signer that is not Secure passes its status on (Insecure, valid
//     until insecureExpires);
//   - a signer that is not the apex of a secure zone (or does not exist)
//     makes the response Bogus. what names the response in that reason.
func (v *validator) signerZone(ctx context.Context, res *stepResult, name, signer, what string, unsigned func(zone string) *Reason, insecureExpires func() time.Time) (*zoneState, bool) {
	if signer == "" {
		st := v.walk(ctx, name)
		res.status, res.reason = st.status, st.reason
		switch st.status {
		case Secure:
			res.status, res.reason = Bogus, unsigned(st.zone)
		case Insecure:
			res.expires = insecureExpires()
		}
		return nil, false
	}
	st := v.walk(ctx, signer)
	if st.status != Secure {
		res.status, res.reason = st.status, st.reason
		if st.status == Insecure {
			res.expires = insecureExpires()
		}
		return nil, false
	}
	if st.zone != signer || st.nxdomain {
		res.status = Bogus
		res.reason = reasonf(EDEDNSSECBogus, st.zone, "%s for %s is signed by %s, which is not a secure zone", what, name, signer)
		return nil, false
	}
	return st, true
}

// dname handles a DNAME redirection (RFC 6672): the DNAME RRset, owned by an
// ancestor of name, is validated, and the target is computed here rather
// than taken from the synthesized CNAME, which is unsigned (RFC 6672 §5.3.1).
// It returns nil when msg holds no DNAME for name.
func (v *validator) dname(ctx context.Context, name string, msg *dns.Msg) *stepResult {
	for owner := parentName(name); owner != "."; owner = parentName(owner) {
		rrs, sigs := rrsetWithSigs(msg.Answer, owner, dns.TypeDNAME)
		if len(rrs) == 0 {
			continue
		}
		if len(rrs) != 1 {
			return &stepResult{status: Bogus, msg: msg, reason: reasonf(EDEInvalidData, "", "%d DNAME records at %s", len(rrs), owner)}
		}
		d, ok := rrs[0].(*dns.DNAME)
		if !ok {
			return nil
		}
		prefix := strings.TrimSuffix(name, owner)
		target := dns.CanonicalName(prefix + dns.Fqdn(d.Target))
		if _, ok := dns.IsDomainName(target); !ok || len(target) > 255 {
			// RFC 6672 §2.2: a substitution that overflows is YXDOMAIN.
			return &stepResult{status: Bogus, msg: msg, reason: reasonf(EDEInvalidData, "", "DNAME at %s makes an invalid name from %s", owner, name)}
		}
		res := v.positive(ctx, owner, rrs, sigs, msg)
		res.target = target
		return res
	}
	return nil
}
