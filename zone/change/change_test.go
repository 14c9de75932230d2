package change

import "testing"

func TestModeWords(t *testing.T) {
	for _, tc := range []struct {
		m    Mode
		word string
	}{{Add, "add"}, {Replace, "replace"}, {Remove, "remove"}} {
		if got := tc.m.String(); got != tc.word {
			t.Errorf("%d.String() = %q, want %q", int(tc.m), got, tc.word)
		}
		if got, err := Parse(tc.word); err != nil || got != tc.m {
			t.Errorf("Parse(%q) = %v, %v", tc.word, got, err)
		}
	}
	for _, bad := range []string{"", "Add", "delete", "Mode(1)"} {
		if m, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", bad, m)
		}
	}
	if got := Mode(0).String(); got != "Mode(0)" {
		t.Errorf("zero Mode prints %q", got)
	}
}
