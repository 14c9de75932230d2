package proxy_test

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/httpauth"
	"github.com/dnsbound/dance/proxy"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPassthroughMiddleware is Example 2: the proxy only checks that the
// client holds its key and forwards the certificate in Client-Cert; the
// application, behind httpauth, looks the name up and decides. The
// application trusts Client-Cert from 127.0.0.1 (the proxy) only.
func TestPassthroughMiddleware(t *testing.T) {
	w := newWorld(t)
	var logs syncBuffer
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	m, err := httpauth.New(httpauth.Config{Verifier: w.core, TrustedProxies: trusted,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var hits int
	var mu sync.Mutex
	app := httptest.NewUnstartedServer(m.Handler(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		id, _ := danetls.IdentityFromContext(r.Context())
		fmt.Fprintf(rw, "hello %s (%s); identity fields: %q %q", id.Subject(), id.Kind,
			r.Header.Get(proxy.DefaultNameHeader), r.Header.Get("Dance_Client_Name"))
	})))
	// The proxy reaches the application from 127.0.0.1; the forger below
	// comes from 127.0.0.2, which is not a trusted proxy.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app.Listener = ln
	app.Start()
	t.Cleanup(app.Close)
	addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModePassthrough, Backend: app.URL})
	url := "https://" + addr + "/"

	for _, short := range []string{ecdsaClient, ed25519Client, rsaClient} {
		c := w.clients[short]
		t.Run("curl/"+short, func(t *testing.T) {
			out, errb, err := w.curl(t, c, url, forgedArgs()...)
			if err != nil {
				t.Fatalf("curl: %v: %s", err, errb)
			}
			if want := fmt.Sprintf("hello %s (device); identity fields: \"\" \"\"", c.name); out != want {
				t.Fatalf("app answered %q, want %q", out, want)
			}
		})
		t.Run("openssl/"+short, func(t *testing.T) {
			out, errb, err := w.sClient(t, c, addr, "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\nClient-Cert: :QUFBQQ==:\r\n\r\n")
			if err != nil {
				t.Fatalf("s_client: %v: %s", err, errb)
			}
			if !strings.HasPrefix(out, "HTTP/1.1 200 ") || !strings.Contains(out, "hello "+c.name+" (device)") {
				t.Fatalf("answer %q", out)
			}
		})
	}
	t.Run("revoked: the proxy forwards, the application refuses", func(t *testing.T) {
		out, errb, err := w.curl(t, w.clients[revokedClient], url, "-w", "%{http_code}")
		if err != nil {
			t.Fatalf("curl: %v: %s", err, errb)
		}
		if !strings.HasSuffix(out, "403") || strings.Contains(out, "hello") {
			t.Fatalf("answer %q, want a bare 403", out)
		}
		if !strings.Contains(logs.String(), "reason=no-record") {
			t.Errorf("the application's log lacks the reason: %s", logs.String())
		}
	})
	t.Run("outsider: not on the application's allow-list", func(t *testing.T) {
		out, _, err := w.curl(t, w.clients[outsider], url, "-w", "%{http_code}")
		if err != nil || !strings.HasSuffix(out, "403") {
			t.Fatalf("answer %q, %v", out, err)
		}
	})
	t.Run("forged Client-Cert from an untrusted address", func(t *testing.T) {
		mu.Lock()
		before := hits
		mu.Unlock()
		// A genuine, published certificate, sent by someone who does not
		// hold its key, straight to the application from 127.0.0.2.
		good := w.clients[ecdsaClient]
		hdr := "Client-Cert: " + httpauth.EncodeByteSequence(good.cert.Raw)
		out, errb, err := runTool(t, "", "curl", "-sS", "--max-time", "30", "--interface", "127.0.0.2", "-H", hdr,
			"-w", "%{http_code}", app.URL+"/")
		if err != nil {
			t.Fatalf("curl: %v: %s", err, errb)
		}
		if !strings.HasSuffix(out, "403") {
			t.Fatalf("answer %q, want 403", out)
		}
		mu.Lock()
		defer mu.Unlock()
		if hits != before {
			t.Fatal("the forged request reached the handler")
		}
		if !strings.Contains(logs.String(), "reason=untrusted-proxy") || !strings.Contains(logs.String(), "remote=127.0.0.2") {
			t.Errorf("log lacks the refusal: %s", logs.String())
		}
	})
	t.Run("no client certificate: the proxy refuses the handshake", func(t *testing.T) {
		if out, _, err := w.curl(t, nil, url); err == nil {
			t.Fatalf("curl succeeded: %q", out)
		}
	})
}

// TestPassthroughNeedsTheKey: a client that presents someone else's
// certificate without its private key fails the handshake (its
// CertificateVerify signature does not match), so a stolen certificate
// never reaches the application as Client-Cert.
func TestPassthroughNeedsTheKey(t *testing.T) {
	w := newWorld(t)
	backend, hits := echoBackend(t)
	addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModePassthrough, Backend: backend.URL})
	victim, thief := w.clients[ecdsaClient], w.clients[revokedClient]
	conf := w.clientTLS(victim)
	conf.Certificates = []tls.Certificate{{Certificate: victim.pair.Certificate, PrivateKey: thief.pair.PrivateKey}}
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: conf}, Timeout: 30 * time.Second}
	if resp, err := cl.Get("https://" + addr + "/"); err == nil {
		resp.Body.Close()
		t.Fatalf("served with a certificate whose key the client does not hold: %d", resp.StatusCode)
	}
	if hits.Load() != 0 {
		t.Fatal("the backend was reached")
	}
	// The genuine holder is served.
	cl = &http.Client{Transport: &http.Transport{TLSClientConfig: w.clientTLS(victim)}, Timeout: 30 * time.Second}
	resp, err := cl.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || hits.Load() != 1 {
		t.Fatalf("genuine client: %d, backend hits %d", resp.StatusCode, hits.Load())
	}
}
