package ldapauth_test

import (
	"fmt"
	"strings"

	"github.com/dnsbound/dance/ldapauth"
)

// The allow-list of a server for two domains: the verification core looks
// up nothing else.
func ExampleAllowList() {
	al, err := ldapauth.AllowList([]ldapauth.Domain{{Name: "example.com"}, {Name: "Corp.Example.NET", Base: "ou=people,dc=corp,dc=example,dc=net"}})
	if err != nil {
		panic(err)
	}
	fmt.Println(al.Allows("_user.example.com"), al.Allows("_user.corp.example.net"), al.Allows("_user.other.example"))
	// Output: true true false
}

// Who may bind as whom: a user always as itself, others by rule.
func ExampleParseAuthzPolicy() {
	p, err := ldapauth.ParseAuthzPolicy(strings.NewReader(`
# USER                 MAY ACT AS
helpdesk@example.com   alice@example.com
admin@example.com      *@example.com
`))
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Allows("helpdesk@example.com", "alice@example.com"))
	fmt.Println(p.Allows("helpdesk@example.com", "bob@example.com"))
	fmt.Println(p.Allows("admin@example.com", "bob@example.com"))
	fmt.Println(p.Allows("bob@example.com", "bob@example.com"))
	// Output:
	// true
	// false
	// true
	// true
}
