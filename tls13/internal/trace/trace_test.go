package trace

import (
	"strings"
	"testing"
)

func TestParseWrappedValues(t *testing.T) {
	in := `
   {server}  derive write traffic keys for handshake data:

      key expanded (16 octets):  3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e
         e4 03 bc

      hash (0 octets):  (empty)
`
	tr, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	v, err := tr.Value("server", "derive write traffic keys for handshake", 0, "key expanded")
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 16 || v[15] != 0xbc {
		t.Fatalf("value = %x", v)
	}
	if h, _ := tr.Value("server", "derive write", 0, "hash"); len(h) != 0 {
		t.Fatalf("empty value = %x", h)
	}
}

func TestParseRejectsWrongOctetCount(t *testing.T) {
	in := `
   {client}  something:

      secret (4 octets):  01 02 03
`
	if _, err := Parse(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "trace says 4") {
		t.Fatalf("err = %v, want an octet-count error", err)
	}
}

func TestLoadTestdataFiles(t *testing.T) {
	for _, name := range []string{"rfc8448-section3", "draft-tls13-vectors-simple",
		"draft-tls13-vectors-resumed", "draft-tls13-vectors-hrr", "draft-tls13-vectors-clientauth"} {
		tr, err := Load("../../testdata/" + name + ".txt")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(tr.Steps) < 10 {
			t.Fatalf("%s: only %d steps", name, len(tr.Steps))
		}
	}
}
