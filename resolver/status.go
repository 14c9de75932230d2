package resolver

import (
	"errors"
	"fmt"
)

// Status is the DNSSEC security status of a lookup result (RFC 4033 §5,
// RFC 4035 §4.3). The zero value is Indeterminate, so that a Result built by
// mistake never claims to be Secure.
type Status uint8

const (
	// Indeterminate: no trust anchor covers the name, or the answer could
	// not be obtained (network failure, server failure).
	Indeterminate Status = iota
	// Secure: an unbroken chain of signatures from a trust anchor proves the
	// answer (or its non-existence).
	Secure
	// Insecure: the chain proves that the name is below an unsigned
	// delegation, or uses only algorithms this resolver treats as insecure.
	Insecure
	// Bogus: the answer should be signed and is not, or a signature or
	// proof fails.
	Bogus
)

// String returns the lower-case name of s: "secure", "insecure", "bogus" or
// "indeterminate".
func (s Status) String() string {
	switch s {
	case Secure:
		return "secure"
	case Insecure:
		return "insecure"
	case Bogus:
		return "bogus"
	default:
		return "indeterminate"
	}
}

// MarshalText implements encoding.TextMarshaler (JSON output).
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// EDE is an Extended DNS Error INFO-CODE (RFC 8914 §4). The reason a
// result is not Secure carries one when a code fits.
type EDE uint16

// Extended DNS Error codes used by the validator (RFC 8914 §4, RFC 9276 §3.2
// for UnsupportedNSEC3Iterations).
const (
	EDEOther                      EDE = 0
	EDEUnsupportedDNSKEYAlgorithm EDE = 1
	EDEUnsupportedDSDigest        EDE = 2
	EDEDNSSECIndeterminate        EDE = 5
	EDEDNSSECBogus                EDE = 6
	EDESignatureExpired           EDE = 7
	EDESignatureNotYetValid       EDE = 8
	EDEDNSKEYMissing              EDE = 9
	EDERRSIGsMissing              EDE = 10
	EDENoZoneKeyBitSet            EDE = 11
	EDENSECMissing                EDE = 12
	EDENoReachableAuthority       EDE = 22
	EDENetworkError               EDE = 23
	EDEInvalidData                EDE = 24
	EDEUnsupportedNSEC3Iterations EDE = 27
)

var edeNames = map[EDE]string{
	EDEOther:                      "Other Error",
	EDEUnsupportedDNSKEYAlgorithm: "Unsupported DNSKEY Algorithm",
	EDEUnsupportedDSDigest:        "Unsupported DS Digest Type",
	EDEDNSSECIndeterminate:        "DNSSEC Indeterminate",
	EDEDNSSECBogus:                "DNSSEC Bogus",
	EDESignatureExpired:           "Signature Expired",
	EDESignatureNotYetValid:       "Signature Not Yet Valid",
	EDEDNSKEYMissing:              "DNSKEY Missing",
	EDERRSIGsMissing:              "RRSIGs Missing",
	EDENoZoneKeyBitSet:            "No Zone Key Bit Set",
	EDENSECMissing:                "NSEC Missing",
	EDENoReachableAuthority:       "No Reachable Authority",
	EDENetworkError:               "Network Error",
	EDEInvalidData:                "Invalid Data",
	EDEUnsupportedNSEC3Iterations: "Unsupported NSEC3 Iterations Value",
}

// String returns the RFC 8914 name of the code.
func (e EDE) String() string {
	if n, ok := edeNames[e]; ok {
		return n
	}
	return fmt.Sprintf("EDE %d", uint16(e))
}

// Reason says why a result is not Secure: an RFC 8914 code and a sentence
// for the operator.
type Reason struct {
	Code EDE `json:"ede"`
	// Zone is the zone where the chain broke, when known.
	Zone string `json:"zone,omitempty"`
	Text string `json:"text"`
}

// String formats r as "text (EDE n: name)".
func (r *Reason) String() string {
	if r == nil {
		return ""
	}
	s := r.Text
	if r.Zone != "" {
		s = r.Zone + ": " + s
	}
	return fmt.Sprintf("%s (EDE %d: %s)", s, uint16(r.Code), r.Code)
}

func reasonf(code EDE, zone, format string, a ...any) *Reason {
	return &Reason{Code: code, Zone: zone, Text: fmt.Sprintf(format, a...)}
}

// ErrNotSecure is the sentinel wrapped by the error that Result.Err returns
// for any result that is not Secure.
var ErrNotSecure = errors.New("dnssec: answer is not secure")

// NotSecureError is returned by Result.Err: it names the status and reason.
type NotSecureError struct {
	Name   string
	Type   string
	Status Status
	Reason *Reason
}

func (e *NotSecureError) Error() string {
	return fmt.Sprintf("dnssec: %s %s is %s: %s", e.Name, e.Type, e.Status, e.Reason)
}

// Unwrap returns ErrNotSecure.
func (e *NotSecureError) Unwrap() error { return ErrNotSecure }

// ErrOverloaded is returned when the cap on lookups in flight is reached.
var ErrOverloaded = errors.New("resolver: too many lookups in flight")

// ErrTrustADRefused is returned by New when trust-AD mode is asked for over a
// channel that does not protect the AD bit (RFC 6840 §5.8: the AD bit is
// only meaningful over a secure channel).
var ErrTrustADRefused = errors.New("resolver: trusting the AD bit needs DNS over TLS or a loopback upstream")
