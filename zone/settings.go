package zone

import (
	"encoding/json"
	"fmt"
	"time"
)

// Default TTLs. Identity records are short-lived so that a revocation (a
// removed record) reaches every cache within minutes; negative answers are
// shorter still so that a newly published identity is seen quickly.
const (
	DefaultTTL         = 300  // identity records, seconds
	DefaultNegativeTTL = 60   // SOA minimum: negative caching (RFC 2308 §5)
	DefaultKeyTTL      = 3600 // DNSKEY, CDS, CDNSKEY, NS, SOA
	// SOA timers for secondaries (RFC 1035 §3.3.13). Expire is below the
	// refresh margin of the zone's other signatures (7 days) so that a
	// secondary cut off from the primary stops answering before they
	// expire. Identity records are signed for less (IdentitySigValidity):
	// a secondary cut off for longer than half of that serves them with
	// expired signatures, which validators refuse; a revoked identity's
	// old record then stops validating there too.
	soaRefresh = 3600
	soaRetry   = 600
	soaExpire  = 6 * 24 * 3600
)

// zoneSettings are the zone's durable parameters, stored with its data.
type zoneSettings struct {
	// Origin is the zone apex, fully qualified, lower case.
	Origin string `json:"origin"`
	// KeyFiles are the .key files of the active signing keys, relative to
	// DIR/keys: one CSK, or a KSK and a ZSK. Which of them signs what
	// follows from their flags (zone/internal/signer).
	KeyFiles []string `json:"key_files"`
	// OutgoingKeyFiles are keys still published and signing after a
	// rollover's activation, until they are retired: the old CSK of a
	// double-signature rollover, the old KSK of a double-KSK rollover
	// (RFC 7583 §3.3.1).
	OutgoingKeyFiles []string `json:"outgoing_key_files,omitempty"`
	// IncomingKeyFiles are keys published and signing ahead of a
	// rollover's activation: the new CSK, or the new KSK.
	IncomingKeyFiles []string `json:"incoming_key_files,omitempty"`
	// PublishedKeyFiles are keys in the DNSKEY RRset that sign nothing
	// yet: the new ZSK of a pre-publication rollover (RFC 7583 §3.2.1)
	// before its activation. Zones made before KSK/ZSK split have none.
	PublishedKeyFiles []string `json:"published_key_files,omitempty"`
	// RetiredKeyFiles are keys in the DNSKEY RRset that sign nothing any
	// more: the old ZSK after a pre-publication rollover's activation,
	// kept until the signatures it made have left every cache.
	RetiredKeyFiles []string `json:"retired_key_files,omitempty"`
	// Rollover records when the steps of the rollover under way were
	// taken; nil when none is under way (or it was started by a version
	// that did not record it: its next step then needs force).
	Rollover *rolloverTimes `json:"rollover,omitempty"`
	// TTL is the default TTL of identity records, in seconds.
	TTL uint32 `json:"ttl"`
	// NegativeTTL is the SOA minimum, in seconds.
	NegativeTTL uint32 `json:"negative_ttl"`
	// KeyTTL is the TTL of the apex records, in seconds.
	KeyTTL uint32 `json:"key_ttl"`
	// IdentitySigValidity is how long signatures over identity RRsets
	// (IsIdentityType) are valid, in seconds; zero (zones made before
	// the setting) means DefaultIdentitySigValidity. It bounds how long a
	// removed identity record can still be made to validate by someone
	// replaying an old answer (see DefaultIdentitySigValidity).
	IdentitySigValidity uint32 `json:"identity_sig_validity,omitempty"`
	// Created is when the zone was initialised.
	Created time.Time `json:"created"`
}

// Signature validity of identity RRsets.
//
// A DNSSEC signature proves an RRset for as long as it is valid, whatever
// the TTL: after an identity's record is removed, resolvers forget it
// within its TTL, but an attacker on the path to a resolver who kept an
// earlier answer can replay it, and the resolver accepts it until its
// signature expires (RFC 4035 §5.3.1 checks only the validity period).
// So removal revokes an identity against resolvers within the TTL, and
// against an on-path attacker within the signature validity. Online
// signing makes a short validity cheap: identity RRsets are signed for
// DefaultIdentitySigValidity and re-signed when half of it has passed; the
// rest of the zone keeps the signer's default (14 days).
const (
	DefaultIdentitySigValidity = 2 * 24 * time.Hour
	// MinIdentitySigValidity leaves secondaries room to fetch: they hold
	// signatures with at least half the validity left, the serial moves
	// at least every quarter of it (ResignAge), and they poll every hour
	// (soaRefresh).
	MinIdentitySigValidity = 12 * time.Hour
	// MaxIdentitySigValidity is the validity of the other RRsets:
	// identity records are never signed for longer.
	MaxIdentitySigValidity = 14 * 24 * time.Hour
)

// CheckIdentitySigValidity reports whether d is an acceptable identity
// signature validity.
func CheckIdentitySigValidity(d time.Duration) error {
	if d < MinIdentitySigValidity || d > MaxIdentitySigValidity {
		return fmt.Errorf("zone: identity signature validity %v is outside %v to %v", d, MinIdentitySigValidity, MaxIdentitySigValidity)
	}
	if d%time.Second != 0 {
		return fmt.Errorf("zone: identity signature validity %v is not a whole number of seconds", d)
	}
	return nil
}

const metaSettings = "settings"

func (s *zoneSettings) marshal() []byte {
	b, _ := json.Marshal(s) // a struct of strings and numbers always encodes
	return b
}

func unmarshalSettings(b []byte) (*zoneSettings, error) {
	if b == nil {
		return nil, fmt.Errorf("zone: database has no settings (not created by dance zone init?)")
	}
	var s zoneSettings
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("zone: settings: %w", err)
	}
	if s.Origin == "" || len(s.KeyFiles) == 0 {
		return nil, fmt.Errorf("zone: settings: origin or keys missing")
	}
	return &s, nil
}
