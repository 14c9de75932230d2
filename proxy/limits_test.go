package proxy_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/proxy"
	"github.com/dnsbound/dance/proxy/proxyproto"
)

// echoTCP is a backend that reads the PROXY header and then echoes lines,
// prefixed with the TLV 0xE0 it read.
func echoTCP(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				h, err := proxyproto.Read(br)
				if err != nil {
					return
				}
				name, _ := h.TLV(0xE0)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					fmt.Fprintf(c, "%s: %s", name, line)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(conn net.Conn, br *bufio.Reader, msg string) (string, error) {
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := fmt.Fprintf(conn, "%s\n", msg); err != nil {
		return "", err
	}
	return br.ReadString('\n')
}

// waitClosed reads from c until the peer closes it; it fails the test if
// that takes more than 20 seconds.
func waitClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the proxy did not close the connection within 20s")
	}
}

func TestHandshakeTimeout(t *testing.T) {
	w := newWorld(t)
	addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModeTCP, Backend: echoTCP(t), HandshakeTimeout: 200 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Say nothing: the proxy gives up after HandshakeTimeout.
	waitClosed(t, c)
}

func TestIdleTimeoutTCP(t *testing.T) {
	w := newWorld(t)
	addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModeTCP, Backend: echoTCP(t), IdleTimeout: 300 * time.Millisecond})
	conn, err := tls.Dial("tcp", addr, w.clientTLS(w.clients[ecdsaClient]))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	if line, err := roundTrip(conn, br, "hi"); err != nil || line != "ecdsa._device.example.test: hi\n" {
		t.Fatalf("echo %q, %v", line, err)
	}
	waitClosed(t, conn)
}

func TestMaxConns(t *testing.T) {
	w := newWorld(t)
	addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModeTCP, Backend: echoTCP(t), MaxConns: 1, HandshakeTimeout: time.Minute})
	hog, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		conn, err := tls.Dial("tcp", addr, w.clientTLS(w.clients[ecdsaClient]))
		if err == nil {
			conn.Close()
		}
		done <- err
	}()
	// While the only slot is taken, the second client is not served: its
	// handshake cannot complete however long we wait here.
	select {
	case err := <-done:
		t.Fatalf("second connection served beyond MaxConns=1 (err %v)", err)
	case <-time.After(500 * time.Millisecond):
	}
	hog.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("second connection after the slot was freed: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("second connection not served 20s after the slot was freed")
	}
}

func TestShutdownDrainsTCP(t *testing.T) {
	w := newWorld(t)
	s, err := proxy.New(proxy.Config{Mode: proxy.ModeTCP, Backend: echoTCP(t), Verifier: w.core,
		TLS: &tls.Config{Certificates: []tls.Certificate{w.srvCert}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	conn, err := tls.Dial("tcp", ln.Addr().String(), w.clientTLS(w.clients[rsaClient]))
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	if _, err := roundTrip(conn, br, "before"); err != nil {
		t.Fatal(err)
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	if err := <-served; !errors.Is(err, proxy.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	// No new connections...
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second); err == nil {
		c.Close()
		t.Fatal("the listener still accepts after Shutdown")
	}
	// ...but the established one keeps working while draining.
	if line, err := roundTrip(conn, br, "during"); err != nil || line != "rsa._device.example.test: during\n" {
		t.Fatalf("during shutdown: %q, %v", line, err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a connection open", err)
	default:
	}
	conn.Close()
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Shutdown did not return after the last connection closed")
	}
}

func TestShutdownDeadlineCuts(t *testing.T) {
	w := newWorld(t)
	s, err := proxy.New(proxy.Config{Mode: proxy.ModeTCP, Backend: echoTCP(t), Verifier: w.core,
		TLS: &tls.Config{Certificates: []tls.Certificate{w.srvCert}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go s.Serve(ln)
	conn, err := tls.Dial("tcp", ln.Addr().String(), w.clientTLS(w.clients[ecdsaClient]))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	if _, err := roundTrip(conn, br, "x"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the deadline", err)
	}
	waitClosed(t, conn)
}

func TestBackendDown(t *testing.T) {
	w := newWorld(t)
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModeHTTP, Backend: "http://" + deadAddr})
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: w.clientTLS(w.clients[ecdsaClient])}, Timeout: 30 * time.Second}
	resp, err := cl.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadGateway || strings.Contains(string(body), deadAddr) {
		t.Fatalf("got %d %q, want a bare 502", resp.StatusCode, body)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	w := newWorld(t)
	tc := &tls.Config{Certificates: []tls.Certificate{w.srvCert}}
	tests := []struct {
		name string
		cfg  proxy.Config
		want string
	}{
		{"no TLS", proxy.Config{Mode: proxy.ModeHTTP, Backend: "http://a", Verifier: w.core}, "certificate"},
		{"GetConfigForClient", proxy.Config{Mode: proxy.ModeHTTP, Backend: "http://a", Verifier: w.core, TLS: &tls.Config{
			Certificates: tc.Certificates, GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return nil, nil }}}, "GetConfigForClient"},
		{"no verifier", proxy.Config{Mode: proxy.ModeTCP, Backend: "a:1", TLS: tc}, "Verifier"},
		{"no mode", proxy.Config{Backend: "a:1", TLS: tc, Verifier: w.core}, "unknown mode"},
		{"tcp backend is a URL", proxy.Config{Mode: proxy.ModeTCP, Backend: "http://a", TLS: tc, Verifier: w.core}, "host:port"},
		{"http backend without scheme", proxy.Config{Mode: proxy.ModeHTTP, Backend: "a:80", TLS: tc, Verifier: w.core}, "URL"},
		{"TLV outside the custom range", proxy.Config{Mode: proxy.ModeTCP, Backend: "a:1", TLS: tc, Verifier: w.core, TLVType: 0x20}, "custom range"},
		{"header name with a space", proxy.Config{Mode: proxy.ModeHTTP, Backend: "http://a", TLS: tc, Verifier: w.core, NameHeader: "X Name"}, "field names"},
		{"name and kind fold to one field", proxy.Config{Mode: proxy.ModeHTTP, Backend: "http://a", TLS: tc, Verifier: w.core, NameHeader: "X_Who", KindHeader: "x-WHO"}, "same field"},
		{"name folds to Client-Cert", proxy.Config{Mode: proxy.ModePassthrough, Backend: "http://a", TLS: tc, NameHeader: "client_cert"}, "same field"},
		{"kind folds to Client-Cert-Chain", proxy.Config{Mode: proxy.ModeHTTP, Backend: "http://a", TLS: tc, Verifier: w.core, KindHeader: "Client_Cert-CHAIN"}, "same field"},
		{"name folds to X-Forwarded-For", proxy.Config{Mode: proxy.ModeHTTP, Backend: "http://a", TLS: tc, Verifier: w.core, NameHeader: "x_forwarded_for"}, "the proxy or HTTP itself sets"},
		{"kind is Connection", proxy.Config{Mode: proxy.ModeHTTP, Backend: "http://a", TLS: tc, Verifier: w.core, KindHeader: "CONNECTION"}, "the proxy or HTTP itself sets"},
		{"name is Host", proxy.Config{Mode: proxy.ModePassthrough, Backend: "http://a", TLS: tc, NameHeader: "host"}, "the proxy or HTTP itself sets"},
		{"kind is the default name", proxy.Config{Mode: proxy.ModeHTTP, Backend: "http://a", TLS: tc, Verifier: w.core, KindHeader: "dance_client_name"}, "same field"},
		{"negative timeout", proxy.Config{Mode: proxy.ModeHTTP, Backend: "http://a", TLS: tc, Verifier: w.core, IdleTimeout: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := proxy.New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	for _, m := range []string{"http", "tcp", "passthrough"} {
		if got, err := proxy.ParseMode(m); err != nil || got.String() != m {
			t.Errorf("ParseMode(%q) = %v, %v", m, got, err)
		}
	}
	if _, err := proxy.ParseMode("socks"); err == nil {
		t.Error("ParseMode(socks) accepted")
	}
}

// TestHeaderTimeoutHTTP: a client that completes the handshake and then
// dribbles a request header is cut off after HeaderTimeout.
func TestHeaderTimeoutHTTP(t *testing.T) {
	w := newWorld(t)
	backend, hits := echoBackend(t)
	addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModeHTTP, Backend: backend.URL, HeaderTimeout: 300 * time.Millisecond})
	conf := w.clientTLS(w.clients[ecdsaClient])
	conf.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: a\r\n")
	waitClosed(t, conn)
	if hits.Load() != 0 {
		t.Fatal("an incomplete request reached the backend")
	}
}

// TestBackendTimeout: a backend that does not answer within BackendTimeout
// gets the client a bare 504.
func TestBackendTimeout(t *testing.T) {
	w := newWorld(t)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModeHTTP, Backend: slow.URL, BackendTimeout: 200 * time.Millisecond})
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: w.clientTLS(w.clients[ecdsaClient])}, Timeout: 30 * time.Second}
	resp, err := cl.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusGatewayTimeout || strings.Contains(string(body), "timeout awaiting") {
		t.Fatalf("got %d %q, want a bare 504", resp.StatusCode, body)
	}
}

// TestSlowClientsDoNotBlock: connections that never finish their handshake
// hold only their own goroutine: a real client is served meanwhile, and
// they are closed at HandshakeTimeout.
func TestSlowClientsDoNotBlock(t *testing.T) {
	w := newWorld(t)
	addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModeTCP, Backend: echoTCP(t), HandshakeTimeout: 10 * time.Second})
	var hogs []net.Conn
	for range 20 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "\x16\x03\x01") // the start of a ClientHello, and nothing more
		hogs = append(hogs, c)
	}
	conn, err := tls.Dial("tcp", addr, w.clientTLS(w.clients[ecdsaClient]))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if line, err := roundTrip(conn, bufio.NewReader(conn), "served"); err != nil || line != "ecdsa._device.example.test: served\n" {
		t.Fatalf("real client while 20 handshakes hang: %q, %v", line, err)
	}
	// The hogs are still waiting: the real client did not wait for them to
	// time out.
	for _, c := range hogs {
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		var ne net.Error
		if _, err := c.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("a hanging handshake ended before the real client was served: %v", err)
		}
	}
	for _, c := range hogs {
		waitClosed(t, c)
	}
}

// upgradeBackend switches to an echo protocol on "Upgrade: echo", as a
// WebSocket server would.
func upgradeBackend(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(rw, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		c, brw, err := http.NewResponseController(rw).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			brw.WriteString("echo " + line)
			brw.Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func upgrade(t *testing.T, w *world, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conf := w.clientTLS(w.clients[ecdsaClient])
	conf.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v, %v", resp, err)
	}
	if line, err := roundTrip(conn, br, "hi"); err != nil || line != "echo hi\n" {
		t.Fatalf("upgraded: %q, %v", line, err)
	}
	return conn, br
}

// TestShutdownDrainsUpgraded: connections upgraded through the http mode
// (WebSocket and the like), which net/http no longer tracks, are drained
// at Shutdown and cut at its deadline.
func TestShutdownDrainsUpgraded(t *testing.T) {
	w := newWorld(t)
	backend := upgradeBackend(t)
	t.Run("drained", func(t *testing.T) {
		addr, s := startProxy(t, w, proxy.Config{Mode: proxy.ModeHTTP, Backend: backend})
		conn, br := upgrade(t, w, addr)
		shut := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			shut <- s.Shutdown(ctx)
		}()
		// Still served while the server shuts down...
		for i := range 3 {
			if line, err := roundTrip(conn, br, fmt.Sprint(i)); err != nil || line != fmt.Sprintf("echo %d\n", i) {
				t.Fatalf("during shutdown: %q, %v", line, err)
			}
		}
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned %v with an upgraded connection open", err)
		default:
		}
		// ...until the client leaves.
		conn.Close()
		select {
		case err := <-shut:
			if err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Shutdown did not return after the upgraded connection closed")
		}
	})
	t.Run("cut at the deadline", func(t *testing.T) {
		addr, s := startProxy(t, w, proxy.Config{Mode: proxy.ModeHTTP, Backend: backend})
		conn, _ := upgrade(t, w, addr)
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: %v, want the deadline", err)
		}
		waitClosed(t, conn)
	})
}
