package proxyproto_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"

	"github.com/dnsbound/dance/proxy/proxyproto"
)

// A proxy writes the header before the client's bytes; the backend reads
// it back, then the protocol continues on the same reader.
func Example() {
	h := proxyproto.Header{
		Source:      netip.MustParseAddrPort("192.0.2.10:51000"),
		Destination: netip.MustParseAddrPort("198.51.100.1:636"),
		TLVs:        []proxyproto.TLV{{Type: 0xE0, Value: []byte("sensor1._device.example.com")}},
	}
	b, err := h.Marshal(false)
	if err != nil {
		panic(err)
	}
	stream := bufio.NewReader(bytes.NewReader(append(b, "LDAP bytes..."...)))

	got, err := proxyproto.Read(stream)
	if err != nil {
		panic(err)
	}
	name, _ := got.TLV(0xE0)
	rest, _ := stream.ReadString(0)
	fmt.Printf("%d-byte header from %v to %v, client %s\n", len(b), got.Source, got.Destination, name)
	fmt.Println(rest)
	// Output:
	// 58-byte header from 192.0.2.10:51000 to 198.51.100.1:636, client sensor1._device.example.com
	// LDAP bytes...
}
