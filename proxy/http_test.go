package proxy_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnsbound/dance/httpauth"
	"github.com/dnsbound/dance/proxy"
)

// seen is what the test backend reports about a request it received.
type seen struct {
	Header map[string][]string `json:"header"`
	Host   string              `json:"host"`
	Path   string              `json:"path"`
}

// echoBackend answers every request with the header fields it received, as
// JSON, and counts requests.
func echoBackend(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(seen{Header: r.Header, Host: r.Host, Path: r.URL.Path})
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func decodeSeen(t *testing.T, body string) seen {
	t.Helper()
	var s seen
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("backend answer %q: %v", body, err)
	}
	return s
}

// forged are header fields a client sends to impersonate someone; none may
// reach the backend.
var forged = []string{
	"Dance-Client-Name: boss._device.example.test",
	"dance-client-kind: user",
	"Dance_Client_Name: boss._device.example.test",
	"Client-Cert: :QUFBQQ==:",
	"Client_Cert: :QUFBQQ==:",
	"Client-Cert-Chain: :QUFBQQ==:",
}

func forgedArgs() []string {
	var a []string
	for _, f := range forged {
		a = append(a, "-H", f)
	}
	return a
}

// checkForwarded asserts that the backend saw exactly the proxy's identity
// fields for c, its certificate in Client-Cert, and none of the forged
// fields.
func checkForwarded(t *testing.T, s seen, c *client, withIdentity bool) {
	t.Helper()
	h := http.Header(s.Header)
	if withIdentity {
		if got := h.Values(proxy.DefaultNameHeader); len(got) != 1 || got[0] != c.name {
			t.Errorf("%s = %q, want [%q]", proxy.DefaultNameHeader, got, c.name)
		}
		if got := h.Values(proxy.DefaultKindHeader); len(got) != 1 || got[0] != "device" {
			t.Errorf("%s = %q, want [device]", proxy.DefaultKindHeader, got)
		}
	} else if len(h.Values(proxy.DefaultNameHeader))+len(h.Values(proxy.DefaultKindHeader)) > 0 {
		t.Errorf("identity fields reached the backend in passthrough mode: %v", h)
	}
	chain, err := httpauth.ParseClientCert(h)
	if err != nil {
		t.Fatalf("Client-Cert at the backend: %v (fields %q)", err, h.Values("Client-Cert"))
	}
	if len(chain) != 1 || !bytes.Equal(chain[0].Raw, c.cert.Raw) {
		t.Errorf("Client-Cert carries %d certificates, not the client's own", len(chain))
	}
	if len(h.Values(httpauth.ClientCertChainHeader)) != 0 {
		t.Errorf("Client-Cert-Chain present for a one-certificate chain: %q", h.Values(httpauth.ClientCertChainHeader))
	}
	for k := range h {
		if n := strings.ReplaceAll(strings.ToLower(k), "_", "-"); k != http.CanonicalHeaderKey(n) &&
			(n == "dance-client-name" || n == "client-cert" || n == "dance-client-kind") {
			t.Errorf("forged field %q reached the backend", k)
		}
	}
}

func TestHTTPModeRealClients(t *testing.T) {
	w := newWorld(t)
	backend, hits := echoBackend(t)
	addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModeHTTP, Backend: backend.URL})
	url := "https://" + addr + "/some/path"
	for _, short := range []string{ecdsaClient, ed25519Client, rsaClient} {
		c := w.clients[short]
		t.Run("curl/"+short, func(t *testing.T) {
			out, errb, err := w.curl(t, c, url, forgedArgs()...)
			if err != nil {
				t.Fatalf("curl: %v: %s", err, errb)
			}
			s := decodeSeen(t, out)
			checkForwarded(t, s, c, true)
			if s.Path != "/some/path" || s.Host != addr {
				t.Errorf("backend saw host %q path %q", s.Host, s.Path)
			}
		})
		t.Run("openssl/"+short, func(t *testing.T) {
			req := "GET /x HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n" + strings.Join(forged, "\r\n") + "\r\n\r\n"
			out, errb, err := w.sClient(t, c, addr, req)
			if err != nil {
				t.Fatalf("s_client: %v: %s", err, errb)
			}
			i := strings.Index(out, "\r\n\r\n")
			if !strings.HasPrefix(out, "HTTP/1.1 200 ") || i < 0 {
				t.Fatalf("answer %q", out)
			}
			body := out[i+4:]
			if j := strings.IndexByte(body, '{'); j > 0 { // chunked: a size line first
				body = body[j:]
			}
			if j := strings.LastIndexByte(body, '}'); j >= 0 {
				body = body[:j+1]
			}
			checkForwarded(t, decodeSeen(t, body), c, true)
		})
	}
	t.Run("curl/user", func(t *testing.T) {
		u := w.clients[userClient]
		out, errb, err := w.curl(t, u, url, forgedArgs()...)
		if err != nil {
			t.Fatalf("curl: %v: %s", err, errb)
		}
		h := http.Header(decodeSeen(t, out).Header)
		if got := h.Values(proxy.DefaultNameHeader); len(got) != 1 || got[0] != "alice@example.test" {
			t.Errorf("%s = %q, want [alice@example.test]", proxy.DefaultNameHeader, got)
		}
		if got := h.Values(proxy.DefaultKindHeader); len(got) != 1 || got[0] != "user" {
			t.Errorf("%s = %q, want [user]", proxy.DefaultKindHeader, got)
		}
		chain, err := httpauth.ParseClientCert(h)
		if err != nil || len(chain) != 2 || !bytes.Equal(chain[0].Raw, u.cert.Raw) || !chain[1].IsCA {
			t.Errorf("Client-Cert/Client-Cert-Chain: %d certificates, %v; want the user's and the CA's", len(chain), err)
		}
	})
	t.Run("curl/http2", func(t *testing.T) {
		c := w.clients[ecdsaClient]
		out, errb, err := w.curl(t, c, url, append(forgedArgs(), "--http2", "-w", "\n%{http_version}")...)
		if err != nil {
			t.Fatalf("curl: %v: %s", err, errb)
		}
		i := strings.LastIndexByte(out, '\n')
		body, version := out[:i], out[i+1:]
		if version != "2" {
			t.Errorf("HTTP version %q, want 2", version)
		}
		checkForwarded(t, decodeSeen(t, body), c, true)
	})
	refused := []struct {
		name string
		c    *client
	}{
		{"no record (revoked)", w.clients[revokedClient]},
		{"not on the allow-list", w.clients[outsider]},
		{"no client certificate", nil},
	}
	for _, tt := range refused {
		t.Run("refused/"+tt.name, func(t *testing.T) {
			before := hits.Load()
			out, errb, err := w.curl(t, tt.c, url)
			if err == nil {
				t.Fatalf("curl succeeded: %q", out)
			}
			if hits.Load() != before {
				t.Errorf("the backend was reached")
			}
			// The peer learns nothing about the reason.
			for _, leak := range []string{"allow", "record", "dns", "tlsa"} {
				if strings.Contains(strings.ToLower(errb), leak) {
					t.Errorf("curl's error %q tells the client %q", errb, leak)
				}
			}
		})
	}
}

// TestConfiguredUnderscoreFieldsNotForgeable: with identity fields
// configured under names spelled with "_", a client's copies spelled with
// "-", in any case, or with "_" themselves, never reach the backend: the
// backend sees one field for each, which folds to the configured name and
// holds the proxy's value. Over HTTP/1.1 and HTTP/2.
func TestConfiguredUnderscoreFieldsNotForgeable(t *testing.T) {
	w := newWorld(t)
	backend, _ := echoBackend(t)
	const nameField, kindField = "X_Client_Name", "X_client_KIND"
	addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModeHTTP, Backend: backend.URL,
		NameHeader: nameField, KindHeader: kindField})
	c := w.clients[ecdsaClient]
	forgedFields := map[string]string{
		"X-Client-Name": "boss._device.example.test",
		"x-client-name": "boss2._device.example.test",
		"X_CLIENT-NAME": "boss3._device.example.test",
		"X_Client_Name": "boss4._device.example.test",
		"X-Client-Kind": "user",
		"x_client_kind": "service",
	}
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "http1.1", true: "h2"}[h2], func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: w.clientTLS(c), ForceAttemptHTTP2: h2}
			t.Cleanup(tr.CloseIdleConnections)
			cl := &http.Client{Timeout: 30 * time.Second, Transport: tr}
			req, err := http.NewRequest("GET", "https://"+addr+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range forgedFields {
				req.Header[k] = []string{v} // as spelled, not canonicalised
			}
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("status %d, %v: %s", resp.StatusCode, err, body)
			}
			h := http.Header(decodeSeen(t, string(body)).Header)
			for _, want := range []struct{ field, value string }{{nameField, c.name}, {kindField, "device"}} {
				var got []string
				for k, vs := range h {
					if foldField(k) == foldField(want.field) {
						for _, v := range vs {
							got = append(got, k+": "+v)
						}
					}
				}
				if len(got) != 1 || !strings.HasSuffix(got[0], ": "+want.value) {
					t.Errorf("backend saw %q for %s, want only the proxy's %q", got, want.field, want.value)
				}
			}
		})
	}
}

// foldField is how CGI-style backends see a field name: one case, "_" and
// "-" alike.
func foldField(k string) string { return strings.ReplaceAll(strings.ToLower(k), "_", "-") }
