package verify

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/resolver"
)

// PublishedKey is a public key a name publishes in full: a DANE-EE record
// with selector SPKI and matching type Full ("3 1 0", RFC 6698 §2.1), the
// one form of TLSA record from which the key itself can be read.
type PublishedKey struct {
	// SPKI is the DER SubjectPublicKeyInfo of the key.
	SPKI []byte
	// Key is SPKI parsed (x509.ParsePKIXPublicKey): *ecdsa.PublicKey,
	// ed25519.PublicKey or *rsa.PublicKey. It is parsed once while the
	// records are cached and shared between callers: read it, never
	// modify it.
	Key crypto.PublicKey
	// Identity is what Verify returns for this key as a raw public key:
	// the record it matched and how long the verdict holds.
	Identity *Identity
}

// PublishedKeys returns the keys that name publishes in full, for a relying
// party that must list the keys it accepts before it sees one (an SSH
// server's AuthorizedKeysCommand run without the offered key). It takes the
// steps of Verify up to the lookup (name syntax, allow-list, one validated
// TLSA lookup under the same in-flight caps and deadline, only a Secure
// answer), then keeps each "3 1 0" key only if Verify would authenticate it
// as a raw public key against the same records: the digest rules of RFC 7671
// §9 and the revocation marker apply exactly as they do to a presented key.
//
// Records that carry a digest (3 1 1, 3 1 2) name a key without giving it,
// and certificate records (selector 0, usages 0-2) bind certificates, not
// bare keys: neither yields a PublishedKey. A name with none of "3 1 0" is
// refused with ReasonNoUsableRecords. A user name is refused with
// ReasonPolicy, as for any raw public key.
//
// Verdicts are not cached here; the resolver caches the answer for its TTL.
// Each call is counted and logged as a verdict of Verify is.
func (c *Core) PublishedKeys(ctx context.Context, name string) ([]PublishedKey, error) {
	keys, err := c.publishedKeys(ctx, name)
	var id *Identity
	if len(keys) > 0 {
		id = keys[0].Identity
	}
	c.record(ctx, name, id, err, false)
	return keys, err
}

func (c *Core) publishedKeys(ctx context.Context, claimed string) ([]PublishedKey, error) {
	q, err := c.clientQuery(claimed)
	if err != nil {
		return nil, err
	}
	name := q.owner
	if q.name.Kind() == identity.KindUser {
		return nil, &Error{Reason: ReasonPolicy, Name: name, Err: errors.New("a raw public key cannot name a user")}
	}
	res, err := c.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	now := c.now()
	ttl := min(res.TTL, c.cfg.MaxVerdictTTL)
	var candidates []fullKey
	var firstErr error
	if res.Kind == resolver.KindAnswer {
		candidates = c.tlsaRecords(name, res, now, ttl).fullKeys
	}
	var keys []PublishedKey
	for _, cand := range candidates {
		id, err := c.match(q, Presented{RawPublicKey: cand.spki}, res, now, ttl)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		keys = append(keys, PublishedKey{SPKI: bytes.Clone(cand.spki), Key: cand.key, Identity: id})
	}
	if len(keys) > 0 {
		return keys, nil
	}
	if firstErr != nil {
		return nil, firstErr
	}
	// No candidate: let match say why (no record, revoked, unusable),
	// with a presented key that can match nothing.
	if _, err := c.match(q, Presented{RawPublicKey: []byte{}}, res, now, ttl); err != nil && ReasonOf(err) != ReasonNoMatch {
		return nil, err
	}
	return nil, &Error{Reason: ReasonNoUsableRecords, Name: name, Err: fmt.Errorf("no DANE-EE SPKI Full (3 1 0) record: a digest names a key but does not give it")}
}
