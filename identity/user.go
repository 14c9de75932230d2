package identity

import (
	"errors"
	"fmt"
	"strings"
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

// User returns the authenticated user identity a user certificate carries
// for domain, the domain whose "_user" TLSA records (the user CA)
// authenticated the certificate (architecture §4.1.3):
//
//	lowercase(uid) "@" lowercase(UTF-8 form of domain)
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
		for _, u := range ids.UIDs {
			cands = append(cands, strings.ToLower(u))
		}
	} else {
		for _, m := range append(append([]string(nil), ids.Mailboxes...), ids.Emails...) {
			local, dom, ok := splitMailbox(m)
			if !ok {
				continue
			}
			md, err := ParseName(dom)
			if err == nil && md.String() == d.String() {
				cands = append(cands, strings.ToLower(local))
			} else if strings.EqualFold(dom, udomain) {
				// RFC 9598 §3 mailboxes carry U-labels.
				cands = append(cands, strings.ToLower(local))
			}
		}
	}
	switch len(cands) {
	case 0:
		return "", &UserError{Domain: d.String(), Reason: "no otherName uid and no mailbox at the domain"}
	case 1:
		if cands[0] == "" || strings.ContainsAny(cands[0], "@ ") {
			return "", &UserError{Domain: d.String(), Reason: fmt.Sprintf("unusable user name %q", cands[0])}
		}
		return cands[0] + "@" + udomain, nil
	}
	return "", &UserError{Domain: d.String(), Reason: fmt.Sprintf("%d user names, want exactly one", len(cands))}
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
