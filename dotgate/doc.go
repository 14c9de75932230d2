// Package dotgate is a DNS-over-TLS front (RFC 7858) that admits only
// clients authenticated by their DNS-bound identities (architecture
// Example 9) and forwards their queries to an upstream resolver under a
// per-client policy.
//
// Where to start: ParsePolicy reads the policy (which identities, which
// zones, how many queries a second); New takes the gate's certificate, a
// verify.Verifier (a *verify.Core whose allow-list is Policy.AllowList)
// and the upstream; Serve runs it. "dance dot-gate" is the command;
// docs/dot-gate.md shows a whole set-up.
//
// # What a client goes through
//
//  1. TLS (1.2 at least) with a client certificate, authenticated by the
//     verification core through danetls.ServerConfig: TLSA records,
//     DNSSEC, revocation. This package matches no record itself. A client
//     without a certificate, with one that is not published, or revoked,
//     fails the handshake; one authenticated but not in the policy is
//     closed after it. Each refused client is one log line.
//  2. Each query (a two-octet length and a message, RFC 7766 §8) is
//     answered in order: FORMERR for a message with a readable header but
//     not readable otherwise or with other than one question, NOTIMP for
//     opcodes other than QUERY, REFUSED for zone transfers, classes other
//     than IN, names outside the identity's zones, and queries over its
//     rate; the rest goes to the upstream over TCP, and its answer back
//     (SERVFAIL when the upstream fails).
//
// # Limits
//
// MaxConns connections at once (internal/connlimit); HandshakeTimeout for
// the handshake and its DNS lookups; each query must arrive whole within
// IdleTimeout of the previous answer (RFC 7766 §6.2.3), or the connection
// is closed; MaxQueries queries per connection; a length prefix over
// MaxQuerySize, or under a DNS header, or bytes that are not DNS close
// the connection at once. Queries are answered one at a time per
// connection: a client gets more parallelism by opening more connections,
// under the cap. A connection is closed at the first query after its
// identity's verdict expires (verify.Identity.Expires, at most the TLSA
// answer's TTL): the client authenticates again, and a revoked one fails.
//
// The rate limit is a token bucket per identity, shared by all its
// connections: Rule.Rate queries a second with a burst of as many. Over it
// the query is REFUSED, not dropped (see Server.answer).
package dotgate
