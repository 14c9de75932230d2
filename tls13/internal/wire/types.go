// Package wire encodes and decodes the TLS 1.3 handshake messages of RFC
// 8446 §4 and the extensions the engine speaks, with strict parsing: a length
// that does not match, a value out of its range, trailing bytes, a duplicated
// extension or an extension in a message that may not carry it is refused
// with the alert RFC 8446 prescribes (decode_error for what cannot be
// decoded, illegal_parameter for what decodes but is not allowed).
//
// Messages keep their extensions as a list of raw (type, data) pairs, in
// the order they came, so that a message re-encodes to the same bytes (the
// PSK binder and the transcript hash depend on them); Unmarshal also checks
// and decodes every extension it knows into typed fields. Extensions are
// built with the New*Extension functions.
package wire

import (
	"fmt"

	"github.com/dnsbound/dance/tls13/internal/alert"
)

// HandshakeType is a handshake message type (RFC 8446 §4).
type HandshakeType uint8

// Handshake message types (RFC 8446 §4, §4.4.1 for message_hash).
const (
	TypeClientHello         HandshakeType = 1
	TypeServerHello         HandshakeType = 2
	TypeNewSessionTicket    HandshakeType = 4
	TypeEndOfEarlyData      HandshakeType = 5
	TypeEncryptedExtensions HandshakeType = 8
	TypeCertificate         HandshakeType = 11
	TypeCertificateRequest  HandshakeType = 13
	TypeCertificateVerify   HandshakeType = 15
	TypeFinished            HandshakeType = 20
	TypeKeyUpdate           HandshakeType = 24
	TypeMessageHash         HandshakeType = 254
)

func (t HandshakeType) String() string {
	switch t {
	case TypeClientHello:
		return "ClientHello"
	case TypeServerHello:
		return "ServerHello"
	case TypeNewSessionTicket:
		return "NewSessionTicket"
	case TypeEndOfEarlyData:
		return "EndOfEarlyData"
	case TypeEncryptedExtensions:
		return "EncryptedExtensions"
	case TypeCertificate:
		return "Certificate"
	case TypeCertificateRequest:
		return "CertificateRequest"
	case TypeCertificateVerify:
		return "CertificateVerify"
	case TypeFinished:
		return "Finished"
	case TypeKeyUpdate:
		return "KeyUpdate"
	case TypeMessageHash:
		return "message_hash"
	}
	return fmt.Sprintf("handshake_type(%d)", uint8(t))
}

// HeaderLen is the length of a handshake message header: msg_type and a
// 24-bit length (RFC 8446 §4).
const HeaderLen = 4

// Protocol versions (RFC 8446 §4.1.2, §4.2.1).
const (
	VersionTLS12 uint16 = 0x0303
	VersionTLS13 uint16 = 0x0304
)

// ExtensionType is an ExtensionType (RFC 8446 §4.2).
type ExtensionType uint16

// Extension types the engine knows (RFC 8446 §4.2; RFC 6066, 7250, 7301,
// 8449).
const (
	ExtServerName              ExtensionType = 0
	ExtMaxFragmentLength       ExtensionType = 1
	ExtStatusRequest           ExtensionType = 5
	ExtSupportedGroups         ExtensionType = 10
	ExtSignatureAlgorithms     ExtensionType = 13
	ExtUseSRTP                 ExtensionType = 14
	ExtHeartbeat               ExtensionType = 15
	ExtALPN                    ExtensionType = 16
	ExtSCT                     ExtensionType = 18
	ExtClientCertificateType   ExtensionType = 19
	ExtServerCertificateType   ExtensionType = 20
	ExtPadding                 ExtensionType = 21
	ExtRecordSizeLimit         ExtensionType = 28
	ExtPreSharedKey            ExtensionType = 41
	ExtEarlyData               ExtensionType = 42
	ExtSupportedVersions       ExtensionType = 43
	ExtCookie                  ExtensionType = 44
	ExtPSKKeyExchangeModes     ExtensionType = 45
	ExtCertificateAuthorities  ExtensionType = 47
	ExtOIDFilters              ExtensionType = 48
	ExtPostHandshakeAuth       ExtensionType = 49
	ExtSignatureAlgorithmsCert ExtensionType = 50
	ExtKeyShare                ExtensionType = 51
	ExtRenegotiationInfo       ExtensionType = 0xff01
)

// DefaultDANEClientID is the codepoint used for the dane_clientid extension
// (draft-ietf-dance-tls-clientid) until IANA assigns one: a value from the
// range RFC 8446 §11 reserves for private use (0xFF00-0xFFFF). Both peers
// must agree on it; it is configurable for that reason.
const DefaultDANEClientID ExtensionType = 0xFFDA

// Named groups (RFC 8446 §4.2.7; X25519MLKEM768 from
// draft-ietf-tls-ecdhe-mlkem).
const (
	GroupSecp256r1      uint16 = 0x0017
	GroupSecp384r1      uint16 = 0x0018
	GroupX25519         uint16 = 0x001d
	GroupX25519MLKEM768 uint16 = 0x11ec
)

// Signature schemes (RFC 8446 §4.2.3).
const (
	SigRSAPKCS1SHA256       uint16 = 0x0401
	SigRSAPKCS1SHA384       uint16 = 0x0501
	SigRSAPKCS1SHA512       uint16 = 0x0601
	SigECDSASecp256r1SHA256 uint16 = 0x0403
	SigECDSASecp384r1SHA384 uint16 = 0x0503
	SigECDSASecp521r1SHA512 uint16 = 0x0603
	SigRSAPSSRSAESHA256     uint16 = 0x0804
	SigRSAPSSRSAESHA384     uint16 = 0x0805
	SigRSAPSSRSAESHA512     uint16 = 0x0806
	SigEd25519              uint16 = 0x0807
)

// PSK key exchange modes (RFC 8446 §4.2.9).
const (
	PSKModeKE    uint8 = 0
	PSKModeDHEKE uint8 = 1
)

// Certificate types (RFC 7250 §3, IANA TLS Certificate Types).
const (
	CertTypeX509         uint8 = 0
	CertTypeRawPublicKey uint8 = 2
)

// KeyUpdateRequest values (RFC 8446 §4.6.3).
const (
	UpdateNotRequested uint8 = 0
	UpdateRequested    uint8 = 1
)

func decodeErr(format string, args ...any) error {
	return alert.Errorf(alert.DecodeError, format, args...)
}

func illegal(format string, args ...any) error {
	return alert.Errorf(alert.IllegalParameter, format, args...)
}

func alertMissing(format string, args ...any) error {
	return alert.Errorf(alert.MissingExtension, format, args...)
}
