package wire

import (
	"bytes"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/alert"
)

// TestParseCertificateAuthorities: certificate_authorities (RFC 8446
// §4.2.4) is parsed strictly; every malformed encoding is decode_error, in
// the extension alone and inside a ClientHello and a CertificateRequest.
func TestParseCertificateAuthorities(t *testing.T) {
	name1 := []byte{0x30, 0x03, 0x31, 0x01, 0x00} // a SEQUENCE, as a DER Name is
	name2 := []byte{0x30, 0x00}
	good := NewCertificateAuthoritiesExtension([][]byte{name1, name2}).Data
	cases := []struct {
		name string
		data []byte
		ok   bool
	}{
		{"two names", good, true},
		{"one name", NewCertificateAuthoritiesExtension([][]byte{name2}).Data, true},
		{"empty list", []byte{0, 0}, false},
		{"no list", []byte{}, false},
		{"trailing data", append(bytes.Clone(good), 0), false},
		{"list longer than the data", []byte{0, 9, 0, 2, 0x30, 0}, false},
		{"empty name", []byte{0, 4, 0, 0, 0, 0}, false},
		{"name not a SEQUENCE", []byte{0, 4, 0, 2, 0x31, 0}, false},
		{"name with trailing octets", []byte{0, 5, 0, 3, 0x30, 0, 0}, false},
		{"name cut short", []byte{0, 4, 0, 2, 0x30, 5}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			names, err := ParseCertificateAuthorities(tc.data)
			if tc.ok {
				if err != nil || len(names) == 0 {
					t.Fatalf("refused: %v", err)
				}
				if !bytes.Equal(NewCertificateAuthoritiesExtension(names).Data, tc.data) {
					t.Fatal("names do not re-encode to the input")
				}
			} else if d, ok := alert.Of(err); !ok || d != alert.DecodeError {
				t.Fatalf("got %v, want decode_error", err)
			}
			ext := Extension{Type: ExtCertificateAuthorities, Data: tc.data}
			cr := CertificateRequest{Context: []byte{}, Extensions: []Extension{NewSignatureAlgorithmsExtension([]uint16{0x0403}, false), ext}}
			var got CertificateRequest
			err = got.Unmarshal(cr.Marshal())
			if tc.ok != (err == nil) || (tc.ok && len(got.CertificateAuthorities) != len(names)) {
				t.Fatalf("CertificateRequest: %v, %d names", err, len(got.CertificateAuthorities))
			}
			ch := ClientHello{LegacyVersion: 0x0303, CipherSuites: []uint16{0x1301}, CompressionMethods: []byte{0}, Extensions: []Extension{ext}}
			var gotCH ClientHello
			err = gotCH.Unmarshal(ch.Marshal())
			if tc.ok != (err == nil) || (tc.ok && len(gotCH.CertificateAuthorities) != len(names)) {
				t.Fatalf("ClientHello: %v, %d names", err, len(gotCH.CertificateAuthorities))
			}
		})
	}
}
