package resolver_test

import (
	"context"
	"fmt"
	"log"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/resolver"
)

// Looking up TLSA records with DNSSEC validation. The DNS here is a signed
// hierarchy built in the process, with its own root trust anchor, reached
// through Config.Exchange; a deployment names its upstream resolvers in
// Config.Upstreams and uses the real root anchors (resolver.RootAnchors).
func ExampleResolver_Lookup() {
	h, err := dnstest.Build(dnstest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	anchors, err := resolver.ParseAnchorsString(h.Anchors())
	if err != nil {
		log.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{Anchors: anchors, Exchange: h.Exchange})
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{
		"_443._tcp.www.example.test.",          // in a signed zone
		"_443._tcp.www.insecure.example.test.", // under an unsigned delegation
	} {
		res, err := r.Lookup(context.Background(), name, dns.TypeTLSA)
		if err != nil {
			log.Fatal(err)
		}
		// Only a Secure answer may be used for DANE (RFC 6698 §4.1).
		fmt.Println(name, res.Status, res.Err() == nil)
	}
	// Output:
	// _443._tcp.www.example.test. secure true
	// _443._tcp.www.insecure.example.test. insecure false
}
