package proxy_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/proxy"
)

// dialHTTP1 opens an authenticated HTTP/1.1 connection to the proxy.
func dialHTTP1(t *testing.T, w *world, addr string) *tls.Conn {
	t.Helper()
	conf := w.clientTLS(w.clients[ecdsaClient])
	conf.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestSlowBodyAndSlowReader: an authenticated client that announces a body
// and stops sending it, or that never reads its response, is cut after
// BodyTimeout or SendTimeout, and so is the backend request it held; a
// body that keeps coming passes however long it takes; a body over
// MaxBodyBytes gets 413.
func TestSlowBodyAndSlowReader(t *testing.T) {
	w := newWorld(t)
	// The backend's failures, by path: the sign that the proxy let go of
	// the request it forwarded.
	uploadErr, downloadErr := make(chan error, 4), make(chan error, 4)
	backend := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/upload":
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				uploadErr <- err
				return
			}
			fmt.Fprintf(rw, "%d", n)
		case "/download":
			chunk := make([]byte, 64<<10)
			for {
				if _, err := rw.Write(chunk); err != nil {
					downloadErr <- err
					return
				}
			}
		}
	}))
	defer backend.Close()
	const d = 500 * time.Millisecond
	addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModeHTTP, Backend: backend.URL, BodyTimeout: d, SendTimeout: d, MaxBodyBytes: 64 << 10})

	t.Run("body never comes", func(t *testing.T) {
		conn := dialHTTP1(t, w, addr)
		io.WriteString(conn, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789")
		waitClosed(t, conn)
		select {
		case <-uploadErr:
		case <-time.After(20 * time.Second):
			t.Fatal("the backend still waits for the body")
		}
	})
	t.Run("body never comes over HTTP/2", func(t *testing.T) {
		tr := &http.Transport{TLSClientConfig: w.clientTLS(w.clients[ecdsaClient]), ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		pr, pw := io.Pipe()
		defer pw.Close()
		go io.WriteString(pw, "0123456789") // then nothing
		req, _ := http.NewRequest("POST", "https://"+addr+"/upload", pr)
		req.ContentLength = 100
		done := make(chan error, 1)
		go func() {
			resp, err := tr.RoundTrip(req)
			if err == nil {
				if resp.ProtoMajor != 2 {
					err = fmt.Errorf("spoke %s", resp.Proto)
				}
				_, err2 := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil {
					err = err2
				}
			}
			done <- err
		}()
		select {
		case <-uploadErr:
		case <-time.After(20 * time.Second):
			t.Fatal("the backend still waits for the body")
		}
		select {
		case err := <-done:
			t.Logf("client: %v", err)
		case <-time.After(20 * time.Second):
			t.Fatal("the client's stream is still open")
		}
	})
	t.Run("response never read", func(t *testing.T) {
		conn := dialHTTP1(t, w, addr)
		io.WriteString(conn, "GET /download HTTP/1.1\r\nHost: a\r\n\r\n")
		select {
		case <-downloadErr:
		case <-time.After(20 * time.Second):
			t.Fatal("the backend still writes for a client that reads nothing")
		}
	})
	t.Run("body that keeps coming", func(t *testing.T) {
		conn := dialHTTP1(t, w, addr)
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(conn, "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
		// Three times BodyTimeout in all, a part every 50 ms.
		n := 0
		for end := time.Now().Add(3 * d); time.Now().Before(end); n += 10 {
			fmt.Fprintf(conn, "a\r\n0123456789\r\n")
			time.Sleep(50 * time.Millisecond)
		}
		io.WriteString(conn, "0\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != fmt.Sprint(n) {
			t.Fatalf("got %d %q, want 200 %d", resp.StatusCode, b, n)
		}
	})
	t.Run("body over the limit", func(t *testing.T) {
		cl := &http.Client{Transport: &http.Transport{TLSClientConfig: w.clientTLS(w.clients[ecdsaClient])}, Timeout: 30 * time.Second}
		resp, err := cl.Post("https://"+addr+"/upload", "text/plain", strings.NewReader(strings.Repeat("a", 64<<10+1)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("got %d, want 413", resp.StatusCode)
		}
	})
}
