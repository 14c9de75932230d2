package message_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/message"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/verify"
)

// A sensor signs a reading; the cloud, whatever forwarded it, authenticates
// the sensor by the 3 1 0 record that publishes its key. The DNS is a
// signed hierarchy built in the process.
func ExampleVerifier_Verify() {
	name := identity.MustParseName("sensor1._device.example.test")
	key, err := identity.GenerateKey(identity.KeyEd25519, nil)
	if err != nil {
		log.Fatal(err)
	}
	rec, err := tlsa.ForPublicKey(key.Public(), tlsa.DANEEE, tlsa.MatchFull)
	if err != nil {
		log.Fatal(err)
	}
	dns, err := dnstest.Build(dnstest.Config{Records: []string{rec.ZoneLine(name.FQDN(), 300)}})
	if err != nil {
		log.Fatal(err)
	}

	// The sensor.
	s := &message.Signer{Name: name.String(), Key: key}
	msg, err := s.Sign([]byte("21.5"), message.COSE)
	if err != nil {
		log.Fatal(err)
	}

	// The cloud: a verification core and a message verifier around it.
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
	v, err := message.NewVerifier(message.Config{Core: core})
	if err != nil {
		log.Fatal(err)
	}
	m, err := v.Verify(context.Background(), msg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s signed %q with the record %s\n", m.Signer.Name, m.Payload, m.Signer.Record.String()[:5])

	// The same message again is a replay.
	_, err = v.Verify(context.Background(), msg)
	fmt.Println("replayed:", errors.Is(err, message.ErrReplayed))
	// Output:
	// sensor1._device.example.test signed "21.5" with the record 3 1 0
	// replayed: true
}
