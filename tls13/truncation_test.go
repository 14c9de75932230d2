package tls13

import (
	"errors"
	"io"
	"testing"
)

// TestTruncationDetected: a stream that ends without close_notify is not a
// clean end (RFC 8446 §6.1): Read reports ErrTruncated (an
// io.ErrUnexpectedEOF), at a record boundary or inside a record, while
// close_notify gives io.EOF.
func TestTruncationDetected(t *testing.T) {
	p := testPKI(t)
	cases := []struct {
		name  string
		close func(c *Conn)
		want  error
	}{
		{"close_notify", func(c *Conn) { c.Close() }, io.EOF},
		{"TCP close at a record boundary", func(c *Conn) { c.conn.Close() }, ErrTruncated},
		{"TCP close inside a record", func(c *Conn) {
			c.conn.Write([]byte{23, 3, 3, 0, 40, 1, 2, 3})
			c.conn.Close()
		}, io.ErrUnexpectedEOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr, res := serveConns(t, ourServerConfig(p), 1, func(c *Conn) ([]byte, error) {
				_, err := c.Write([]byte("bye"))
				tc.close(c)
				return nil, err
			})
			c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots})
			got, err := io.ReadAll(c)
			if string(got) != "bye" {
				t.Fatalf("read %q before the end, want \"bye\"", got)
			}
			if tc.want == io.EOF {
				if err != nil { // io.ReadAll hides io.EOF
					t.Fatalf("after close_notify: %v, want io.EOF", err)
				}
			} else if !errors.Is(err, tc.want) {
				t.Fatalf("after %s: %v, want %v", tc.name, err, tc.want)
			}
			if _, err := c.Read(make([]byte, 1)); (tc.want == io.EOF) != (err == io.EOF) {
				t.Fatalf("second Read: %v", err)
			}
			if r := <-res; r.err != nil {
				t.Fatalf("server: %v", r.err)
			}
		})
	}
}
