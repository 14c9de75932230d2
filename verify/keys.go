package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
)

// PublishedKey is a public key that a TLSA record carries whole: a
// DANE-EE(3) SPKI(1) Full(0) record, "3 1 0", the only kind of record from
// which a key can be taken without the peer presenting it (RFC 6698
// §2.1.2, RFC 7671 §5.1).
type PublishedKey struct {
	// Record is the TLSA record; its Data is SPKI.
	Record tlsa.Record
	// SPKI is the DER SubjectPublicKeyInfo the record carries.
	SPKI []byte
	// Key is SPKI parsed.
	Key crypto.PublicKey
}

// PublishedKeys returns the keys that the TLSA records at claimedName
// publish whole, for a peer that presents no key of its own and proves
// itself with a signature (a signed message whose header names its signer,
// docs/message-identities.md). It runs the first steps of Verify: name
// syntax, allow-list (nothing is looked up for a name that is not
// allowed), the validated lookup, the revocation marker. Once a signature
// verifies under one of the keys, authenticate the peer with
// Verify(ctx, claimedName, Presented{RawPublicKey: k.SPKI}): the match and
// the policy stay Verify's, and its verdict is cached.
//
// A name whose records publish no usable "3 1 0" record gets
// ReasonNoUsableRecords: its peers must present their certificate. A user
// name ("_user.domain") gets ReasonPolicy: a user is vouched for by the
// domain's CA, never by a bare key. Refusals are counted and logged as
// Verify's are.
func (c *Core) PublishedKeys(ctx context.Context, claimedName string) ([]PublishedKey, error) {
	keys, err := c.publishedKeys(ctx, claimedName)
	if err != nil {
		c.record(ctx, claimedName, nil, err, false)
	}
	return keys, err
}

func (c *Core) publishedKeys(ctx context.Context, claimed string) ([]PublishedKey, error) {
	n, err := identity.ParseName(claimed)
	if err != nil {
		return nil, &Error{Reason: ReasonNameSyntax, Name: claimed, Err: err}
	}
	name := n.String()
	if !c.allow.Load().Allows(name) {
		return nil, &Error{Reason: ReasonNotAllowed, Name: name}
	}
	if n.Kind() == identity.KindUser {
		return nil, &Error{Reason: ReasonPolicy, Name: name, Err: errors.New("a user is vouched for by the domain's CA: the signer must present its certificate")}
	}
	res, err := c.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	if res.Kind != resolver.KindAnswer {
		return nil, &Error{Reason: ReasonNoRecord, Name: name, Err: fmt.Errorf("DNSSEC proves %s for the TLSA records", res.Kind)}
	}
	now := c.now()
	ttl := min(res.TTL, c.cfg.MaxVerdictTTL)
	rrset := c.tlsaRecords(name, res, now, ttl)
	for _, r := range rrset.records {
		if r.IsRevocationMarker() {
			return nil, &Error{Reason: ReasonRevoked, Name: name, Err: fmt.Errorf("the TLSA records hold the revocation marker (%s)", tlsa.RevocationMarker)}
		}
	}
	var out []PublishedKey
	for _, r := range rrset.records {
		if r.Usage != tlsa.DANEEE || r.Selector != tlsa.SelectorSPKI || r.MatchingType != tlsa.MatchFull {
			continue
		}
		pub, err := x509.ParsePKIXPublicKey(r.Data)
		if err != nil {
			continue // RFC 7671 §9: a malformed record is unusable
		}
		rec := r
		rec.Data = bytes.Clone(r.Data)
		out = append(out, PublishedKey{Record: rec, SPKI: rec.Data, Key: pub})
	}
	if len(out) == 0 {
		return nil, &Error{Reason: ReasonNoUsableRecords, Name: name, Err: fmt.Errorf("no DANE-EE SPKI Full (3 1 0) record publishes a key: the peer must present its certificate")}
	}
	return out, nil
}
