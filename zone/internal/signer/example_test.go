package signer_test

import (
	"fmt"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/internal/signer"
	"github.com/dnsbound/dance/zone/keys"
)

// Which key signs an RRset follows from the keys' flags: with a KSK and a
// ZSK, the KSK signs the DNSKEY RRset and the ZSK the identity records.
func ExampleSigner_KeysFor() {
	ksk, _ := keys.Generate("devices.example.", keys.ED25519, keys.FlagsKSK)
	zsk, _ := keys.Generate("devices.example.", keys.ED25519, keys.FlagsZSK)
	s := &signer.Signer{Zone: "devices.example.", Keys: []*keys.Key{ksk, zsk}}
	for _, t := range []uint16{dns.TypeDNSKEY, dns.TypeCDS, dns.TypeTLSA, dns.TypeNSEC3} {
		for _, k := range s.KeysFor(t) {
			role := "ZSK"
			if k.IsSEP() {
				role = "KSK"
			}
			fmt.Printf("%s: %s\n", dns.TypeToString[t], role)
		}
	}
	// Output:
	// DNSKEY: KSK
	// CDS: KSK
	// TLSA: ZSK
	// NSEC3: ZSK
}
