package identity

import (
	"encoding/json"
	"testing"
)

// TestKindText: each kind's text form is its String, JSON carries it, and
// UnmarshalText reads it back; anything else is refused.
func TestKindText(t *testing.T) {
	tests := []struct {
		kind Kind
		text string
	}{
		{KindHost, "host"},
		{KindDevice, "device"},
		{KindService, "service"},
		{KindUser, "user"},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			if got := tc.kind.String(); got != tc.text {
				t.Errorf("String() = %q, want %q", got, tc.text)
			}
			b, err := json.Marshal(tc.kind)
			if err != nil || string(b) != `"`+tc.text+`"` {
				t.Errorf("json.Marshal = %s, %v, want %q", b, err, tc.text)
			}
			var k Kind
			if err := json.Unmarshal(b, &k); err != nil || k != tc.kind {
				t.Errorf("json.Unmarshal(%s) = %v, %v, want %v", b, k, err, tc.kind)
			}
		})
	}
	for _, bad := range []string{"", "Device", "hosts", "Kind(1)"} {
		var k Kind
		if err := k.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) = %v, want an error", bad, k)
		}
	}
	if got := Kind(0).String(); got != "Kind(0)" {
		t.Errorf("Kind(0).String() = %q", got)
	}
}
