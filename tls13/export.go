package tls13

import (
	"errors"

	"github.com/dnsbound/dance/tls13/internal/keysched"
)

// maxExportLength is the most keying material one export may return:
// HKDF-Expand's limit of 255 hash lengths (RFC 5869 §2.3), for SHA-256.
const maxExportLength = 255 * 32

// ExportKeyingMaterial returns length octets of keying material for label
// and context (RFC 8446 §7.5, the TLS 1.3 form of RFC 5705's exporters),
// from the exporter_master_secret of the completed handshake. In TLS 1.3 a
// nil context and an empty one give the same result.
func (c *Conn) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	if !c.finished.Load() {
		return nil, errors.New("tls13: ExportKeyingMaterial before the handshake completed")
	}
	if length < 0 || length > maxExportLength {
		return nil, errors.New("tls13: ExportKeyingMaterial length out of range")
	}
	return keysched.Export(c.suite.Hash, c.expMaster, label, context, length), nil
}
