package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/httplimit"
	"github.com/dnsbound/dance/internal/testwait"
)

// holdGenerous is how long these tests wait for a server to cut a client:
// far beyond the short limits they set, so a slow machine does not fail
// them; a server without limits fails them.
const holdGenerous = 30 * time.Second

// withHTTPLimits sets the commands' HTTP limits for one test.
func withHTTPLimits(t *testing.T, l httplimit.Limits) {
	t.Helper()
	old := httpLimits
	httpLimits = l
	t.Cleanup(func() { httpLimits = old })
}

// readUntilClosed reads c until the server closes it and returns what
// came; it fails the test if the server holds it for holdGenerous.
func readUntilClosed(t *testing.T, what string, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(holdGenerous))
	var got bytes.Buffer
	_, err := io.Copy(&got, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the server held the connection for %s (got %q)", what, holdGenerous, got.String()[:min(got.Len(), 120)])
	}
	return got.String()
}

func dialHold(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// checkHTTPHolds runs the attacks that hold an HTTP server's connections
// without using them against the server start starts (under httpLimits)
// at host:port, with path a path it answers (any status): a body that
// never comes, an idle keep-alive after an answer, and more connections
// than the cap.
func checkHTTPHolds(t *testing.T, path string, start func(t *testing.T) string) {
	short := httplimit.Limits{HeaderTimeout: 500 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: time.Second,
		IdleTimeout: 500 * time.Millisecond}
	t.Run("body never comes", func(t *testing.T) {
		withHTTPLimits(t, short)
		addr := start(t)
		c := dialHold(t, addr)
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"rec", path)
		readUntilClosed(t, "body never comes", c)
	})
	t.Run("idle keep-alive after an answer", func(t *testing.T) {
		withHTTPLimits(t, short)
		addr := start(t)
		c := dialHold(t, addr)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
		br := bufio.NewReader(c)
		c.SetReadDeadline(time.Now().Add(holdGenerous))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Close {
			t.Fatalf("HTTP %d closed the connection at once; want it kept alive, then cut", resp.StatusCode)
		}
		t.Logf("answer: HTTP %d", resp.StatusCode)
		if _, err := br.ReadByte(); err == nil {
			t.Fatal("more data after the answer")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the server held an idle keep-alive for %s", holdGenerous)
		}
	})
	t.Run("more connections than the cap", func(t *testing.T) {
		l := short
		l.HeaderTimeout, l.ReadTimeout, l.IdleTimeout, l.MaxConns = holdGenerous, holdGenerous, holdGenerous, 2
		withHTTPLimits(t, l)
		addr := start(t)
		// Two keep-alive connections, each answered once: both accepted
		// and held.
		for i := 0; i < 2; i++ {
			c := dialHold(t, addr)
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
			c.SetReadDeadline(time.Now().Add(holdGenerous))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			resp.Body.Close()
		}
		c := dialHold(t, addr)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
		if got := readUntilClosed(t, "third connection", c); got != "" {
			t.Fatalf("the connection over the cap was answered: %q", got)
		}
	})
}

// TestZoneAdminAPIHolds: the zone's admin API (and its /metrics) cuts
// clients that hold connections: a body that never comes, an idle
// keep-alive after a 401, more connections than the cap.
func TestZoneAdminAPIHolds(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "z")
	if code := run(context.Background(), []string{"zone", "init", "--zone", "devices.test", "--dir", dir}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("init failed")
	}
	checkHTTPHolds(t, "/v1/identities/s1._device.devices.test", func(t *testing.T) string {
		_, api, _, _ := adminServe(t, dir)
		return strings.TrimPrefix(api, "http://")
	})
}

// TestProxyMetricsHolds: the same for the proxy's --metrics server.
func TestProxyMetricsHolds(t *testing.T) {
	f := newProxyFixture(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	checkHTTPHolds(t, "/metrics", func(t *testing.T) string {
		ctx, cancel := context.WithCancel(context.Background())
		var out, errb syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"proxy", "--listen", "127.0.0.1:0", "--backend", backend.URL, "--cert", f.srvCert, "--key", f.srvKey,
				"--allow", "*._device.example.test", "--resolver", f.resolver, "--anchors", f.anchors, "--metrics", "127.0.0.1:0"}, nil, &out, &errb)
		}()
		t.Cleanup(func() { cancel(); <-done })
		re := regexp.MustCompile(`metrics on http://(127\.0\.0\.1:\d+)/metrics`)
		var m []string
		testwait.Eventually(t, 30*time.Second, func() error {
			if m = re.FindStringSubmatch(out.String()); m == nil {
				return fmt.Errorf("no metrics address reported: %s %s", out.String(), errb.String())
			}
			return nil
		})
		return m[1]
	})
}
