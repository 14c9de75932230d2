// Package quickstart runs the whole of dance on one machine, in one call,
// with nothing to configure: the behind-the-scenes of "dance quickstart".
//
// Start with Run. It wires the real components together as a deployment
// would, all on 127.0.0.1 with ports the kernel picks:
//
//  1. an identity zone (package zone) served by zone/server, with the
//     admin API of zone/admin, and identity records with a short TTL;
//  2. a DNSSEC-validating resolver (package resolver) whose only
//     useful trust anchor is the zone's key, asking the zone's server;
//  3. two devices and a user, issued with package identity and written to
//     disk as "dance id new" and "dance ca new" write them;
//  4. their TLSA records (package tlsa), published through the admin API;
//  5. the TLS-terminating proxy (package proxy, http mode) with the
//     verification core (package verify) in front of a small backend that
//     echoes the identity fields it receives;
//  6. clients (package danetls) that connect with each identity, and one
//     whose identity was never published;
//  7. a revocation: a record removed (and the "dance zone revoke" to use
//     where a wildcard covers the name), the device still accepted while
//     caches hold the record (if they do), then refused;
//  8. signed readings (package message): a sensor signs, a gateway
//     authenticates it and countersigns, the cloud authenticates both by
//     their own records, in JWS and COSE; a forged and the revoked sensor
//     are refused (the by-hand commands run it through mosquitto);
//  9. a clean shutdown that checks every port it opened is closed.
//
// Each step prints what it did and the dance commands (and curl and
// openssl lines) that do the same by hand with this run's paths and ports.
// Run returns a *StepError naming the first step that did not behave as
// expected.
//
// The quickstart does no DNS lookup and no TLSA matching of its own: every
// verdict it prints comes from the verification core inside the proxy,
// observed through a Verifier that delegates to it.
package quickstart
