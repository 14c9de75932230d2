package record

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/alert"
)

// FuzzReadRecord feeds arbitrary bytes to a reader, unprotected and
// protected: it must never panic, and every refusal must carry an alert or be
// the stream's end.
func FuzzReadRecord(f *testing.F) {
	f.Add([]byte{22, 3, 3, 0, 4, 1, 0, 0, 0}, false)
	f.Add([]byte{23, 3, 3, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, true)
	f.Add([]byte{20, 3, 3, 0, 1, 1}, true)
	f.Fuzz(func(t *testing.T, in []byte, protected bool) {
		c := NewConn(bytes.NewReader(in), nil)
		if protected {
			secret := bytes.Repeat([]byte{0x42}, 32)
			c.SetReadCipher(NewCipher(SuiteByID(TLS_AES_128_GCM_SHA256), secret))
		}
		for i := 0; i < 100; i++ {
			typ, content, err := c.ReadRecord()
			if err != nil {
				if _, ok := alert.Of(err); !ok && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("error without an alert: %v", err)
				}
				return
			}
			if len(content) > MaxPlaintext+256 {
				t.Fatalf("%v record of %d octets accepted", typ, len(content))
			}
		}
	})
}

// FuzzOpen decrypts arbitrary records: no panic, and a refusal always names
// its alert.
func FuzzOpen(f *testing.F) {
	w, _ := NewCipher(SuiteByID(TLS_CHACHA20_POLY1305_SHA256), bytes.Repeat([]byte{1}, 32)), 0
	good, _ := w.Seal(nil, TypeHandshake, []byte("seed"), 3, MaxInnerPlaintext)
	f.Add(good)
	f.Add([]byte{23, 3, 3, 0, 0})
	f.Fuzz(func(t *testing.T, rec []byte) {
		r := NewCipher(SuiteByID(TLS_CHACHA20_POLY1305_SHA256), bytes.Repeat([]byte{1}, 32))
		_, content, err := r.Open(rec, MaxInnerPlaintext)
		if err != nil {
			if _, ok := alert.Of(err); !ok {
				t.Fatalf("error without an alert: %v", err)
			}
			return
		}
		if len(content) > MaxPlaintext {
			t.Fatalf("content of %d octets", len(content))
		}
	})
}
