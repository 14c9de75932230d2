package message

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// The reference for checkCBOR: decode with a strict decoder, encode the
// value deterministically and compare. checkCBOR must never accept what
// this refuses; FuzzCheckCBOR compares the two.
var (
	refStrictCBOR = mustDecMode(cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		MaxNestedLevels:  MaxDepth,
		MaxArrayElements: maxCBORArray,
		MaxMapPairs:      maxCBORMap,
		UTF8:             cbor.UTF8RejectInvalid,
	})
	refDeterministicCBOR = mustEncMode(cbor.CoreDetEncOptions())
)

func mustDecMode(o cbor.DecOptions) cbor.DecMode {
	m, err := o.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}

func mustEncMode(o cbor.EncOptions) cbor.EncMode {
	m, err := o.EncMode()
	if err != nil {
		panic(err)
	}
	return m
}

func refCheckCBOR(data []byte) error {
	var v any
	rest, err := refStrictCBOR.UnmarshalFirst(data, &v)
	if err != nil {
		return fmt.Errorf("CBOR: %w", err)
	}
	if len(rest) > 0 {
		return fmt.Errorf("CBOR: %d bytes after the data item", len(rest))
	}
	out, err := refDeterministicCBOR.Marshal(v)
	if err != nil {
		return fmt.Errorf("CBOR: %w", err)
	}
	if !bytes.Equal(out, data) {
		return errors.New("CBOR is not deterministically encoded")
	}
	return nil
}

// FuzzCheckCBOR: whatever checkCBOR accepts, decoding and deterministic
// re-encoding give back the same bytes; and whatever the reference
// accepts, checkCBOR accepts too unless it refuses it on purpose
// (stricterOnPurpose).
func FuzzCheckCBOR(f *testing.F) {
	for _, c := range cborCases {
		f.Add(c.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err, ref := checkCBOR(data), refCheckCBOR(data)
		if err == nil && ref != nil {
			t.Fatalf("%x: accepted, but %v", data, ref)
		}
		if err != nil && ref == nil && !stricterOnPurpose(err) {
			t.Fatalf("%x: deterministic, but refused: %v", data, err)
		}
	})
}

// stricterOnPurpose reports whether err is one of checkCBOR's refusals of
// deterministic CBOR: map keys other than integers and strings, the tags
// it does not accept, tags counted in the nesting depth.
func stricterOnPurpose(err error) bool {
	for _, s := range []string{"map key of major type", "is not accepted in a message", "nests deeper than"} {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// cborCases are encodings at the edges of the deterministic rules; ok
// says whether checkCBOR accepts them, stricter says that the reference
// accepts what checkCBOR refuses on purpose.
var cborCases = []struct {
	name     string
	data     []byte
	ok       bool
	stricter bool
}{
	{"small uint", []byte{0x17}, true, false},
	{"uint 24 in one byte", []byte{0x18, 0x18}, true, false},
	{"uint 23 in one byte", []byte{0x18, 0x17}, false, false},
	{"uint 255 in two bytes", []byte{0x19, 0x00, 0xff}, false, false},
	{"uint 256 in two bytes", []byte{0x19, 0x01, 0x00}, true, false},
	{"uint 65535 in four bytes", []byte{0x1a, 0x00, 0x00, 0xff, 0xff}, false, false},
	{"uint 2^32-1 in eight bytes", []byte{0x1b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, false, false},
	{"uint 2^32 in eight bytes", []byte{0x1b, 0, 0, 0, 1, 0, 0, 0, 0}, true, false},
	{"negative int", []byte{0x38, 0x63}, true, false},
	{"negative int long", []byte{0x39, 0x00, 0x63}, false, false},
	{"bytes", []byte{0x43, 1, 2, 3}, true, false},
	{"bytes with long length", []byte{0x58, 0x03, 1, 2, 3}, false, false},
	{"bytes truncated", []byte{0x43, 1, 2}, false, false},
	{"indefinite bytes", []byte{0x5f, 0x41, 1, 0xff}, false, false},
	{"text", []byte{0x62, 'h', 'i'}, true, false},
	{"text not UTF-8", []byte{0x61, 0xff}, false, false},
	{"array", []byte{0x82, 0x01, 0x02}, true, false},
	{"indefinite array", []byte{0x9f, 0x01, 0xff}, false, false},
	{"map sorted", []byte{0xa2, 0x01, 0x00, 0x20, 0x00}, true, false},
	{"map unsorted", []byte{0xa2, 0x20, 0x00, 0x01, 0x00}, false, false},
	{"map duplicate key", []byte{0xa2, 0x01, 0x00, 0x01, 0x01}, false, false},
	{"map keys by encoding: 10 before -1", []byte{0xa2, 0x0a, 0x00, 0x20, 0x00}, true, false},
	{"map keys by encoding: short text before long", []byte{0xa2, 0x61, 'z', 0x00, 0x62, 'a', 'a', 0x00}, true, false},
	{"map keys by length first", []byte{0xa2, 0x62, 'a', 'a', 0x00, 0x61, 'z', 0x00}, false, false},
	{"map keyed by a map", []byte{0xa1, 0xa0, 0x00}, false, false},
	{"map keyed by an array", []byte{0xa1, 0x80, 0x00}, false, false},
	{"map keyed by a bool", []byte{0xa1, 0xf4, 0x00}, false, true},
	{"map truncated", []byte{0xa1, 0x01}, false, false},
	{"map key -2^63", []byte{0xa1, 0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}, true, false},
	{"map key -2^63-1", []byte{0xa1, 0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x00}, false, false},
	{"value -2^64", []byte{0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, true, false},
	{"tag 18", []byte{0xd2, 0x80}, true, false},
	{"tag 24 long head", []byte{0xd8, 0x12, 0x80}, false, false},
	{"tag 0 time", []byte{0xc0, 0x74, '2', '0', '2', '6', '-', '1', '2', '-', '0', '3', 'T', '0', '0', ':', '0', '0', ':', '0', '0', 'Z'}, false, false},
	{"tag 1 time", []byte{0xc1, 0x1a, 0x69, 0x00, 0x00, 0x00}, false, false},
	{"tag 2 bignum", []byte{0xc2, 0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0}, false, true},
	{"tag 2 small bignum", []byte{0xc2, 0x41, 0x01}, false, false},
	{"tag 55799 self-described (dropped by decoders)", []byte{0x81, 0xd9, 0xd9, 0xf7, 0x30}, false, false},
	{"false true null", []byte{0x83, 0xf4, 0xf5, 0xf6}, true, false},
	{"undefined (decodes as null)", []byte{0xf7}, false, false},
	{"simple value 16", []byte{0xf0}, true, false},
	{"simple value 32 in two bytes", []byte{0xf8, 0x20}, true, false},
	{"simple value 19 in two bytes", []byte{0xf8, 0x13}, false, false},
	{"half 1.5", []byte{0xf9, 0x3e, 0x00}, true, false},
	{"single 1.5", []byte{0xfa, 0x3f, 0xc0, 0x00, 0x00}, false, false},
	{"single 100000", []byte{0xfa, 0x47, 0xc3, 0x50, 0x00}, true, false},
	{"single 2^-24 (a half subnormal)", []byte{0xfa, 0x33, 0x80, 0x00, 0x00}, false, false},
	{"single 2^-25", []byte{0xfa, 0x33, 0x00, 0x00, 0x00}, true, false},
	{"single 1+2^-11 (12 bits)", []byte{0xfa, 0x3f, 0x80, 0x10, 0x00}, true, false},
	{"single 1+2^-10 (11 bits)", []byte{0xfa, 0x3f, 0x80, 0x20, 0x00}, false, false},
	{"double 1.1", []byte{0xfb, 0x3f, 0xf1, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a}, true, false},
	{"double 1.5", []byte{0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, false, false},
	{"half NaN", []byte{0xf9, 0x7e, 0x00}, true, false},
	{"half other NaN", []byte{0xf9, 0x7e, 0x01}, false, false},
	{"single NaN", []byte{0xfa, 0x7f, 0xc0, 0x00, 0x00}, false, false},
	{"half infinity", []byte{0xf9, 0x7c, 0x00}, true, false},
	{"single infinity", []byte{0xfa, 0x7f, 0x80, 0x00, 0x00}, false, false},
	{"double infinity", []byte{0xfb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0}, false, false},
	{"half -0", []byte{0xf9, 0x80, 0x00}, true, false},
	{"reserved 28", []byte{0x1c}, false, false},
	{"break alone", []byte{0xff}, false, false},
	{"two items", []byte{0x01, 0x01}, false, false},
	{"empty", nil, false, false},
	{"depth 16", nest(16), true, false},
	{"depth 17", nest(17), false, false},
	{"16 tags", append(bytes.Repeat([]byte{0xd8, 0x20}, 16), 0x01), true, false},
	{"17 tags", append(bytes.Repeat([]byte{0xd8, 0x20}, 17), 0x01), false, true},
	{"15 arrays and a tag", append(nest(15)[:14], 0x81, 0xd8, 0x20, 0x80), false, true},
}

// nest is n arrays, each holding the next, the last empty.
func nest(n int) []byte {
	return append(bytes.Repeat([]byte{0x81}, n-1), 0x80)
}

// TestCheckCBOR runs cborCases against checkCBOR and the reference.
func TestCheckCBOR(t *testing.T) {
	t.Parallel()
	for _, c := range cborCases {
		err := checkCBOR(c.data)
		if (err == nil) != c.ok {
			t.Errorf("%s (%x): got %v, want ok=%v", c.name, c.data, err, c.ok)
		}
		ref := refCheckCBOR(c.data)
		if want := c.ok || c.stricter; (ref == nil) != want {
			t.Errorf("%s (%x): the reference says %v", c.name, c.data, ref)
		}
		if c.stricter && (err == nil || !stricterOnPurpose(err)) {
			t.Errorf("%s (%x): %v, not a refusal on purpose", c.name, c.data, err)
		}
	}
}
