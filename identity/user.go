package identity

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/text/secure/precis"
)

// ErrNoUser is wrapped by the error User returns when a certificate names
// no user of the domain.
var ErrNoUser = errors.New("no user identity")

// UserError says why a certificate yields no user identity for a domain.
type UserError struct {
	Domain string
	Reason string
}

func (e *UserError) Error() string {
	return fmt.Sprintf("user identity for domain %q: %s", e.Domain, e.Reason)
}

func (e *UserError) Unwrap() error { return ErrNoUser }

// UserNameError says why a user name (a uid, or the local part of a
// mailbox) cannot name a user.
type UserNameError struct {
	Name   string
	Reason string
}

func (e *UserNameError) Error() string { return fmt.Sprintf("user name %q: %s", e.Name, e.Reason) }

// CanonicalUserName returns the form in which user names are compared and
// hashed: the name enforced by the PRECIS UsernameCaseMapped profile
// (RFC 8265 §3.3: IdentifierClass of RFC 8264, width mapping, toLowerCase,
// NFC, the Bidi Rule). The only change it accepts is case: "Alice" is
// "alice", and "ß" stays "ß" (toLowerCase, not case folding, so "straße"
// and "strasse" are two users). A name that the profile refuses (spaces,
// symbols, compatibility characters such as ligatures or the long s,
// unassigned code points, a Bidi Rule failure) is refused, and so is one
// that the profile would change in another way: fullwidth letters, a
// decomposed accent, the Kelvin sign for "K". Mapping those silently would
// make them another spelling of the user they look like, so that whoever
// obtained a certificate for "\u212aate" would be "kate"; a CA that means
// "kate" writes "kate". "@" is refused too: it separates the user from the
// domain.
func CanonicalUserName(name string) (string, error) {
	if name == "" {
		return "", &UserNameError{Name: name, Reason: "empty"}
	}
	kept, err := precis.UsernameCasePreserved.String(name)
	if err != nil {
		return "", &UserNameError{Name: name, Reason: "refused by the PRECIS UsernameCasePreserved profile (RFC 8265 §3.4): " + err.Error()}
	}
	if kept != name {
		return "", &UserNameError{Name: name, Reason: fmt.Sprintf("not in the form PRECIS prepares (width mapping, NFC; RFC 8265 §3.4.3): it would become %q", kept)}
	}
	folded, err := precis.UsernameCaseMapped.String(name)
	if err != nil {
		return "", &UserNameError{Name: name, Reason: "refused by the PRECIS UsernameCaseMapped profile (RFC 8265 §3.3): " + err.Error()}
	}
	if strings.Contains(folded, "@") {
		return "", &UserNameError{Name: name, Reason: `contains "@"`}
	}
	return folded, nil
}

// User returns the authenticated user identity a user certificate carries
// for domain, the domain whose "_user" TLSA records (the user CA)
// authenticated the certificate (architecture §4.1.3):
//
//	CanonicalUserName(uid) "@" lowercase(UTF-8 form of domain)
//
// The certificate must name the domain in a dNSName. The user is the one
// otherName uid; a certificate without uid may name the user by one
// SmtpUTF8Mailbox or rfc822Name at the same domain instead (architecture
// §3.1, RFC 9598). Statements about other domains are ignored: only names
// under the domain that publishes the CA are reliable (architecture
// §4.1.7). More than one candidate is refused rather than guessed at.
func (ids *Identities) User(domain string) (string, error) {
	d, err := ParseName(domain)
	if err != nil {
		return "", &UserError{Domain: domain, Reason: err.Error()}
	}
	if d.Kind() != KindHost {
		return "", &UserError{Domain: domain, Reason: "not a plain domain name"}
	}
	named := false
	for _, n := range ids.DNSNames {
		if strings.EqualFold(strings.TrimSuffix(n, "."), d.String()) {
			named = true
			break
		}
	}
	if !named {
		return "", &UserError{Domain: d.String(), Reason: "no dNSName for the domain"}
	}
	udomain := strings.ToLower(d.ToUnicode())
	var cands []string
	if len(ids.UIDs) > 0 {
		cands = ids.UIDs
	} else {
		for _, m := range append(append([]string(nil), ids.Mailboxes...), ids.Emails...) {
			local, dom, ok := splitMailbox(m)
			if !ok {
				continue
			}
			md, err := ParseName(dom)
			if err == nil && md.String() == d.String() {
				cands = append(cands, local)
			} else if sameUnicodeDomain(dom, udomain) {
				// RFC 9598 §3 mailboxes carry U-labels.
				cands = append(cands, local)
			}
		}
	}
	switch len(cands) {
	case 0:
		return "", &UserError{Domain: d.String(), Reason: "no otherName uid and no mailbox at the domain"}
	case 1:
		u, err := CanonicalUserName(cands[0])
		if err != nil {
			return "", &UserError{Domain: d.String(), Reason: err.Error()}
		}
		return u + "@" + udomain, nil
	}
	// Several names are refused even when they are spellings of one user:
	// the certificate is not one a DANCE CA issues.
	return "", &UserError{Domain: d.String(), Reason: fmt.Sprintf("%d user names, want exactly one", len(cands))}
}

// sameUnicodeDomain compares the domain of a mailbox with udomain, the
// lower-cased U-label form of the user's domain: ASCII letters in any case,
// every other character exactly. strings.EqualFold would take the Kelvin
// sign for "k" and the long s for "s", which IDNA2008 forbids in a U-label
// (RFC 5892), so that another string would pass for the domain.
func sameUnicodeDomain(dom, udomain string) bool {
	if len(dom) != len(udomain) {
		return false
	}
	for i := 0; i < len(dom); i++ {
		a, b := dom[i], udomain[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// Users returns the user identity for each dNSName of the certificate that
// yields one (see User). A certificate that is not a user certificate
// returns none.
func (ids *Identities) Users() []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range ids.DNSNames {
		u, err := ids.User(n)
		if err == nil && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

func splitMailbox(m string) (local, domain string, ok bool) {
	i := strings.LastIndexByte(m, '@')
	if i <= 0 || i == len(m)-1 {
		return "", "", false
	}
	return m[:i], m[i+1:], true
}
