package wire

import "fmt"

// builder encodes TLS structures (RFC 8446 §3): integers in network order
// and vectors behind a length prefix of 1, 2 or 3 octets. It appends
// everything to one buffer and fills in each prefix when its vector is
// complete, so a message costs its buffer's allocations alone, where
// cryptobyte.Builder allocates a child builder for every vector. Its
// methods are named as cryptobyte.Builder's.
type builder struct {
	buf []byte
	err error // the first vector too long for its prefix
}

func (b *builder) AddUint8(v uint8)   { b.buf = append(b.buf, v) }
func (b *builder) AddUint16(v uint16) { b.buf = append(b.buf, byte(v>>8), byte(v)) }
func (b *builder) AddUint32(v uint32) {
	b.buf = append(b.buf, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
func (b *builder) AddBytes(v []byte) { b.buf = append(b.buf, v...) }

func (b *builder) AddUint8LengthPrefixed(f func(*builder))  { b.prefixed(1, f) }
func (b *builder) AddUint16LengthPrefixed(f func(*builder)) { b.prefixed(2, f) }
func (b *builder) AddUint24LengthPrefixed(f func(*builder)) { b.prefixed(3, f) }

// prefixed appends an n-octet length, what f appends, and then sets the
// length to the size of the latter.
func (b *builder) prefixed(n int, f func(*builder)) {
	at := len(b.buf)
	b.buf = append(b.buf, 0, 0, 0)[:at+n]
	f(b)
	l := len(b.buf) - at - n
	if l>>(8*n) != 0 && b.err == nil {
		b.err = fmt.Errorf("wire: %d octets in a vector of %d-octet length", l, n)
	}
	for i := at + n - 1; i >= at; i-- {
		b.buf[i] = byte(l)
		l >>= 8
	}
}
