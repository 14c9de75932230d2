package proxy_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"testing"
	"time"

	"github.com/dnsbound/dance/proxy"
	"github.com/dnsbound/dance/verify"
)

// TestRenewalHTTP: a keep-alive connection whose verdict has expired is
// verified again before its next request; once the identity is refused
// (here: taken off the allow-list) the request is refused too.
func TestRenewalHTTP(t *testing.T) {
	w := newWorld(t)
	backend, _ := echoBackend(t)
	addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModeHTTP, Backend: backend.URL})
	c := w.clients[ecdsaClient]
	cl := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: w.clientTLS(c), MaxConnsPerHost: 1}}
	get := func() (int, bool) {
		t.Helper()
		reused := false
		req, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}))
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, reused
	}
	if code, _ := get(); code != 200 {
		t.Fatalf("first request: %d", code)
	}
	// Past the verdict's expiry, still allowed: renewed, served.
	w.advance(10 * time.Minute)
	if code, reused := get(); code != 200 || !reused {
		t.Fatalf("after expiry, still allowed: %d (reused %v), want 200 on the same connection", code, reused)
	}
	// Past the renewed verdict's expiry, no longer allowed: refused on the
	// same connection.
	old := w.core.AllowList()
	none, _ := verify.ParseAllowList([]string{"nobody._device.example.test"})
	w.core.SetAllowList(none)
	w.advance(10 * time.Minute)
	if code, reused := get(); code != http.StatusForbidden || !reused {
		t.Fatalf("after expiry, no longer allowed: %d (reused %v), want 403 on the same connection", code, reused)
	}
	// Within the verdict's lifetime nothing is looked up again: allowed
	// again, a new connection is served.
	w.core.SetAllowList(old)
	if code, _ := get(); code != 200 {
		t.Fatalf("allowed again: %d", code)
	}
}

// TestRenewalTCP: the same for a forwarded TCP connection: the first bytes
// after the expiry trigger the new verification, a refusal closes it.
func TestRenewalTCP(t *testing.T) {
	w := newWorld(t)
	addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModeTCP, Backend: echoTCP(t)})
	conn, err := tls.Dial("tcp", addr, w.clientTLS(w.clients[ed25519Client]))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	if _, err := roundTrip(conn, br, "one"); err != nil {
		t.Fatal(err)
	}
	w.advance(10 * time.Minute)
	if line, err := roundTrip(conn, br, "two"); err != nil || line != "ed25519._device.example.test: two\n" {
		t.Fatalf("renewed: %q, %v", line, err)
	}
	none, _ := verify.ParseAllowList([]string{"nobody._device.example.test"})
	w.core.SetAllowList(none)
	w.advance(10 * time.Minute)
	if line, err := roundTrip(conn, br, "three"); err == nil {
		t.Fatalf("after the identity was refused the connection still works: %q", line)
	}
}

// TestResumedSession: a client resuming its TLS session is authenticated
// again (VerifyConnection runs on resumption) and the backend still gets
// its identity.
func TestResumedSession(t *testing.T) {
	w := newWorld(t)
	backend, _ := echoBackend(t)
	addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModeHTTP, Backend: backend.URL})
	c := w.clients[rsaClient]
	conf := w.clientTLS(c)
	conf.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	cl := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: conf, DisableKeepAlives: true}}
	var resumed bool
	for i := range 4 {
		resp, err := cl.Get("https://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resumed = resumed || resp.TLS.DidResume
		if got := http.Header(decodeSeen(t, string(b)).Header).Get(proxy.DefaultNameHeader); resp.StatusCode != 200 || got != c.name {
			t.Fatalf("connection %d (resumed %v): %d, name %q", i, resp.TLS.DidResume, resp.StatusCode, got)
		}
	}
	if !resumed {
		t.Fatal("no connection resumed its session; the test proves nothing")
	}
	// Taken off the allow-list, a resuming client is refused too once its
	// verdict has expired.
	none, _ := verify.ParseAllowList([]string{"nobody._device.example.test"})
	w.core.SetAllowList(none)
	w.advance(10 * time.Minute)
	if resp, err := cl.Get("https://" + addr + "/"); err == nil {
		resp.Body.Close()
		t.Fatalf("a resumed session outlived the identity: %d (resumed %v)", resp.StatusCode, resp.TLS.DidResume)
	}
}

// TestRenewalUpgraded: an upgraded connection (WebSocket and the like)
// sends no more requests, so its identity is renewed on a timer when its
// verdict expires; refused, the connection is closed. The core here caps
// verdicts at one second of real time.
func TestRenewalUpgraded(t *testing.T) {
	w := newWorld(t)
	allow, _ := verify.ParseAllowList([]string{"*._device.example.test"})
	core, err := verify.New(verify.Config{Allow: allow, Resolver: w.resolver, MaxVerdictTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModeHTTP, Backend: upgradeBackend(t), Verifier: core, Time: time.Now})
	conn, br := upgrade(t, w, addr)
	defer conn.Close()
	// Still allowed: renewed (at least once within these 2.5 s), kept open.
	deadline := time.Now().Add(2500 * time.Millisecond)
	for i := 0; time.Now().Before(deadline); i++ {
		if line, err := roundTrip(conn, br, fmt.Sprint(i)); err != nil || line != fmt.Sprintf("echo %d\n", i) {
			t.Fatalf("renewed connection: %q, %v", line, err)
		}
		time.Sleep(100 * time.Millisecond) // traffic pacing, not synchronisation
	}
	none, _ := verify.ParseAllowList([]string{"nobody._device.example.test"})
	core.SetAllowList(none)
	waitClosed(t, conn)
}
