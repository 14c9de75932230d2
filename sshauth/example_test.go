package sshauth_test

import (
	"fmt"

	"golang.org/x/crypto/ssh"

	"github.com/dnsbound/dance/sshauth"
)

// The record that publishes a user's key at the name the hosts'
// authorization files list, and the authorized_keys line a host prints for
// it once the record validates.
func ExampleRecords() {
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINk0RV/dNwBHZayp/Pg2z/B0hpz5nJLhp+ko3epjOfL3 alice@laptop"))
	if err != nil {
		panic(err)
	}
	recs, err := sshauth.Records(pub)
	if err != nil {
		panic(err)
	}
	const name = "_ssh-client.alice.example.com"
	fmt.Println(recs[0].ZoneLine(name, 300))

	back, err := sshauth.FromSPKI(recs[0].Data)
	if err != nil {
		panic(err)
	}
	fmt.Println(sshauth.AuthorizedKeysLine(sshauth.Key{Name: name, Key: back}))
	// Output:
	// _ssh-client.alice.example.com. 300 IN TLSA 3 1 0 302a300506032b6570032100d934455fdd37004765aca9fcf836cff074869cf99c92e1a7e928ddea6339f2f7
	// ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINk0RV/dNwBHZayp/Pg2z/B0hpz5nJLhp+ko3epjOfL3 dance:_ssh-client.alice.example.com
}
