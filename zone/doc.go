// Package zone is the identity zone: a DNSSEC-signed authoritative zone that
// holds only what DNS-bound identities need (TLSA, SMIMEA, OPENPGPKEY, SSHFP
// at the identities' names; SOA, NS, DNSKEY, CDS and CDNSKEY at the apex),
// signed online as it changes.
//
// For most uses: create a zone directory once with Init, Open it, and hand
// the Zone to the DNS server in zone/server. Query answers a question
// (with compact denial of existence, RFC 9824, for negative answers); Update
// applies an RFC 2136 update whole or not at all, durably, bumping the SOA
// serial.
//
// Layout of a zone directory:
//
//	zone.db    the store (bbolt): RRsets and settings
//	keys/      the signing key pair in BIND format (private key 0600)
//	anchors    DS and DNSKEY lines for validators (trust-anchor-file)
//	tsig.key   the update key (BIND key syntax, hmac-sha256)
//
// The subpackages each have one job: keys (DNSSEC keys), tsigkey (TSIG key
// files), store (durable storage), signer (RRSIG generation), server
// (the DNS listener), journal (differences between transferred versions,
// for IXFR).
//
// # Security considerations
//
// The signing key is online: whoever reads DIR/keys can sign for the zone.
// Only identity record types can be added, by TSIG-authenticated updates
// limited by a Policy. Negative answers reveal nothing about other names.
package zone
