package identity

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers used in subjectAltName.
var (
	// OIDSubjectAltName is the subjectAltName extension (RFC 5280 §4.2.1.6).
	OIDSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	// OIDUID is the uid (userid) attribute type (RFC 4519 §2.39), used as
	// an otherName type-id to name a user (architecture §4.1.3).
	OIDUID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	// OIDSmtpUTF8Mailbox is the otherName type-id for an internationalised
	// mailbox, a UTF8String (RFC 9598 §3).
	OIDSmtpUTF8Mailbox = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 9}
)

// GeneralName tags (RFC 5280 §4.2.1.6), context-specific.
const (
	tagOtherName     = 0
	tagRFC822Name    = 1
	tagDNSName       = 2
	tagX400Address   = 3
	tagDirectoryName = 4
	tagEDIPartyName  = 5
	tagURI           = 6
	tagIPAddress     = 7
	tagRegisteredID  = 8
)

// maxOtherNameValue bounds the length of one otherName value this package
// will read; a uid or a mailbox is short, and a hostile certificate should
// not make the reader copy megabytes.
const maxOtherNameValue = 1024

// Identities are the names a certificate carries in its subjectAltName
// extension, in the order they appear.
type Identities struct {
	// DNSNames are the dNSName entries, exactly as encoded.
	DNSNames []string `json:"dns_names,omitempty"`
	// UIDs are otherName entries of type uid (RFC 4519 §2.39).
	UIDs []string `json:"uids,omitempty"`
	// Mailboxes are otherName entries of type SmtpUTF8Mailbox (RFC 9598).
	Mailboxes []string `json:"smtputf8_mailboxes,omitempty"`
	// Emails are rfc822Name entries (RFC 5280 §4.2.1.6).
	Emails []string `json:"emails,omitempty"`
	// URIs are uniformResourceIdentifier entries.
	URIs []string `json:"uris,omitempty"`
	// IPAddresses are iPAddress entries in their text form.
	IPAddresses []string `json:"ip_addresses,omitempty"`
	// OtherNames are the type-ids of otherName entries of other types.
	OtherNames []string `json:"other_names,omitempty"`
}

// SANError reports a subjectAltName extension that could not be read.
type SANError struct {
	Reason string // what is wrong, e.g. "dNSName is not IA5String"
}

func (e *SANError) Error() string { return "subjectAltName: " + e.Reason }

// ErrNoSAN is returned by CertificateIdentities for a certificate without
// a subjectAltName extension: it names no DANCE identity (client-auth §2
// requires the name in a SAN dNSName; the subject common name is not used).
var ErrNoSAN = errors.New("certificate has no subjectAltName extension")

// CertificateIdentities reads the names in cert's subjectAltName
// extension, including the otherName entries that crypto/x509 does not
// decode.
func CertificateIdentities(cert *x509.Certificate) (*Identities, error) {
	var found *Identities
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(OIDSubjectAltName) {
			continue
		}
		if found != nil {
			// RFC 5280 §4.2: a certificate MUST NOT include more than one
			// instance of a particular extension (crypto/x509 already
			// refuses this; stay safe on hand-built certificates).
			return nil, &SANError{Reason: "more than one extension"}
		}
		ids, err := ParseSubjectAltName(ext.Value)
		if err != nil {
			return nil, err
		}
		found = ids
	}
	if found == nil {
		return nil, ErrNoSAN
	}
	return found, nil
}

// ParseSubjectAltName decodes the DER value of a subjectAltName extension
// (RFC 5280 §4.2.1.6) strictly: no trailing data, no empty sequence, string
// types as RFC 5280 defines them. Entries of types DANCE does not use are
// checked for well-formedness and reported in summary form.
func ParseSubjectAltName(der []byte) (*Identities, error) {
	input := cryptobyte.String(der)
	var seq cryptobyte.String
	if !input.ReadASN1(&seq, cbasn1.SEQUENCE) || !input.Empty() {
		return nil, &SANError{Reason: "not a DER SEQUENCE"}
	}
	if seq.Empty() {
		// GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName.
		return nil, &SANError{Reason: "empty GeneralNames"}
	}
	ids := &Identities{}
	for !seq.Empty() {
		var body cryptobyte.String
		var tag cbasn1.Tag
		if !seq.ReadAnyASN1(&body, &tag) {
			return nil, &SANError{Reason: "malformed GeneralName"}
		}
		if tag&0xc0 != cbasn1.Tag(0).ContextSpecific() {
			return nil, &SANError{Reason: fmt.Sprintf("GeneralName with non-context tag 0x%02x", uint8(tag))}
		}
		constructed := tag&0x20 != 0
		number := int(tag &^ 0xe0)
		switch number {
		case tagOtherName:
			if !constructed {
				return nil, &SANError{Reason: "otherName is not constructed"}
			}
			if err := ids.addOtherName(body); err != nil {
				return nil, err
			}
		case tagRFC822Name, tagDNSName, tagURI:
			if constructed {
				return nil, &SANError{Reason: "string GeneralName is constructed"}
			}
			if !isIA5(body) {
				return nil, &SANError{Reason: tagName(number) + " is not IA5String"}
			}
			switch number {
			case tagRFC822Name:
				ids.Emails = append(ids.Emails, string(body))
			case tagDNSName:
				ids.DNSNames = append(ids.DNSNames, string(body))
			default:
				ids.URIs = append(ids.URIs, string(body))
			}
		case tagIPAddress:
			if constructed || (len(body) != 4 && len(body) != 16) {
				return nil, &SANError{Reason: "iPAddress is not 4 or 16 octets"}
			}
			ids.IPAddresses = append(ids.IPAddresses, ipString(body))
		case tagRegisteredID:
			var oid asn1.ObjectIdentifier
			if constructed || !parseOIDBody(body, &oid) {
				return nil, &SANError{Reason: "malformed registeredID"}
			}
		case tagX400Address, tagDirectoryName, tagEDIPartyName:
			if !constructed {
				return nil, &SANError{Reason: tagName(number) + " is not constructed"}
			}
		default:
			return nil, &SANError{Reason: fmt.Sprintf("unknown GeneralName tag [%d]", number)}
		}
	}
	return ids, nil
}

// addOtherName reads the inside of an otherName:
//
//	OtherName ::= SEQUENCE {
//	     type-id    OBJECT IDENTIFIER,
//	     value      [0] EXPLICIT ANY DEFINED BY type-id }
//
// (RFC 5280 §4.2.1.6; the SEQUENCE is replaced by the implicit [0] tag).
func (ids *Identities) addOtherName(body cryptobyte.String) error {
	var oid asn1.ObjectIdentifier
	if !body.ReadASN1ObjectIdentifier(&oid) {
		return &SANError{Reason: "otherName without a valid type-id"}
	}
	var value cryptobyte.String
	if !body.ReadASN1(&value, cbasn1.Tag(0).ContextSpecific().Constructed()) || !body.Empty() {
		return &SANError{Reason: fmt.Sprintf("otherName %s: malformed [0] value", oid)}
	}
	var inner cryptobyte.String
	var tag cbasn1.Tag
	if !value.ReadAnyASN1(&inner, &tag) || !value.Empty() {
		return &SANError{Reason: fmt.Sprintf("otherName %s: malformed value", oid)}
	}
	switch {
	case oid.Equal(OIDUID):
		// uid is a DirectoryString (RFC 4519 §2.39, RFC 4517 §3.3.6);
		// UTF8String is what issuers write. IA5String appears in older
		// certificates (the RFC 1274 syntax) and PrintableString is a
		// subset of both, so those are read too.
		s, err := directoryString(inner, tag)
		if err != nil {
			return &SANError{Reason: "otherName uid: " + err.Error()}
		}
		ids.UIDs = append(ids.UIDs, s)
	case oid.Equal(OIDSmtpUTF8Mailbox):
		// RFC 9598 §3: SmtpUTF8Mailbox ::= UTF8String (SIZE (1..MAX)).
		if tag != cbasn1.UTF8String {
			return &SANError{Reason: "otherName SmtpUTF8Mailbox is not UTF8String"}
		}
		s, err := checkedString(inner)
		if err != nil || !strings.Contains(s, "@") {
			return &SANError{Reason: "otherName SmtpUTF8Mailbox is not a mailbox"}
		}
		ids.Mailboxes = append(ids.Mailboxes, s)
	default:
		ids.OtherNames = append(ids.OtherNames, oid.String())
	}
	return nil
}

func directoryString(b cryptobyte.String, tag cbasn1.Tag) (string, error) {
	switch tag {
	case cbasn1.UTF8String:
		return checkedString(b)
	case cbasn1.IA5String:
		if !isIA5(b) {
			return "", errors.New("IA5String with non-ASCII octets")
		}
		return checkedString(b)
	case cbasn1.PrintableString:
		for _, c := range b {
			if !isPrintable(c) {
				return "", errors.New("PrintableString with a character outside its set")
			}
		}
		return checkedString(b)
	}
	return "", fmt.Errorf("unsupported string type (tag 0x%02x)", uint8(tag))
}

// checkedString accepts a non-empty, bounded, valid UTF-8 string without
// control characters, which would let a certificate forge lines in logs.
func checkedString(b []byte) (string, error) {
	if len(b) == 0 {
		return "", errors.New("empty string")
	}
	if len(b) > maxOtherNameValue {
		return "", errors.New("string too long")
	}
	if !utf8.Valid(b) {
		return "", errors.New("invalid UTF-8")
	}
	for _, r := range string(b) {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return "", errors.New("control character")
		}
	}
	return string(b), nil
}

func isIA5(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// isPrintable reports whether c is in the PrintableString set (X.680 §41.4).
func isPrintable(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte(" '()+,-./:=?", c) >= 0
}

func parseOIDBody(b []byte, oid *asn1.ObjectIdentifier) bool {
	var bld cryptobyte.Builder
	bld.AddASN1(cbasn1.OBJECT_IDENTIFIER, func(c *cryptobyte.Builder) { c.AddBytes(b) })
	der, err := bld.Bytes()
	if err != nil {
		return false
	}
	s := cryptobyte.String(der)
	return s.ReadASN1ObjectIdentifier(oid) && s.Empty()
}

func ipString(b []byte) string {
	if len(b) == 4 {
		return fmt.Sprintf("%d.%d.%d.%d", b[0], b[1], b[2], b[3])
	}
	var parts []string
	for i := 0; i < 16; i += 2 {
		parts = append(parts, fmt.Sprintf("%x", uint16(b[i])<<8|uint16(b[i+1])))
	}
	return strings.Join(parts, ":")
}

func tagName(n int) string {
	switch n {
	case tagRFC822Name:
		return "rfc822Name"
	case tagDNSName:
		return "dNSName"
	case tagURI:
		return "uniformResourceIdentifier"
	case tagX400Address:
		return "x400Address"
	case tagDirectoryName:
		return "directoryName"
	case tagEDIPartyName:
		return "ediPartyName"
	}
	return fmt.Sprintf("[%d]", n)
}

// sanEntries are the names to put in a subjectAltName extension that this
// package builds.
type sanEntries struct {
	DNSNames  []string
	UIDs      []string
	Mailboxes []string // SmtpUTF8Mailbox (non-ASCII local part)
	Emails    []string // rfc822Name (ASCII mailbox)
}

// marshalSAN builds a subjectAltName extension value. crypto/x509 cannot
// write otherName entries, so DANCE user certificates need this; device
// certificates use it too, so that every certificate this package issues
// is encoded by one piece of code.
func marshalSAN(e sanEntries) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, d := range e.DNSNames {
			b.AddASN1(cbasn1.Tag(tagDNSName).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte(d)) })
		}
		for _, u := range e.UIDs {
			addOtherName(b, OIDUID, u)
		}
		for _, m := range e.Mailboxes {
			addOtherName(b, OIDSmtpUTF8Mailbox, m)
		}
		for _, m := range e.Emails {
			b.AddASN1(cbasn1.Tag(tagRFC822Name).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte(m)) })
		}
	})
	return b.Bytes()
}

func addOtherName(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, v string) {
	b.AddASN1(cbasn1.Tag(tagOtherName).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(v)) })
		})
	})
}
