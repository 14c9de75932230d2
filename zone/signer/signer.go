// Package signer makes the RRSIG records of an online-signed zone: it signs
// RRsets with the zone's active keys and tells when a signature is old
// enough to be replaced.
//
// Signatures are valid from an hour in the past (clock skew between the
// server and validators) to Validity in the future, and a signature whose
// remaining validity falls below Refresh is replaced the next time it is
// served. With the defaults (14 days, refreshed with 7 days left) a cached
// or transferred signature never comes near expiry while the server runs.
//
// Start with Signer.Sign and Signer.Fresh.
package signer

import (
	"errors"
	"fmt"
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
	// Keys are the active keys; every RRset gets one signature per key.
	Keys []*keys.Key
	// Validity is how long a new signature is valid; zero means
	// DefaultValidity.
	Validity time.Duration
	// Refresh is the remaining validity below which a signature is
	// replaced; zero means DefaultRefresh. It must be below Validity.
	Refresh time.Duration
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
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

// Sign returns one RRSIG per active key over rrs, which must be one RRset
// (same owner, class and type). The RRSIG TTL is the RRset's TTL
// (RFC 4034 §3: the RRSIG TTL equals the TTL of the covered RRset).
func (s *Signer) Sign(rrs []dns.RR) ([]dns.RR, error) {
	if len(s.Keys) == 0 {
		return nil, ErrNoKey
	}
	if len(rrs) == 0 {
		return nil, errors.New("signer: empty RRset")
	}
	now := s.now()
	incep := uint32(now.Add(-inceptionSkew).Unix())
	exp := uint32(now.Add(s.validity()).Unix())
	out := make([]dns.RR, 0, len(s.Keys))
	for _, k := range s.Keys {
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
	return out, nil
}

// Fresh reports whether every signature in sigs has more than Refresh of
// validity left and has already begun.
func (s *Signer) Fresh(sigs []dns.RR) bool {
	if len(sigs) == 0 {
		return false
	}
	now := s.now()
	limit := now.Add(s.refresh())
	for _, rr := range sigs {
		sig, ok := rr.(*dns.RRSIG)
		if !ok {
			return false
		}
		exp := time.Unix(int64(sig.Expiration), 0)
		inc := time.Unix(int64(sig.Inception), 0)
		if !exp.After(limit) || inc.After(now) {
			return false
		}
	}
	return true
}
