package keysched

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"testing"
)

// TestMACMatchesCryptoHMAC: the pooled HMAC equals crypto/hmac for both
// suite hashes, keys shorter than, equal to and longer than the block
// (hashed first), empty and multi-block messages, and repeated use of a
// pooled state with different keys.
func TestMACMatchesCryptoHMAC(t *testing.T) {
	for _, h := range []Hash{crypto.SHA256, crypto.SHA384} {
		for _, keyLen := range []int{0, 1, 32, 48, 63, 64, 65, 127, 128, 129, 300} {
			for _, msgLen := range []int{0, 1, 64, 200} {
				key := bytes.Repeat([]byte{byte(keyLen)}, keyLen)
				msg := bytes.Repeat([]byte{byte(msgLen) + 1}, msgLen)
				m := hmac.New(h.New, key)
				m.Write(msg)
				want := m.Sum(nil)
				for range 2 {
					if got := macSum(h, key, msg, nil); !bytes.Equal(got, want) {
						t.Fatalf("%v key %d msg %d: %x, want %x", h, keyLen, msgLen, got, want)
					}
				}
			}
		}
	}
}
