package connserve

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

var errClosed = errors.New("test server closed")

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestServeAndClose: a handler gets each connection; Close closes the
// connection a handler holds and makes Serve return the closed error;
// Wait returns only after the handler has.
func TestServeAndClose(t *testing.T) {
	g := New(errClosed)
	ln := listen(t)
	served := make(chan error, 1)
	entered := make(chan struct{})
	returned := make(chan struct{})
	go func() {
		served <- g.Serve(ln, 4, nil, func(c net.Conn) {
			close(entered)
			// Blocks until the Group closes the connection.
			_, _ = io.Copy(io.Discard, c)
			close(returned)
		})
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-entered
	g.Close()
	g.Wait()
	select {
	case <-returned:
	default:
		t.Fatal("Wait returned before the handler")
	}
	if err := <-served; !errors.Is(err, errClosed) {
		t.Fatalf("Serve after Close = %v, want %v", err, errClosed)
	}
	// The listener is closed too.
	if c2, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c2.Close()
		t.Fatal("listener still accepts after Close")
	}
}

// TestServeAfterClose: Serve on a closed Group closes its listener and
// returns at once.
func TestServeAfterClose(t *testing.T) {
	g := New(errClosed)
	g.Close()
	ln := listen(t)
	if err := g.Serve(ln, 1, nil, func(net.Conn) { t.Error("handler ran") }); !errors.Is(err, errClosed) {
		t.Fatalf("Serve = %v, want %v", err, errClosed)
	}
	if _, err := ln.Accept(); err == nil {
		t.Fatal("listener left open")
	}
}

// TestCap: a connection over the cap is closed at accept, the handler
// never sees it; once a slot is free the next one is served.
func TestCap(t *testing.T) {
	g := New(errClosed)
	defer g.Wait()
	defer g.Close()
	ln := listen(t)
	got := make(chan net.Conn, 4)
	release := make(chan struct{})
	go g.Serve(ln, 1, nil, func(c net.Conn) {
		got <- c
		<-release
	})
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	dial()
	<-got
	over := dial()
	_ = over.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := over.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection over the cap was not closed")
	}
	if len(got) != 0 {
		t.Fatal("handler ran for a connection over the cap")
	}
	close(release)
	// The first handler returns and gives its slot back: a new
	// connection is then served. Until the slot is free, a connection
	// is closed at accept; poll.
	for {
		c := dial()
		closedAt := make(chan struct{})
		go func() {
			_, _ = c.Read(make([]byte, 1))
			close(closedAt)
		}()
		select {
		case <-got:
			return
		case <-closedAt:
		}
	}
}

// TestAcceptError: an accept error that is not temporary ends Serve with
// that error, not with the closed error.
func TestAcceptError(t *testing.T) {
	g := New(errClosed)
	ln := listen(t)
	ln.Close()
	err := g.Serve(ln, 1, nil, func(net.Conn) {})
	if err == nil || errors.Is(err, errClosed) {
		t.Fatalf("Serve on a broken listener = %v, want its accept error", err)
	}
}
