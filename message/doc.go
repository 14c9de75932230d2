// Package message signs and verifies messages whose signer is a DNS-bound
// identity: JWS (RFC 7515; compact and JSON serialisations) and COSE_Sign1
// (RFC 9052) whose protected header names the signer with an RFC 4501
// "dns:" URI, "dns:sensor1._device.example.com?type=TLSA". The verifier
// authenticates the signer by the TLSA records at that name, through the
// verification core (package verify), independent of whoever forwarded the
// message (architecture Examples 6 and 13). docs/message-identities.md
// is the specification this package implements.
//
// For most uses, a sender calls Signer.Sign and a receiver builds a
// Verifier around its verify.Core and calls Verifier.Verify:
//
//	s := &message.Signer{Name: "sensor1._device.example.com", Key: key, Chain: chain}
//	msg, err := s.Sign(reading, message.JWSCompact)
//
//	v, err := message.NewVerifier(message.Config{Core: core})
//	m, err := v.Verify(ctx, msg)
//	// m.Signer.Name is who signed, m.Payload what.
//
// A gateway that authenticated a message adds its own signature with
// Signer.Countersign (a second JWS signature, or an RFC 9338
// countersignature of a COSE_Sign1); the receiver authenticates both
// signers with Verifier.VerifyCountersigned. A signer with a Sequence
// numbers its messages, so that receivers can tell lost ones (Verified.Seq).
//
// # Steps of Verify
//
//  1. Decode strictly, once: size limit, strict base64url, JSON without
//     duplicate members, deterministic CBOR, bounded nesting. The JWS
//     signature, and the COSE_Sign1 signature's Sig_structure, are later
//     built from exactly these octets; no second parser reads them.
//  2. Header policy: the identity (x5u, kid), algorithm, times and id from
//     the protected header only; alg none, unknown critical parameters,
//     embedded keys and unprotected identity headers refused.
//  3. Key: a carried certificate chain (x5c, x5chain) gives the leaf's key,
//     and the signature is checked before any DNS traffic; otherwise the
//     keys of the name's "3 1 0" records (verify.Core.PublishedKeys).
//  4. Signer: verify.Core.Verify matches the chain or key against the TLSA
//     records of the name, with the allow-list first.
//  5. Time window (iat, exp, nbf with skew and a maximum age) and replay
//     (the id, per signer, remembered while the message could be accepted).
//
// # Security considerations
//
// Errors carry the reason (Reason, or the core's verify.Reason for the
// signer step) for the operator; tell the sender nothing more. The
// algorithm is the header's, checked against the key's type, never chosen
// by the key alone. Replay memory is bounded; when full, messages are
// refused rather than a replay let through.
package message
