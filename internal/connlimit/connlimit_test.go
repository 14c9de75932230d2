package connlimit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// safeBuf is a log buffer the listener's goroutine and the test share.
type safeBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// acceptAll accepts on l until it fails, handing each connection out.
func acceptAll(l net.Listener) <-chan net.Conn {
	ch := make(chan net.Conn, 64)
	go func() {
		defer close(ch)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			ch <- c
		}
	}()
	return ch
}

// closedByPeer reports whether the server closed c: a read gets EOF or a
// reset within a generous deadline.
func closedByPeer(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

func TestCapClosesOverflowAndFreesSlots(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logBuf safeBuf
	l := New(ln, 2, slog.New(slog.NewTextHandler(&logBuf, nil)))
	clock := time.Unix(1000, 0)
	var clockMu sync.Mutex
	l.now = func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	defer l.Close()
	accepted := acceptAll(l)
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	dial()
	dial()
	srvA, srvB := <-accepted, <-accepted
	if l.Open() != 2 {
		t.Fatalf("open %d, want 2", l.Open())
	}
	// Five more: each is closed by the server, none is handed out.
	for i := 0; i < 5; i++ {
		if c := dial(); !closedByPeer(t, c) {
			t.Fatalf("connection %d over the cap was not closed", i+3)
		}
	}
	if got := l.Refused(); got != 5 {
		t.Fatalf("refused %d, want 5", got)
	}
	select {
	case c := <-accepted:
		t.Fatalf("connection over the cap handed out: %v", c.RemoteAddr())
	default:
	}
	// One line for the five (the clock stood still), with the count of
	// the first; the interval passed, the next refusal logs the rest.
	if n := strings.Count(logBuf.String(), "connection cap reached"); n != 1 {
		t.Fatalf("%d log lines for 5 refusals in one interval, want 1:\n%s", n, logBuf.String())
	}
	clockMu.Lock()
	clock = clock.Add(LogInterval)
	clockMu.Unlock()
	if c := dial(); !closedByPeer(t, c) {
		t.Fatal("connection over the cap was not closed")
	}
	lines := strings.Split(strings.TrimSpace(logBuf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "refused=1") || !strings.Contains(lines[1], "refused=5") {
		t.Fatalf("want a line with refused=1 then one with refused=5 (the held four and this one):\n%s", logBuf.String())
	}
	// Closing one (twice: the slot comes back once) lets one more in.
	srvA.Close()
	srvA.Close()
	c := dial()
	srvC := <-accepted
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	srvC.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(srvC, buf); err != nil {
		t.Fatalf("connection under the cap after a close: %v", err)
	}
	if l.Open() != 2 {
		t.Fatalf("open %d, want 2 (a double close must not free two slots)", l.Open())
	}
	if d := dial(); !closedByPeer(t, d) {
		t.Fatal("connection over the cap was not closed after a slot was reused")
	}
	srvB.Close()
	srvC.Close()
}

// TestTLSConnKeepsConnectionState: a handler finds the TLS state of a
// capped connection by interface, as miekg/dns does for XoT's version check.
func TestTLSConnKeepsConnectionState(t *testing.T) {
	cert := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	l := New(ln, 1, nil)
	defer l.Close()
	accepted := acceptAll(l)
	go func() {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			c.Write([]byte("x"))
			time.Sleep(100 * time.Millisecond)
			c.Close()
		}
	}()
	c := <-accepted
	defer c.Close()
	cs, ok := c.(interface {
		ConnectionState() tls.ConnectionState
		Handshake() error
	})
	if !ok {
		t.Fatalf("%T lost ConnectionState", c)
	}
	if err := cs.Handshake(); err != nil {
		t.Fatal(err)
	}
	if v := cs.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Fatalf("version %x, want TLS 1.3", v)
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// stater is a connection of another TLS engine that reports its state as
// crypto/tls does.
type stater struct {
	net.Conn
	version uint16
}

func (s stater) ConnectionState() tls.ConnectionState {
	return tls.ConnectionState{Version: s.version}
}

// staterListener wraps each accepted connection in a stater.
type staterListener struct{ net.Listener }

func (l staterListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return stater{Conn: c, version: tls.VersionTLS13}, nil
}

// TestStateConnKeepsConnectionState: a capped connection of another TLS
// engine (package tls13 behind the XoT listener) keeps its ConnectionState
// too, and still gives its slot back when closed.
func TestStateConnKeepsConnectionState(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(staterListener{ln}, 1, nil)
	defer l.Close()
	accepted := acceptAll(l)
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := <-accepted
	cs, ok := c.(interface{ ConnectionState() tls.ConnectionState })
	if !ok {
		t.Fatalf("%T lost ConnectionState", c)
	}
	if v := cs.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Fatalf("version %x, want TLS 1.3", v)
	}
	if l.Open() != 1 {
		t.Fatalf("%d open, want 1", l.Open())
	}
	c.Close()
	if l.Open() != 0 {
		t.Fatalf("%d open after close, want 0", l.Open())
	}
}
