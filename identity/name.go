package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Limits on owner names.
const (
	// MaxLabelLength is the longest label, in octets (RFC 1035 §2.3.4).
	MaxLabelLength = 63
	// MaxNameLength is the longest name this package accepts, in octets of
	// presentation form without the trailing dot. A name's wire form is at
	// most 255 octets (RFC 1035 §2.3.4), which is the presentation length
	// plus two (the first length octet and the root label), so 253 is the
	// most that can be queried. It is also well inside the 255-octet limit
	// on a dane_clientid ClientName (client-auth §7).
	MaxNameLength = 253
)

// Labels with a fixed meaning in DANCE owner names.
const (
	// DeviceLabel marks a device name, "devicename._device.org-domain"
	// (client-auth §2).
	DeviceLabel = "_device"
	// UserLabel marks the owner of a domain's user CA records,
	// "_user.domain" (architecture §4.1.3, §4.1.7, §6.2).
	UserLabel = "_user"
)

// Kind is the shape of an owner name (client-auth §2, architecture §4.1.7).
type Kind int

// Owner-name shapes.
const (
	// KindHost is a plain host name: LDH labels only ("mta1.example.com").
	KindHost Kind = iota + 1
	// KindDevice is "devicename._device.org-domain".
	KindDevice
	// KindService is "_service.client-domain" ("_smtp-client.mta1.example.com").
	KindService
	// KindUser is "_user.domain", where a domain publishes its user CA, or
	// "<hash>._user.domain" for one user (the hashed local part of RFC 7929
	// §3).
	KindUser
)

// String returns "host", "device", "service" or "user".
func (k Kind) String() string {
	switch k {
	case KindHost:
		return "host"
	case KindDevice:
		return "device"
	case KindService:
		return "service"
	case KindUser:
		return "user"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MarshalText implements encoding.TextMarshaler: "host", "device",
// "service" or "user", as String (JSON output of verify.Identity).
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler: the inverse of String.
func (k *Kind) UnmarshalText(b []byte) error {
	for c := KindHost; c <= KindUser; c++ {
		if c.String() == string(b) {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("identity: unknown name kind %q", b)
}

// NameReason says why a name was rejected.
type NameReason int

// Reasons for rejecting a name.
const (
	ReasonEmpty        NameReason = iota + 1 // empty name, or the root alone
	ReasonEmptyLabel                         // two dots in a row, or a leading dot
	ReasonLabelTooLong                       // a label longer than 63 octets
	ReasonNameTooLong                        // longer than MaxNameLength octets
	ReasonEscape                             // a backslash: \DDD or \X escapes are not allowed
	ReasonNonASCII                           // a U-label or other non-ASCII octet; use the A-label
	ReasonBadCharacter                       // an octet outside letters, digits, '-' and a leading '_'
	ReasonHyphen                             // a label that starts or ends with '-'
	ReasonBadALabel                          // an "xn--" label that is not a valid A-label (RFC 5891 §5.4)
	ReasonShape                              // underscore labels in a place no DANCE shape allows
)

var reasonText = map[NameReason]string{
	ReasonEmpty:        "empty name",
	ReasonEmptyLabel:   "empty label",
	ReasonLabelTooLong: "label longer than 63 octets",
	ReasonNameTooLong:  "name longer than 253 octets",
	ReasonEscape:       "escapes (\\DDD, \\X) are not allowed",
	ReasonNonASCII:     "non-ASCII character: internationalised names must be given as A-labels (xn--...)",
	ReasonBadCharacter: "character not allowed in a label (letters, digits, '-', and '_' only at the start)",
	ReasonHyphen:       "label starts or ends with '-'",
	ReasonBadALabel:    "invalid A-label",
	ReasonShape:        "underscore labels only as _service.name, name._device.domain or _user.domain",
}

func (r NameReason) String() string {
	if s, ok := reasonText[r]; ok {
		return s
	}
	return fmt.Sprintf("NameReason(%d)", int(r))
}

// NameError reports an invalid owner name.
type NameError struct {
	Name   string     // the name as given
	Label  string     // the offending label, when there is one
	Reason NameReason // why it was rejected
}

func (e *NameError) Error() string {
	if e.Label != "" {
		return fmt.Sprintf("invalid name %q: label %q: %s", e.Name, e.Label, e.Reason)
	}
	return fmt.Sprintf("invalid name %q: %s", e.Name, e.Reason)
}

// Name is a validated owner name in canonical form: lower case, A-labels,
// no trailing dot. This is the ClientName form of client-auth §7 and the
// form in which names are compared. The zero Name is not valid; make one
// with ParseName.
type Name struct {
	s    string
	kind Kind
}

// ParseName validates an owner name and returns it in canonical form.
//
// It accepts the three shapes of client-auth §2 and the _user shape of
// architecture §4.1.7: letters, digits and hyphens (RFC 1123 §2.1), A-labels
// for internationalised names (RFC 5890 §2.3.2.1), and underscore labels
// (RFC 8552) only where those shapes put them. A name is compared
// case-insensitively (RFC 4343), so it is lower-cased; one trailing dot is
// accepted and removed. Escapes are refused: the name a client claims is
// queried verbatim and must mean the same thing to every party.
func ParseName(s string) (Name, error) {
	in := s
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return Name{}, &NameError{Name: in, Reason: ReasonEmpty}
	}
	if strings.IndexByte(s, '\\') >= 0 {
		return Name{}, &NameError{Name: in, Reason: ReasonEscape}
	}
	if len(s) > MaxNameLength {
		return Name{}, &NameError{Name: in, Reason: ReasonNameTooLong}
	}
	labels := strings.Split(s, ".")
	for i, l := range labels {
		if r := checkLabel(l); r != 0 {
			return Name{}, &NameError{Name: in, Label: l, Reason: r}
		}
		labels[i] = strings.ToLower(l)
	}
	kind, ok := classify(labels)
	if !ok {
		return Name{}, &NameError{Name: in, Reason: ReasonShape}
	}
	return Name{s: strings.Join(labels, "."), kind: kind}, nil
}

// MustParseName is ParseName for names known to be valid; it panics on an
// invalid name. Use it for constants in tests and examples only.
func MustParseName(s string) Name {
	n, err := ParseName(s)
	if err != nil {
		panic(err)
	}
	return n
}

// checkLabel returns why a label is invalid, or 0.
func checkLabel(l string) NameReason {
	if l == "" {
		return ReasonEmptyLabel
	}
	if len(l) > MaxLabelLength {
		return ReasonLabelTooLong
	}
	body := l
	if l[0] == '_' {
		// An underscored label (RFC 8552 §1.1): "_" then LDH.
		body = l[1:]
		if body == "" {
			return ReasonBadCharacter
		}
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
		case c >= 0x80:
			return ReasonNonASCII
		default:
			return ReasonBadCharacter
		}
	}
	if body[0] == '-' || body[len(body)-1] == '-' {
		return ReasonHyphen
	}
	if l[0] != '_' && len(l) >= len(aLabelPrefix) && strings.EqualFold(l[:len(aLabelPrefix)], aLabelPrefix) {
		if _, err := decodeALabel(strings.ToLower(l)); err != nil {
			return ReasonBadALabel
		}
	}
	return 0
}

// classify finds the shape of a name from its lower-cased labels.
func classify(labels []string) (Kind, bool) {
	under := func(l string) bool { return l[0] == '_' }
	switch {
	case labels[0] == UserLabel:
		// _user.domain: the domain's user CA.
		return KindUser, len(labels) > 1 && plain(labels[1:])
	case len(labels) > 1 && labels[1] == UserLabel:
		// <hash>._user.domain: one user's records (RFC 7929 §3 style).
		return KindUser, !under(labels[0]) && len(labels) > 2 && plain(labels[2:])
	case len(labels) > 1 && labels[1] == DeviceLabel:
		return KindDevice, !under(labels[0]) && len(labels) > 2 && plain(labels[2:])
	case under(labels[0]):
		return KindService, labels[0] != DeviceLabel && len(labels) > 1 && plain(labels[1:])
	}
	return KindHost, plain(labels)
}

// plain reports whether no label starts with an underscore.
func plain(labels []string) bool {
	for _, l := range labels {
		if l[0] == '_' {
			return false
		}
	}
	return true
}

// String returns the canonical name: lower case, no trailing dot.
func (n Name) String() string { return n.s }

// FQDN returns the name with a trailing dot, as zone files and DNS
// libraries want it.
func (n Name) FQDN() string { return n.s + "." }

// Kind returns the shape of the name.
func (n Name) Kind() Kind { return n.kind }

// IsZero reports whether n is the zero Name.
func (n Name) IsZero() bool { return n.s == "" }

// Domain returns the domain part of a device, service or user name: what
// follows "_device", the service label or "_user". For a host name it
// returns the name itself.
func (n Name) Domain() string {
	labels := strings.Split(n.s, ".")
	switch n.kind {
	case KindDevice:
		return strings.Join(labels[2:], ".")
	case KindService:
		return strings.Join(labels[1:], ".")
	case KindUser:
		if labels[0] == UserLabel {
			return strings.Join(labels[1:], ".")
		}
		return strings.Join(labels[2:], ".")
	}
	return n.s
}

// DeviceName returns "device._device.domain" (client-auth §2). device is
// one LDH label.
func DeviceName(device, domain string) (Name, error) {
	if strings.Contains(device, ".") {
		return Name{}, &NameError{Name: device, Label: device, Reason: ReasonBadCharacter}
	}
	return parseKind(device+"."+DeviceLabel+"."+strings.TrimSuffix(domain, "."), KindDevice)
}

// ServiceName returns "_service.name" (client-auth §2). service is given
// with or without its leading underscore ("smtp-client" or "_smtp-client").
func ServiceName(service, name string) (Name, error) {
	if !strings.HasPrefix(service, "_") {
		service = "_" + service
	}
	if strings.Contains(service, ".") {
		return Name{}, &NameError{Name: service, Label: service, Reason: ReasonBadCharacter}
	}
	return parseKind(service+"."+strings.TrimSuffix(name, "."), KindService)
}

// UserCAName returns "_user.domain", the owner of the TLSA records for the
// CA that issues a domain's user certificates (architecture §4.1.3).
func UserCAName(domain string) (Name, error) {
	return parseKind(UserLabel+"."+strings.TrimSuffix(domain, "."), KindUser)
}

// HashedUserName returns "<hash>._user.domain" for one user, with the local
// part hashed as RFC 7929 §3 does (see HashLocalPart) so that user names
// cannot be read from the zone. The local part is put in its canonical form
// first (CanonicalUserName: PRECIS UsernameCaseMapped), because a DANCE user
// identity is CanonicalUserName(uid)@lowercase(domain) (architecture
// §4.1.3): every spelling of one user maps to one owner name. A local part
// CanonicalUserName refuses is refused with its *UserNameError.
func HashedUserName(localPart, domain string) (Name, error) {
	if localPart == "" {
		return Name{}, &NameError{Name: localPart, Reason: ReasonEmpty}
	}
	user, err := CanonicalUserName(localPart)
	if err != nil {
		return Name{}, err
	}
	return parseKind(HashLocalPart(user)+"."+UserLabel+"."+strings.TrimSuffix(domain, "."), KindUser)
}

// HashedLocalPartLength is the number of octets of the SHA2-256 digest kept
// for a hashed local part (RFC 7929 §3).
const HashedLocalPartLength = 28

// HashLocalPart returns the owner-name label for an email local part as
// RFC 7929 §3 builds it: the SHA2-256 digest of the UTF-8 local part,
// truncated to 28 octets, in hexadecimal (56 characters, lower case). The
// local part is hashed exactly as given: RFC 7929 does no case folding
// (local parts may be case-sensitive, RFC 5321 §2.4); callers that want a
// DANCE user identity put it in canonical form first (CanonicalUserName),
// as HashedUserName does.
func HashLocalPart(localPart string) string {
	sum := sha256.Sum256([]byte(localPart))
	return hex.EncodeToString(sum[:HashedLocalPartLength])
}

func parseKind(s string, want Kind) (Name, error) {
	n, err := ParseName(s)
	if err != nil {
		return Name{}, err
	}
	if n.kind != want {
		return Name{}, &NameError{Name: s, Reason: ReasonShape}
	}
	return n, nil
}
