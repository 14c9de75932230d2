package verify

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/dnsbound/dance/identity"
)

// ClaimedName returns the name a certificate claims when the TLS protocol
// carries no name of its own (standard TLS, without dane_clientid):
//
//   - a device, service or host certificate claims its single SAN dNSName;
//   - a user certificate (one that names a user by otherName uid, an
//     SmtpUTF8Mailbox or an rfc822Name) claims "_user.<domain>", where its
//     single dNSName is the domain whose user CA issued it (architecture
//     §4.1.3, §4.1.7).
//
// A certificate with several dNSNames claims several identities and is
// refused with ReasonAmbiguousName rather than guessed at; one without any
// gets ReasonNoName; a dNSName that is not a DANCE owner name gets
// ReasonNameSyntax. The subject common name is never consulted.
func ClaimedName(cert *x509.Certificate) (string, error) {
	if cert == nil {
		return "", &Error{Reason: ReasonNoCredential, Err: errors.New("no certificate")}
	}
	ids, err := identity.CertificateIdentities(cert)
	if errors.Is(err, identity.ErrNoSAN) {
		return "", &Error{Reason: ReasonNoName, Err: err}
	}
	if err != nil {
		return "", &Error{Reason: ReasonNameSyntax, Err: err}
	}
	switch len(ids.DNSNames) {
	case 0:
		return "", &Error{Reason: ReasonNoName, Err: errors.New("certificate has no SAN dNSName")}
	case 1:
	default:
		return "", &Error{Reason: ReasonAmbiguousName, Err: fmt.Errorf("certificate has %d SAN dNSNames %q, want one", len(ids.DNSNames), ids.DNSNames)}
	}
	n, err := identity.ParseName(ids.DNSNames[0])
	if err != nil {
		return "", &Error{Reason: ReasonNameSyntax, Name: ids.DNSNames[0], Err: err}
	}
	if !namesUser(ids) {
		return n.String(), nil
	}
	if n.Kind() != identity.KindHost {
		return "", &Error{Reason: ReasonNameSyntax, Name: n.String(), Err: errors.New("a user certificate must name a plain domain as its dNSName")}
	}
	u, err := identity.UserCAName(n.String())
	if err != nil {
		return "", &Error{Reason: ReasonNameSyntax, Name: n.String(), Err: err}
	}
	return u.String(), nil
}

// namesUser reports whether a certificate names a user: an otherName uid
// or a mailbox (architecture §3.1, RFC 9598).
func namesUser(ids *identity.Identities) bool {
	return len(ids.UIDs) > 0 || len(ids.Mailboxes) > 0 || len(ids.Emails) > 0
}
