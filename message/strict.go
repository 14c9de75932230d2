package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// MaxDepth is how deeply JSON and CBOR may nest in a message: headers need
// three levels, a chain of certificates four.
const MaxDepth = 16

// checkJSON refuses JSON that is not one valid UTF-8 value, that repeats a
// member name in an object (RFC 7515 §5.2 and RFC 8259 §4 leave
// duplicates to the parser, and parsers disagree on which one wins), or
// that nests deeper than MaxDepth.
func checkJSON(data []byte) error {
	if !utf8.Valid(data) {
		return errors.New("JSON is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object bool
		names  map[string]bool
		key    bool // the next token in an object is a member name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("JSON: %w", err)
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			name, ok := tok.(string)
			if !ok {
				if d, ok := tok.(json.Delim); ok && d == '}' {
					stack = stack[:len(stack)-1]
					continue
				}
				return errors.New("JSON: member name expected")
			}
			if top.names[name] {
				return fmt.Errorf("JSON: duplicate member %q", name)
			}
			top.names[name] = true
			top.key = false
			continue
		}
		if top != nil && top.object {
			top.key = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, names: map[string]bool{}, key: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'), json.Delim('}'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > MaxDepth {
			return fmt.Errorf("JSON nests deeper than %d", MaxDepth)
		}
		if len(stack) == 0 && dec.More() {
			return errors.New("JSON: data after the value")
		}
	}
	return nil
}

var (
	strictCBOR = mustDecMode(cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		MaxNestedLevels:  MaxDepth,
		MaxArrayElements: 1024,
		MaxMapPairs:      256,
		UTF8:             cbor.UTF8RejectInvalid,
	})
	deterministicCBOR = mustEncMode(cbor.CoreDetEncOptions())
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

// checkCBOR refuses CBOR that is not exactly one data item in
// deterministic encoding (RFC 8949 §4.2.1: definite lengths, shortest
// arguments and floats, map keys sorted and unique), or that nests deeper
// than MaxDepth. It decodes the item and compares its deterministic
// re-encoding with the input, so any other encoding of the same value is
// refused.
func checkCBOR(data []byte) error {
	var v any
	rest, err := strictCBOR.UnmarshalFirst(data, &v)
	if err != nil {
		return fmt.Errorf("CBOR: %w", err)
	}
	if len(rest) > 0 {
		return fmt.Errorf("CBOR: %d bytes after the data item", len(rest))
	}
	out, err := deterministicCBOR.Marshal(v)
	if err != nil {
		return fmt.Errorf("CBOR: %w", err)
	}
	if !bytes.Equal(out, data) {
		return errors.New("CBOR is not deterministically encoded (RFC 8949 §4.2.1)")
	}
	return nil
}
