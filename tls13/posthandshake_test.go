package tls13

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/record"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// TestPostHandshakeRefusals: after the handshake, our client sends the
// server records it must refuse (RFC 8446 §4.6, §5, §5.1); the server
// answers with the alert, which the client then reads.
func TestPostHandshakeRefusals(t *testing.T) {
	p := testPKI(t)
	type rec struct {
		typ  record.ContentType
		data []byte
	}
	keyUpdate := (&wire.KeyUpdate{}).Marshal()
	cases := map[string]struct {
		records []rec
		want    alert.Description
	}{
		"change_cipher_spec": {[]rec{{record.TypeChangeCipherSpec, []byte{1}}}, alert.UnexpectedMessage},
		"Finished again":     {[]rec{{record.TypeHandshake, (&wire.Finished{VerifyData: make([]byte, 32)}).Marshal()}}, alert.UnexpectedMessage},
		"NewSessionTicket from a client": {[]rec{{record.TypeHandshake, (&wire.NewSessionTicket{Ticket: []byte{1}}).Marshal()}},
			alert.UnexpectedMessage},
		"KeyUpdate request 2":           {[]rec{{record.TypeHandshake, []byte{byte(wire.TypeKeyUpdate), 0, 0, 1, 2}}}, alert.IllegalParameter},
		"KeyUpdate split around data":   {[]rec{{record.TypeHandshake, keyUpdate[:2]}, {record.TypeApplicationData, []byte("x")}}, alert.UnexpectedMessage},
		"KeyUpdate then more in record": {[]rec{{record.TypeHandshake, append(append([]byte{}, keyUpdate...), keyUpdate[:2]...)}}, alert.UnexpectedMessage},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			addr, res := startOurServer(t, ourServerConfig(p))
			c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots})
			if err := c.HandshakeContext(context.Background()); err != nil {
				t.Fatal(err)
			}
			c.outMu.Lock()
			for _, r := range tc.records {
				if err := c.rc.WriteRecord(r.typ, r.data); err != nil {
					t.Fatal(err)
				}
			}
			c.outMu.Unlock()
			r := <-res
			if d, ok := alert.Of(r.err); !ok || d != tc.want {
				t.Fatalf("server error %v, want alert %v", r.err, tc.want)
			}
			_, err := c.Read(make([]byte, 1))
			var rem *RemoteAlertError
			if !errors.As(err, &rem) || alert.Description(rem.Alert) != tc.want {
				t.Fatalf("client read %v, want the server's %v", err, tc.want)
			}
		})
	}
}

// TestConcurrentBulk writes a megabyte while reading its echo in another
// goroutine, with KeyUpdates in between: records split and reassembled,
// Read and Write concurrent (run with -race).
func TestConcurrentBulk(t *testing.T) {
	p := testPKI(t)
	addr, res := startOurServer(t, ourServerConfig(p))
	c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots})
	data := make([]byte, 1<<20)
	rand.Read(data)
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, len(data))
		n, _ := io.ReadFull(c, b)
		got <- b[:n]
	}()
	for i := 0; i < len(data); i += 100000 {
		if _, err := c.Write(data[i:min(i+100000, len(data))]); err != nil {
			t.Fatal(err)
		}
		if err := c.UpdateKeys(i%200000 == 0); err != nil {
			t.Fatal(err)
		}
	}
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatalf("echo of %d octets differs", len(b))
	}
	c.Close()
	if r := <-res; r.err != nil {
		t.Fatal(r.err)
	}
}

// TestClientPostHandshakeRefusals: our server, once established, sends the
// client post-handshake messages it must refuse (RFC 8446 §4.6); the
// client's Read fails with the alert, which the server then reads.
func TestClientPostHandshakeRefusals(t *testing.T) {
	p := testPKI(t)
	cases := map[string]struct {
		msg  []byte
		want alert.Description
	}{
		"ticket lifetime over 7 days": {(&wire.NewSessionTicket{Lifetime: wire.MaxTicketLifetime + 1, Ticket: []byte{1}}).Marshal(), alert.IllegalParameter},
		"KeyUpdate request 2":         {[]byte{byte(wire.TypeKeyUpdate), 0, 0, 1, 2}, alert.IllegalParameter},
		"post-handshake CertificateRequest": {(&wire.CertificateRequest{Context: []byte{1},
			Extensions: []wire.Extension{wire.NewSignatureAlgorithmsExtension([]uint16{wire.SigEd25519}, false)}}).Marshal(), alert.UnexpectedMessage},
		"ServerHello": {(&wire.ServerHello{Extensions: []wire.Extension{}}).Marshal(), alert.UnexpectedMessage},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			srvErr := make(chan error, 1)
			go func() {
				raw, err := ln.Accept()
				if err != nil {
					srvErr <- err
					return
				}
				raw.SetDeadline(time.Now().Add(time.Minute))
				s := Server(raw, ourServerConfig(p))
				defer s.Close()
				if err := s.Handshake(); err != nil {
					srvErr <- err
					return
				}
				s.outMu.Lock()
				err = s.rc.WriteRecord(record.TypeHandshake, tc.msg)
				s.outMu.Unlock()
				if err != nil {
					srvErr <- err
					return
				}
				_, err = s.Read(make([]byte, 1))
				srvErr <- err
			}()
			c := dial(t, ln.Addr().String(), &Config{ServerName: "server.test", RootCAs: p.roots})
			_, err = c.Read(make([]byte, 1))
			if d, ok := alert.Of(err); !ok || d != tc.want {
				t.Fatalf("client read %v, want alert %v", err, tc.want)
			}
			var rem *RemoteAlertError
			if err := <-srvErr; !errors.As(err, &rem) || alert.Description(rem.Alert) != tc.want {
				t.Fatalf("server read %v, want the client's %v", err, tc.want)
			}
			if _, err := c.Write([]byte("x")); err == nil {
				t.Fatal("Write after a fatal alert succeeded")
			}
		})
	}
}
