package verify_test

import (
	"errors"
	"fmt"

	"github.com/dnsbound/dance/verify"
)

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
