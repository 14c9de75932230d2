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
//     Result.Reason says "match", "no-match", "name-mismatch", "untrusted"
//     or "no-usable-records".
//
// Wire form conversion to and from miekg/dns lives in FromDNS and
// Record.ToDNS; ParseRDATA and Record.RDATA handle raw RDATA. The rest of
// the API does not depend on that library's types.
//
// # Matching rules
//
//   - DANE-EE(3) matches the leaf only; names, validity dates and issuers
//     are ignored (RFC 7671 §5.1).
//   - DANE-TA(2) matches an issuer certificate of the presented chain (never
//     the leaf, even a self-signed one: its key belongs in a DANE-EE record),
//     or a trust anchor carried whole in the record (2 0 0, 2 1 0; RFC 7671
//     §5.2). For
//     a bare key a stand-in anchor certificate is made with that key and
//     the issuer name of the certificate it must have signed. Below the
//     anchor the path is fully validated: signatures, dates, basic and name
//     constraints, and the extended key usage of Options.KeyUsages (TLS
//     client authentication unless set). A trust anchor taken from the
//     chain keeps its own validity dates and constraints.
//   - PKIX-TA(0) and PKIX-EE(1) validate the chain against Options.Roots and
//     then look for the record in the validated path (a CA certificate) or
//     at the leaf. Without Roots they are unusable (RFC 7671 §4.1).
//   - Certificates carried whole by usable PKIX-TA and DANE-TA Cert(0)
//     Full(0) records ("0 0 0", "2 0 0") are issuers the peer may leave out
//     of its chain: path building for usages 0, 1 and 2 uses them beside
//     the presented ones, as OpenSSL does (RFC 7671 §5.2.2 lets a server
//     omit an anchor it publishes in a 2 0 0 record). They are untrusted:
//     a path through one still ends at an anchor a record or Roots vouches
//     for, and Result.Path and Result.Depth count them where they sit.
//     DANE-EE and PKIX-EE records name leaves and supply no issuer.
//   - For usages 0, 1 and 2 the claimed name must be a SAN dNSName of the
//     leaf: exact, case-insensitive, trailing dot ignored. The subject
//     common name is never consulted. Wildcard SANs do not match: RFC 7671
//     leaves wildcards to the application, and in DANCE a name is one
//     identity whose owner name is queried verbatim, so a wildcard
//     certificate would let one key answer for every name under a domain.
//   - Digest agility (RFC 7671 §9): malformed and unsupported records are
//     dropped first; then per (usage, selector) only the strongest digest
//     present counts, and Full(0) records, which are no digest, always
//     count. A key matching only a weaker digest is not authenticated.
//   - When several records match, the most specific is reported: DANE-EE,
//     then DANE-TA nearest the leaf, then PKIX-EE, then PKIX-TA. When none
//     does, the failure that got furthest is reported (name-mismatch over
//     untrusted over no-match), with Result.Err telling the operator why.
//   - The leaf is never its own trust anchor. Repeated certificates in a
//     presented chain are ignored: each counts once, at its first position,
//     so a chain is judged exactly as the chain without its repeats (a
//     leaf sent twice is not its own issuer). A self-signed leaf is matched
//     by DANE-EE only: no DANE-TA or PKIX-TA record anchors it, even one
//     naming another certificate with the leaf's name and key, as in
//     OpenSSL. A leaf whose issuer has another name but the leaf's own key
//     is anchored like any other (OpenSSL agrees); for a DANE-TA or PKIX-TA
//     match Result.Depth is at least 1.
//   - Result.Depth is the position, in the validated path, of the
//     certificate or key the record matched: 0 the leaf, 1 its issuer, and
//     so on; a trust anchor carried only in a record is one above the top
//     certificate it signed; -1 when nothing matched.
//
// # Security considerations
//
// Match trusts the records it is given: the caller must have obtained them
// from a DNSSEC-validated (secure) answer. Insecure or bogus answers must
// never reach Match. A peer's chain is bounded by MaxChainLength.
package tlsa
