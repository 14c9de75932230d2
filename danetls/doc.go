// Package danetls connects the verification core (package verify) to Go's
// crypto/tls: TLS servers that authenticate their clients by DNS-bound
// identities, and clients that present one.
//
// Where to start:
//
//   - Server: wrap the server's *tls.Config, with its certificates, with
//     ServerConfig and a verify.Verifier (a *verify.Core). With the
//     http.Server's ConnContext set to ConnContext, handlers read the
//     authenticated peer with IdentityFromRequest or IdentityFromContext;
//     raw TLS servers use IdentityFromConn. Give the http.Server its
//     ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout and
//     MaxHeaderBytes (ExampleServerConfig): without them a slow client
//     holds its connection forever. The handshake, DNS lookups included,
//     must complete within the shortest of the first three, which net/http
//     makes its deadline: keep the verifier's LookupTimeout below it.
//   - Client: LoadIdentity reads DIR/cert.pem and DIR/key.pem as
//     "dance id new" writes them; ClientConfig puts the identity in a
//     *tls.Config. DANEClientConfig makes a client authenticate its
//     server by DANE too (see "How the client authenticates its server");
//     DANEClientConfigTLS13 does the same for package tls13's engine.
//
// # How the server authenticates
//
// The server asks for a client certificate and accepts any chain at the
// TLS layer (tls.RequireAnyClientCert, or tls.RequestClientCert with the
// VerifyClientCertIfGiven option, for servers that also take another
// credential such as a bearer token): the chain is authenticated by DANE,
// not by a PKIX CA pool. The verification runs in tls.Config.VerifyConnection,
// which crypto/tls calls on full handshakes and on resumed sessions alike
// (VerifyPeerCertificate is never used: it does not run on resumption), so a
// revoked identity cannot come back with a session ticket once its verdict
// has expired. The claimed name is the certificate's own (verify.ClaimedName):
// the single SAN dNSName of a device, service or host certificate, or
// "_user.<domain>" for a user certificate.
//
// The verifier's lookups run under the handshake's context (the one given
// to tls.Conn.HandshakeContext; for an http.Server, the connection's,
// derived from its BaseContext): a handshake whose deadline passes or
// whose context is cancelled, say by a server shutting down, stops its DNS
// work at once instead of at the verifier's own lookup deadline.
//
// # How the client authenticates its server
//
// DANEClientConfig(base, core, "host:port") authenticates the server by
// the TLSA records at "_port._tcp.host" (RFC 6698 §3) through the same
// verification core (verify.Core.VerifyServer): one validated lookup, one
// matcher, for clients and servers alike. With ClientConfig for base, both
// ends are authenticated by DNS alone, and two self-signed peers need no
// CA at all (docs/mutual-dane.md).
//
//   - DANE-EE(3) matches the server's key or certificate and ignores its
//     names and dates (RFC 7671 §5.1). DANE-TA(2) needs a valid path to
//     the anchor, serverAuth, and host as a SAN dNSName of the leaf,
//     compared exactly (no wildcards; RFC 7671 §5.2). PKIX-TA(0) and
//     PKIX-EE(1) records are usable only when the core has PKIX roots
//     (verify.Config.Roots), otherwise they are unusable (RFC 7671 §4.1).
//   - SNI is always host, the name looked up (RFC 7671 §3).
//   - Records that match nothing, a bogus answer, a failed or
//     indeterminate lookup: refused, always.
//   - DANE does not apply (DNSSEC proves there are no records, or that
//     they are unsigned, or none is usable): refused, unless PKIXFallback
//     allows a PKIX check instead (RFC 6698 §4.1). Every fallback is
//     reported (ReportServerAuth). There is no fallback to an
//     unauthenticated server.
//
// crypto/tls's own certificate check is off in the returned
// configuration (InsecureSkipVerify) and its VerifyConnection does the
// check instead: keep VerifyConnection when changing the configuration.
//
// # Identities belong to connections
//
// Each handshake runs with a configuration of its own (made by the
// GetConfigForClient of ServerConfig's configuration), and the identity it
// authenticates is kept for that connection alone, until the connection is
// garbage. It is never looked up by certificate: crypto/tls gives resumed
// sessions their certificates from a process-wide cache, so connections to
// different servers of one process, with different verifiers or none, can
// hold the same *x509.Certificate, and a verdict kept by certificate would
// be read through all of them.
//
// # Security considerations
//
// A refused client gets one fixed alert whatever the reason: crypto/tls
// sends bad_certificate for every VerifyConnection error. The reason goes
// to the verifier's logs and metrics only. TLS 1.2 is the minimum and TLS
// 1.3 is preferred by crypto/tls. An identity is valid when the handshake
// completes; long-lived connections can compare Identity.Expires with the
// clock and close when it has passed.
package danetls
