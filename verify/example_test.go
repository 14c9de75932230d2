package verify_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/verify"
)

// Verifying the certificate chain a client presented against the TLSA
// records of the name it claims. The DNS here is a signed hierarchy built
// in the process (with its own root trust anchor); a deployment gives the
// resolver its upstreams and the real root anchors instead.
func ExampleCore_Verify() {
	// The device's identity, and the DANE-EE record that publishes its key.
	name := identity.MustParseName("sensor1._device.example.test")
	key, err := identity.GenerateKey(identity.KeyECDSAP256, nil)
	if err != nil {
		log.Fatal(err)
	}
	cert, err := identity.SelfSigned(name, key, identity.Options{})
	if err != nil {
		log.Fatal(err)
	}
	rec, err := tlsa.ForPublicKey(key.Public(), tlsa.DANEEE, tlsa.MatchSHA256)
	if err != nil {
		log.Fatal(err)
	}
	dns, err := dnstest.Build(dnstest.Config{Records: []string{rec.ZoneLine(name.FQDN(), 300)}})
	if err != nil {
		log.Fatal(err)
	}

	// The verification core: a validating resolver and an allow-list.
	anchors, err := resolver.ParseAnchorsString(dns.Anchors())
	if err != nil {
		log.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{Anchors: anchors, Exchange: dns.Exchange})
	if err != nil {
		log.Fatal(err)
	}
	allow, err := verify.ParseAllowList([]string{"*._device.example.test"})
	if err != nil {
		log.Fatal(err)
	}
	core, err := verify.New(verify.Config{Resolver: r, Allow: allow})
	if err != nil {
		log.Fatal(err)
	}

	// The name a certificate claims is read from it; the core checks the
	// allow-list, looks the TLSA records up and matches the chain.
	claimed, err := verify.ClaimedName(cert)
	if err != nil {
		log.Fatal(err)
	}
	id, err := core.Verify(context.Background(), claimed, verify.Presented{Chain: []*x509.Certificate{cert}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("verified:", id.Subject())

	// Another key claiming the same name matches no record.
	other, _ := identity.GenerateKey(identity.KeyECDSAP256, nil)
	forged, _ := identity.SelfSigned(name, other, identity.Options{})
	_, err = core.Verify(context.Background(), claimed, verify.Presented{Chain: []*x509.Certificate{forged}})
	fmt.Println("forged:", errors.Is(err, verify.ErrNoMatch))
	// Output:
	// verified: sensor1._device.example.test
	// forged: true
}

func ExampleParseAllowList() {
	allow, err := verify.ParseAllowList([]string{"*._device.example.com", "mta1.example.net"})
	if err != nil {
		panic(err)
	}
	for _, name := range []string{"sensor1._device.example.com", "_device.example.com", "mta1.example.net"} {
		fmt.Println(name, allow.Allows(name))
	}
	// Output:
	// sensor1._device.example.com true
	// _device.example.com false
	// mta1.example.net true
}

func ExampleError() {
	err := fmt.Errorf("handshake: %w", &verify.Error{Reason: verify.ReasonNoMatch, Name: "sensor1._device.example.com"})
	fmt.Println(errors.Is(err, verify.ErrNoMatch), verify.ReasonOf(err))
	fmt.Println(err)
	// Output:
	// true no-match
	// handshake: verify: sensor1._device.example.com: no-match
}
