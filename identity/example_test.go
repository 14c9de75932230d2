package identity_test

import (
	"fmt"

	"github.com/dnsbound/dance/identity"
)

func ExampleParseName() {
	for _, s := range []string{"Sensor1._device.Example.COM.", "_smtp-client.mta1.example.com", `a\065.example`} {
		n, err := identity.ParseName(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(n, n.Kind(), n.Domain())
	}
	// Output:
	// sensor1._device.example.com device example.com
	// _smtp-client.mta1.example.com service mta1.example.com
	// invalid name "a\\065.example": escapes (\DDD, \X) are not allowed
}

func ExampleHashedUserName() {
	// RFC 7929 §3 hashes "hugh" of hugh@example.com to this label.
	n, err := identity.HashedUserName("hugh", "example.com")
	if err != nil {
		panic(err)
	}
	fmt.Println(n)
	// Output:
	// c93f1e400f26708f98cb19d936620da35eec8f72e57f9eec01c1afd6._user.example.com
}

func ExampleIdentities_User() {
	ids := &identity.Identities{DNSNames: []string{"Example.COM"}, UIDs: []string{"Alice"}}
	fmt.Println(ids.User("example.com"))
	_, err := ids.User("example.org")
	fmt.Println(err)
	// Output:
	// alice@example.com <nil>
	// user identity for domain "example.org": no dNSName for the domain
}
