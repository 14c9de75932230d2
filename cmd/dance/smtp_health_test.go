package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testwait"
)

// httpGet returns the status and body of url.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// startSMTPRelayHealth runs the relay with --metrics and returns its
// address, the /healthz URL, its stderr and a stop function.
func startSMTPRelayHealth(t *testing.T, args []string) (addr, healthURL string, errb *syncBuffer, stop func() int) {
	t.Helper()
	m, errb, stop := startServeCmd(t, append(append([]string{"smtp", "relay"}, args...), "--metrics", "127.0.0.1:0"),
		regexp.MustCompile(`(?s)health on (http://127\.0\.0\.1:\d+/healthz).*listening on (127\.0\.0\.1:\d+)`))
	return m[2], m[1], errb, stop
}

// TestSMTPRelayRefusesConfigThatCannotValidate: without anchors that lead
// to the allowed senders' zone the relay does not start, and says what to
// change.
func TestSMTPRelayRefusesConfigThatCannotValidate(t *testing.T) {
	f := newSMTPFixture(t)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"smtp", "relay", "--listen", "127.0.0.1:0", "--cert", f.srvCert, "--key", f.srvKey,
		"--allow", smtpPublished, "--resolver", f.resolver, "--next-hop", f.sink.addr}, nil, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "mta1.example.test") || !strings.Contains(errb.String(), "no-anchor") ||
		!strings.Contains(errb.String(), "dance: hint: ") || !strings.Contains(errb.String(), "add --anchors FILE") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	if strings.Contains(out.String(), "listening on") {
		t.Fatalf("the relay listened before refusing: %s", out.String())
	}
}

// TestSMTPRelayHealthDuringDNSOutage: a resolver that cannot answer at
// start does not stop the relay; /healthz answers 503 with the reason
// until the zones validate, 200 "ok" then, and senders are accepted.
func TestSMTPRelayHealthDuringDNSOutage(t *testing.T) {
	old, oldMax := smtpHealthRetry, smtpHealthMaxRetry
	smtpHealthRetry, smtpHealthMaxRetry = 20*time.Millisecond, 100*time.Millisecond
	t.Cleanup(func() { smtpHealthRetry, smtpHealthMaxRetry = old, oldMax })
	f := newSMTPFixture(t)
	var down atomic.Bool
	down.Store(true)
	fwd := failingForwarder(t, f.h, &down)
	addr, healthURL, errb, stop := startSMTPRelayHealth(t, []string{"--listen", "127.0.0.1:0", "--cert", f.srvCert, "--key", f.srvKey,
		"--allow", smtpPublished, "--resolver", fwd, "--anchors", f.anchors, "--next-hop", f.sink.addr})
	if code, body := httpGet(t, healthURL); code != http.StatusServiceUnavailable || !strings.Contains(body, "smtp relay") || !strings.Contains(body, "example.test") {
		t.Fatalf("healthz during the outage: %d %q", code, body)
	}
	if !strings.Contains(errb.String(), "level=ERROR") || !strings.Contains(errb.String(), "did not answer for a zone") {
		t.Errorf("the outage is not logged as an error: %s", errb.String())
	}
	down.Store(false)
	testwait.Eventually(t, 30*time.Second, func() error {
		if code, body := httpGet(t, healthURL); code != http.StatusOK || body != "ok\n" {
			return io.ErrNoProgress
		}
		return nil
	})
	// A refusal during the outage may be cached for a short while: wait
	// for the verdict, not for a time.
	testwait.Eventually(t, 30*time.Second, func() error {
		_, err := smtpSend(t, addr, f.ids[smtpPublished])
		return err
	})
	if code := stop(); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

// TestSMTPRelayReloadChecksZones: a SIGHUP whose trust anchors cannot
// validate the allowed senders' zones keeps the old configuration whole,
// and says why.
func TestSMTPRelayReloadChecksZones(t *testing.T) {
	f := newSMTPFixture(t)
	anchors := filepath.Join(f.dir, "reload-anchors")
	good, err := os.ReadFile(f.anchors)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(anchors, good, 0o600); err != nil {
		t.Fatal(err)
	}
	addr, healthURL, errb, stop := startSMTPRelayHealth(t, []string{"--listen", "127.0.0.1:0", "--cert", f.srvCert, "--key", f.srvKey,
		"--allow", smtpPublished, "--resolver", f.resolver, "--anchors", anchors, "--next-hop", f.sink.addr})
	if code, body := httpGet(t, healthURL); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("healthz: %d %q", code, body)
	}
	// Another hierarchy's key: the senders' zone is bogus under it.
	other := dnstest.Start(t, dnstest.Config{})
	if err := os.WriteFile(anchors, []byte(other.Anchors()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sighup(t, errb, "configuration not reloaded")
	if strings.Contains(errb.String(), "trust anchors reloaded") {
		t.Fatalf("the bad anchors were taken: %s", errb.String())
	}
	if _, err := smtpSend(t, addr, f.ids[smtpPublished]); err != nil {
		t.Fatalf("after the refused reload: %v", err)
	}
	if code, _ := httpGet(t, healthURL); code != http.StatusOK {
		t.Errorf("healthz after the refused reload: %d", code)
	}
	// Good anchors again: reloaded.
	if err := os.WriteFile(anchors, good, 0o600); err != nil {
		t.Fatal(err)
	}
	sighup(t, errb, "trust anchors reloaded")
	if code := stop(); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}
