package tlsa

import (
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Usage is the TLSA certificate usage field (RFC 6698 §2.1.1, mnemonics from
// RFC 7218 §2.1).
type Usage uint8

// Certificate usages.
const (
	// PKIXTA (0): a CA certificate or key that must appear in a PKIX-valid
	// path (RFC 6698 §2.1.1).
	PKIXTA Usage = 0
	// PKIXEE (1): the end-entity certificate, which must also pass PKIX
	// validation (RFC 6698 §2.1.1).
	PKIXEE Usage = 1
	// DANETA (2): a trust anchor for the path; no public root store is
	// involved (RFC 6698 §2.1.1, RFC 7671 §5.2).
	DANETA Usage = 2
	// DANEEE (3): the end-entity certificate or key, with no path
	// validation, names or dates (RFC 6698 §2.1.1, RFC 7671 §5.1).
	DANEEE Usage = 3
)

// Selector is the TLSA selector field (RFC 6698 §2.1.2).
type Selector uint8

// Selectors.
const (
	// SelectorCert (0): the whole DER certificate (RFC 6698 §2.1.2).
	SelectorCert Selector = 0
	// SelectorSPKI (1): the DER SubjectPublicKeyInfo (RFC 6698 §2.1.2); the
	// only selector that applies to raw public keys (RFC 7250, RFC 7671 §5.1).
	SelectorSPKI Selector = 1
)

// MatchingType is the TLSA matching type field (RFC 6698 §2.1.3).
type MatchingType uint8

// Matching types.
const (
	// MatchFull (0): the selected content itself (RFC 6698 §2.1.3).
	MatchFull MatchingType = 0
	// MatchSHA256 (1): the SHA2-256 digest of the selected content.
	MatchSHA256 MatchingType = 1
	// MatchSHA512 (2): the SHA2-512 digest of the selected content.
	MatchSHA512 MatchingType = 2
)

// maxRDATA is the largest RDATA a resource record can carry: RDLENGTH is a
// 16-bit field (RFC 1035 §3.2.1). Three octets go to usage, selector and
// matching type (RFC 6698 §2.1).
const (
	maxRDATA   = 65535
	maxDataLen = maxRDATA - 3
)

var usageNames = map[Usage]string{PKIXTA: "PKIX-TA", PKIXEE: "PKIX-EE", DANETA: "DANE-TA", DANEEE: "DANE-EE"}
var selectorNames = map[Selector]string{SelectorCert: "Cert", SelectorSPKI: "SPKI"}
var mtypeNames = map[MatchingType]string{MatchFull: "Full", MatchSHA256: "SHA2-256", MatchSHA512: "SHA2-512"}

// String returns the RFC 7218 mnemonic ("DANE-EE"), or the number for a
// usage without one.
func (u Usage) String() string {
	if s, ok := usageNames[u]; ok {
		return s
	}
	return strconv.Itoa(int(u))
}

// String returns the RFC 7218 mnemonic ("SPKI"), or the number.
func (s Selector) String() string {
	if n, ok := selectorNames[s]; ok {
		return n
	}
	return strconv.Itoa(int(s))
}

// String returns the RFC 7218 mnemonic ("SHA2-256"), or the number.
func (m MatchingType) String() string {
	if s, ok := mtypeNames[m]; ok {
		return s
	}
	return strconv.Itoa(int(m))
}

// Known reports whether u is one of the four usages of RFC 6698.
func (u Usage) Known() bool { _, ok := usageNames[u]; return ok }

// Known reports whether s is one of the two selectors of RFC 6698.
func (s Selector) Known() bool { _, ok := selectorNames[s]; return ok }

// Known reports whether m is one of the three matching types of RFC 6698.
func (m MatchingType) Known() bool { _, ok := mtypeNames[m]; return ok }

// Record is one TLSA record's RDATA (RFC 6698 §2.1).
type Record struct {
	Usage        Usage
	Selector     Selector
	MatchingType MatchingType
	// Data is the certificate association data: the selected content itself
	// (MatchFull) or its digest.
	Data []byte
}

// String returns the RDATA in presentation format on one line, numeric
// fields and lower-case hex: "3 1 1 0a1b...".
func (r Record) String() string {
	return fmt.Sprintf("%d %d %d %s", r.Usage, r.Selector, r.MatchingType, hex.EncodeToString(r.Data))
}

// ZoneLine returns the record as one zone-file line,
// "owner. TTL IN TLSA 3 1 1 hex", with the owner made fully qualified and
// the data on the same line (no parentheses).
func (r Record) ZoneLine(owner string, ttl uint32) string {
	if !strings.HasSuffix(owner, ".") {
		owner += "."
	}
	return fmt.Sprintf("%s %d IN TLSA %s", owner, ttl, r.String())
}

// Equal reports whether r and o have the same fields and data.
func (r Record) Equal(o Record) bool {
	return r.Usage == o.Usage && r.Selector == o.Selector && r.MatchingType == o.MatchingType &&
		string(r.Data) == string(o.Data)
}

// ErrUnsupported is wrapped by errors for parameters this package does not
// implement (unknown selector or matching type, an unsupported key type).
var ErrUnsupported = errors.New("unsupported")

// ForCertificate returns the record of usage u that selects s from cert and
// matches it with m.
func ForCertificate(cert *x509.Certificate, u Usage, s Selector, m MatchingType) (Record, error) {
	if cert == nil {
		return Record{}, errors.New("tlsa: nil certificate")
	}
	var content []byte
	switch s {
	case SelectorCert:
		content = cert.Raw
	case SelectorSPKI:
		content = cert.RawSubjectPublicKeyInfo
	default:
		return Record{}, fmt.Errorf("tlsa: selector %d: %w", s, ErrUnsupported)
	}
	if len(content) == 0 {
		return Record{}, errors.New("tlsa: certificate has no DER encoding (not parsed from DER?)")
	}
	return forContent(content, u, s, m)
}

// ForPublicKey returns the record of usage u for pub with selector SPKI and
// matching type m. It serves certificates' keys and raw public keys
// (RFC 7250) alike; for a raw public key only usage DANE-EE makes sense
// (RFC 7671 §5.1).
func ForPublicKey(pub crypto.PublicKey, u Usage, m MatchingType) (Record, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return Record{}, fmt.Errorf("tlsa: public key: %w: %w", ErrUnsupported, err)
	}
	return forContent(spki, u, SelectorSPKI, m)
}

// ForSPKI returns the record for a DER SubjectPublicKeyInfo, as a raw public
// key is carried in TLS (RFC 7250 §3).
func ForSPKI(spki []byte, u Usage, m MatchingType) (Record, error) {
	if _, err := x509.ParsePKIXPublicKey(spki); err != nil {
		return Record{}, fmt.Errorf("tlsa: subject public key info: %w", err)
	}
	return forContent(spki, u, SelectorSPKI, m)
}

func forContent(content []byte, u Usage, s Selector, m MatchingType) (Record, error) {
	d, err := digest(content, m)
	if err != nil {
		return Record{}, err
	}
	if len(d) > maxDataLen {
		return Record{}, &DataError{Reason: DataTooLong, Len: len(d)}
	}
	return Record{Usage: u, Selector: s, MatchingType: m, Data: d}, nil
}

// digest applies matching type m to content (RFC 6698 §2.1.3).
func digest(content []byte, m MatchingType) ([]byte, error) {
	switch m {
	case MatchFull:
		return append([]byte(nil), content...), nil
	case MatchSHA256:
		h := sha256.Sum256(content)
		return h[:], nil
	case MatchSHA512:
		h := sha512.Sum512(content)
		return h[:], nil
	}
	return nil, fmt.Errorf("tlsa: matching type %d: %w", m, ErrUnsupported)
}

// RevocationMarker is the RDATA of the TLSA record published at a revoked
// name (dance zone revoke): DANE-EE, SPKI, SHA2-256 of 32 zero octets.
//
// The record must stop wildcard synthesis at the name (RFC 4592 §2.2.2:
// a name that owns records is never answered from a wildcard, so an
// organisation CA's record at *._device.DOMAIN no longer covers it), it
// must never authenticate anyone, and verifiers must be able to tell it
// from an ordinary key. So it is a record every DANE implementation can
// use, not an unusable one: an RRset of only unusable records counts as
// no TLSA records at all (RFC 7671 §4.1, §9; RFC 7672 §2.2 then falls back
// to unauthenticated TLS), whereas a usable DANE-EE record that matches
// nothing makes every verifier refuse, without PKIX, names or dates to
// rescue the peer (RFC 7671 §5.1). Matching it would need a public key
// whose SHA2-256 digest is all zero octets, a preimage of SHA2-256. The
// same record is recognised here (Record.IsRevocationMarker) so that the
// verification core reports "revoked" rather than "no-match".
const RevocationMarker = "3 1 1 0000000000000000000000000000000000000000000000000000000000000000"

// IsRevocationMarker reports whether r is the RevocationMarker record.
func (r Record) IsRevocationMarker() bool {
	if r.Usage != DANEEE || r.Selector != SelectorSPKI || r.MatchingType != MatchSHA256 || len(r.Data) != sha256.Size {
		return false
	}
	for _, b := range r.Data {
		if b != 0 {
			return false
		}
	}
	return true
}
