package message

import (
	"errors"
	"fmt"

	"github.com/dnsbound/dance/verify"
)

// Reason says why a message was refused. Its String values are stable:
// they are machine output.
type Reason int

// Reasons for refusal.
const (
	// ReasonMalformed: the message does not decode (truncated, bad
	// base64, duplicate JSON members, non-deterministic or too deeply
	// nested CBOR, a tag other than COSE_Sign1).
	ReasonMalformed Reason = iota + 1
	// ReasonTooLarge: the message is over Config.MaxSize.
	ReasonTooLarge
	// ReasonAlgorithm: alg is none, missing or not one this package
	// verifies.
	ReasonAlgorithm
	// ReasonKeyMismatch: the algorithm does not fit the signer's key.
	ReasonKeyMismatch
	// ReasonHeader: the header breaks the rules of
	// docs/message-identities.md: no or a bad dns: URI, x5u and kid
	// disagree, an identity header unprotected, an embedded key (jwk) or
	// key URL (jku), a malformed claim.
	ReasonHeader
	// ReasonCritical: crit lists a parameter this package does not
	// understand, or is malformed (RFC 7515 §4.1.11, RFC 9052 §3.1).
	ReasonCritical
	// ReasonNoKey: the message carries no certificate and the name's
	// records publish no whole key ("3 1 0").
	ReasonNoKey
	// ReasonBadSignature: the signature does not verify.
	ReasonBadSignature
	// ReasonSigner: the verification core refused the signer; the error
	// chain holds its *verify.Error.
	ReasonSigner
	// ReasonExpired: now is past exp, or past iat plus the maximum age.
	ReasonExpired
	// ReasonNotYetValid: iat or nbf is in the future.
	ReasonNotYetValid
	// ReasonMissingClaim: no iat, or no message id (jti, cti).
	ReasonMissingClaim
	// ReasonReplayed: this signer's message with this id was accepted
	// already.
	ReasonReplayed
	// ReasonReplayFull: the replay memory is full; refused rather than
	// risk accepting a replay.
	ReasonReplayFull
	// ReasonCountersignature: a countersigned message does not have the
	// shape docs/message-identities.md gives (two signatures, the second
	// naming the first by its digest), or the second signature names
	// another.
	ReasonCountersignature
)

var reasonNames = map[Reason]string{
	ReasonMalformed:        "malformed",
	ReasonTooLarge:         "too-large",
	ReasonAlgorithm:        "algorithm",
	ReasonKeyMismatch:      "key-mismatch",
	ReasonHeader:           "header",
	ReasonCritical:         "critical",
	ReasonNoKey:            "no-key",
	ReasonBadSignature:     "bad-signature",
	ReasonSigner:           "signer",
	ReasonExpired:          "expired",
	ReasonNotYetValid:      "not-yet-valid",
	ReasonMissingClaim:     "missing-claim",
	ReasonReplayed:         "replayed",
	ReasonReplayFull:       "replay-full",
	ReasonCountersignature: "countersignature",
}

// String returns the stable label: "malformed", "replayed", ...
func (r Reason) String() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("reason-%d", int(r))
}

// MarshalText implements encoding.TextMarshaler.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Error is a refused message: the reason and the detail for the operator.
type Error struct {
	Reason Reason
	Err    error
}

func (e *Error) Error() string {
	s := "message: " + e.Reason.String()
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the detail.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same Reason.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// Sentinels for errors.Is.
var (
	ErrMalformed        = &Error{Reason: ReasonMalformed}
	ErrTooLarge         = &Error{Reason: ReasonTooLarge}
	ErrAlgorithm        = &Error{Reason: ReasonAlgorithm}
	ErrKeyMismatch      = &Error{Reason: ReasonKeyMismatch}
	ErrHeader           = &Error{Reason: ReasonHeader}
	ErrCritical         = &Error{Reason: ReasonCritical}
	ErrNoKey            = &Error{Reason: ReasonNoKey}
	ErrBadSignature     = &Error{Reason: ReasonBadSignature}
	ErrSigner           = &Error{Reason: ReasonSigner}
	ErrExpired          = &Error{Reason: ReasonExpired}
	ErrNotYetValid      = &Error{Reason: ReasonNotYetValid}
	ErrMissingClaim     = &Error{Reason: ReasonMissingClaim}
	ErrReplayed         = &Error{Reason: ReasonReplayed}
	ErrReplayFull       = &Error{Reason: ReasonReplayFull}
	ErrCountersignature = &Error{Reason: ReasonCountersignature}
)

// ReasonOf returns the Reason of the *Error in err's chain, or 0.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return 0
}

// Label is the stable label of a refusal: the core's reason for a signer
// the core refused ("no-record", "not-allowed", ...), this package's
// otherwise.
func Label(err error) string {
	if r := verify.ReasonOf(err); r != 0 {
		return r.String()
	}
	return ReasonOf(err).String()
}

func fail(r Reason, format string, args ...any) error {
	return &Error{Reason: r, Err: fmt.Errorf(format, args...)}
}
