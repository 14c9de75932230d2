package message

import (
	"strings"
	"testing"
)

// TestCheckJSON checks the duplicate-member, syntax and depth rules on
// JSON shaped to confuse a byte scanner.
func TestCheckJSON(t *testing.T) {
	t.Parallel()
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, c := range []struct {
		json string
		ok   bool
	}{
		{`{"alg":"ES256","kid":"a"}`, true},
		{`{"alg":"ES256","alg":"none"}`, false},
		{`{"alg":"ES256","\u0061lg":"none"}`, false},   // the same name, escaped
		{`{"a":{"b":1,"b":2}}`, false},                 // nested
		{`{"a":[{"b":1},{"b":2}]}`, true},              // one name in two objects
		{`{"a":[{"b":1,"c":[{"d":1}],"b":2}]}`, false}, // after a nested array
		{`{"a":"{\"a\":1,\"a\":2}","b":"x"}`, true},    // braces and quotes inside a string
		{`{"a\"":1,"a":2}`, true},                      // an escaped quote in a name
		{`{"a\\":1,"a\\":2}`, false},                   // a backslash before the closing quote
		{`{"x":["a","a"],"y":{"a":"a"}}`, true},        // strings that are values, not names
		{`{"a":1}{"a":1}`, false},                      // two values
		{`{"a":1`, false},                              // truncated
		{"{\"a\":\"\xff\"}", false},                    // not UTF-8
		{`{"x":` + deep(MaxDepth-1) + `}`, true},
		{`{"x":` + deep(MaxDepth) + `}`, false},
	} {
		err := checkJSON([]byte(c.json))
		if (err == nil) != c.ok {
			t.Errorf("%s: got %v, want ok=%v", c.json, err, c.ok)
		}
	}
}
