// Package proxy is the TLS-terminating proxy of the DANCE architecture
// (§4.1.1, Examples 1 and 2): it authenticates TLS clients by their
// DNS-bound identities and hands them, with that identity, to a backend
// that knows nothing of DANE.
//
// For most uses: build a verification core (package verify), then
//
//	s, err := proxy.New(proxy.Config{Mode: proxy.ModeHTTP, Backend: "http://127.0.0.1:8080",
//		TLS: &tls.Config{Certificates: certs}, Verifier: core})
//	go s.Serve(ln)          // ln: a plain TCP listener; the proxy does TLS
//	...
//	s.Shutdown(ctx)         // stop accepting, drain until ctx ends
//
// The modes:
//
//   - ModeHTTP: the client is authenticated inside the TLS handshake
//     (danetls.ServerConfig); requests go to the backend through
//     httputil.ReverseProxy with Dance-Client-Name (the subject: the DNS
//     name, or uid@domain for a user), Dance-Client-Kind and the RFC 9440
//     Client-Cert and Client-Cert-Chain fields.
//   - ModeTCP: the same authentication; the bytes go to the backend after
//     a PROXY protocol v2 header (package proxyproto) with the client's
//     real addresses and the subject in a TLV of the custom range
//     (0xE0-0xEF, Config.TLVType).
//   - ModePassthrough: any certificate whose key the client proves is
//     accepted and forwarded in Client-Cert; the application authenticates
//     with package httpauth.
//
// An identity is valid until its verdict expires (Identity.Expires, bounded
// by the TTL of the TLSA records); established connections are verified
// again before more traffic passes after that, so revoking an identity
// closes its keep-alive, upgraded (WebSocket) and TCP connections too.
//
// Every phase has a deadline (Config.HandshakeTimeout, HeaderTimeout,
// IdleTimeout, DialTimeout, BackendTimeout; BodyTimeout and SendTimeout for
// each part of a request body or a response, so that streams run as long as
// they move) and MaxConns caps open client connections, handshakes
// included; MaxBodyBytes optionally caps request bodies. Shutdown drains HTTP requests, TCP
// connections and upgraded (WebSocket) connections until its deadline. Handshakes run in their own goroutines, so a slow
// client or a slow lookup never blocks the accept loop. The lookups that renew the
// identity of an established connection run under that connection's context: they end
// when it is closed, at Close, or when Shutdown cuts the connections left.
//
// # Security considerations
//
// Every incoming copy of the identity fields and of Client-Cert and
// Client-Cert-Chain is removed before the proxy sets its own, whatever the
// field name's case or "_" spelling (RFC 9440 §2). A refused client gets a
// TLS alert and nothing else; the reason goes to the verifier's and the
// proxy's logs and metrics. A backend must accept connections only from
// the proxy: anyone who reaches it directly can write any header or
// PROXY header.
package proxy
