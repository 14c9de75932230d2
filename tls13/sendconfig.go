package tls13

import (
	"fmt"

	"github.com/dnsbound/dance/tls13/internal/record"
)

// maxALPNName is the longest ALPN protocol name: ProtocolName<1..2^8-1>
// (RFC 7301 §3.1).
const maxALPNName = 255

// maxALPNList is the longest ALPN name list the extension holds:
// protocol_name_list<2..2^16-1> (RFC 7301 §3.1).
const maxALPNList = 1<<16 - 1

// prepareSend derives the handshake's Config state (c.st), refuses the
// Config fields both roles send from when checkSend did, before anything
// is sent, and caps our records at MaxSendFragment.
func (c *Conn) prepareSend() error {
	c.st = c.cfg.derived()
	if c.st.sendErr != nil {
		return c.st.sendErr
	}
	c.rc.SetMaxFragment(c.cfg.MaxSendFragment)
	return nil
}

// checkSend checks the Config fields both roles send from: NextProtos
// (checkNextProtos) and MaxSendFragment. Derived once per Config.
func (c *Config) checkSend() error {
	if err := c.checkNextProtos(); err != nil {
		return err
	}
	n := c.MaxSendFragment
	if n != 0 && (n < record.MinRecordSizeLimit-1 || n > record.MaxPlaintext) {
		return fmt.Errorf("tls13: Config.MaxSendFragment %d outside %d..%d", n, record.MinRecordSizeLimit-1, record.MaxPlaintext)
	}
	return nil
}

// checkNextProtos refuses ALPN names the extension cannot carry: an empty
// one, one longer than 255 octets, or a list longer than 2^16-1 octets
// (RFC 7301 §3.1). A server could never select an empty name (the client's
// list cannot hold one), and a client would send a malformed extension.
func (c *Config) checkNextProtos() error {
	total := 0
	for i, p := range c.NextProtos {
		if len(p) == 0 || len(p) > maxALPNName {
			return fmt.Errorf("tls13: Config.NextProtos[%d]: a protocol name is 1 to %d octets, not %d", i, maxALPNName, len(p))
		}
		total += 1 + len(p)
	}
	if total > maxALPNList {
		return fmt.Errorf("tls13: Config.NextProtos: %d octets, more than the extension's %d", total, maxALPNList)
	}
	return nil
}
