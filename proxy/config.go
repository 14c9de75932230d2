package proxy

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/dnsbound/dance/proxy/proxyproto"
	"github.com/dnsbound/dance/verify"
	"github.com/prometheus/client_golang/prometheus"
)

// Mode is how the proxy authenticates clients and hands them to the
// backend.
type Mode int

// Modes (architecture §4.1.1, Examples 1 and 2).
const (
	// ModeHTTP terminates TLS, authenticates the client through the
	// verification core during the handshake and forwards HTTP requests
	// with the identity in header fields and the certificate in
	// Client-Cert (RFC 9440). Example 1.
	ModeHTTP Mode = iota + 1
	// ModeTCP terminates TLS, authenticates the client and forwards the
	// bytes after a PROXY protocol v2 header whose custom TLV carries the
	// identity: Example 1 for protocols other than HTTP (LDAP, RADIUS over
	// TLS).
	ModeTCP
	// ModePassthrough terminates TLS, accepts any client certificate whose
	// private key the client proves it holds, and forwards it in
	// Client-Cert; the application authenticates (package httpauth).
	// Example 2.
	ModePassthrough
)

// ParseMode reads "http", "tcp" or "passthrough".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "http":
		return ModeHTTP, nil
	case "tcp":
		return ModeTCP, nil
	case "passthrough":
		return ModePassthrough, nil
	}
	return 0, fmt.Errorf("proxy: unknown mode %q (want http, tcp or passthrough)", s)
}

// String returns "http", "tcp" or "passthrough".
func (m Mode) String() string {
	switch m {
	case ModeHTTP:
		return "http"
	case ModeTCP:
		return "tcp"
	case ModePassthrough:
		return "passthrough"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Defaults for the zero values of Config.
const (
	DefaultNameHeader       = "Dance-Client-Name"
	DefaultKindHeader       = "Dance-Client-Kind"
	DefaultTLVType          = proxyproto.TypeMinCustom
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultHeaderTimeout    = 10 * time.Second
	DefaultIdleTimeout      = 2 * time.Minute
	DefaultDialTimeout      = 5 * time.Second
	DefaultBackendTimeout   = 60 * time.Second
	DefaultBodyTimeout      = 60 * time.Second
	DefaultSendTimeout      = 60 * time.Second
	DefaultMaxConns         = 1024
	DefaultMaxHeaderBytes   = 64 << 10
)

// Config configures a Server. Mode, Backend and TLS are required, and
// Verifier in ModeHTTP and ModeTCP; every other zero value means the
// default its comment gives.
type Config struct {
	Mode Mode
	// Backend is where clients are forwarded: an http:// or https:// URL
	// in ModeHTTP and ModePassthrough, a host:port in ModeTCP.
	Backend string
	// BackendTLS configures TLS to an https backend; nil means the
	// system's roots.
	BackendTLS *tls.Config
	// TLS holds the proxy's own certificate (Certificates or
	// GetCertificate; GetConfigForClient is refused, as the configuration
	// it returns would bypass client authentication). The proxy derives its server configuration from a
	// clone: client certificates are required, and verified by Verifier
	// except in ModePassthrough.
	TLS *tls.Config
	// Verifier is the verification core (allow-list, lookup, match).
	Verifier verify.Verifier
	// Engine is the TLS implementation; the zero value is
	// EngineCryptoTLS. EngineDance (ModeHTTP and ModeTCP) also serves
	// clients that claim their name in dane_clientid and clients with raw
	// public keys; it takes the proxy's certificate from TLS
	// (Certificates[0] or GetCertificate) and ignores TLS's other fields.
	Engine Engine
	// ClientIDCodepoint is the dane_clientid extension type EngineDance
	// uses; 0 means tls13.DefaultDANEClientIDCodepoint (0xFFDA).
	ClientIDCodepoint uint16
	// RequireClientID makes EngineDance refuse clients that claim no name
	// in dane_clientid (draft-ietf-dance-client-auth-13 §8.2: a server
	// that requires DANE client authentication); false also serves clients
	// whose certificate names them.
	RequireClientID bool
	// NameHeader and KindHeader name the fields that carry the
	// authenticated identity to an HTTP backend (ModeHTTP): the subject
	// (Identity.Subject: "uid@domain" for a user, the DNS name otherwise)
	// and the kind ("device", "service", "user", "host"). Defaults
	// DefaultNameHeader and DefaultKindHeader. Copies sent by clients are
	// removed in every HTTP mode, in any spelling that folds to the same
	// field (httpauth.SameFieldName: case, "_" for "-"); New refuses names
	// that fold to the same field as each other, as Client-Cert or
	// Client-Cert-Chain, or as a field the proxy or HTTP itself sets (Host,
	// Forwarded, X-Forwarded-*, hop-by-hop and framing fields).
	NameHeader, KindHeader string
	// TLVType is the PROXY v2 TLV type that carries the subject in
	// ModeTCP, within proxyproto.TypeMinCustom..TypeMaxCustom; 0 means
	// DefaultTLVType (0xE0).
	TLVType byte
	// SSLTLV adds a PP2_TYPE_SSL TLV (TLS version, client certificate
	// verified) to the PROXY v2 header.
	SSLTLV bool
	// HandshakeTimeout bounds the TLS handshake, verification included;
	// HeaderTimeout bounds the reading of a request's header (HTTP modes)
	// and of nothing else; IdleTimeout closes a connection without traffic
	// (between requests in HTTP modes, in both directions in ModeTCP);
	// DialTimeout bounds connecting to the backend.
	HandshakeTimeout, HeaderTimeout, IdleTimeout, DialTimeout time.Duration
	// BackendTimeout bounds the wait for the backend's response header
	// once a request is sent (HTTP modes; the body may stream for longer);
	// 0 means DefaultBackendTimeout. A backend that does not answer in
	// time gets the client a 504.
	BackendTimeout time.Duration
	// BodyTimeout bounds the wait for each part of a request's body, and
	// SendTimeout the wait for the client to take each part of a response
	// (HTTP modes): a client that stops sending or reading for longer is
	// cut, however long its stream has run (as nginx's
	// client_body_timeout and send_timeout). A body that never comes, or
	// a response never read, would otherwise hold the connection and a
	// backend connection forever. 0 means DefaultBodyTimeout and
	// DefaultSendTimeout.
	BodyTimeout, SendTimeout time.Duration
	// MaxBodyBytes caps a request's body (HTTP modes): a larger one is
	// cut there, the client gets 413 if nothing was forwarded yet, and
	// the connection closes. 0 means no limit: bodies stream to the
	// backend without being buffered, BodyTimeout bounds a slow one, and
	// the backend knows what sizes it accepts.
	MaxBodyBytes int64
	// MaxConns caps client connections open at once, handshakes included;
	// beyond it new connections wait in the kernel's accept queue. 0
	// means DefaultMaxConns.
	MaxConns int
	// Time returns the current time; nil means time.Now. It decides when
	// an identity's verdict has expired (Identity.Expires) and must be
	// renewed through Verifier before more traffic passes; use the same
	// clock as the Verifier.
	Time func() time.Time
	// Logger receives connection and request failures with their reasons;
	// nil discards them. A client the verifier refuses is logged once, by
	// the verifier (verify.Config.Logger, with the client's address), not
	// again here.
	//
	// Peer-supplied text in the proxy's lines is cut to a bounded length.
	Logger *slog.Logger
	// AccessLog logs each client whose handshake succeeded at Info:
	// address, TLS version and identity (in ModePassthrough, the
	// certificate's subject).
	AccessLog bool
	// Registerer, when not nil, gets the proxy's metrics (namespace
	// "dance", subsystem "proxy").
	Registerer prometheus.Registerer
}
