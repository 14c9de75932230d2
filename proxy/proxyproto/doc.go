// Package proxyproto writes and reads version 2 headers of the PROXY
// protocol (the "proxy-protocol.txt" specification, §2.2): the binary
// preamble a TCP proxy sends its backend before the client's bytes, with
// the client's real addresses and type-length-value entries.
//
// The dance proxy in tcp mode sends one such header per connection, with
// the authenticated DNS name of the client in a TLV of the custom range
// (TypeMinCustom to TypeMaxCustom, 0xE0 by default). A backend written in
// Go reads it with Read before handing the connection to its protocol:
//
//	br := bufio.NewReader(conn)
//	h, err := proxyproto.Read(br)
//	if err != nil { ... close ... }
//	name, ok := h.TLV(0xE0)
//	// the protocol continues on br
//
// # Security considerations
//
// A backend must accept the header only on connections from its proxies:
// anyone who can connect to it directly can write any header. Read bounds
// its allocation by the 16-bit length field and returns errors, never
// panics, on malformed input (FuzzParse).
package proxyproto
