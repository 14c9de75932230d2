// Package tls13 is a TLS 1.3 engine (RFC 8446) written for DNS-bound
// identities: besides X.509 certificates it speaks RFC 7250 raw public keys
// and the dane_clientid extension (draft-ietf-dance-tls-clientid), which Go's
// crypto/tls cannot.
//
// The engine is being built from the bottom up, under internal/: the key
// schedule (internal/keysched), the record layer (internal/record), the
// handshake message codecs (internal/wire) and the alerts every layer reports
// (internal/alert). The handshake state machines and the public Config,
// Client and Server API come next; README.md in this directory says what
// exists and what is planned.
package tls13
