// Package resolver is a DNSSEC-validating stub resolver for identity
// lookups. It asks upstream servers (recursive resolvers, or authoritative
// servers of the zones asked) with the DO and CD bits set, fetches the DS and
// DNSKEY chain from the closest trust anchor down to the answer's signer,
// verifies every RRSIG itself and classifies the answer as Secure, Insecure,
// Bogus or Indeterminate, with a reason (an RFC 8914 Extended DNS Error code
// and a sentence) whenever it is not Secure.
//
// For most uses, build a Resolver with New and call Lookup:
//
//	r, err := resolver.New(resolver.Config{Upstreams: []string{"127.0.0.1"}})
//	res, err := r.Lookup(ctx, "_443._tcp.www.example.com.", dns.TypeTLSA)
//	if err == nil && res.Status == resolver.Secure { ... use res.Records ... }
//
// A server that will look names up under given zones can check first that
// its configuration validates them: CheckZones reports, per zone, Secure or
// the Problem (no anchor leads there, the upstream strips signatures, the
// zone is unsigned or bogus, or the upstream is merely unreachable).
//
// Trust anchors are the IANA root keys (RootAnchors) plus Config.Anchors
// (Config.NoRootAnchors leaves the root keys out); LoadAnchors and
// ParseAnchors read DS or DNSKEY lines, each anchor valid for its own
// subtree, the closest anchor winning. DNSKEY anchors are
// compared with the zone's keys as decoded bytes, not as base64 text. A key
// with the REVOKE flag (RFC 5011 §2.1) validates nothing: it is refused as
// an anchor and ignored in every DNSKEY RRset.
//
// # What is validated
//
// Algorithms 8, 10, 13, 14 and 15; DS digests SHA-256 and SHA-384. Zones
// whose DS records name only other algorithms or digests (SHA-1 ones
// included) are treated as unsigned, as RFC 4035 §5.2 says. Negative answers
// need NSEC (RFC 4035 §5.4), NSEC3 (RFC 5155 §8, with the iteration limits
// of RFC 9276 §3.2) or compact denial (RFC 9824) proofs; wildcard answers
// need the proof that the name itself does not exist. One set of rules
// judges every such proof, NSEC or NSEC3 alike; a proof whose next closer
// name lies in an NSEC3 opt-out span is Insecure at best (RFC 5155 §9.2),
// as the span may hide unsigned delegations. CNAME chains are
// followed, each link validated, with a length limit and loop detection.
//
// # Security considerations
//
// Only a Secure result proves anything. Insecure, Bogus and Indeterminate
// answers must not authenticate anyone; Result.Err makes that one check.
// Config.TrustAD replaces local validation by belief in the upstream's AD
// bit and is refused unless the channel is DNS over TLS or loopback.
// Only chain states proven by validated data (Secure, Insecure) are cached
// for later lookups: a forged or broken DS or DNSKEY answer spoils the
// lookup that met it, and that one question for MinTTL (RFC 9520), never
// the names of a whole zone.
// Lookups in flight are capped and each has a deadline, so a slow
// authoritative server cannot tie up the caller; refusals are counted in
// Stats.
package resolver
