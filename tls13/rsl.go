package tls13

import (
	"fmt"

	"github.com/dnsbound/dance/tls13/internal/record"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// record_size_limit (RFC 8449): each side may tell the other the largest
// protected record plaintext it accepts. In TLS 1.3 the value counts the
// whole TLSInnerPlaintext (content, type octet and padding, §4); the client
// sends it in its ClientHello and the server answers in
// EncryptedExtensions, only when the client sent it. A limit binds the
// protected records sent after it is known: the server honours the client's
// from its EncryptedExtensions on, the client the server's once it has read
// them; each enforces its own on what it reads from then on
// (record_overflow, RFC 8449 §4).

// recordSizeLimit returns the limit this side advertises: Config's, or
// 2^14+1, the protocol's own limit.
func (c *Config) recordSizeLimit() (uint16, error) {
	if c.RecordSizeLimit == 0 {
		return record.MaxInnerPlaintext, nil
	}
	if c.RecordSizeLimit < wire.MinRecordSizeLimit || c.RecordSizeLimit > record.MaxInnerPlaintext {
		return 0, fmt.Errorf("tls13: Config.RecordSizeLimit %d outside %d..%d", c.RecordSizeLimit, wire.MinRecordSizeLimit, record.MaxInnerPlaintext)
	}
	return uint16(c.RecordSizeLimit), nil
}

// applyRecordLimits caps our protected records at the peer's
// record_size_limit, and starts enforcing ours on what we read.
func (c *Conn) applyRecordLimits(peer uint16) error {
	n, err := record.CheckRecordSizeLimit(peer)
	if err != nil {
		return err
	}
	c.rc.SetWriteLimit(n)
	c.rc.SetReadLimit(int(c.st.recordLimit))
	return nil
}
