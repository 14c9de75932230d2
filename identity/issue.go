package identity

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"
)

// Validity defaults.
const (
	// DefaultValidity is the lifetime of an end-entity certificate. DANE-EE
	// ignores dates (RFC 7671 §5.1); revocation is removing the record.
	DefaultValidity = 365 * 24 * time.Hour
	// DefaultCAValidity is the lifetime of a CA certificate.
	DefaultCAValidity = 10 * 365 * 24 * time.Hour
	// ClockSkew is how far NotBefore is set in the past, so that a peer
	// whose clock is a little behind still accepts a fresh certificate.
	ClockSkew = 10 * time.Minute
	// serialBits is the size of the random serial number; RFC 5280 §4.1.2.2
	// allows up to 20 octets, and 128 random bits make serials unguessable.
	serialBits = 128
	// maxCNLength is ub-common-name (RFC 5280 Appendix A.1).
	maxCNLength = 64
)

// Options are the settings shared by every issuing function.
type Options struct {
	// Validity is how long the certificate is valid from now. Zero means
	// DefaultValidity for end entities and DefaultCAValidity for CAs.
	Validity time.Duration
	// Time returns the current time; nil means time.Now.
	Time func() time.Time
	// Rand is the source of serial numbers and signature randomness; nil
	// means crypto/rand.
	Rand io.Reader
}

func (o Options) now() time.Time {
	if o.Time != nil {
		return o.Time()
	}
	return time.Now()
}

func (o Options) rand() io.Reader {
	if o.Rand != nil {
		return o.Rand
	}
	return rand.Reader
}

// Issuer is a CA certificate and its private key.
type Issuer struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// IssuerError says why a certificate and key cannot issue certificates.
type IssuerError struct{ Reason string }

func (e *IssuerError) Error() string { return "CA: " + e.Reason }

// Check verifies that the issuer can sign certificates: a CA certificate
// (basicConstraints cA, keyUsage keyCertSign; RFC 5280 §4.2.1.9, §4.2.1.3)
// whose public key is the one of Key.
func (is Issuer) Check() error {
	if is.Cert == nil || is.Key == nil {
		return &IssuerError{Reason: "certificate and key are both required"}
	}
	if !is.Cert.BasicConstraintsValid || !is.Cert.IsCA {
		return &IssuerError{Reason: "certificate is not a CA (basicConstraints cA is not set)"}
	}
	if is.Cert.KeyUsage != 0 && is.Cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return &IssuerError{Reason: "certificate may not sign certificates (keyUsage lacks keyCertSign)"}
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := is.Key.Public().(equaler)
	if !ok || !pub.Equal(is.Cert.PublicKey) {
		return &IssuerError{Reason: "private key does not belong to the certificate"}
	}
	return checkKey(is.Key.Public())
}

// SelfSigned makes a self-signed end-entity certificate for a device,
// service or host name: the identity whose TLSA record is DANE-EE SPKI
// (3 1 1), which ignores everything in the certificate but the key (RFC
// 7671 §5.1). The name is in a SAN dNSName, as client-auth §2 asks, so the
// same certificate also works where the name is checked.
func SelfSigned(name Name, key crypto.Signer, o Options) (*x509.Certificate, error) {
	tmpl, err := leafTemplate(name, o)
	if err != nil {
		return nil, err
	}
	return create(tmpl, tmpl, key.Public(), key, o)
}

// IssueDevice makes an end-entity certificate for a device, service or
// host name, signed by ca. Its TLSA record is either its own DANE-EE
// (3 1 1) or the CA's DANE-TA (2 0 1) at the same name.
func IssueDevice(name Name, pub crypto.PublicKey, ca Issuer, o Options) (*x509.Certificate, error) {
	if err := ca.Check(); err != nil {
		return nil, err
	}
	if err := checkPermitted(ca.Cert, name.String()); err != nil {
		return nil, err
	}
	tmpl, err := leafTemplate(name, o)
	if err != nil {
		return nil, err
	}
	clampToIssuer(tmpl, ca.Cert)
	return create(tmpl, ca.Cert, pub, ca.Key, o)
}

// leafTemplate is the template for device, service and host certificates.
//
// Extended key usage is clientAuth and serverAuth: a DANCE identity is a
// DNS name, and the same device or service is often both a TLS client and
// a server (an MTA, a DNS server doing XoT, a device with a local API).
// Key usage is digitalSignature alone, which is all TLS 1.3 and ECDHE
// handshakes need (RFC 8446 §4.4.2.2, RFC 5280 §4.2.1.3).
func leafTemplate(name Name, o Options) (*x509.Certificate, error) {
	if name.IsZero() {
		return nil, errors.New("empty name")
	}
	switch name.Kind() {
	case KindHost, KindDevice, KindService:
	default:
		return nil, fmt.Errorf("name %q is a %s name; device certificates are for device, service or host names", name, name.Kind())
	}
	san, err := sanExtension(sanEntries{DNSNames: []string{name.String()}}, len(name.String()) > maxCNLength)
	if err != nil {
		return nil, err
	}
	t := baseTemplate(o, DefaultValidity)
	t.Subject = commonName(name.String())
	t.KeyUsage = x509.KeyUsageDigitalSignature
	t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}
	t.BasicConstraintsValid = true
	t.ExtraExtensions = append(t.ExtraExtensions, san)
	return t, nil
}

// User names the user a user certificate is for.
type User struct {
	// UID is the user name, written as an otherName uid (RFC 4519 §2.39).
	// The identity is CanonicalUserName(UID)@domain (architecture §4.1.3):
	// a UID that CanonicalUserName refuses is refused here too, so that no
	// certificate is issued for a name no verifier accepts.
	UID string
	// Mailbox, if set, is the user's email address. An ASCII mailbox is
	// written as an rfc822Name, one with a non-ASCII local part as an
	// SmtpUTF8Mailbox otherName (RFC 9598 §3).
	Mailbox string
	// Domain is the user's domain, whose user CA (TLSA at "_user.Domain")
	// issues the certificate. It is written as a dNSName.
	Domain Name
}

// UserCertError reports an unusable User.
type UserCertError struct{ Reason string }

func (e *UserCertError) Error() string { return "user certificate: " + e.Reason }

// IssueUser makes a user certificate signed by ca, the domain's user CA:
// the domain as a dNSName, the user as an otherName uid and, if given, the
// mailbox (architecture §3.1, §4.1.3). Extended key usage is clientAuth
// only: a user is a client.
func IssueUser(u User, pub crypto.PublicKey, ca Issuer, o Options) (*x509.Certificate, error) {
	if err := ca.Check(); err != nil {
		return nil, err
	}
	if u.Domain.Kind() != KindHost {
		return nil, &UserCertError{Reason: fmt.Sprintf("domain %q is not a plain domain name", u.Domain)}
	}
	if u.UID == "" && u.Mailbox == "" {
		return nil, &UserCertError{Reason: "a uid or a mailbox is required"}
	}
	if err := checkPermitted(ca.Cert, u.Domain.String()); err != nil {
		return nil, err
	}
	e := sanEntries{DNSNames: []string{u.Domain.String()}}
	var id string
	udomain := strings.ToLower(u.Domain.ToUnicode())
	if u.UID != "" {
		uid, err := checkUID(u.UID)
		if err != nil {
			return nil, err
		}
		e.UIDs = []string{u.UID}
		id = uid + "@" + udomain
	}
	if u.Mailbox != "" {
		local, dom, ok := splitMailbox(u.Mailbox)
		if !ok || checkedOK(u.Mailbox) != nil {
			return nil, &UserCertError{Reason: fmt.Sprintf("mailbox %q is not local@domain", u.Mailbox)}
		}
		// Only names under the domain that publishes the CA are reliable
		// (architecture §4.1.7), so the mailbox must be at that domain,
		// given with A-labels or U-labels.
		if d, err := ParseName(dom); (err != nil || d != u.Domain) && !sameUnicodeDomain(dom, udomain) {
			return nil, &UserCertError{Reason: fmt.Sprintf("mailbox %q is not at the domain %s", u.Mailbox, u.Domain)}
		}
		if isASCII(local) {
			// RFC 9598 §3: an ASCII local part goes in rfc822Name, with
			// the domain as A-labels.
			e.Emails = []string{local + "@" + u.Domain.String()}
		} else {
			e.Mailboxes = []string{u.Mailbox}
		}
		if id == "" {
			// The mailbox names the user (Identities.User).
			user, err := CanonicalUserName(local)
			if err != nil {
				return nil, &UserCertError{Reason: fmt.Sprintf("mailbox %q: %v", u.Mailbox, err)}
			}
			id = user + "@" + udomain
		}
	}
	san, err := sanExtension(e, utf8.RuneCountInString(id) > maxCNLength)
	if err != nil {
		return nil, err
	}
	t := baseTemplate(o, DefaultValidity)
	t.Subject = commonName(id)
	t.KeyUsage = x509.KeyUsageDigitalSignature
	t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	t.BasicConstraintsValid = true
	t.ExtraExtensions = append(t.ExtraExtensions, san)
	clampToIssuer(t, ca.Cert)
	return create(t, ca.Cert, pub, ca.Key, o)
}

// checkPermitted refuses to issue a name the CA's own name constraints
// forbid (RFC 5280 §4.2.1.10): every relying party would reject it.
func checkPermitted(ca *x509.Certificate, name string) error {
	for _, d := range ca.ExcludedDNSDomains {
		if underDomain(name, d) {
			return &IssuerError{Reason: fmt.Sprintf("the CA's name constraints exclude %q", name)}
		}
	}
	if len(ca.PermittedDNSDomains) == 0 {
		return nil
	}
	for _, d := range ca.PermittedDNSDomains {
		if underDomain(name, d) {
			return nil
		}
	}
	return &IssuerError{Reason: fmt.Sprintf("%q is outside the CA's permitted names (%s)", name, strings.Join(ca.PermittedDNSDomains, ", "))}
}

// underDomain reports whether name is domain or a name below it, the
// matching rule for dNSName constraints (RFC 5280 §4.2.1.10).
func underDomain(name, domain string) bool {
	name, domain = strings.ToLower(name), strings.ToLower(domain)
	if strings.HasPrefix(domain, ".") {
		// A leading dot means names below the domain only.
		return strings.HasSuffix(name, domain)
	}
	return domain == "" || name == domain || strings.HasSuffix(name, "."+domain)
}

// checkUID returns the canonical form of uid (CanonicalUserName), or why
// it cannot be written.
func checkUID(uid string) (string, error) {
	if err := checkedOK(uid); err != nil {
		return "", &UserCertError{Reason: fmt.Sprintf("uid %q: %v", uid, err)}
	}
	c, err := CanonicalUserName(uid)
	if err != nil {
		return "", &UserCertError{Reason: err.Error()}
	}
	return c, nil
}

func checkedOK(s string) error {
	_, err := checkedString([]byte(s))
	return err
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// CAKind is the kind of CA NewCA makes.
type CAKind int

// CA kinds.
const (
	// OrgCA issues device, service and host certificates under an
	// organisation's domain. Its DANE-TA record (2 0 1) is published at
	// the names of the identities it issues.
	OrgCA CAKind = iota + 1
	// UserCA issues a domain's user certificates. Its DANE-TA record is
	// published at "_user.<domain>" (architecture §4.1.3, §4.1.7).
	UserCA
)

// NewCA makes a self-signed CA certificate for domain.
//
// The CA issues end entities only (pathLenConstraint 0), and carries a
// critical name constraint permitting dNSNames under domain (RFC 5280
// §4.2.1.10): a relying party that uses the CA as a PKIX or DANE-TA trust
// anchor then refuses any name outside the domain, even if the CA key
// leaks. Name constraints do not cover otherName uid; a user identity is
// only taken from a certificate whose dNSName is the domain (see
// Identities.User).
func NewCA(kind CAKind, domain Name, key crypto.Signer, o Options) (*x509.Certificate, error) {
	if domain.Kind() != KindHost {
		return nil, fmt.Errorf("CA domain %q is not a plain domain name", domain)
	}
	if err := checkKey(key.Public()); err != nil {
		return nil, err
	}
	t := baseTemplate(o, DefaultCAValidity)
	var what string
	switch kind {
	case OrgCA:
		what = "device CA"
	case UserCA:
		what = "user CA"
	default:
		return nil, fmt.Errorf("unknown CA kind %d", kind)
	}
	// A CA must have a non-empty subject (RFC 5280 §4.1.2.6).
	t.Subject = commonName(domain.String() + " " + what)
	if t.Subject.CommonName == "" {
		t.Subject = pkix.Name{CommonName: what}
	}
	t.IsCA = true
	t.BasicConstraintsValid = true
	t.MaxPathLen = 0
	t.MaxPathLenZero = true
	t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	t.PermittedDNSDomainsCritical = true
	t.PermittedDNSDomains = []string{domain.String()}
	return create(t, t, key.Public(), key, o)
}

// NewCSR makes a PKCS#10 certificate signing request (RFC 2986) for name,
// for a CA outside this toolkit. The name is requested as a SAN dNSName.
// It returns DER.
func NewCSR(name Name, key crypto.Signer, o Options) ([]byte, error) {
	switch name.Kind() {
	case KindHost, KindDevice, KindService:
	default:
		return nil, fmt.Errorf("name %q is a %s name; a CSR is for a device, service or host name", name, name.Kind())
	}
	san, err := sanExtension(sanEntries{DNSNames: []string{name.String()}}, len(name.String()) > maxCNLength)
	if err != nil {
		return nil, err
	}
	t := &x509.CertificateRequest{
		Subject:         commonName(name.String()),
		ExtraExtensions: []pkix.Extension{san},
	}
	return x509.CreateCertificateRequest(o.rand(), t, key)
}

func baseTemplate(o Options, def time.Duration) *x509.Certificate {
	v := o.Validity
	if v <= 0 {
		v = def
	}
	now := o.now()
	return &x509.Certificate{
		NotBefore: now.Add(-ClockSkew).UTC().Truncate(time.Second),
		NotAfter:  now.Add(v).UTC().Truncate(time.Second),
	}
}

// clampToIssuer keeps a certificate's validity inside its issuer's: a path
// is only valid while every certificate in it is (RFC 5280 §6.1.3).
func clampToIssuer(t, issuer *x509.Certificate) {
	if t.NotAfter.After(issuer.NotAfter) {
		t.NotAfter = issuer.NotAfter
	}
}

// commonName returns a subject with cn as its common name, or an empty
// subject when cn does not fit ub-common-name; the SAN extension is then
// critical (RFC 5280 §4.2.1.6).
func commonName(cn string) pkix.Name {
	if utf8.RuneCountInString(cn) > maxCNLength {
		return pkix.Name{}
	}
	return pkix.Name{CommonName: cn}
}

func sanExtension(e sanEntries, critical bool) (pkix.Extension, error) {
	v, err := marshalSAN(e)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("encode subjectAltName: %w", err)
	}
	return pkix.Extension{Id: OIDSubjectAltName, Critical: critical, Value: v}, nil
}

func create(t, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer, o Options) (*x509.Certificate, error) {
	if err := checkKey(pub); err != nil {
		return nil, err
	}
	serial, err := randomSerial(o.rand())
	if err != nil {
		return nil, err
	}
	t.SerialNumber = serial
	der, err := x509.CreateCertificate(o.rand(), t, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse created certificate: %w", err)
	}
	if !bytes.Equal(c.RawIssuer, parent.RawSubject) && parent != t {
		return nil, errors.New("create certificate: issuer does not match the CA subject")
	}
	return c, nil
}

// randomSerial returns a positive random serial number of serialBits bits.
func randomSerial(r io.Reader) (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), serialBits)
	for {
		n, err := rand.Int(r, limit)
		if err != nil {
			return nil, fmt.Errorf("serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}
