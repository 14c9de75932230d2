// Package tlsa models, parses, generates and matches TLSA records
// (RFC 6698, updated by RFC 7671 and RFC 7218).
//
// Where to start:
//
//   - To publish a key, call ForCertificate or ForPublicKey and print the
//     Record with ZoneLine.
//   - To read records, call Parse (one zone-file line or bare RDATA) or
//     ParseFile (a whole file, with FILE:LINE errors).
//   - To authenticate a peer, call Match with the chain it presented (leaf
//     first), the DNSSEC-validated TLSA RRset of the name it claims and
//     Options; MatchRawPublicKey does the same for RFC 7250 raw public keys.
//
// Wire form conversion to and from miekg/dns lives in FromDNS and ToDNS; the
// rest of the API does not depend on that library's types.
//
// # Security considerations
//
// Match trusts the records it is given: the caller must have obtained them
// from a DNSSEC-validated (secure) answer. Insecure or bogus answers must
// never reach Match.
//
// Records with parameters this package does not implement, or with malformed
// data, are ignored rather than rejected (RFC 6698 §4.1, RFC 7671 §5.4
// "unusable"), and per (usage, selector) only the strongest digest present
// counts (RFC 7671 §9), so an attacker cannot downgrade to a weaker digest
// by adding records.
package tlsa
