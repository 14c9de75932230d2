package admin

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/dnsbound/dance/danetls"
)

// AuthMode says which credentials an admin request needs.
type AuthMode int

// Authentication modes. A DANE identity is one that the HTTPS listener
// authenticated with a configuration from danetls.ServerConfig (its name on
// the allow-list, its TLSA record found by a DNSSEC-validating resolver and
// matching the client certificate); the handler reads it with
// danetls.IdentityFromRequest and never looks anything up itself.
const (
	// AuthToken needs the bearer token (the default).
	AuthToken AuthMode = iota
	// AuthDANE needs a DANE client identity; a token is ignored.
	AuthDANE
	// AuthEither needs a DANE client identity or the bearer token.
	AuthEither
	// AuthBoth needs a DANE client identity and the bearer token.
	AuthBoth
)

var authModeNames = [...]string{AuthToken: "token", AuthDANE: "dane", AuthEither: "either", AuthBoth: "both"}

// String returns the mode's name as ParseAuthMode reads it.
func (m AuthMode) String() string {
	if m >= 0 && int(m) < len(authModeNames) {
		return authModeNames[m]
	}
	return fmt.Sprintf("AuthMode(%d)", int(m))
}

// NeedsDANE reports whether the mode accepts DANE identities, so that the
// listener must be HTTPS and ask for client certificates.
func (m AuthMode) NeedsDANE() bool { return m != AuthToken }

// NeedsToken reports whether the mode accepts the bearer token.
func (m AuthMode) NeedsToken() bool { return m != AuthDANE }

// ParseAuthMode reads "token", "dane", "either" or "both".
func ParseAuthMode(s string) (AuthMode, error) {
	for m, n := range authModeNames {
		if n == s {
			return AuthMode(m), nil
		}
	}
	return 0, fmt.Errorf("admin: unknown authentication mode %q (want token, dane, either or both)", s)
}

// Refusal reasons: the values of the reason label of
// dance_zone_admin_refused_total and of the "reason" log attribute.
const (
	// RefusedNoCredentials: neither a DANE identity nor a token (mode either).
	RefusedNoCredentials = "no-credentials"
	// RefusedNoToken: the mode needs the token and the request has none.
	RefusedNoToken = "no-token"
	// RefusedBadToken: the request carries a token that is not the one.
	RefusedBadToken = "bad-token"
	// RefusedNoIdentity: the mode needs a DANE identity and the connection
	// authenticated none (no client certificate, or plain HTTP).
	RefusedNoIdentity = "no-identity"
)

var refusalReasons = []string{RefusedNoCredentials, RefusedNoToken, RefusedBadToken, RefusedNoIdentity}

// principal is who made a request: a DANE identity, the token holder, or
// both.
type principal struct {
	identity string // the authenticated identity's subject; "" when none
	token    bool   // the request carried the right token
}

func (p principal) String() string {
	switch {
	case p.identity != "" && p.token:
		return p.identity + "+token"
	case p.identity != "":
		return p.identity
	case p.token:
		return "token"
	}
	return "nobody"
}

type principalKey struct{}

// by names who made the request, for the log line of a change.
func by(r *http.Request) string {
	p, _ := r.Context().Value(principalKey{}).(principal)
	return p.String()
}

// authenticate returns who made r and, when mode refuses them, the reason.
func authenticate(r *http.Request, mode AuthMode, token string) (principal, string) {
	var p principal
	if mode.NeedsDANE() {
		if id, ok := danetls.IdentityFromRequest(r); ok {
			p.identity = id.Subject()
		}
	}
	_, hasToken := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if mode.NeedsToken() && hasToken {
		p.token = token != "" && authorized(r, token)
	}
	switch mode {
	case AuthDANE:
		if p.identity == "" {
			return p, RefusedNoIdentity
		}
	case AuthEither:
		if p.identity != "" {
			return p, ""
		}
		if !hasToken {
			return p, RefusedNoCredentials
		}
		if !p.token {
			return p, RefusedBadToken
		}
	case AuthBoth:
		if p.identity == "" {
			return p, RefusedNoIdentity
		}
		fallthrough
	default: // AuthToken
		if !hasToken {
			return p, RefusedNoToken
		}
		if !p.token {
			return p, RefusedBadToken
		}
	}
	return p, ""
}
