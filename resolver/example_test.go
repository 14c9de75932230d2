package resolver_test

import (
	"errors"
	"fmt"

	"github.com/dnsbound/dance/resolver"
)

// A private tree gets its own anchor; the root keys stay for the rest of
// the DNS. The closest anchor covers each name.
func ExampleParseAnchorsString() {
	private, err := resolver.ParseAnchorsString(
		"_device.example.com. IN DS 31589 13 2 3490a6806d47f17a34c29e2ce80e8a999ffbe4be4d53b4a1e6e0c67b37beb2a3")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resolver.RootAnchors().Merge(private).Zones())
	// Output: [. _device.example.com.]
}

// Only a Secure result authenticates anything; Err makes that one check.
func ExampleResult_Err() {
	res := &resolver.Result{Name: "dev1._device.example.com.", Type: "TLSA", Status: resolver.Bogus,
		Reason: &resolver.Reason{Code: resolver.EDESignatureExpired, Zone: "_device.example.com.", Text: "RRSIG over dev1._device.example.com. TLSA expired"}}
	err := res.Err()
	fmt.Println(errors.Is(err, resolver.ErrNotSecure))
	fmt.Println(err)
	// Output:
	// true
	// dnssec: dev1._device.example.com. TLSA is bogus: _device.example.com.: RRSIG over dev1._device.example.com. TLSA expired (EDE 7: Signature Expired)
}
