// Package ldapauth is an LDAPv3 server (RFC 4511) that authenticates users
// by the certificates their domain's user CA issues, the CA being
// published as TLSA records at "_user.<domain>" (architecture Examples 3
// and 7, §4.1.3): a client binds with SASL EXTERNAL (RFC 4422 Appendix A,
// RFC 4513 §5.2.3) over TLS and is then "uid@domain".
//
// Where to start: AllowList gives the verifier's allow-list for the
// served domains; New takes the server's certificate, a verify.Verifier
// (a *verify.Core with that allow-list), the domains and a Directory
// (ParseLDIF); Serve runs LDAP over TLS ("ldaps"), ServeStartTLS LDAP with
// StartTLS. "dance ldap serve" is the command; docs/ldap.md shows a whole
// set-up with ldapwhoami and ldapsearch.
//
// # What a client goes through
//
//  1. TLS (1.2 at least). The server asks for a client certificate and
//     checks none against a CA pool: TLS proves the key, the bind checks
//     the certificate. On the StartTLS listener every request before
//     StartTLS but unbind is answered confidentialityRequired.
//  2. A BindRequest with SASL EXTERNAL hands the certificate chain to the
//     verification core (verify.ClaimedName, then Verifier.Verify): the
//     TLSA records at "_user.<domain>", DNSSEC, the path below the CA,
//     exactly one user in the certificate. This package matches no
//     record and makes no DNS query itself; a domain not served is not on
//     the allow-list and costs no lookup. The authenticated identity is
//     verify.Identity.User, "uid@domain" (the canonical user name, "@",
//     the lower-case domain), and its DN "uid=UID,BASE" with the domain's
//     base. Refusals: invalidCredentials (49) for a certificate the core
//     refused or one that is not a user's of a served domain,
//     inappropriateAuthentication (48) without a certificate, busy (51)
//     or unavailable (52) when no verdict could be had. The client learns
//     nothing more; the reason goes to the log, one line a refusal.
//  3. An authorization identity in the bind ("u:uid@domain" or
//     "dn:uid=UID,BASE", RFC 4513 §5.2.1.8) other than the user's own is
//     refused with insufficientAccessRights (50) unless the AuthzPolicy
//     permits it; a malformed one, or one outside the served domains,
//     gets invalidCredentials.
//  4. WhoAmI (RFC 4532) answers "dn:uid=UID,BASE" or "u:uid@domain"
//     (Config.WhoAmI), or the empty string before a bind.
//  5. Searches are answered from the Directory, read-only: every
//     attribute compared as caseIgnoreMatch, extensible matches
//     Undefined, at most MaxResults entries (sizeLimitExceeded beyond).
//     Before a bind only the root DSE can be read, unless AllowAnonymous.
//     Updates get unwillingToPerform.
//
// Simple binds are refused: anonymous ones with inappropriateAuthentication
// (unless AllowAnonymous), unauthenticated ones (a name, no password) with
// unwillingToPerform (RFC 4513 §5.1.2), name and password with
// authMethodNotSupported, as are SASL mechanisms other than EXTERNAL.
//
// # Limits
//
// MaxConns connections at once (internal/connlimit, over it closed at
// once); HandshakeTimeout for the TLS handshake; each request must
// arrive whole within IdleTimeout of the previous answer; a request whose
// length is over MaxMessageSize is refused before it is read. Anything
// that is not an LDAPMessage (RFC 4511 §4.1.1: an unknown tag, a bad
// length, an indefinite length, a malformed operation, a filter nested
// over 32 levels) gets a Notice of Disconnection with protocolError and
// the connection is closed. A session's verdict holds until
// verify.Identity.Expires (at most the TLSA answer's TTL): the next
// request after that authenticates the certificate again, and one that
// no longer passes ends the session (a Notice of Disconnection with
// strongerAuthRequired), so a revoked user loses open connections too.
//
// # Metrics
//
// With Config.Registerer: dance_ldap_connections_total,
// dance_ldap_connections_open, dance_ldap_binds_total{result},
// dance_ldap_operations_total{op} and
// dance_ldap_connections_cut_total{reason}, beside the verification
// core's dance_verify_*.
//
// # Encoding
//
// Messages are read by a small BER decoder of this package (ber.go) that
// takes only what LDAP uses (RFC 4511 §5.1: definite lengths, one-octet
// tags), never reads past the message it was asked for (StartTLS), and
// is fuzzed (FuzzDecodeMessage).
package ldapauth
