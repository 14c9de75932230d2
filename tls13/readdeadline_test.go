package tls13

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestReadDeadlineNotSticky: a Read that meets a read deadline returns the
// timeout and leaves the connection usable, as a net.Conn is expected to
// (net/http's server interrupts its background read this way between the
// requests of a keep-alive connection).
func TestReadDeadlineNotSticky(t *testing.T) {
	p := testPKI(t)
	cli, srv, _, _ := rslPair(t, &Config{ServerName: "server.test", RootCAs: p.roots}, ourServerConfig(p))
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	if err := cli.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	srv.SetReadDeadline(time.Now().Add(-time.Second))
	var ne net.Error
	if _, err := srv.Read(buf); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read past the deadline: %v, want a timeout", err)
	}
	srv.SetReadDeadline(time.Now().Add(time.Minute))
	const msg = "after the deadline"
	if _, err := io.WriteString(cli, msg); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(srv, buf[:len(msg)]); err != nil || string(buf[:len(msg)]) != msg {
		t.Fatalf("Read after the deadline was lifted: %q, %v", buf[:len(msg)], err)
	}
}
