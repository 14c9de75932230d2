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
	// signature refresh margin so that a secondary cut off from the primary
	// stops answering before the signatures it holds expire.
	soaRefresh = 3600
	soaRetry   = 600
	soaExpire  = 6 * 24 * 3600
)

// Settings are the zone's durable parameters, stored with its data.
type Settings struct {
	// Origin is the zone apex, fully qualified, lower case.
	Origin string `json:"origin"`
	// KeyFiles are the .key files of the active signing keys, relative to
	// DIR/keys: one CSK, or a KSK and a ZSK. Which of them signs what
	// follows from their flags (zone/signer).
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
	// TTL is the default TTL of identity records, in seconds.
	TTL uint32 `json:"ttl"`
	// NegativeTTL is the SOA minimum, in seconds.
	NegativeTTL uint32 `json:"negative_ttl"`
	// KeyTTL is the TTL of the apex records, in seconds.
	KeyTTL uint32 `json:"key_ttl"`
	// Created is when the zone was initialised.
	Created time.Time `json:"created"`
}

const metaSettings = "settings"

func (s *Settings) marshal() []byte {
	b, _ := json.Marshal(s) // a struct of strings and numbers always encodes
	return b
}

func unmarshalSettings(b []byte) (*Settings, error) {
	if b == nil {
		return nil, fmt.Errorf("zone: database has no settings (not created by dance zone init?)")
	}
	var s Settings
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("zone: settings: %w", err)
	}
	if s.Origin == "" || len(s.KeyFiles) == 0 {
		return nil, fmt.Errorf("zone: settings: origin or keys missing")
	}
	return &s, nil
}
