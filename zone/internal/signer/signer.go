// Package signer makes the RRSIG records of an online-signed zone: it signs
// RRsets with the zone's active keys and tells when a signature is old
// enough to be replaced.
//
// Signatures are valid from an hour in the past (clock skew between the
// server and validators) to Validity in the future, and a signature whose
// remaining validity falls below Refresh is replaced the next time it is
// served. With the defaults (14 days, refreshed with 7 days left) a cached
// or transferred signature never comes near expiry while the server runs.
// TypeValidity gives some types a validity of their own, refreshed at half
// of it: an identity zone signs its identity records for a short time, so
// that an RRset removed from the zone stops validating soon even for
// someone who kept a copy of it and its signature.
//
// A signature is not fresh either when it has more validity left than its
// type is signed for now: made before the validity was shortened, it is
// replaced instead of served on.
//
// Which key signs which RRset follows from the keys' flags alone, per
// algorithm (RFC 4035 §2.2 wants each RRset signed with every algorithm of
// the DNSKEY RRset): when the active keys of an algorithm include one
// without the SEP flag (a ZSK), the SEP keys (KSKs) sign only the DNSKEY,
// CDS and CDNSKEY RRsets and the ZSKs sign everything else (RFC 4033 §2,
// RFC 6781 §3.1, RFC 7344 §4.1); when they are all SEP keys (a combined
// signing key, CSK), each signs everything. Keys without the Zone flag
// sign nothing (RFC 4034 §2.1.1).
//
// Start with Signer.Sign and Signer.Fresh; Signer.KeysFor tells which keys
// sign a type.
package signer

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/keys"
)

// Defaults for Signer fields left zero.
const (
	DefaultValidity = 14 * 24 * time.Hour
	DefaultRefresh  = 7 * 24 * time.Hour
	// inceptionSkew backdates signatures against validators whose clocks
	// run behind (RFC 4035 §5.3.1 checks inception against local time).
	inceptionSkew = time.Hour
)

// ErrNoKey is returned when the signer has no active key.
var ErrNoKey = errors.New("signer: no active signing key")

// Signer signs RRsets of one zone.
type Signer struct {
	// Zone is the signer name (the zone apex), fully qualified.
	Zone string
	// Keys are the active keys. An RRset gets one signature from each of
	// the keys KeysFor its type returns: ZSKs for zone data and KSKs for
	// the DNSKEY, CDS and CDNSKEY RRsets when the keys are split, every
	// key when they are combined signing keys.
	Keys []*keys.Key
	// Validity is how long a new signature is valid; zero means
	// DefaultValidity.
	Validity time.Duration
	// Refresh is the remaining validity below which a signature is
	// replaced; zero means DefaultRefresh. It must be below Validity.
	Refresh time.Duration
	// TypeValidity, when set, returns how long signatures over RRsets of
	// type t are valid, overriding Validity and Refresh for that type when
	// it returns more than zero: such a signature is replaced once half of
	// that validity has passed.
	TypeValidity func(t uint16) time.Duration
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
	// Retiring are keys still in the DNSKEY RRset that sign nothing any
	// more: the old ZSK of a pre-publication rollover after its
	// activation (RFC 7583 §3.2.1). Signatures they made are still good
	// until they are replaced (Accepts), so the zone need not be signed
	// again all at once when the new ZSK takes over.
	Retiring []*keys.Key
	// Made, when set, counts the signatures Sign makes (one per key per
	// RRset); signers that replace each other share one counter, so the
	// count tells what a change of keys cost.
	Made *atomic.Int64

	// fpOnce computes fp: the identity of the keys KeysFor returns for
	// zone data (0) and for the DNSKEY, CDS and CDNSKEY RRsets (1).
	fpOnce sync.Once
	fp     [2]string
	ids    [2][]string
	// retiring is the identities of Retiring's keys.
	retiring map[string]bool

	// wireOnce packs wireName, the zone's name in canonical wire form
	// (the RRSIG signer's name SignWire writes), or fails with wireErr.
	wireOnce sync.Once
	wireName []byte
	wireErr  error
}

// keyID identifies a key: its DNSKEY RDATA without the protocol field
// (flags, algorithm, public key), which no two keys share.
func keyID(k *keys.Key) string {
	return fmt.Sprintf("%d/%d/%s", k.DNSKEY.Flags, k.DNSKEY.Algorithm, k.DNSKEY.PublicKey)
}

// class is the index of t in fp: 1 for the RRsets a KSK signs in a zone
// with a ZSK, 0 for the others.
func class(t uint16) int {
	if keySetType(t) {
		return 1
	}
	return 0
}

func (s *Signer) fingerprints() *[2]string {
	s.fpOnce.Do(func() {
		for c, t := range []uint16{dns.TypeTLSA, dns.TypeDNSKEY} {
			var ids []string
			for _, k := range s.KeysFor(t) {
				ids = append(ids, keyID(k))
			}
			slices.Sort(ids)
			s.ids[c] = ids
			s.fp[c] = strings.Join(ids, " ")
		}
		s.retiring = map[string]bool{}
		for _, k := range s.Retiring {
			s.retiring[keyID(k)] = true
		}
	})
	return &s.fp
}

// SameKeys reports whether the signatures o makes over RRsets of type t
// are by exactly the keys s signs them with: a signature o made is then
// as good as one s would make (Fresh still checks its times). A key
// change that leaves the keys of a type alone (a ZSK pre-published, every
// step of a KSK rollover for zone data) keeps the signatures of that
// type.
func (s *Signer) SameKeys(o *Signer, t uint16) bool {
	if s == o {
		return true
	}
	if o == nil {
		return false
	}
	c := class(t)
	return s.fingerprints()[c] == o.fingerprints()[c]
}

// Accepts reports whether signatures o made over RRsets of type t may be
// served instead of signatures by s: they are by the same keys
// (SameKeys), or by keys of s that are Retiring (the old ZSK while the
// zone is signed again with the new one in the background). Signatures
// accepted only because their keys are retiring must be replaced before
// those keys leave the DNSKEY RRset.
func (s *Signer) Accepts(o *Signer, t uint16) bool {
	if s.SameKeys(o, t) {
		return true
	}
	if o == nil || len(s.Retiring) == 0 {
		return false
	}
	s.fingerprints()
	o.fingerprints()
	own := o.ids[class(t)]
	if len(own) == 0 {
		return false
	}
	for _, id := range own {
		if !s.retiring[id] {
			return false
		}
	}
	return true
}

// freshnessSlack is how much further than its type's validity a signature
// may reach and still count as made with that validity: clock steps, and
// the rounding of times to seconds.
const freshnessSlack = time.Minute

// validityFor is how long a new signature over an RRset of type t is
// valid, and the remaining validity below which it is replaced.
func (s *Signer) validityFor(t uint16) (validity, refresh time.Duration) {
	if s.TypeValidity != nil {
		if v := s.TypeValidity(t); v > 0 {
			return v, v / 2
		}
	}
	return s.validity(), s.refresh()
}

// RefreshMargin is the remaining validity below which a signature over
// an RRset of type t is no longer Fresh: Refresh, or half of the type's
// TypeValidity. A signature due for replacement is still valid for this
// long.
func (s *Signer) RefreshMargin(t uint16) time.Duration {
	_, refresh := s.validityFor(t)
	return refresh
}

func (s *Signer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Signer) validity() time.Duration {
	if s.Validity > 0 {
		return s.Validity
	}
	return DefaultValidity
}

func (s *Signer) refresh() time.Duration {
	if s.Refresh > 0 && s.Refresh < s.validity() {
		return s.Refresh
	}
	if DefaultRefresh < s.validity() {
		return DefaultRefresh
	}
	return s.validity() / 2
}

// keySetType reports whether t is one of the RRsets a KSK signs when the
// zone also has a ZSK: the DNSKEY RRset, whose signature by a key the
// parent's DS names is where validation enters the zone (RFC 4035 §5.2),
// and the CDS and CDNSKEY RRsets, which RFC 7344 §4.1 wants signed by a
// key the current DS names.
func keySetType(t uint16) bool {
	return t == dns.TypeDNSKEY || t == dns.TypeCDS || t == dns.TypeCDNSKEY
}

// KeysFor returns the active keys that sign an RRset of type t, in the
// order of Keys.
//
// The DNSKEY RRset is signed by the KSKs only, not also by the ZSKs: a
// validator needs only the signature of a key the DS names (RFC 4035
// §5.2), and a second signature would make every DNSKEY response larger
// (the RRset carries two or three keys during a rollover, and answers
// should fit in 1232 octets) for no gain in trust, since the ZSK's own
// authority comes from that very RRset.
func (s *Signer) KeysFor(t uint16) []*keys.Key {
	// Per algorithm: does it have a ZSK among the active keys?
	var hasZSK [256]bool
	for _, k := range s.Keys {
		if k.DNSKEY.Flags&keys.FlagZone != 0 && !k.IsSEP() {
			hasZSK[k.DNSKEY.Algorithm] = true
		}
	}
	var out []*keys.Key
	for _, k := range s.Keys {
		if k.DNSKEY.Flags&keys.FlagZone == 0 {
			continue
		}
		if hasZSK[k.DNSKEY.Algorithm] && k.IsSEP() != keySetType(t) {
			continue
		}
		out = append(out, k)
	}
	return out
}

// Sign returns one RRSIG over rrs by each key KeysFor their type returns;
// rrs must be one RRset (same owner, class and type). The RRSIG TTL is the
// RRset's TTL (RFC 4034 §3: the RRSIG TTL equals the TTL of the covered
// RRset).
func (s *Signer) Sign(rrs []dns.RR) ([]dns.RR, error) {
	if len(rrs) == 0 {
		return nil, errors.New("signer: empty RRset")
	}
	t := rrs[0].Header().Rrtype
	ks := s.KeysFor(t)
	if len(ks) == 0 {
		if len(s.Keys) == 0 {
			return nil, ErrNoKey
		}
		return nil, fmt.Errorf("%w for %s RRsets (a zone with a ZSK needs a KSK of the same algorithm)", ErrNoKey, dns.TypeToString[t])
	}
	now := s.now()
	validity, _ := s.validityFor(t)
	incep := uint32(now.Add(-inceptionSkew).Unix())
	exp := uint32(now.Add(validity).Unix())
	out := make([]dns.RR, 0, len(ks))
	for _, k := range ks {
		sig := &dns.RRSIG{
			Hdr:        dns.RR_Header{Ttl: rrs[0].Header().Ttl},
			Algorithm:  k.DNSKEY.Algorithm,
			KeyTag:     k.Tag(),
			SignerName: dns.CanonicalName(s.Zone),
			Inception:  incep,
			Expiration: exp,
		}
		if err := sig.Sign(k.Signer, rrs); err != nil {
			return nil, fmt.Errorf("signer: sign %s %s: %w", rrs[0].Header().Name, dns.TypeToString[rrs[0].Header().Rrtype], err)
		}
		out = append(out, sig)
	}
	if s.Made != nil {
		s.Made.Add(int64(len(out)))
	}
	return out, nil
}

// Fresh reports whether every signature in sigs has already begun, has
// more than the refresh margin of its type left (Refresh, or half of its
// TypeValidity), and reaches no further than a signature of its type made
// now would.
func (s *Signer) Fresh(sigs []dns.RR) bool {
	if len(sigs) == 0 {
		return false
	}
	now := s.now()
	for _, rr := range sigs {
		sig, ok := rr.(*dns.RRSIG)
		if !ok {
			return false
		}
		validity, refresh := s.validityFor(sig.TypeCovered)
		exp := time.Unix(int64(sig.Expiration), 0)
		inc := time.Unix(int64(sig.Inception), 0)
		if !exp.After(now.Add(refresh)) || inc.After(now) || exp.After(now.Add(validity+freshnessSlack)) {
			return false
		}
	}
	return true
}
