package tls13

import (
	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// The dane_clientid extension in TLS 1.3 (draft-ietf-dance-tls-clientid-07
// §3; draft-ietf-dance-client-auth-13 §7, §8):
//
//   - A server that authenticates clients by DANE sends it empty in its
//     CertificateRequest (Config.RequestClientName).
//   - A client may answer only when asked, in the extensions of the
//     end-entity entry of its Certificate, with its name
//     (Config.ClientName). -07 also lets it answer empty ("my name is in my
//     certificate"); the server then reports DANEClientID with an empty
//     ClientName and its VerifyConnection decides. With a raw public key an
//     empty answer is refused: there is no certificate to name anyone
//     (-07 §2, client-auth-13 §9).
//   - The server checks the name's syntax (illegal_parameter), refuses the
//     extension unasked (unsupported_extension, RFC 8446 §4.2) and, with
//     wire, twice or outside the end-entity entry; VerifyConnection
//     authenticates the name.

// DefaultDANEClientIDCodepoint is the dane_clientid extension type used
// when Config.DANEClientIDCodepoint is 0: 0xFFDA, in the private-use range
// 0xFF00-0xFFFF (RFC 8446 §11), until IANA assigns one.
const DefaultDANEClientIDCodepoint = uint16(wire.DefaultDANEClientID)

func (c *Config) clientIDType() wire.ExtensionType {
	if c.DANEClientIDCodepoint == 0 {
		return wire.DefaultDANEClientID
	}
	return wire.ExtensionType(c.DANEClientIDCodepoint)
}

// clientNameExtension is the dane_clientid a client adds to its end-entity
// entry: only when the server asked and we have a name.
func (hs *clientHS) clientNameExtension() (wire.Extension, bool) {
	cfg := hs.c.cfg
	if !hs.certReq.DANEClientID || cfg.ClientName == "" {
		return wire.Extension{}, false
	}
	hs.c.state.ClientName, hs.c.state.DANEClientID = cfg.ClientName, true
	return wire.NewDANEClientIDExtension(cfg.clientIDType(), cfg.ClientName), true
}

// clientNameRequest is the empty dane_clientid of a server's
// CertificateRequest, when the server asks for names.
func (c *Config) clientNameRequest() []wire.Extension {
	if !c.RequestClientName {
		return nil
	}
	return []wire.Extension{wire.NewDANEClientIDRequest(c.clientIDType())}
}

// readClientName checks the extensions of the client's certificate entries
// and records the claimed name. wire has already refused a bad name, two
// of them, and one outside the end-entity entry.
func (hs *serverHS) readClientName(m *wire.Certificate, raw bool) error {
	c := hs.c
	cid := c.cfg.clientIDType()
	for _, e := range m.Entries {
		for _, x := range e.Extensions {
			if x.Type == cid && c.cfg.RequestClientName {
				continue
			}
			// RFC 8446 §4.2: an extension not requested.
			return alert.Errorf(alert.UnsupportedExtension, "certificate entry extension %d not requested", x.Type)
		}
	}
	if !m.HasDANEClientID {
		return nil
	}
	if raw && m.ClientName == "" {
		return alert.Errorf(alert.HandshakeFailure, "raw public key with an empty dane_clientid: no name to authenticate")
	}
	c.state.ClientName, c.state.DANEClientID = m.ClientName, true
	return nil
}
