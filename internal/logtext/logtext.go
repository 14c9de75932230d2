// Package logtext bounds text a peer chose before it goes into a log
// record: a claimed name, a URL path, an error quoting what a client sent.
// The log handler quotes and escapes; this keeps the length in check, so
// that one connection cannot write kilobytes into the log.
package logtext

import "fmt"

// Limits for the fields of log records that carry peer-supplied text.
const (
	// MaxName fits any DNS name in presentation form (RFC 1035 §2.3.4:
	// 255 octets on the wire) with room for escapes.
	MaxName = 300
	// MaxText bounds free text: error messages, paths.
	MaxText = 512
)

// Bound returns s cut to max bytes, with a note of how much was left out.
func Bound(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return fmt.Sprintf("%s...(%d more bytes)", s[:max], len(s)-max)
}
