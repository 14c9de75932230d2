// Package tls13 is a TLS 1.3 engine (RFC 8446) written for DNS-bound
// identities: besides X.509 certificates it speaks RFC 7250 raw public keys
// and the dane_clientid extension (draft-ietf-dance-tls-clientid-07), which
// Go's crypto/tls cannot. A client claims its DANE name with
// Config.ClientName; a server asks for it with Config.RequestClientName and
// authenticates it, and raw keys (Config.AcceptRawPublicKeys, or the
// ordered lists Config.PeerCertificateTypes and CertificateTypes), in
// Config.VerifyConnection, where package verify plugs in.
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
