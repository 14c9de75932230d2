package main

import "testing"

// TestCodepointFlag: --clientid-codepoint takes decimal or hex types, and
// refuses the extension types TLS defines, in the private-use range too.
func TestCodepointFlag(t *testing.T) {
	cases := []struct {
		in   string
		want uint16 // 0: refused
	}{
		{"0xFFDA", 0xFFDA},
		{"65499", 0xFFDB},
		{"0x1234", 0x1234},
		{"0x0000", 0},        // server_name
		{"0x002B", 0},        // supported_versions
		{"0xFF01", 0},        // renegotiation_info
		{"0x10000", 0},       // not 16 bits
		{"dane_clientid", 0}, // not a number
	}
	for _, tc := range cases {
		var f codepointFlag
		err := f.Set(tc.in)
		if tc.want == 0 {
			if err == nil {
				t.Errorf("Set(%q) accepted %#04x", tc.in, f.v)
			}
			continue
		}
		if err != nil || f.v != tc.want {
			t.Errorf("Set(%q) = %#04x, %v; want %#04x", tc.in, f.v, err, tc.want)
		}
	}
}
