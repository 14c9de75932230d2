package message

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// MaxDepth is how deeply JSON and CBOR may nest in a message: headers need
// three levels, a chain of certificates four.
const MaxDepth = 16

// checkJSON refuses JSON that is not one valid UTF-8 value, that repeats a
// member name in an object (RFC 7515 §5.2 and RFC 8259 §4 leave
// duplicates to the parser, and parsers disagree on which one wins), or
// that nests deeper than MaxDepth. Once json.Valid has vouched for the
// syntax, one pass over the bytes finds the member names: a string that
// opens an object or follows a comma inside one.
func checkJSON(data []byte) error {
	if !utf8.Valid(data) {
		return errors.New("JSON is not valid UTF-8")
	}
	if !json.Valid(data) {
		return errors.New("JSON: not one valid value")
	}
	type frame struct {
		object bool
		key    bool // the next string in this object is a member name
		names  []string
	}
	stack := make([]frame, 0, 4)
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '{', '[':
			if len(stack) == MaxDepth {
				return fmt.Errorf("JSON nests deeper than %d", MaxDepth)
			}
			stack = append(stack, frame{object: data[i] == '{', key: data[i] == '{'})
		case '}', ']':
			stack = stack[:len(stack)-1]
		case ',':
			if top := len(stack) - 1; stack[top].object {
				stack[top].key = true
			}
		case '"':
			j, escaped := i+1, false
			for ; data[j] != '"'; j++ {
				if data[j] == '\\' {
					j++
					escaped = true
				}
			}
			if top := len(stack) - 1; top >= 0 && stack[top].key {
				name := string(data[i+1 : j])
				if escaped {
					if err := json.Unmarshal(data[i:j+1], &name); err != nil {
						return fmt.Errorf("JSON: %w", err)
					}
				}
				for _, n := range stack[top].names {
					if n == name {
						return fmt.Errorf("JSON: duplicate member %q", name)
					}
				}
				stack[top].names = append(stack[top].names, name)
				stack[top].key = false
			}
			i = j
		}
	}
	return nil
}
