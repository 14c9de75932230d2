package identity

import (
	"testing"
)

func BenchmarkParseName(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseName("Sensor-0042._device.xn--bcher-kva.example.com."); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCertificateIdentities(b *testing.B) {
	key, err := GenerateKey(KeyECDSAP256, nil)
	if err != nil {
		b.Fatal(err)
	}
	domain := MustParseName("example.com")
	ca, err := NewCA(UserCA, domain, key, Options{})
	if err != nil {
		b.Fatal(err)
	}
	cert, err := IssueUser(User{UID: "alice", Mailbox: "alice@example.com", Domain: domain}, key.Public(), Issuer{ca, key}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ids, err := CertificateIdentities(cert)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ids.User("example.com"); err != nil {
			b.Fatal(err)
		}
	}
}
