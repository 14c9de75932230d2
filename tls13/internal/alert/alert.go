// Package alert holds the TLS alert descriptions (RFC 8446 §6) and the error
// type every layer of the engine returns when a peer's bytes or actions are
// refused: an *Error names the alert the connection must send before it
// closes, so the code that detects a fault decides the alert, once.
package alert

import (
	"errors"
	"fmt"
)

// Description is an AlertDescription (RFC 8446 §6).
type Description uint8

// Alert descriptions used by TLS 1.3 (RFC 8446 §6, plus RFC 8446 §4.2 and
// RFC 7301 for the extension-related ones).
const (
	CloseNotify                  Description = 0
	UnexpectedMessage            Description = 10
	BadRecordMAC                 Description = 20
	RecordOverflow               Description = 22
	HandshakeFailure             Description = 40
	BadCertificate               Description = 42
	UnsupportedCertificate       Description = 43
	CertificateRevoked           Description = 44
	CertificateExpired           Description = 45
	CertificateUnknown           Description = 46
	IllegalParameter             Description = 47
	UnknownCA                    Description = 48
	AccessDenied                 Description = 49
	DecodeError                  Description = 50
	DecryptError                 Description = 51
	ProtocolVersion              Description = 70
	InsufficientSecurity         Description = 71
	InternalError                Description = 80
	InappropriateFallback        Description = 86
	UserCanceled                 Description = 90
	MissingExtension             Description = 109
	UnsupportedExtension         Description = 110
	UnrecognizedName             Description = 112
	BadCertificateStatusResponse Description = 113
	UnknownPSKIdentity           Description = 115
	CertificateRequired          Description = 116
	NoApplicationProtocol        Description = 120
)

var names = map[Description]string{
	CloseNotify:                  "close_notify",
	UnexpectedMessage:            "unexpected_message",
	BadRecordMAC:                 "bad_record_mac",
	RecordOverflow:               "record_overflow",
	HandshakeFailure:             "handshake_failure",
	BadCertificate:               "bad_certificate",
	UnsupportedCertificate:       "unsupported_certificate",
	CertificateRevoked:           "certificate_revoked",
	CertificateExpired:           "certificate_expired",
	CertificateUnknown:           "certificate_unknown",
	IllegalParameter:             "illegal_parameter",
	UnknownCA:                    "unknown_ca",
	AccessDenied:                 "access_denied",
	DecodeError:                  "decode_error",
	DecryptError:                 "decrypt_error",
	ProtocolVersion:              "protocol_version",
	InsufficientSecurity:         "insufficient_security",
	InternalError:                "internal_error",
	InappropriateFallback:        "inappropriate_fallback",
	UserCanceled:                 "user_canceled",
	MissingExtension:             "missing_extension",
	UnsupportedExtension:         "unsupported_extension",
	UnrecognizedName:             "unrecognized_name",
	BadCertificateStatusResponse: "bad_certificate_status_response",
	UnknownPSKIdentity:           "unknown_psk_identity",
	CertificateRequired:          "certificate_required",
	NoApplicationProtocol:        "no_application_protocol",
}

// String returns the RFC's name for d, or "alert(N)" for an unknown value.
func (d Description) String() string {
	if s, ok := names[d]; ok {
		return s
	}
	return fmt.Sprintf("alert(%d)", uint8(d))
}

// Error is a refusal that ends the connection with Alert. Reason says what
// was wrong, for logs; it is never sent to the peer.
type Error struct {
	Alert  Description
	Reason string
	Err    error // underlying cause, if any
}

func (e *Error) Error() string {
	s := "tls13: " + e.Alert.String() + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the alert d and a formatted reason.
func Errorf(d Description, format string, args ...any) *Error {
	return &Error{Alert: d, Reason: fmt.Sprintf(format, args...)}
}

// Of returns the alert err carries, and whether it carries one.
func Of(err error) (Description, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Alert, true
	}
	return 0, false
}
