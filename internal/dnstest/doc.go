// Package dnstest runs a DNSSEC-signed DNS hierarchy in-process for tests: a
// root zone, the TLD "test.", the zone "example.test.", its "_device"
// subzone and an unsigned delegation, each signed with keys generated when
// the test starts and served by one miekg/dns server (UDP and TCP) on
// 127.0.0.1 with a port the kernel picks.
//
// The server answers like a recursive resolver that passes signatures
// through: every question is answered from the deepest zone that holds the
// name (DS questions from the parent side), with RRSIGs and NSEC, NSEC3 or
// compact (RFC 9824) denial proofs when the query has the DO bit.
//
// Start with Start and Config. Faults (expired signatures, wrong keys,
// missing or mismatched DS, stripped signatures, broken denial proofs) are
// chosen per zone in Config.Zones; extra records (wildcards, CNAMEs) go in
// Config.Records. Hierarchy.Anchors returns the root trust anchor to give the
// resolver under test.
package dnstest
