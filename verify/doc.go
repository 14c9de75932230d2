// Package verify is the verification core of dance: every transport (TLS
// servers, the proxy, the HTTP middleware) hands it the name a peer claims
// and what the peer presented, and gets back an authenticated Identity or a
// typed refusal.
//
// For most uses, call New then Verifier.Verify:
//
//	allow, err := verify.ParseAllowList([]string{"*._device.example.com"})
//	core, err := verify.New(verify.Config{Allow: allow, Resolver: r})
//	id, err := core.Verify(ctx, "sensor1._device.example.com", verify.Presented{Chain: chain})
//
// With standard TLS the claimed name comes from the certificate itself:
// ClaimedName returns it (package danetls does this for crypto/tls). A
// client of the tls13 engine may claim it in the dane_clientid extension
// instead, and present a raw public key: VerifyClaimed takes the name and
// the chain or key as the handshake carried them (package proxy does this
// with EngineDance).
//
// A client authenticates its server with VerifyServer: the records are at
// "_port._tcp.host" (RFC 6698 §3, ServerOwnerName), the lookup and the
// match are the same, the certificate must allow serverAuth, and the
// allow-list is not consulted (the client chose the name). Package
// danetls does this for crypto/tls clients (DANEClientConfig).
//
// # Steps
//
//  1. Name syntax: the claimed name must be a DANCE owner name
//     (identity.ParseName; client-auth §2, architecture §4.1.7).
//  2. Allow-list: exact names and subtrees ("*._device.example.com"),
//     default deny. A name that is not allowed causes no DNS traffic at all
//     (architecture §4.1.1, §6.4).
//  3. Lookup: the TLSA RRset at the claimed name, through a
//     DNSSEC-validating resolver. Only a Secure answer counts; a proven
//     non-existence is ReasonNoRecord; insecure, bogus and indeterminate
//     answers never authenticate anyone. Lookups in flight are capped, in
//     all and per parent name, and each has a deadline, so a slow
//     authoritative server cannot tie up the TLS server's goroutines nor
//     take every slot from the names of other authorities.
//  4. Match: tlsa.Match (or tlsa.MatchRawPublicKey) with the claimed name.
//     For a user CA name "_user.domain" the certificate names the domain as
//     its dNSName, so the name checked in the leaf is the domain
//     (architecture §4.1.3, §4.1.7).
//  5. Policy: a user identity must be vouched for by the domain's CA (a
//     trust-anchor match, never the leaf's own key), and the certificate
//     must name exactly one user at that domain.
//
// Verdicts are cached briefly, keyed by the name and a digest of what was
// presented, never longer than the TTL of the TLSA answer, so removing a
// record (revocation) takes effect within that TTL. The parsed TLSA
// records of each name are kept as long, and used only while the resolver
// answers with the same records.
//
// # Metrics and logs
//
// With Config.Registerer set, the core exports (namespace "dance",
// subsystem "verify"): verdicts_total{result="ok"|REASON},
// cache_hits_total, cache_entries, lookup_duration_seconds (histogram of
// TLSA lookups) and in_flight (lookups in progress); and, when the
// resolver is a *resolver.Resolver, its counters under subsystem
// "resolver" (lookups_total, cache_hits_total, refused_overloaded_total,
// deadline_exceeded_total, upstream_queries_total, upstream_errors_total).
// Each refusal is logged at Info with the name, the reason and the detail
// (and the peer's address, given with WithPeerAddr); each success at Debug.
// Refusals served from the verdict cache, and of names off the allow-list,
// are logged at most once per name each RefusalLogInterval; names off the
// list at most MaxOffListLines an interval in all.
//
// # Security considerations
//
// Errors carry the reason for the operator (logs, metrics); a transport
// must tell the peer nothing beyond a generic failure. The Reason strings
// are stable and used as Prometheus labels.
package verify
