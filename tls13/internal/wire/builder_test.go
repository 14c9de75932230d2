package wire

import (
	"bytes"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

// TestBuilderMatchesCryptobyte: builder encodes nested vectors of every
// prefix width as cryptobyte.Builder does, at lengths that fill each
// prefix's octets.
func TestBuilderMatchesCryptobyte(t *testing.T) {
	for _, n := range []int{0, 1, 255, 256, 65535, 65536, 70000} {
		data := bytes.Repeat([]byte{0xab}, n)
		var ours builder
		ours.AddUint8(1)
		ours.AddUint24LengthPrefixed(func(b *builder) {
			b.AddUint16LengthPrefixed(func(b *builder) {
				b.AddUint32(0x01020304)
				b.AddUint8LengthPrefixed(func(b *builder) { b.AddBytes(data[:min(n, 255)]) })
				b.AddBytes(data[:min(n, 60000)])
			})
			b.AddUint16(7)
			b.AddBytes(data)
		})
		var theirs cryptobyte.Builder
		theirs.AddUint8(1)
		theirs.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint32(0x01020304)
				b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(data[:min(n, 255)]) })
				b.AddBytes(data[:min(n, 60000)])
			})
			b.AddUint16(7)
			b.AddBytes(data)
		})
		want, err := theirs.Bytes()
		if err != nil || ours.err != nil {
			t.Fatalf("n=%d: errors %v, %v", n, err, ours.err)
		}
		if !bytes.Equal(ours.buf, want) {
			t.Fatalf("n=%d: encodings differ", n)
		}
	}
}

// TestBuilderRefusesOverlongVector: a vector longer than its prefix can
// say is an error, whichever the width.
func TestBuilderRefusesOverlongVector(t *testing.T) {
	for _, tc := range []struct {
		add func(b *builder, f func(*builder))
		n   int
	}{
		{(*builder).AddUint8LengthPrefixed, 256},
		{(*builder).AddUint16LengthPrefixed, 65536},
		{(*builder).AddUint24LengthPrefixed, 1 << 24},
	} {
		var ok, over builder
		tc.add(&ok, func(b *builder) { b.AddBytes(make([]byte, tc.n-1)) })
		tc.add(&over, func(b *builder) { b.AddBytes(make([]byte, tc.n)) })
		if ok.err != nil || over.err == nil {
			t.Errorf("vector of %d: error %v; of %d: error %v, want one", tc.n-1, ok.err, tc.n, over.err)
		}
	}
}

// TestMarshalAllocations: a message costs its buffer, sized in advance,
// and the builder (passed to the message's function, so on the heap);
// not an allocation per vector.
func TestMarshalAllocations(t *testing.T) {
	m := &Certificate{Entries: []CertificateEntry{
		{Data: make([]byte, 600), Extensions: []Extension{}},
		{Data: make([]byte, 500), Extensions: []Extension{{Type: 5, Data: make([]byte, 10)}}},
	}}
	if n := testing.AllocsPerRun(20, func() { m.Marshal() }); n != 2 {
		t.Fatalf("%v allocations per Certificate, want 2", n)
	}
}
