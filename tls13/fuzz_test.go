package tls13

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/record"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// scriptConn is a net.Conn that reads a fixed byte string and swallows
// what is written: a peer that says exactly the fuzzer's bytes.
type scriptConn struct {
	r   *bytes.Reader
	out bytes.Buffer
}

func (c *scriptConn) Read(b []byte) (int, error)         { return c.r.Read(b) }
func (c *scriptConn) Write(b []byte) (int, error)        { return c.out.Write(b) }
func (c *scriptConn) Close() error                       { return nil }
func (c *scriptConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c *scriptConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (c *scriptConn) SetDeadline(t time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(t time.Time) error { return nil }

// checkFuzzOutcome: a handshake fed arbitrary bytes ends (no panic, no
// hang: the input is finite) with an error that is an alert we sent, the
// peer's alert, or the input running out; when we refused, the last record
// written is that alert.
func checkFuzzOutcome(t *testing.T, err error, out []byte) {
	if err == nil {
		t.Fatal("handshake with arbitrary bytes succeeded")
	}
	var rem *RemoteAlertError
	d, ok := alert.Of(err)
	switch {
	case ok:
		// The alert is the last record, in clear (2 octets) or
		// protected (application_data outside).
		var last []byte
		for rest := out; len(rest) >= record.HeaderLen; {
			n := record.HeaderLen + (int(rest[3])<<8 | int(rest[4]))
			if n > len(rest) {
				t.Fatalf("truncated record written")
			}
			last, rest = rest[:n], rest[n:]
		}
		if last == nil || !(last[0] == byte(record.TypeAlert) && len(last) == 7 && last[6] == byte(d) ||
			last[0] == byte(record.TypeApplicationData)) {
			t.Fatalf("refused with %v (%v) but the last record written is % x", d, err, last)
		}
	case errors.As(err, &rem), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
	default:
		t.Fatalf("handshake error %v is neither an alert nor the end of input", err)
	}
}

// FuzzServerHandshake feeds a whole server handshake arbitrary bytes.
func FuzzServerHandshake(f *testing.F) {
	p := testPKI(f)
	h := defaultRawHello()
	f.Add(h.marshalFor(f))
	h.shares = []uint16{}
	f.Add(h.marshalFor(f))
	f.Add([]byte{22, 3, 1, 0, 4, 1, 0, 0, 0})
	// A resumption attempt with a ticket the server cannot open.
	f.Add(pskOffer{suites: []uint16{record.TLS_AES_128_GCM_SHA256}, modes: []uint8{wire.PSKModeDHEKE}, serverName: "server.test",
		ids: []wire.PSKIdentity{{Identity: make([]byte, 64), ObfuscatedTicketAge: 1}}, psks: [][]byte{make([]byte, 32)}}.marshal(f))
	f.Fuzz(func(t *testing.T, in []byte) {
		conn := &scriptConn{r: bytes.NewReader(in)}
		cfg := ourServerConfig(p)
		err := Server(conn, cfg).Handshake()
		checkFuzzOutcome(t, err, conn.out.Bytes())
	})
}

// FuzzClientHandshake feeds a whole client handshake arbitrary bytes as
// the server's.
func FuzzClientHandshake(f *testing.F) {
	p := testPKI(f)
	f.Add([]byte{22, 3, 3, 0, 4, 2, 0, 0, 0})
	f.Add([]byte{21, 3, 3, 0, 2, 2, 40})
	f.Add([]byte{20, 3, 3, 0, 1, 1, 22, 3, 3, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		conn := &scriptConn{r: bytes.NewReader(in)}
		err := Client(conn, &Config{ServerName: "server.test", RootCAs: p.roots}).Handshake()
		checkFuzzOutcome(t, err, conn.out.Bytes())
	})
}
