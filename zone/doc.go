// Package zone is the identity zone: a DNSSEC-signed authoritative zone that
// holds only what DNS-bound identities need (TLSA, SMIMEA, OPENPGPKEY, SSHFP
// at the identities' names; SOA, NS, DNSKEY, CDS and CDNSKEY at the apex),
// signed online as it changes.
//
// For most uses: create a zone directory once with Init and serve it with
// zone/serve, which opens it and runs the DNS server (zone/server), the
// admin API and everything else `dance zone serve` runs.
//
// A program that holds the zone itself opens it with Open (one process at
// a time; Close writes the signature cache and releases it). Identities
// lists the identities; Apply adds, replaces and removes their records
// (change.Mode) and Revoke revokes a name, as the admin API does; Rollover
// takes one step of a key rollover. Query answers a question (with compact
// denial of existence, RFC 9824, for negative answers); Update applies an
// RFC 2136 update whole or not at all, durably, bumping the SOA serial.
// Watch reports every change.
//
// Layout of a zone directory:
//
//	zone.db           the store (bbolt): RRsets and settings
//	keys/             the signing key pairs (a KSK and a ZSK, or one CSK)
//	                  in BIND format (private keys 0600)
//	anchors           DS and DNSKEY lines for validators (trust-anchor-file)
//	tsig.key          the update key (BIND key syntax, hmac-sha256)
//	update-policy     optional limits of update keys (PolicyFile)
//	signatures.cache  signatures kept across a restart (SigCacheFile)
//	zone.pid          the process that has the zone open (PIDFile)
//	ixfr.journal      the IXFR journal kept across a restart (JournalFile)
//
// The subpackages each have one job: keys (DNSSEC keys), tsigkey (TSIG key
// files), server (the DNS listener), admin (the HTTP provisioning API),
// serve (a zone directory served with all its parts) and publish (RFC 2136
// updates to any server). Their plumbing is internal: store (durable
// storage), signer (RRSIG generation), journal (differences between
// transferred versions, for IXFR) and image (the zone in AXFR form,
// packed).
//
// # Security considerations
//
// The signing keys are online: whoever reads DIR/keys can sign for the zone.
// Only identity record types can be added, by TSIG-authenticated updates
// limited by a Policy, and never at the names of administrators
// (Options.AdminNames; CheckPolicy refuses keys that could reach them).
// Negative answers reveal nothing about other names.
//
// Removing an identity's records does not revoke it when a wildcard covers
// its name: the wildcard then answers for it (RFC 4592). Revoke publishes
// tlsa.RevocationMarker alone at the name, which shadows any wildcard and
// matches no key; a revoked name keeps it until the admin API replaces or
// removes it (ErrRevoked otherwise).
//
// Removing an identity's records revokes it for resolvers once their TTL
// has passed, and against an on-path attacker replaying an answer captured
// before the removal once its signature expires: identity RRsets are signed
// for IdentitySigValidity (DefaultIdentitySigValidity, 2 days) and re-signed
// at half of it.
package zone
