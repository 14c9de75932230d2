// Package smtpauth authenticates SMTP client MTAs by DNS-bound identities
// (architecture Example 10) for servers built on github.com/emersion/go-smtp.
//
// For most uses, put a *Backend in the smtp.Server and give the server a
// TLSConfig from ServerTLSConfig: the client MTA says STARTTLS (RFC 3207),
// presents its certificate, and at its next EHLO the Backend hands the
// certificate to the verification core (package verify), which looks up and
// matches the TLSA records at the name the certificate claims. Sessions for
// an authenticated peer come from Backend.Authenticated, which receives the
// *verify.Identity to base its relay policy on. Every other session refuses
// MAIL with a reply that says why (see "Replies").
//
// # Names
//
// The name a client MTA claims is the complete TLSA owner name, conveyed in
// its certificate as the single SAN dNSName (draft-ietf-dance-client-auth
// §2; verify.ClaimedName): "_smtp-client.mta1.example.com" for the SMTP
// client service of mta1.example.com. The name is taken from the
// certificate, never derived from the EHLO argument, which a client may set
// to anything; nothing here looks names up or matches records.
//
// # Replies
//
//   - MAIL before STARTTLS: 530 5.7.0 Must issue a STARTTLS command first
//     (RFC 3207 §4).
//   - MAIL over TLS without a client certificate: 530 5.7.0 (RFC 4954 §6,
//     "authentication required"; RFC 3463 §3.8 X.7.0).
//   - A certificate the core refuses (not on the allow-list, no records,
//     revoked, no match, insecure or bogus DNS): 550 5.7.1 (RFC 3463 §3.8,
//     "delivery not authorized, message refused"). The reason goes to the
//     log, not to the peer.
//   - The verdict could not be had (lookup timeout, overload, no answer):
//     451 4.7.0, so that the sending MTA queues the mail and retries.
//
// # Metrics
//
// Backend.Metrics (from NewMetrics) counts sessions by result
// (dance_smtp_sessions_total: no_tls, authenticated, refused) and
// refusals by reason (dance_smtp_refusals_total); the verification core
// counts its verdicts and lookups (dance_verify_*).
//
// # Security considerations
//
// The TLS layer asks for a certificate but accepts any (tls.RequestClientCert
// without ClientCAs: crypto/tls still checks that the client holds the key);
// the certificate is authenticated by DANE alone, on resumed sessions too,
// since the verdict is asked for on every connection. The handshake does not
// fail for a refused certificate, so that the sending MTA gets an SMTP reply
// instead of falling back to plaintext delivery. The core's allow-list runs
// first: no DNS lookup is made for a name off it. Each verification has a
// deadline (Backend.Timeout).
package smtpauth
