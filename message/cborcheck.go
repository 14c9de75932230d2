package message

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// Limits of the deterministic-CBOR check, beside MaxDepth.
const (
	maxCBORArray = 1024
	maxCBORMap   = 256
)

// CBOR major types (RFC 8949 §3.1).
const (
	cborUint = iota
	cborNint
	cborBytes
	cborText
	cborArray
	cborMap
	cborTag
	cborSimple
)

// CBOR tags whose values this check refuses: the decoder maps them to
// Go values (times, big integers) that do not encode back to the same
// bytes, so the encoding of the value is not the one deterministic
// encoding (RFC 8949 §3.4.1, §3.4.2, §3.4.3); and the self-described
// CBOR tag, which the decoder drops (RFC 8949 §3.4.6).
const (
	tagDateTime      = 0
	tagEpochTime     = 1
	tagBignum        = 2
	tagNegBignum     = 3
	tagSelfDescribed = 55799
)

// simpleUndefined is the simple value undefined (RFC 8949 §3.3).
const simpleUndefined = 23

var errNotDeterministic = errors.New("CBOR is not deterministically encoded (RFC 8949 §4.2.1)")

// checkCBOR refuses CBOR that is not exactly one well-formed data item in
// deterministic encoding (RFC 8949 §4.2.1: definite lengths, shortest
// arguments, shortest floats that keep the value, NaN as 0xf97e00, map
// keys sorted by their encodings and so unique), that nests deeper than
// MaxDepth (arrays, maps and tags), holds text that is not UTF-8, or an
// array or map over its bound. It reads the bytes once, without decoding
// them into values.
func checkCBOR(data []byte) error {
	c := cborChecker{data: data}
	if err := c.item(0); err != nil {
		return fmt.Errorf("CBOR: %w", err)
	}
	if c.pos != len(data) {
		return fmt.Errorf("CBOR: %d bytes after the data item", len(data)-c.pos)
	}
	return nil
}

type cborChecker struct {
	data []byte
	pos  int
}

var errCBORTruncated = errors.New("truncated data item")

// head reads an initial byte and its argument, refusing indefinite lengths,
// reserved additional information and arguments longer than needed.
func (c *cborChecker) head() (major byte, info byte, arg uint64, err error) {
	if c.pos >= len(c.data) {
		return 0, 0, 0, errCBORTruncated
	}
	b := c.data[c.pos]
	c.pos++
	major, info = b>>5, b&0x1f
	var n int
	switch {
	case info < 24:
		return major, info, uint64(info), nil
	case info <= 27:
		n = 1 << (info - 24)
	case info == 31:
		return 0, 0, 0, errors.New("indefinite length or break")
	default:
		return 0, 0, 0, fmt.Errorf("reserved additional information %d", info)
	}
	if len(c.data)-c.pos < n {
		return 0, 0, 0, errCBORTruncated
	}
	raw := c.data[c.pos : c.pos+n]
	c.pos += n
	switch n {
	case 1:
		arg = uint64(raw[0])
	case 2:
		arg = uint64(binary.BigEndian.Uint16(raw))
	case 4:
		arg = uint64(binary.BigEndian.Uint32(raw))
	case 8:
		arg = binary.BigEndian.Uint64(raw)
	}
	if major == cborSimple {
		return major, info, arg, nil // floats and simple values: their own rules
	}
	// The shortest argument (RFC 8949 §4.2.1): each width only for what
	// the next narrower cannot hold.
	if min := [...]uint64{24, 1 << 8, 1 << 16, 1 << 32}[info-24]; arg < min {
		return 0, 0, 0, errNotDeterministic
	}
	return major, info, arg, nil
}

// item checks one data item at nesting depth depth.
func (c *cborChecker) item(depth int) error {
	major, info, arg, err := c.head()
	if err != nil {
		return err
	}
	switch major {
	case cborUint, cborNint:
		return nil
	case cborBytes, cborText:
		if arg > uint64(len(c.data)-c.pos) {
			return errCBORTruncated
		}
		s := c.data[c.pos : c.pos+int(arg)]
		c.pos += int(arg)
		if major == cborText && !utf8.Valid(s) {
			return errors.New("text string is not valid UTF-8")
		}
		return nil
	case cborArray:
		if depth == MaxDepth {
			return fmt.Errorf("nests deeper than %d", MaxDepth)
		}
		if arg > maxCBORArray {
			return fmt.Errorf("array of %d elements, at most %d", arg, maxCBORArray)
		}
		for i := uint64(0); i < arg; i++ {
			if err := c.item(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case cborMap:
		if depth == MaxDepth {
			return fmt.Errorf("nests deeper than %d", MaxDepth)
		}
		if arg > maxCBORMap {
			return fmt.Errorf("map of %d pairs, at most %d", arg, maxCBORMap)
		}
		var prev []byte
		for i := uint64(0); i < arg; i++ {
			k := c.pos
			// Keys are integers or strings: COSE labels and CWT claim
			// keys are (RFC 9052 §3.1, RFC 8392 §3), and a decoder
			// cannot key a map by a map or an array.
			if k < len(c.data) && c.data[k]>>5 > cborText {
				return fmt.Errorf("map key of major type %d; keys are integers or strings", c.data[k]>>5)
			}
			if err := c.item(depth + 1); err != nil {
				return err
			}
			key := c.data[k:c.pos]
			// A negative integer below -2^63 is a valid CBOR int, but
			// no decoder here holds it in 64 bits; as a key it cannot
			// be decoded at all.
			if key[0] == cborNint<<5|27 && key[1]&0x80 != 0 {
				return fmt.Errorf("map key of major type %d below -2^63", cborNint)
			}
			// Keys in the bytewise order of their encodings (RFC 8949
			// §4.2.1); strictly ascending, so no key twice.
			if i > 0 {
				switch bytes.Compare(prev, key) {
				case 0:
					return fmt.Errorf("duplicate map key %x", key)
				case 1:
					return errNotDeterministic
				}
			}
			prev = key
			if err := c.item(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case cborTag:
		if depth == MaxDepth {
			return fmt.Errorf("nests deeper than %d", MaxDepth)
		}
		switch arg {
		case tagDateTime, tagEpochTime, tagBignum, tagNegBignum, tagSelfDescribed:
			return fmt.Errorf("tag %d is not accepted in a message", arg)
		}
		return c.item(depth + 1)
	}
	// Major type 7: simple values and floats (RFC 8949 §3.3).
	switch info {
	case 24:
		if arg < 32 {
			return fmt.Errorf("simple value %d in two bytes", arg)
		}
		return nil
	case 25:
		h := uint16(arg)
		if isNaN16(h) && h != 0x7e00 {
			return errNotDeterministic // NaN is 0xf97e00
		}
		return nil
	case 26:
		f := float64(math.Float32frombits(uint32(arg)))
		if math.IsNaN(f) || fitsFloat16(f) {
			return errNotDeterministic
		}
		return nil
	case 27:
		f := math.Float64frombits(arg)
		if math.IsNaN(f) || math.IsInf(f, 0) || float64(float32(f)) == f {
			return errNotDeterministic
		}
		return nil
	}
	if info == simpleUndefined {
		// Decoded as nil, it encodes back as null.
		return errors.New("undefined (0xf7) is not accepted in a message")
	}
	if info < 24 {
		return nil // false, true, null and unassigned simple values
	}
	return fmt.Errorf("reserved additional information %d", info)
}

// isNaN16 reports whether h, an IEEE 754 half-precision float, is a NaN.
func isNaN16(h uint16) bool { return h&0x7c00 == 0x7c00 && h&0x03ff != 0 }

// fitsFloat16 reports whether f (not a NaN) is exactly a half-precision
// value: infinite, or at most 65504 in magnitude with no more precision
// than 11 significant bits, or a multiple of 2^-24 below 2^-14.
func fitsFloat16(f float64) bool {
	if math.IsInf(f, 0) {
		return true
	}
	a := math.Abs(f)
	if a > 65504 {
		return false
	}
	if a < 0x1p-14 {
		s := a * 0x1p24
		return s == math.Trunc(s)
	}
	m, _ := math.Frexp(a) // a = m × 2^e, 0.5 <= m < 1
	s := m * (1 << 11)
	return s == math.Trunc(s)
}
