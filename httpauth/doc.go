// Package httpauth authenticates the clients of a net/http application by
// their DNS-bound identities (architecture §4.1.1, Example 2).
//
// For most uses, wrap the application's handler:
//
//	m, err := httpauth.New(httpauth.Config{Verifier: core, TrustedProxies: proxies})
//	srv := &http.Server{
//		Handler: m.Handler(app), // in app: id, _ := danetls.IdentityFromContext(r.Context())
//		// Slow or silent clients must not hold connections forever.
//		ReadHeaderTimeout: 10 * time.Second,
//		ReadTimeout:       30 * time.Second,
//		WriteTimeout:      30 * time.Second,
//		IdleTimeout:       60 * time.Second,
//		MaxHeaderBytes:    64 << 10,
//	}
//
// The client certificate comes from one of two places:
//
//   - the request's own TLS connection, when the application terminates
//     TLS itself and asks for client certificates (package danetls does
//     both the asking and the verification inside the handshake);
//   - the RFC 9440 Client-Cert field (and Client-Cert-Chain), set by a
//     TLS-terminating proxy such as "dance proxy --mode passthrough" that
//     has checked the client's proof of its private key. The field is
//     believed only from Config.TrustedProxies.
//
// The name the certificate claims (verify.ClaimedName) then goes through
// the verification core: allow-list, DNSSEC-validated TLSA lookup, match.
//
// SetClientCert, ParseClientCert and DelFields write, read and strip the
// RFC 9440 fields (RFC 8941 byte sequences); the proxy uses them too.
//
// # Security considerations
//
// A Client-Cert field from an address outside TrustedProxies is refused
// (403), never ignored: a client that sends one is forging it. Answers are
// 401 without any certificate and 403 for every refusal, with no detail;
// the reason goes to Config.Logger. Reading the fields is strict (one
// byte sequence, no parameters, at most MaxChain chain members) and fuzzed
// (FuzzParseClientCert).
package httpauth
