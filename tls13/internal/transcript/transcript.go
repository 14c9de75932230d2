// Package transcript computes the TLS 1.3 transcript hash (RFC 8446 §4.4.1):
// the hash of the handshake messages so far, header included, with the
// replacement of the first ClientHello by a message_hash message after a
// HelloRetryRequest.
package transcript

import (
	"crypto"
	"hash"
)

// messageHashType is HandshakeType message_hash (RFC 8446 §4.4.1).
const messageHashType = 254

// Transcript accumulates handshake messages. Until the hash is known (the
// cipher suite is chosen by the ServerHello, after the ClientHello was
// sent) it keeps the messages; SetHash then hashes them.
type Transcript struct {
	hf      crypto.Hash
	h       hash.Hash
	pending []byte
}

// New returns a transcript whose hash is not chosen yet.
func New() *Transcript { return &Transcript{} }

// NewWithHash returns a transcript hashing with h from the start.
func NewWithHash(h crypto.Hash) *Transcript {
	t := New()
	t.SetHash(h)
	return t
}

// SetHash chooses the hash and hashes the messages kept so far. Choosing it
// twice is a programming error and panics.
func (t *Transcript) SetHash(h crypto.Hash) {
	if t.h != nil {
		panic("transcript: hash chosen twice")
	}
	t.hf, t.h = h, h.New()
	t.h.Write(t.pending)
	clear(t.pending)
	t.pending = nil
}

// HasHash reports whether the hash has been chosen.
func (t *Transcript) HasHash() bool { return t.h != nil }

// Add appends a complete handshake message, header included.
func (t *Transcript) Add(msg []byte) {
	if t.h == nil {
		t.pending = append(t.pending, msg...)
		return
	}
	t.h.Write(msg)
}

// Sum returns Transcript-Hash of the messages so far; the transcript goes
// on. The hash must be chosen.
func (t *Transcript) Sum() []byte {
	if t.h == nil {
		panic("transcript: Sum before the hash is chosen")
	}
	return t.h.Sum(nil)
}

// SumWith returns the transcript hash as if msg were added, without adding
// it (the PSK binder hashes a truncated ClientHello that never joins the
// transcript).
func (t *Transcript) SumWith(msg []byte) []byte {
	if t.h == nil {
		panic("transcript: SumWith before the hash is chosen")
	}
	// The standard hashes are hash.Cloners (Go 1.25).
	c, err := t.h.(hash.Cloner).Clone()
	if err != nil {
		panic("transcript: " + err.Error())
	}
	c.Write(msg)
	return c.Sum(nil)
}

// ReplaceWithMessageHash handles a HelloRetryRequest (RFC 8446 §4.4.1): the
// messages so far (the first ClientHello, and only it) are replaced by
//
//	message_hash (254) || 00 00 Hash.length || Hash(ClientHello1)
//
// Call it after the HelloRetryRequest's hash is chosen and before adding
// the HelloRetryRequest itself.
func (t *Transcript) ReplaceWithMessageHash() {
	ch1 := t.Sum()
	t.h.Reset()
	t.h.Write([]byte{messageHashType, 0, 0, byte(len(ch1))})
	t.h.Write(ch1)
}
