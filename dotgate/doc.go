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
//     closed after it. Each refused client is one log line, and a name
//     refused again within a minute none (the core's refusals carry the
//     client's address; verify.RefusalLogInterval).
//  2. Each query (a two-octet length and a message, RFC 7766 §8) gets:
//     FORMERR for a message with a readable header but not readable
//     otherwise or with other than one question, NOTIMP for opcodes other
//     than QUERY, REFUSED for zone transfers, classes other than IN, names
//     outside the identity's zones, and queries over its rate; the rest
//     goes to the upstream, and its answer back (SERVFAIL when the
//     upstream fails). A client may send its queries one after another
//     without waiting (RFC 7766 §6.2.1.1): they are answered as their
//     answers come, in any order, each under its own ID.
//
// # The upstream
//
// Queries go to the upstream over a small pool of persistent TCP (or,
// with Config.UpstreamTLS, TLS) connections, UpstreamConns of them, each
// carrying many queries at once under message IDs of the gate's; the
// answer is matched back by ID and question and handed to the client
// under its own ID. A connection that breaks fails the queries on it,
// which are sent again on a connection dialled in its place (three tries
// in all); one on which a query times out with nothing read since is
// dropped as stalled; one that has carried 100 queries takes no more and
// closes when its last answer is in, so that an upstream closing
// connections after its own count rarely does so under queries in
// flight. At most
// UpstreamMaxInFlight queries wait for the upstream at once; past it a
// query waits for room until its UpstreamTimeout, then gets SERVFAIL.
//
// # Limits
//
// MaxConns connections at once (internal/connlimit); HandshakeTimeout for
// the handshake and its DNS lookups; a connection with no query in flight
// and none arriving for IdleTimeout since the last query or answer is
// idle and closed (RFC 7766 §6.2.3), as is one that takes longer than
// that to send a query begun or to take an answer; a client that asks for
// it (edns-tcp-keepalive, RFC 7828) is told IdleTimeout in each answer.
// MaxInFlight queries of a connection at once: past it the gate reads no
// more from the connection until an answer goes out. MaxQueries queries
// per connection; a length prefix over MaxQuerySize, or under a DNS
// header, or bytes that are not DNS close the connection at once (after
// the answers of queries already in flight). A connection is closed at the first query after its
// identity's verdict expires (verify.Identity.Expires, at most the TLSA
// answer's TTL): the client authenticates again, and a revoked one fails.
//
// The rate limit is a token bucket per identity, shared by all its
// connections: Rule.Rate queries a second with a burst of as many. Over it
// the query is REFUSED, not dropped (see Server.answer).
package dotgate
