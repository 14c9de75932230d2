package tls13

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/record"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// recordWatch is a net.Conn that parses the records written through it
// and keeps the largest application_data (protected) record body.
type recordWatch struct {
	net.Conn
	mu      sync.Mutex
	pending []byte
	largest int
}

func (w *recordWatch) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.pending = append(w.pending, b...)
	for len(w.pending) >= record.HeaderLen {
		n := int(w.pending[3])<<8 | int(w.pending[4])
		if len(w.pending) < record.HeaderLen+n {
			break
		}
		if record.ContentType(w.pending[0]) == record.TypeApplicationData {
			w.largest = max(w.largest, n)
		}
		w.pending = w.pending[record.HeaderLen+n:]
	}
	w.mu.Unlock()
	return w.Conn.Write(b)
}

func (w *recordWatch) max() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.largest
}

// aeadTag is the expansion of every AEAD in scope (16-octet tag).
const aeadTag = 16

// rslPair connects our client and server over TCP on 127.0.0.1, each
// writing through a recordWatch.
func rslPair(t *testing.T, ccfg, scfg *Config) (cli, srv *Conn, cw, sw *recordWatch) {
	t.Helper()
	raw, sraw := tcpPair(t)
	cw, sw = &recordWatch{Conn: raw}, &recordWatch{Conn: sraw}
	return Client(cw, ccfg), Server(sw, scfg), cw, sw
}

// echoThrough sends n random octets from cli to srv, which echoes them
// back, and checks what comes back.
func echoThrough(t *testing.T, cli, srv *Conn, n int) {
	t.Helper()
	payload := make([]byte, n)
	rand.Read(payload)
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, len(payload))
		if _, err := io.ReadFull(srv, buf); err != nil {
			errc <- err
			return
		}
		_, err := srv.Write(buf)
		errc <- err
	}()
	if _, err := cli.Write(payload); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(cli, got); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("echo: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestRecordSizeLimit: each side keeps its protected records within the
// other's record_size_limit (RFC 8449 §4), the server from its
// EncryptedExtensions on, the client from its Finished on.
func TestRecordSizeLimit(t *testing.T) {
	p := testPKI(t)
	cases := map[string]struct{ cli, srv, wantCli, wantSrv int }{
		"both small":   {cli: 256, srv: 512, wantCli: 512, wantSrv: 256},
		"client only":  {cli: 64, wantCli: record.MaxInnerPlaintext, wantSrv: 64},
		"server only":  {srv: 1000, wantCli: 1000, wantSrv: record.MaxInnerPlaintext},
		"none smaller": {wantCli: record.MaxInnerPlaintext, wantSrv: record.MaxInnerPlaintext},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			scfg := ourServerConfig(p)
			scfg.RecordSizeLimit = tc.srv
			cli, srv, cw, sw := rslPair(t, &Config{ServerName: "server.test", RootCAs: p.roots, RecordSizeLimit: tc.cli}, scfg)
			echoThrough(t, cli, srv, 40000)
			if got := cw.max(); got != tc.wantCli+aeadTag {
				t.Errorf("client's largest protected record %d, want %d", got, tc.wantCli+aeadTag)
			}
			if got := sw.max(); got != tc.wantSrv+aeadTag {
				t.Errorf("server's largest protected record %d, want %d", got, tc.wantSrv+aeadTag)
			}
		})
	}
}

// TestRecordSizeLimitEnforced: a server that negotiated the client's limit
// and then sends a larger record is refused with record_overflow.
func TestRecordSizeLimitEnforced(t *testing.T) {
	p := testPKI(t)
	cli, srv, _, _ := rslPair(t, &Config{ServerName: "server.test", RootCAs: p.roots, RecordSizeLimit: 128}, ourServerConfig(p))
	errc := make(chan error, 1)
	go func() {
		if err := srv.Handshake(); err != nil {
			errc <- err
			return
		}
		srv.outMu.Lock()
		srv.rc.SetWriteLimit(record.MaxInnerPlaintext) // ignores the client's limit
		srv.outMu.Unlock()
		_, err := srv.Write(make([]byte, 200))
		errc <- err
	}()
	_, err := cli.Read(make([]byte, 1))
	if d, ok := alert.Of(err); !ok || d != alert.RecordOverflow {
		t.Fatalf("client read error %v, want record_overflow", err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	var remote *RemoteAlertError
	if _, err := srv.Read(make([]byte, 1)); !errors.As(err, &remote) || alert.Description(remote.Alert) != alert.RecordOverflow {
		t.Fatalf("server read %v, want the client's record_overflow", err)
	}
}

// TestRecordSizeLimitConfig: a limit outside 64..16385 stops the handshake
// before anything is sent; a client's limit below 64 is refused with
// illegal_parameter (RFC 8449 §4).
func TestRecordSizeLimitConfig(t *testing.T) {
	p := testPKI(t)
	for _, v := range []int{1, 63, 16386} {
		a, b := net.Pipe()
		err := Client(a, &Config{ServerName: "server.test", RecordSizeLimit: v}).HandshakeContext(context.Background())
		a.Close()
		b.Close()
		if err == nil {
			t.Errorf("RecordSizeLimit %d accepted", v)
		}
	}
	addr, res := startOurServer(t, ourServerConfig(p))
	c := dialRaw(t, addr)
	h := defaultRawHello()
	h.extra = []wire.Extension{{Type: wire.ExtRecordSizeLimit, Data: []byte{0, 63}}}
	if _, err := c.Write(h.marshal(t)); err != nil {
		t.Fatal(err)
	}
	if got, _ := readAlert(t, c); got != alert.IllegalParameter {
		t.Fatalf("alert %v, want illegal_parameter", got)
	}
	<-res
}

// TestRecordSizeLimitCryptoTLS: crypto/tls does not implement RFC 8449; our
// client's limit then binds nothing, and full-size records are read.
func TestRecordSizeLimitCryptoTLS(t *testing.T) {
	p := testPKI(t)
	addr, res := startServer(t, serverConfig(p))
	c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots, RecordSizeLimit: 64})
	echo(t, c, string(make([]byte, 20000)))
	if r := <-res; r.err != nil {
		t.Fatal(r.err)
	}
}
