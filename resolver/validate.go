package resolver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/ttlcache"
)

// Algorithms this validator verifies (RFC 8624 §3.1 MUST/RECOMMENDED for
// validation). RSASHA1 (5) and RSASHA1-NSEC3-SHA1 (7) are deliberately
// absent: SHA-1 signatures are treated as insecure, as RFC 4035 §5.2 says for
// zones whose DS records name only unsupported algorithms. Ed448 (16) has no
// maintained pure-Go implementation among this module's dependencies.
var supportedAlgorithms = map[uint8]bool{
	dns.RSASHA256:       true, // 8, RFC 5702
	dns.RSASHA512:       true, // 10, RFC 5702
	dns.ECDSAP256SHA256: true, // 13, RFC 6605
	dns.ECDSAP384SHA384: true, // 14, RFC 6605
	dns.ED25519:         true, // 15, RFC 8080
}

// Supported DS digest types: SHA-256 (RFC 4509) and SHA-384 (RFC 6605). SHA-1
// (1) is treated as unsupported (RFC 8624 §3.3: MUST NOT be used to validate
// where a stronger one is available; here never).
var supportedDigests = map[uint8]bool{
	dns.SHA256: true,
	dns.SHA384: true,
}

// maxVerifications bounds the signature verifications tried for one RRset
// (RRSIGs times keys with a matching tag). A correct zone needs one or two,
// a key rollover a few more.
const maxVerifications = 8

// zoneState is what the chain walk knows about the zone enclosing a name.
type zoneState struct {
	zone    string
	status  Status
	keys    []*dns.DNSKEY
	tags    []uint16
	reason  *Reason
	expires time.Time
	// hard is the earliest signature expiration in the chain: the cache
	// floor never keeps a state past it.
	hard time.Time
	// nxdomain: a proven name error was met on the way down; nothing below
	// exists.
	nxdomain bool
}

// querier sends one query (DO and CD set) to the upstreams.
type querier func(ctx context.Context, name string, qtype uint16) (*dns.Msg, error)

// validator walks DNSKEY/DS chains and checks answers. It is shared by all
// lookups of one Resolver.
type validator struct {
	query   querier
	anchors *Anchors
	now     func() time.Time
	skew    time.Duration
	// NSEC3 iteration limits (RFC 9276 §3.2).
	nsec3Insecure uint16
	nsec3Bogus    uint16
	maxCNAMEs     int
	minTTL        time.Duration
	maxTTL        time.Duration
	// zones caches the walk state per name; nil disables caching.
	zones *ttlcache.Cache[string, *zoneState]
}

func (v *validator) clamp(exp time.Time, now time.Time) time.Time {
	d := exp.Sub(now)
	if d < v.minTTL {
		d = v.minTTL
	}
	if v.maxTTL > 0 && d > v.maxTTL {
		d = v.maxTTL
	}
	return now.Add(d)
}

// cacheZone keeps a chain state for later walks. Only states proven by
// validated data are kept, Secure and Insecure ones: a Bogus or
// Indeterminate state may come from one forged or lost packet, and kept here
// it would spoil every name below the zone cut, not the one lookup that met
// it. Failures are cached per question instead, briefly, in the result
// cache (RFC 9520 §3), which bounds what a broken zone costs.
func (v *validator) cacheZone(name string, st *zoneState) {
	if v.zones == nil || (st.status != Secure && st.status != Insecure) {
		return
	}
	now := v.now()
	exp := st.expires
	if exp.IsZero() {
		exp = now
	}
	v.zones.Put(name, st, minTime(v.clamp(exp, now), st.hard), now)
}

// walk returns the state of the deepest zone at or above target, walking DS
// and DNSKEY records down from the closest trust anchor (RFC 4035 §5).
func (v *validator) walk(ctx context.Context, target string) *zoneState {
	target = dns.CanonicalName(target)
	an := v.anchors.closest(target)
	if an == nil {
		return &zoneState{zone: ".", status: Indeterminate,
			reason: reasonf(EDEDNSSECIndeterminate, "", "no trust anchor covers %s", target)}
	}
	st, ok := v.cachedZone("anchor:" + an.zone)
	if !ok {
		st = v.anchorState(ctx, an)
		v.cacheZone("anchor:"+an.zone, st)
	}
	for _, n := range namesBetween(an.zone, target) {
		if st.status != Secure || st.nxdomain {
			break
		}
		if c, ok := v.cachedZone(n); ok {
			st = c
			continue
		}
		st = v.step(ctx, st, n)
		v.cacheZone(n, st)
	}
	return st
}

func (v *validator) cachedZone(key string) (*zoneState, bool) {
	if v.zones == nil {
		return nil, false
	}
	return v.zones.Get(key, v.now())
}

func bogusState(zone string, r *Reason) *zoneState {
	return &zoneState{zone: zone, status: Bogus, reason: r}
}

func failedQuery(zone, name string, qtype uint16, err error) *zoneState {
	return &zoneState{zone: zone, status: Indeterminate,
		reason: reasonf(EDENetworkError, zone, "query %s %s: %v", name, dns.TypeToString[qtype], err)}
}

// anchorState fetches the DNSKEY RRset of an anchored zone and checks it
// against the anchor (RFC 4035 §5.1, RFC 5011 not implemented: anchors are
// static).
func (v *validator) anchorState(ctx context.Context, an *anchor) *zoneState {
	var usable bool
	for _, d := range an.ds {
		usable = usable || (supportedDigests[d.DigestType] && supportedAlgorithms[d.Algorithm])
	}
	for _, k := range an.dnskeys {
		usable = usable || supportedAlgorithms[k.Algorithm]
	}
	if !usable {
		return &zoneState{zone: an.zone, status: Insecure,
			reason: reasonf(EDEUnsupportedDNSKEYAlgorithm, an.zone, "trust anchor uses only unsupported algorithms or digests")}
	}
	msg, err := v.query(ctx, an.zone, dns.TypeDNSKEY)
	if err != nil {
		return failedQuery(an.zone, an.zone, dns.TypeDNSKEY, err)
	}
	keys, sigs := dnskeys(msg, an.zone)
	if len(keys) == 0 {
		return bogusState(an.zone, reasonf(EDEDNSKEYMissing, an.zone, "no DNSKEY records at the trust anchor"))
	}
	var trusted []*dns.DNSKEY
	for _, rr := range keys {
		if k, ok := rr.(*dns.DNSKEY); ok && matchesAnchor(k, an) {
			trusted = append(trusted, k)
		}
	}
	if len(trusted) == 0 {
		return bogusState(an.zone, reasonf(EDEDNSKEYMissing, an.zone, "no DNSKEY matches the trust anchor"))
	}
	return v.keyState(an.zone, keys, sigs, trusted)
}

// usableKey reports whether k may validate anything: a zone key (RFC 4034
// §2.1.1) for DNSSEC (§2.1.2) with a supported algorithm and without the
// REVOKE flag (RFC 5011 §2.1: a revoked key MUST NOT be used to validate
// any RRset, its own DNSKEY RRset included).
func usableKey(k *dns.DNSKEY) bool {
	return k.Flags&dns.ZONE != 0 && k.Flags&dns.REVOKE == 0 && k.Protocol == 3 && supportedAlgorithms[k.Algorithm]
}

// matchesAnchor reports whether k is one of an's keys: a DNSKEY anchor with
// the same flags, algorithm and key bytes (base64 text is compared decoded:
// the same key may be written with other padding or spacing, and text that
// only looks alike is another key), or a key named by a DS anchor.
func matchesAnchor(k *dns.DNSKEY, an *anchor) bool {
	if !usableKey(k) {
		return false
	}
	key, err := decodeKey(k.PublicKey)
	if err != nil {
		return false
	}
	for i, a := range an.dnskeys {
		if a.Algorithm == k.Algorithm && a.Flags == k.Flags && bytes.Equal(an.keys[i], key) {
			return true
		}
	}
	return matchesDS(k, an.ds)
}

// matchesDS reports whether key k is named by one of the supported DS
// records (RFC 4034 §5.2).
func matchesDS(k *dns.DNSKEY, dss []*dns.DS) bool {
	if !usableKey(k) {
		return false
	}
	tag := k.KeyTag()
	for _, d := range dss {
		if d.KeyTag != tag || d.Algorithm != k.Algorithm || !supportedDigests[d.DigestType] {
			continue
		}
		if digest := dsDigest(k, d.DigestType); digest != "" && strings.EqualFold(digest, d.Digest) {
			return true
		}
	}
	return false
}

// dsDigest computes the DS digest of k (RFC 4034 §5.1.4).
func dsDigest(k *dns.DNSKEY, digestType uint8) string {
	owner := make([]byte, 256)
	off, err := dns.PackDomainName(dns.CanonicalName(k.Hdr.Name), owner, 0, nil, false)
	if err != nil {
		return ""
	}
	rdata := make([]byte, 4096)
	hdrLen, err := dns.PackRR(&dns.DNSKEY{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET},
		Flags: k.Flags, Protocol: k.Protocol, Algorithm: k.Algorithm, PublicKey: k.PublicKey}, rdata, 0, nil, false)
	if err != nil {
		return ""
	}
	// The packed RR is root name (1) + type, class, ttl, rdlength (10) + rdata.
	data := append(owner[:off:off], rdata[11:hdrLen]...)
	switch digestType {
	case dns.SHA256:
		s := sha256.Sum256(data)
		return hex.EncodeToString(s[:])
	case dns.SHA384:
		s := sha512.Sum384(data)
		return hex.EncodeToString(s[:])
	}
	return ""
}

// keyState verifies the DNSKEY RRset with one of the trusted keys and, on
// success, returns a Secure state holding all zone keys of the set.
func (v *validator) keyState(zone string, keys []dns.RR, sigs []*dns.RRSIG, trusted []*dns.DNSKEY) *zoneState {
	probe := &zoneState{zone: zone, keys: trusted}
	for _, k := range trusted {
		probe.tags = append(probe.tags, k.KeyTag())
	}
	sig, exp, r := v.verifyRRset(keys, sigs, probe)
	if r == nil && expanded(sig, zone) {
		r = reasonf(EDEDNSSECBogus, zone, "the signature is for a wildcard, not for the zone apex")
	}
	if r != nil {
		r.Text = "DNSKEY RRset: " + r.Text
		return bogusState(zone, r)
	}
	st := &zoneState{zone: zone, status: Secure, expires: v.lifetime(keys, sig, exp), hard: exp}
	for _, rr := range keys {
		k, ok := rr.(*dns.DNSKEY)
		if ok && usableKey(k) {
			st.keys = append(st.keys, k)
			st.tags = append(st.tags, k.KeyTag())
		}
	}
	return st
}

// lifetime is min(TTL, original TTL, signature expiration) for a verified
// RRset (RFC 4035 §5.3.3).
func (v *validator) lifetime(rrset []dns.RR, sig *dns.RRSIG, sigExp time.Time) time.Time {
	now := v.now()
	ttl := uint32(1<<31 - 1)
	for _, rr := range rrset {
		ttl = min(ttl, rr.Header().Ttl)
	}
	if sig != nil {
		ttl = min(ttl, sig.OrigTtl)
	}
	exp := now.Add(time.Duration(ttl) * time.Second)
	if !sigExp.IsZero() && sigExp.Before(exp) {
		exp = sigExp
	}
	return exp
}

// serialTime maps a 32-bit RRSIG time onto the calendar near now, using
// serial number arithmetic (RFC 4034 §3.1.5, RFC 1982).
func serialTime(t uint32, now time.Time) time.Time {
	delta := int32(t - uint32(now.Unix()))
	return now.Add(time.Duration(delta) * time.Second)
}

// verifyRRset checks that one of sigs, made by the zone of st with one of its
// keys, is within its validity period and verifies rrset. It returns the
// signature that verified and its expiration time.
func (v *validator) verifyRRset(rrset []dns.RR, sigs []*dns.RRSIG, st *zoneState) (*dns.RRSIG, time.Time, *Reason) {
	if len(rrset) == 0 {
		return nil, time.Time{}, reasonf(EDEDNSSECBogus, st.zone, "empty RRset")
	}
	h := rrset[0].Header()
	what := dns.CanonicalName(h.Name) + " " + dns.TypeToString[h.Rrtype]
	if len(sigs) == 0 {
		return nil, time.Time{}, reasonf(EDERRSIGsMissing, st.zone, "no RRSIG over %s", what)
	}
	if !isBelow(st.zone, h.Name) {
		return nil, time.Time{}, reasonf(EDEDNSSECBogus, st.zone, "%s is not in the zone", what)
	}
	now := v.now()
	var r *Reason
	attempts := 0
	for _, sig := range sigs {
		switch {
		case dns.CanonicalName(sig.SignerName) != st.zone:
			r = reasonf(EDEDNSSECBogus, st.zone, "RRSIG over %s is by %s, not by the zone", what, sig.SignerName)
			continue
		case !supportedAlgorithms[sig.Algorithm]:
			if r == nil {
				r = reasonf(EDEUnsupportedDNSKEYAlgorithm, st.zone, "RRSIG over %s uses unsupported algorithm %d", what, sig.Algorithm)
			}
			continue
		}
		inc, exp := serialTime(sig.Inception, now), serialTime(sig.Expiration, now)
		if now.Add(v.skew).Before(inc) {
			r = reasonf(EDESignatureNotYetValid, st.zone, "RRSIG over %s not valid before %s", what, inc.UTC().Format(time.RFC3339))
			continue
		}
		if now.Add(-v.skew).After(exp) {
			r = reasonf(EDESignatureExpired, st.zone, "RRSIG over %s expired at %s", what, exp.UTC().Format(time.RFC3339))
			continue
		}
		found := false
		for i, k := range st.keys {
			if st.tags[i] != sig.KeyTag || k.Algorithm != sig.Algorithm {
				continue
			}
			found = true
			if attempts++; attempts > maxVerifications {
				// CVE-2023-50387 (KeyTrap): colliding key tags and piles of
				// signatures must not buy an attacker unbounded CPU.
				return nil, time.Time{}, reasonf(EDEDNSSECBogus, st.zone,
					"more than %d signature checks for %s", maxVerifications, what)
			}
			if err := sig.Verify(k, rrset); err == nil {
				return sig, exp, nil
			}
		}
		if found {
			r = reasonf(EDEDNSSECBogus, st.zone, "RRSIG over %s (key tag %d) does not verify", what, sig.KeyTag)
		} else if r == nil || r.Code != EDEDNSSECBogus {
			r = reasonf(EDEDNSKEYMissing, st.zone, "no DNSKEY with key tag %d for the RRSIG over %s", sig.KeyTag, what)
		}
	}
	return nil, time.Time{}, r
}

// step advances the walk from the secure zone st to the name n one label
// below (RFC 4035 §5.2): a signed DS RRset makes n a secure zone, a proof of
// no DS at a delegation makes it insecure, a proof that n is no delegation
// keeps st.
func (v *validator) step(ctx context.Context, st *zoneState, n string) *zoneState {
	msg, err := v.query(ctx, n, dns.TypeDS)
	if err != nil {
		return failedQuery(st.zone, n, dns.TypeDS, err)
	}
	ds, dsSigs := rrsetWithSigs(msg.Answer, n, dns.TypeDS)
	if len(ds) > 0 {
		sig, exp, r := v.verifyAt(msg, n, ds, dsSigs, st)
		if r != nil {
			r.Text = "DS RRset: " + r.Text
			return bogusState(st.zone, r)
		}
		dsExp, dsHard := v.lifetime(ds, sig, exp), minTime(exp, st.hard)
		var usable []*dns.DS
		for _, rr := range ds {
			d, ok := rr.(*dns.DS)
			if ok && supportedDigests[d.DigestType] && supportedAlgorithms[d.Algorithm] {
				usable = append(usable, d)
			}
		}
		if len(usable) == 0 {
			// RFC 4035 §5.2: no DS with a supported algorithm and digest
			// means the child zone is treated as unsigned.
			code := EDEUnsupportedDSDigest
			for _, rr := range ds {
				if d, ok := rr.(*dns.DS); ok && !supportedAlgorithms[d.Algorithm] {
					code = EDEUnsupportedDNSKEYAlgorithm
				}
			}
			return &zoneState{zone: n, status: Insecure, expires: dsExp, hard: dsHard,
				reason: reasonf(code, n, "DS records use only unsupported algorithms or digest types")}
		}
		kmsg, err := v.query(ctx, n, dns.TypeDNSKEY)
		if err != nil {
			return failedQuery(n, n, dns.TypeDNSKEY, err)
		}
		keys, ksigs := dnskeys(kmsg, n)
		if len(keys) == 0 {
			return bogusState(n, reasonf(EDEDNSKEYMissing, n, "DS present but no DNSKEY records"))
		}
		var trusted []*dns.DNSKEY
		for _, rr := range keys {
			if k, ok := rr.(*dns.DNSKEY); ok && matchesDS(k, usable) {
				trusted = append(trusted, k)
			}
		}
		if len(trusted) == 0 {
			return bogusState(n, reasonf(EDEDNSKEYMissing, n, "no DNSKEY matches the DS records"))
		}
		ks := v.keyState(n, keys, ksigs, trusted)
		if ks.status == Secure {
			ks.expires = minTime(ks.expires, dsExp)
			ks.hard = minTime(ks.hard, dsHard)
		}
		return ks
	}
	for owner := parentName(n); isStrictlyBelow(st.zone, owner); owner = parentName(owner) {
		// RFC 6672 §2.3: below a DNAME nothing exists in this zone, so n is
		// no zone cut; the CNAME synthesized beside it is unsigned (RFC 6672
		// §5.3.1) and only the signed DNAME counts.
		if dn, dnSigs := rrsetWithSigs(msg.Answer, owner, dns.TypeDNAME); len(dn) > 0 {
			return v.aliasState(msg, owner, dn, dnSigs, st)
		}
	}
	if cn, cnSigs := rrsetWithSigs(msg.Answer, n, dns.TypeCNAME); len(cn) > 0 {
		// An alias owns no zone cut (RFC 1034 §3.6.2), but only a CNAME
		// that st's zone signed says so: an unsigned or forged one would
		// hide the cut, and every name below it would fail to validate.
		return v.aliasState(msg, n, cn, cnSigs, st)
	}
	d := v.denial(msg, n, dns.TypeDS, st)
	switch {
	case d.status == Bogus || d.status == Indeterminate:
		return &zoneState{zone: st.zone, status: d.status, reason: d.reason}
	case d.status == Insecure:
		return &zoneState{zone: n, status: Insecure, reason: d.reason, expires: d.expires, hard: minTime(st.hard, d.hard)}
	case d.kind == KindNXDomain:
		ns := *st
		ns.nxdomain = true
		ns.expires = minTime(st.expires, d.expires)
		ns.hard = minTime(st.hard, d.hard)
		return &ns
	case d.delegation:
		// RFC 4035 §5.2: a proven delegation without DS is an insecure
		// delegation (an opt-out span, RFC 5155 §8.6, comes as Insecure
		// above).
		return &zoneState{zone: n, status: Insecure, expires: d.expires, hard: minTime(st.hard, d.hard),
			reason: reasonf(EDEOther, n, "insecure delegation: the parent zone %s proves there is no DS", st.zone)}
	default:
		ns := *st
		ns.expires = minTime(st.expires, d.expires)
		ns.hard = minTime(st.hard, d.hard)
		return &ns
	}
}

// aliasState is st, still in force below owner, when the signed alias
// (a CNAME or DNAME) at owner answered a DS query: st's zone must have
// signed it, and st then lasts no longer than the alias's signature.
func (v *validator) aliasState(msg *dns.Msg, owner string, alias []dns.RR, sigs []*dns.RRSIG, st *zoneState) *zoneState {
	sig, exp, r := v.verifyAt(msg, owner, alias, sigs, st)
	if r != nil {
		r.Text = dns.TypeToString[alias[0].Header().Rrtype] + " in answer to the DS query: " + r.Text
		return bogusState(st.zone, r)
	}
	ns := *st
	ns.expires = minTime(st.expires, v.lifetime(alias, sig, exp))
	ns.hard = minTime(st.hard, exp)
	return &ns
}

// verifyAt verifies an RRset owned by name in msg's answer section for the
// chain walk, like verifyRRset. An RRset expanded from a wildcard (RFC 4034
// §3.1.3: fewer RRSIG labels than the owner has) counts only with the proof
// that no closer match exists (RFC 4035 §5.3.4): a signed expansion can
// otherwise be replayed at any name of the zone, a zone cut included.
func (v *validator) verifyAt(msg *dns.Msg, name string, rrs []dns.RR, sigs []*dns.RRSIG, st *zoneState) (*dns.RRSIG, time.Time, *Reason) {
	sig, exp, r := v.verifyRRset(rrs, sigs, st)
	if r != nil {
		return nil, time.Time{}, r
	}
	if expanded(sig, name) {
		if status, r := v.wildcardProof(msg, name, sig.Labels, st); status != Secure {
			// Even an opt-out span (Insecure) cannot tell that name is
			// no zone cut: it may hide an unsigned delegation.
			return nil, time.Time{}, reasonf(EDEDNSSECBogus, st.zone, "%s %s expanded from a wildcard without a secure proof: %s",
				dns.CanonicalName(name), typeString(rrs[0].Header().Rrtype), r.Text)
		}
	}
	return sig, exp, nil
}

// expanded reports whether sig shows that the RRset it covers at owner was
// expanded from a wildcard (RFC 4034 §3.1.3: a Labels field below the
// owner's label count), unless owner is the wildcard itself, whose "*"
// label is not counted.
func expanded(sig *dns.RRSIG, owner string) bool {
	owner = dns.CanonicalName(owner)
	n := dns.CountLabel(owner)
	if strings.HasPrefix(owner, "*.") && int(sig.Labels) == n-1 {
		return false
	}
	return int(sig.Labels) < n
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() {
		return b
	}
	if b.IsZero() || a.Before(b) {
		return a
	}
	return b
}

// dnskeys returns the DNSKEY RRset at zone from msg's answer and its RRSIGs.
func dnskeys(msg *dns.Msg, zone string) ([]dns.RR, []*dns.RRSIG) {
	return rrsetWithSigs(msg.Answer, zone, dns.TypeDNSKEY)
}

// rrsetWithSigs returns the records of section owned by name with type t,
// and the RRSIGs covering them.
func rrsetWithSigs(section []dns.RR, name string, t uint16) ([]dns.RR, []*dns.RRSIG) {
	var rrs []dns.RR
	var sigs []*dns.RRSIG
	for _, rr := range section {
		h := rr.Header()
		if h.Class != dns.ClassINET || !strings.EqualFold(h.Name, name) {
			continue
		}
		if h.Rrtype == t {
			rrs = append(rrs, rr)
		} else if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == t {
			sigs = append(sigs, s)
		}
	}
	return rrs, sigs
}
