package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
)

// TestProxyLogLines counts what the proxy logs at info: one line per
// accepted client with --access-log, one line for a refused client (with
// its address and reason), not one per retry from the verdict cache, and
// one for a client that breaks the TLS exchange.
func TestProxyLogLines(t *testing.T) {
	f := newProxyFixture(t)
	backend := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer backend.Close()
	addr, errb, handshakes, stop := startProxyCmdMetrics(t, []string{"--listen", "127.0.0.1:0", "--backend", backend.URL,
		"--cert", f.srvCert, "--key", f.srvKey, "--allow", "*._device.example.test",
		"--resolver", f.resolver, "--anchors", f.anchors, "--access-log"})
	// A certificate for the device's name with another key: no-match,
	// a verdict the core caches.
	key, err := identity.GenerateKey(identity.KeyECDSAP256, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := identity.SelfSigned(identity.MustParseName(f.devName), key, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	impostor := tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: key}
	dial := func(cert tls.Certificate) error {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: f.pool, ServerName: "proxy.example.test", Certificates: []tls.Certificate{cert}})
		if err != nil {
			return err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		_, err = conn.Read(make([]byte, 1))
		return err
	}
	if err := dial(f.dev); err != nil {
		t.Fatalf("the device: %v", err)
	}
	for i := range 5 {
		if err := dial(impostor); err == nil {
			t.Fatalf("impostor %d got through", i)
		}
	}
	// Not TLS at all.
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	raw.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	raw.SetReadDeadline(time.Now().Add(30 * time.Second))
	raw.Read(make([]byte, 64))
	raw.Close()
	// Every handshake has ended, and been logged, once it is counted.
	handshakes(1, 6)
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	var accepted, refused, failed []string
	for line := range strings.SplitSeq(errb.String(), "\n") {
		switch {
		case strings.Contains(line, `msg="proxy: client accepted"`):
			accepted = append(accepted, line)
		case strings.Contains(line, `msg="peer refused"`):
			refused = append(refused, line)
		case strings.Contains(line, `msg="proxy: handshake failed`):
			failed = append(failed, line)
		}
	}
	if len(accepted) != 1 || !strings.Contains(accepted[0], "subject="+f.devName) || !strings.Contains(accepted[0], "kind=device") || !strings.Contains(accepted[0], "remote=127.0.0.1:") {
		t.Errorf("access log: %q, want one line with the device's identity and address", accepted)
	}
	if len(refused) != 1 || !strings.Contains(refused[0], "reason=no-match") || !strings.Contains(refused[0], "remote=127.0.0.1:") {
		t.Errorf("refusals: %q, want one line (the others from the cache) with the reason and address", refused)
	}
	if len(failed) != 1 || !strings.Contains(failed[0], "level=INFO") {
		t.Errorf("handshake failures at info: %q, want the one broken exchange only", failed)
	}
}

// TestProxyDebugLinesPerClient: at debug level too, each client is one
// line: the verdict, with its address (no access log asked for).
func TestProxyDebugLinesPerClient(t *testing.T) {
	f := newProxyFixture(t)
	backend := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer backend.Close()
	for _, mode := range []string{"http", "tcp"} {
		t.Run(mode, func(t *testing.T) {
			be := backend.URL
			if mode == "tcp" {
				be = strings.TrimPrefix(backend.URL, "http://")
			}
			addr, errb, handshakes, stop := startProxyCmdMetrics(t, []string{"--mode", mode, "--listen", "127.0.0.1:0", "--backend", be,
				"--cert", f.srvCert, "--key", f.srvKey, "--allow", "*._device.example.test", "--allow", "other.example.test",
				"--resolver", f.resolver, "--anchors", f.anchors, "--log-level", "debug"})
			// dial returns the client's address and whether it got
			// through.
			dial := func(cert tls.Certificate) (string, bool) {
				conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: f.pool, ServerName: "proxy.example.test", Certificates: []tls.Certificate{cert}})
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				local := conn.LocalAddr().String()
				conn.SetDeadline(time.Now().Add(30 * time.Second))
				conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
				_, err = conn.Read(make([]byte, 1))
				return local, err == nil
			}
			ok, passed := dial(f.dev)
			if !passed {
				t.Fatal("the device was refused")
			}
			// A certificate without a usable name: refused before any lookup.
			key, _ := identity.GenerateKey(identity.KeyECDSAP256, nil)
			c, err := identity.SelfSigned(identity.MustParseName("nobody.other.test"), key, identity.Options{})
			if err != nil {
				t.Fatal(err)
			}
			bad, passed := dial(tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: key})
			if passed {
				t.Fatal("a name off the allow-list got through")
			}
			handshakes(1, 1)
			if code := stop(); code != 0 {
				t.Fatalf("exit %d", code)
			}
			for _, cl := range []struct{ addr, want string }{{ok, `msg="peer authenticated"`}, {bad, `msg="peer refused"`}} {
				var lines []string
				for line := range strings.SplitSeq(errb.String(), "\n") {
					if strings.Contains(line, "remote="+cl.addr) {
						lines = append(lines, line)
					}
				}
				if len(lines) != 1 || !strings.Contains(lines[0], cl.want) {
					t.Errorf("client %s: %d lines %q, want one with %s", cl.addr, len(lines), lines, cl.want)
				}
			}
		})
	}
}

// startProxyCmdMetrics is startProxyCmd with --metrics; handshakes(ok,
// failed) waits until the proxy has counted that many handshakes of each
// result, which it does once it has logged them.
func startProxyCmdMetrics(t *testing.T, args []string) (string, *syncBuffer, func(ok, failed int), func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append(append([]string{"proxy"}, args...), "--metrics", "127.0.0.1:0"), nil, &out, &errb)
	}()
	stop := func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(30 * time.Second):
			t.Fatal("dance proxy did not stop within 30s of its context ending")
			return -1
		}
	}
	t.Cleanup(cancel)
	re := regexp.MustCompile(`(?s)metrics on (http://127\.0\.0\.1:\d+/metrics).*listening on (127\.0\.0\.1:\d+)`)
	var m []string
	for deadline := time.Now().Add(30 * time.Second); m == nil; m = re.FindStringSubmatch(out.String()) {
		select {
		case code := <-done:
			t.Fatalf("dance proxy exited %d: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dance proxy did not report its addresses: %s", errb.String())
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	handshakes := func(ok, failed int) {
		t.Helper()
		want := []string{fmt.Sprintf(`dance_proxy_handshakes_total{result="ok"} %d`, ok), fmt.Sprintf(`dance_proxy_handshakes_total{result="failed"} %d`, failed)}
		for deadline := time.Now().Add(30 * time.Second); ; {
			resp, err := http.Get(m[1])
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), want[0]) && strings.Contains(string(b), want[1]) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("handshakes not counted as %q: %s", want, b)
			}
			time.Sleep(10 * time.Millisecond) // polling interval
		}
	}
	return m[2], &errb, handshakes, stop
}
