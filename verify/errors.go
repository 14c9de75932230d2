package verify

import (
	"errors"
	"fmt"
)

// Reason says why a peer was not authenticated. Its String values are
// stable: they are Prometheus label values and machine output.
type Reason int

// Reasons for refusal.
const (
	// ReasonNameSyntax: the claimed name is not a DANCE owner name.
	ReasonNameSyntax Reason = iota + 1
	// ReasonNotAllowed: the name is not on the allow-list; nothing was
	// looked up (architecture §4.1.1).
	ReasonNotAllowed
	// ReasonOverloaded: too many lookups in flight (here or in the
	// resolver); refused at once rather than queued.
	ReasonOverloaded
	// ReasonLookupTimeout: the lookup did not finish within its deadline.
	ReasonLookupTimeout
	// ReasonLookupFailed: the lookup could not be made (the resolver
	// refused the name, the caller's context ended).
	ReasonLookupFailed
	// ReasonDNSInsecure: the answer is provably unsigned (RFC 4035 §4.3).
	ReasonDNSInsecure
	// ReasonDNSBogus: the answer should be signed and its signatures or
	// proofs fail.
	ReasonDNSBogus
	// ReasonDNSIndeterminate: no trust anchor covers the name, or no
	// answer could be had.
	ReasonDNSIndeterminate
	// ReasonNoRecord: DNSSEC proves that the name has no TLSA records (a
	// revoked or never published identity).
	ReasonNoRecord
	// ReasonNoUsableRecords: TLSA records exist but none can be used
	// (RFC 7671 §9, §10.3).
	ReasonNoUsableRecords
	// ReasonNoMatch: no record matches what the peer presented.
	ReasonNoMatch
	// ReasonNameMismatch: a record matched but the certificate does not
	// carry the claimed name (RFC 7671 §5.2).
	ReasonNameMismatch
	// ReasonUntrusted: a record matched but the certification path is not
	// valid (expired, wrong key usage, bad signature, constraints).
	ReasonUntrusted
	// ReasonAmbiguousName: the certificate carries several candidate names
	// (or several users); refused rather than guessed at.
	ReasonAmbiguousName
	// ReasonNoName: the certificate carries no name to claim.
	ReasonNoName
	// ReasonNoCredential: the peer presented neither a certificate nor a
	// raw public key.
	ReasonNoCredential
	// ReasonNoUser: a certificate authenticated by a user CA does not name
	// exactly one user at the CA's domain (architecture §4.1.3).
	ReasonNoUser
	// ReasonPolicy: the match does not satisfy the identity's policy: a
	// user identity matched by an end-entity record instead of its
	// domain's CA, or a raw public key for a user.
	ReasonPolicy
	// ReasonRevoked: the name's TLSA records hold tlsa.RevocationMarker,
	// which dance zone revoke publishes so that no wildcard answers for a
	// revoked name; nothing at the name authenticates anyone.
	ReasonRevoked
)

var reasonNames = map[Reason]string{
	ReasonNameSyntax:       "name-syntax",
	ReasonNotAllowed:       "not-allowed",
	ReasonOverloaded:       "overloaded",
	ReasonLookupTimeout:    "lookup-timeout",
	ReasonLookupFailed:     "lookup-failed",
	ReasonDNSInsecure:      "dns-insecure",
	ReasonDNSBogus:         "dns-bogus",
	ReasonDNSIndeterminate: "dns-indeterminate",
	ReasonNoRecord:         "no-record",
	ReasonNoUsableRecords:  "no-usable-records",
	ReasonNoMatch:          "no-match",
	ReasonNameMismatch:     "name-mismatch",
	ReasonUntrusted:        "untrusted",
	ReasonAmbiguousName:    "ambiguous-name",
	ReasonNoName:           "no-name",
	ReasonNoCredential:     "no-credential",
	ReasonNoUser:           "no-user",
	ReasonPolicy:           "policy",
	ReasonRevoked:          "revoked",
}

// Reasons lists every reason, for metrics that pre-create their labels.
func Reasons() []Reason {
	out := make([]Reason, 0, len(reasonNames))
	for r := ReasonNameSyntax; r <= ReasonRevoked; r++ {
		out = append(out, r)
	}
	return out
}

// String returns the stable label: "not-allowed", "no-match", ...
func (r Reason) String() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("reason-%d", int(r))
}

// MarshalText implements encoding.TextMarshaler.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Error is a refusal: the reason, the claimed name and the detail for the
// operator. Match reasons with errors.Is and the sentinels (ErrNoMatch, ...)
// or read Reason with errors.As.
type Error struct {
	Reason Reason
	// Name is the claimed name, as given.
	Name string
	// Err is the underlying detail, or nil.
	Err error
}

func (e *Error) Error() string {
	s := "verify: "
	if e.Name != "" {
		s += e.Name + ": "
	}
	s += e.Reason.String()
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying detail.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same Reason, so that
// errors.Is(err, ErrNotAllowed) tests the reason whatever the name and
// detail.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// Sentinels for errors.Is, one per reason.
var (
	ErrNameSyntax       = &Error{Reason: ReasonNameSyntax}
	ErrNotAllowed       = &Error{Reason: ReasonNotAllowed}
	ErrOverloaded       = &Error{Reason: ReasonOverloaded}
	ErrLookupTimeout    = &Error{Reason: ReasonLookupTimeout}
	ErrLookupFailed     = &Error{Reason: ReasonLookupFailed}
	ErrDNSInsecure      = &Error{Reason: ReasonDNSInsecure}
	ErrDNSBogus         = &Error{Reason: ReasonDNSBogus}
	ErrDNSIndeterminate = &Error{Reason: ReasonDNSIndeterminate}
	ErrNoRecord         = &Error{Reason: ReasonNoRecord}
	ErrNoUsableRecords  = &Error{Reason: ReasonNoUsableRecords}
	ErrNoMatch          = &Error{Reason: ReasonNoMatch}
	ErrNameMismatch     = &Error{Reason: ReasonNameMismatch}
	ErrUntrusted        = &Error{Reason: ReasonUntrusted}
	ErrAmbiguousName    = &Error{Reason: ReasonAmbiguousName}
	ErrNoName           = &Error{Reason: ReasonNoName}
	ErrNoCredential     = &Error{Reason: ReasonNoCredential}
	ErrNoUser           = &Error{Reason: ReasonNoUser}
	ErrPolicy           = &Error{Reason: ReasonPolicy}
	ErrRevoked          = &Error{Reason: ReasonRevoked}
)

// ReasonOf returns the Reason of the *Error in err's chain, or 0.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return 0
}
