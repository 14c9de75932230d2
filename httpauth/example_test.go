package httpauth_test

import (
	"fmt"
	"net/http"

	"github.com/dnsbound/dance/httpauth"
)

// A proxy strips every copy a client sent, whatever its spelling, before
// setting its own fields.
func ExampleDelFields() {
	h := http.Header{}
	h.Set("Client-Cert", ":Zm9yZ2Vk:")
	h["Client_cert"] = []string{":Zm9yZ2Vk:"}
	h.Set("Accept", "*/*")
	httpauth.DelFields(h, httpauth.ClientCertHeader, httpauth.ClientCertChainHeader)
	fmt.Println(h)
	// Output:
	// map[Accept:[*/*]]
}

func ExampleEncodeByteSequence() {
	fmt.Println(httpauth.EncodeByteSequence([]byte{0x30, 0x82, 0x01, 0x0a}))
	// Output:
	// :MIIBCg==:
}
