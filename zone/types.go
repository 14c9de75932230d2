package zone

import (
	"slices"

	"github.com/miekg/dns"
)

// identityTypes are the record types an identity can publish: the only
// types UPDATE and the admin API accept (architecture §6.2: an identity
// zone serves what identities need and nothing else).
var identityTypes = []uint16{
	dns.TypeTLSA,       // RFC 6698
	dns.TypeSMIMEA,     // RFC 8162
	dns.TypeOPENPGPKEY, // RFC 7929
	dns.TypeSSHFP,      // RFC 4255
}

// The zone itself holds, besides identities: SOA, NS, DNSKEY (RFC 4034
// §2), CDS and CDNSKEY (RFC 7344 §3) and NSEC3PARAM at the apex, and the
// addresses of in-zone name servers (which the parent needs as glue). These
// are set by Init and never by updates.

// IdentityTypes returns the record types an identity can publish (TLSA,
// SMIMEA, OPENPGPKEY, SSHFP): the only types UPDATE and the admin API
// accept. The slice is a copy; changing it changes nothing in the zone.
func IdentityTypes() []uint16 { return slices.Clone(identityTypes) }

// IsIdentityType reports whether t is one of IdentityTypes.
func IsIdentityType(t uint16) bool { return slices.Contains(identityTypes, t) }

// Limits that keep one update from growing memory without bound.
const (
	// MaxRRsPerSet bounds the records of one type at one name. Key
	// rollover needs two or three TLSA records; 32 leaves room.
	MaxRRsPerSet = 32
	// MaxUpdateRRs bounds the records in one UPDATE message or API call.
	MaxUpdateRRs = 4096
	// MaxApplyRRs bounds the records of one admin API batch (bulk import
	// sends many batches).
	MaxApplyRRs = 100000
)
