package wire

import (
	"golang.org/x/crypto/cryptobyte"
)

// The dane_clientid extension (draft-ietf-dance-tls-clientid-07 §3), as TLS
// 1.3 carries it: the server sends it empty in its CertificateRequest to say
// it can authenticate clients by DANE; a client that was asked answers in
// the extensions of its end-entity CertificateEntry, with its name
//
//	opaque ClientName<1..255>;  /* DNS name, presentation format, no trailing dot */
//
// or empty, meaning "I have a TLSA record, my name is in my certificate"
// (-07 §3). draft-ietf-dance-client-auth-13 §7 writes the same extension as
// opaque ClientName<0..2^8-1> in every message, so that its empty form is one
// zero octet; both empty forms are read as empty, in either message.
//
// The codepoint is not assigned yet, so it is a parameter of the messages
// that carry it (CertificateRequest.DANEClientIDType,
// Certificate.DANEClientIDType), DefaultDANEClientID when zero.

// MaxClientNameLen is the longest ClientName (opaque ClientName<1..255>).
const MaxClientNameLen = 255

// NewDANEClientIDRequest returns the empty dane_clientid extension a server
// puts in its CertificateRequest.
func NewDANEClientIDRequest(codepoint ExtensionType) Extension {
	if codepoint == 0 {
		codepoint = DefaultDANEClientID
	}
	return Extension{codepoint, []byte{}}
}

// NewDANEClientIDExtension returns the dane_clientid extension of a client's
// end-entity CertificateEntry, carrying name. The name must be valid
// (CheckClientName); an invalid one is a programming error and panics.
func NewDANEClientIDExtension(codepoint ExtensionType, name string) Extension {
	if err := CheckClientName(name); err != nil {
		panic("wire: " + err.Error())
	}
	if codepoint == 0 {
		codepoint = DefaultDANEClientID
	}
	return Extension{codepoint, build(func(b *builder) {
		b.AddUint8LengthPrefixed(func(b *builder) { b.AddBytes([]byte(name)) })
	})}
}

// ParseDANEClientID decodes the dane_clientid extension of a CertificateEntry
// and checks the name: a bad encoding is a decode_error, a name that is not a
// DNS name in presentation format an illegal_parameter. An empty extension
// (no data, or a zero-length ClientName) returns "" and no error: the
// caller decides whether it accepts a client that names itself only in its
// certificate.
func ParseDANEClientID(data []byte) (string, error) {
	if isEmptyClientID(data) {
		return "", nil
	}
	s := cryptobyte.String(data)
	var name cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&name) || !s.Empty() || name.Empty() {
		return "", decodeErr("dane_clientid ClientName")
	}
	if err := CheckClientName(string(name)); err != nil {
		return "", err
	}
	return string(name), nil
}

// isEmptyClientID reports whether data is an empty dane_clientid: no data
// (tls-clientid-07 §3) or a zero-length ClientName (client-auth-13 §7).
func isEmptyClientID(data []byte) bool {
	return len(data) == 0 || len(data) == 1 && data[0] == 0
}

// CheckClientName reports whether name is a ClientName we accept: a DNS
// name in presentation format without the trailing dot, of at most 253
// octets (so that its wire form fits 255), made of labels of 1 to 63 octets
// of letters, digits, hyphens and underscores (DANE client owner names
// start with labels such as "_device" or "_smtp-client"). Escapes and
// non-ASCII octets are refused: names travel as A-labels.
func CheckClientName(name string) error {
	if len(name) == 0 || len(name) > 253 {
		return illegal("dane_clientid name of %d octets", len(name))
	}
	label := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			if label == 0 {
				return illegal("dane_clientid name with an empty label")
			}
			label = 0
			continue
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return illegal("dane_clientid name with octet %#02x", c)
		}
		label++
		if label > 63 {
			return illegal("dane_clientid name with a label over 63 octets")
		}
	}
	if label == 0 {
		return illegal("dane_clientid name ends with a dot")
	}
	return nil
}
