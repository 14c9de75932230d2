package message

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
)

// hdrSeq is the protected header parameter (JWS) and text label (COSE)
// that numbers a signer's messages: "STREAM.N", a stream id of 1 to
// maxStream base64url characters and a decimal number from 1, one more in
// each message of the stream (docs/message-identities.md, "Sequence
// numbers"). A private parameter (RFC 7515 §4.3, RFC 9052 §3.1): a
// verifier that does not know it ignores it.
const hdrSeq = "seq"

// maxStream bounds a stream id.
const maxStream = 64

// streamBytes is the size of a random stream id.
const streamBytes = 9

// Sequence numbers a signer's messages, so that a receiver can tell that
// some never arrived (a broker that drops messages when a subscriber's
// queue is full does not say so). A stream starts at 1 under a fresh random
// id, so a restarted signer starts a new stream rather than reusing
// numbers. It is safe for concurrent use.
type Sequence struct {
	id   string
	next atomic.Uint64
}

// NewSequence starts a stream with a random id.
func NewSequence() (*Sequence, error) {
	var b [streamBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("message: stream id: %w", err)
	}
	return &Sequence{id: base64.RawURLEncoding.EncodeToString(b[:])}, nil
}

// ID is the stream's id.
func (s *Sequence) ID() string { return s.id }

// take returns the header value for the next message.
func (s *Sequence) take() string {
	return s.id + "." + strconv.FormatUint(s.next.Add(1), 10)
}

// Seq is a message's place in its signer's stream.
type Seq struct {
	// Stream is the stream id; N the message's number in it, from 1.
	Stream string `json:"stream"`
	N      uint64 `json:"n"`
}

// parseSeq reads a hdrSeq value.
func parseSeq(v string) (*Seq, error) {
	stream, n, ok := strings.Cut(v, ".")
	if !ok || stream == "" || len(stream) > maxStream {
		return nil, fail(ReasonHeader, "seq must be STREAM.N with a stream id of 1 to %d characters", maxStream)
	}
	for i := 0; i < len(stream); i++ {
		if !isBase64URL(stream[i]) {
			return nil, fail(ReasonHeader, "seq: the stream id is not base64url")
		}
	}
	num, err := strconv.ParseUint(n, 10, 64)
	if err != nil || num == 0 || n[0] == '0' || n[0] == '+' {
		return nil, fail(ReasonHeader, "seq: %q is not a number from 1 without leading zeros", n)
	}
	return &Seq{Stream: stream, N: num}, nil
}
