package proxy_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsbound/dance/httpauth"
	"github.com/dnsbound/dance/proxy"
)

// TestKeepAliveClientCert: every request of a keep-alive connection (HTTP/1.1
// one after the other, HTTP/2 several at once) reaches the backend with the
// client's own Client-Cert (and Client-Cert-Chain for a chain) and identity
// fields, and whatever copies of them the client sends, different on each
// request, are removed every time.
func TestKeepAliveClientCert(t *testing.T) {
	w := newWorld(t)
	backend, _ := echoBackend(t)
	for _, mode := range []proxy.Mode{proxy.ModeHTTP, proxy.ModePassthrough} {
		addr, _ := startProxy(t, w, proxy.Config{Mode: mode, Backend: backend.URL})
		for _, short := range []string{ecdsaClient, userClient} {
			c := w.clients[short]
			subject, kind := c.name, "device"
			if short == userClient {
				subject, kind = "alice@example.test", "user"
			}
			for _, h2 := range []bool{false, true} {
				proto := map[bool]string{false: "http1.1", true: "h2"}[h2]
				t.Run(fmt.Sprintf("%s/%s/%s", mode, short, proto), func(t *testing.T) {
					tr := &http.Transport{TLSClientConfig: w.clientTLS(c), MaxConnsPerHost: 1, ForceAttemptHTTP2: h2}
					t.Cleanup(tr.CloseIdleConnections)
					cl := &http.Client{Timeout: 30 * time.Second, Transport: tr}
					var mu sync.Mutex
					conns := map[string]bool{} // local addresses of the connections used
					get := func(i int) error {
						req, err := http.NewRequest("GET", "https://"+addr+"/", nil)
						if err != nil {
							return err
						}
						forged := fmt.Sprintf(":%s:", strings.Repeat("QUFB", i+1))
						req.Header.Set("Client-Cert", forged)
						req.Header["Client_Cert"] = []string{forged}
						req.Header.Set("Client-Cert-Chain", forged)
						req.Header.Set(proxy.DefaultNameHeader, fmt.Sprintf("boss%d._device.example.test", i))
						req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
							GotConn: func(ci httptrace.GotConnInfo) {
								mu.Lock()
								conns[ci.Conn.LocalAddr().String()] = true
								mu.Unlock()
							}}))
						resp, err := cl.Do(req)
						if err != nil {
							return err
						}
						defer resp.Body.Close()
						body, err := io.ReadAll(resp.Body)
						if err != nil {
							return err
						}
						if resp.StatusCode != 200 {
							return fmt.Errorf("request %d: status %d", i, resp.StatusCode)
						}
						if want := map[bool]int{false: 1, true: 2}[h2]; resp.ProtoMajor != want {
							return fmt.Errorf("request %d: HTTP/%d, want HTTP/%d", i, resp.ProtoMajor, want)
						}
						return checkKeepAliveFields(decodeSeen(t, string(body)), c, mode, subject, kind)
					}
					const n = 6
					if !h2 {
						for i := range n {
							if err := get(i); err != nil {
								t.Fatal(err)
							}
						}
					} else {
						errs := make(chan error, n)
						for i := range n {
							go func() { errs <- get(i) }()
						}
						for range n {
							if err := <-errs; err != nil {
								t.Error(err)
							}
						}
					}
					if len(conns) != 1 {
						t.Errorf("%d requests used %d connections, want one", n, len(conns))
					}
				})
			}
		}
	}
}

// checkKeepAliveFields checks the fields the backend saw: one Client-Cert
// holding the client's leaf, Client-Cert-Chain holding the rest of its
// chain (none for a lone certificate), the identity fields in ModeHTTP
// only, and no forged spelling.
func checkKeepAliveFields(s seen, c *client, mode proxy.Mode, subject, kind string) error {
	h := http.Header(s.Header)
	for k := range h {
		if k != http.CanonicalHeaderKey(k) || strings.Contains(k, "_") {
			return fmt.Errorf("field %q reached the backend", k)
		}
	}
	if got := h.Values(httpauth.ClientCertHeader); len(got) != 1 {
		return fmt.Errorf("%d Client-Cert fields, want 1: %q", len(got), got)
	}
	chain, err := httpauth.ParseClientCert(h)
	if err != nil {
		return fmt.Errorf("Client-Cert at the backend: %v", err)
	}
	if len(chain) != len(c.pair.Certificate) {
		return fmt.Errorf("Client-Cert and Client-Cert-Chain carry %d certificates, the client sent %d", len(chain), len(c.pair.Certificate))
	}
	for i, der := range c.pair.Certificate {
		if !bytes.Equal(chain[i].Raw, der) {
			return fmt.Errorf("certificate %d at the backend is not the client's", i)
		}
	}
	if len(chain) == 1 && len(h.Values(httpauth.ClientCertChainHeader)) != 0 {
		return fmt.Errorf("Client-Cert-Chain for a lone certificate: %q", h.Values(httpauth.ClientCertChainHeader))
	}
	names, kinds := h.Values(proxy.DefaultNameHeader), h.Values(proxy.DefaultKindHeader)
	if mode == proxy.ModeHTTP {
		if len(names) != 1 || names[0] != subject || len(kinds) != 1 || kinds[0] != kind {
			return fmt.Errorf("identity fields %q %q, want [%s] [%s]", names, kinds, subject, kind)
		}
	} else if len(names)+len(kinds) != 0 {
		return fmt.Errorf("identity fields %q %q in passthrough mode", names, kinds)
	}
	return nil
}
