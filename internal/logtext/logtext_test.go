package logtext

import (
	"strings"
	"testing"
)

func TestBound(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{strings.Repeat("a", 15), 10, "aaaaaaaaaa...(5 more bytes)"},
		{"", 0, ""},
	}
	for _, tt := range tests {
		if got := Bound(tt.in, tt.max); got != tt.want {
			t.Errorf("Bound(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
