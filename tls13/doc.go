// Package tls13 is a TLS 1.3 engine (RFC 8446) written for DNS-bound
// identities: besides X.509 certificates it is to speak RFC 7250 raw public
// keys and the dane_clientid extension (draft-ietf-dance-tls-clientid),
// which Go's crypto/tls cannot. The handshakes with X.509 certificates work
// today; raw keys and dane_clientid exist in the message codecs only.
//
// Start at Config, Client and Server: a *Conn wraps a net.Conn the way
// crypto/tls's does, with HandshakeContext, Read, Write, Close
// (close_notify) and ConnectionState. The layers live under internal/: the
// key schedule (internal/keysched), the record layer (internal/record), the
// handshake message codecs (internal/wire), the transcript hash
// (internal/transcript), the CertificateVerify signatures (internal/sigalg)
// and the alert every refusal carries (internal/alert). README.md in this
// directory says what exists, what is planned and why it is built this way.
package tls13
