package identity

import (
	"crypto/x509"
	"errors"
	"testing"
)

// FuzzCertificateIdentities feeds arbitrary bytes to the subjectAltName
// reader, both as an extension value and, when they parse as one, as a
// whole certificate. Seeds are in testdata/fuzz/FuzzCertificateIdentities.
func FuzzCertificateIdentities(f *testing.F) {
	for _, s := range []sanEntries{
		{DNSNames: []string{"example.com"}, UIDs: []string{"alice"}},
		{DNSNames: []string{"d1._device.example.com"}},
		{Mailboxes: []string{"rené@example.com"}, Emails: []string{"a@example.com"}},
	} {
		der, err := marshalSAN(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ids, err := ParseSubjectAltName(data)
		if err != nil {
			var se *SANError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a SANError", err)
			}
		} else {
			// Whatever was read must be re-encodable and read back the same.
			der, err := marshalSAN(sanEntries{DNSNames: ids.DNSNames, UIDs: ids.UIDs, Mailboxes: ids.Mailboxes, Emails: ids.Emails})
			if err != nil {
				t.Fatal(err)
			}
			if len(ids.DNSNames)+len(ids.UIDs)+len(ids.Mailboxes)+len(ids.Emails) > 0 {
				again, err := ParseSubjectAltName(der)
				if err != nil {
					t.Fatalf("re-encoded SAN does not parse: %v", err)
				}
				if len(again.DNSNames) != len(ids.DNSNames) || len(again.UIDs) != len(ids.UIDs) ||
					len(again.Mailboxes) != len(ids.Mailboxes) || len(again.Emails) != len(ids.Emails) {
					t.Fatalf("round trip changed %+v into %+v", ids, again)
				}
			}
			_ = ids.Users()
		}
		if cert, err := x509.ParseCertificate(data); err == nil {
			if ids, err := CertificateIdentities(cert); err == nil {
				_ = ids.Users()
			}
		}
	})
}
