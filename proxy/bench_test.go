package proxy_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dnsbound/dance/proxy"
)

// BenchmarkHTTPNewConnection measures one client connection through the
// proxy in http mode: full TLS 1.3 handshake with DANE client
// authentication (warm verdict cache), one GET forwarded to a backend,
// the answer read, the connection closed. Client and proxy share the CPUs.
func BenchmarkHTTPNewConnection(b *testing.B) {
	for _, kx := range []struct {
		name   string
		curves []tls.CurveID
	}{{"kx=default", nil}, {"kx=x25519", []tls.CurveID{tls.X25519}}} {
		b.Run(kx.name, func(b *testing.B) {
			w := newWorld(b)
			backend := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, "ok\n") }))
			defer backend.Close()
			addr, _ := startProxy(b, w, proxy.Config{Mode: proxy.ModeHTTP, Backend: backend.URL})
			conf := w.clientTLS(w.clients[ecdsaClient])
			conf.CurvePreferences = kx.curves
			conf.NextProtos = []string{"http/1.1"}
			req := "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c, err := tls.Dial("tcp", addr, conf)
					if err != nil {
						b.Error(err)
						return
					}
					io.WriteString(c, req)
					resp, err := http.ReadResponse(bufio.NewReader(c), nil)
					if err != nil || resp.StatusCode != 200 {
						b.Error(fmt.Errorf("answer %v, %v", resp, err))
						c.Close()
						return
					}
					io.Copy(io.Discard, resp.Body)
					c.Close()
				}
			})
		})
	}
}

// BenchmarkHTTPKeepAlive measures one request forwarded in http mode on a
// keep-alive connection (the handshake is done once per parallel client,
// before the timer): what the proxy does per request, the backend's answer
// and the client included.
func BenchmarkHTTPKeepAlive(b *testing.B) {
	w := newWorld(b)
	backend := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, "ok\n") }))
	defer backend.Close()
	addr, _ := startProxy(b, w, proxy.Config{Mode: proxy.ModeHTTP, Backend: backend.URL})
	conf := w.clientTLS(w.clients[ecdsaClient])
	conf.NextProtos = []string{"http/1.1"}
	req := "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := tls.Dial("tcp", addr, conf)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for pb.Next() {
			io.WriteString(c, req)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 200 {
				b.Error(fmt.Errorf("answer %v, %v", resp, err))
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
