package zone

import (
	"slices"

	"github.com/miekg/dns"
)

// IdentityTypes are the record types an identity can publish: the only
// types UPDATE and the admin API accept (architecture §6.2: an identity
// zone serves what identities need and nothing else).
var IdentityTypes = []uint16{
	dns.TypeTLSA,       // RFC 6698
	dns.TypeSMIMEA,     // RFC 8162
	dns.TypeOPENPGPKEY, // RFC 7929
	dns.TypeSSHFP,      // RFC 4255
}

// apexTypes are the types the server maintains itself at the zone apex.
var apexTypes = []uint16{
	dns.TypeSOA,
	dns.TypeNS,
	dns.TypeDNSKEY,  // RFC 4034 §2
	dns.TypeCDS,     // RFC 7344 §3.1
	dns.TypeCDNSKEY, // RFC 7344 §3.2
}

// IsIdentityType reports whether t is one of IdentityTypes.
func IsIdentityType(t uint16) bool { return slices.Contains(IdentityTypes, t) }

// isServedType reports whether the zone may hold data of type t.
func isServedType(t uint16) bool { return IsIdentityType(t) || slices.Contains(apexTypes, t) }

// Limits that keep one update from growing memory without bound.
const (
	// MaxRRsPerSet bounds the records of one type at one name. Key
	// rollover needs two or three TLSA records; 32 leaves room.
	MaxRRsPerSet = 32
	// MaxUpdateRRs bounds the records in one UPDATE message or API call.
	MaxUpdateRRs = 4096
)
