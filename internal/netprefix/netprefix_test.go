package netprefix

import (
	"errors"
	"net/netip"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" for an error
	}{
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"192.0.2.7/24", "192.0.2.7/24"}, // kept as written; users mask it
		{"2001:db8::/32", "2001:db8::/32"},
		{"127.0.0.1", "127.0.0.1/32"},
		{"::1", "::1/128"},
		{"::ffff:192.0.2.1", "192.0.2.1/32"},
		{"10.0.0.0/33", ""},
		{"::1/129", ""},
		{"", ""},
		{"localhost", ""},
		{"10.0.0.1:53", ""},
		{" 10.0.0.1", ""},
	}
	for _, tc := range tests {
		got, err := Parse(tc.in)
		if tc.want == "" {
			var pe *Error
			if !errors.As(err, &pe) || pe.Text != tc.in {
				t.Errorf("Parse(%q) = %v, %v; want a *Error", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != netip.MustParsePrefix(tc.want) {
			t.Errorf("Parse(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestParseList(t *testing.T) {
	got, err := ParseList([]string{"10.0.0.0/8", "::1"})
	if err != nil || len(got) != 2 || got[0] != netip.MustParsePrefix("10.0.0.0/8") || got[1] != netip.MustParsePrefix("::1/128") {
		t.Fatalf("ParseList = %v, %v", got, err)
	}
	if got, err := ParseList([]string{"10.0.0.0/8", "nope"}); err == nil || got != nil {
		t.Fatalf("ParseList with a bad entry = %v, %v", got, err)
	}
	if got, err := ParseList(nil); err != nil || got != nil {
		t.Fatalf("ParseList(nil) = %v, %v", got, err)
	}
}
