package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/miekg/dns"
)

// TestProxyRefusesConfigThatCannotValidate: a resolver configuration
// under which every allow-listed client would be refused stops the proxy
// at start, saying what to change.
func TestProxyRefusesConfigThatCannotValidate(t *testing.T) {
	device := map[string]dnstest.ZoneOptions{}
	tests := []struct {
		name     string
		zones    map[string]dnstest.ZoneOptions
		anchors  bool // --anchors with the hierarchy's root key
		extra    []string
		problem  string
		hint     string
		starts   bool
		setAD    bool
		resolver string // empty: the hierarchy
	}{
		{name: "no --anchors: the root keys are not the hierarchy's", zones: device, problem: "no-anchor", hint: "add --anchors FILE"},
		{name: "signatures stripped", zones: map[string]dnstest.ZoneOptions{dnstest.Device: {Fault: dnstest.StripSignatures}}, anchors: true, problem: "no-signatures", hint: "strips DNSSEC signatures"},
		{name: "unsigned delegation", zones: map[string]dnstest.ZoneOptions{dnstest.Device: {Fault: dnstest.MissingDS}}, anchors: true, problem: "insecure", hint: "publish its DS"},
		{name: "expired signatures", zones: map[string]dnstest.ZoneOptions{dnstest.Device: {Fault: dnstest.ExpiredSignatures}}, anchors: true, problem: "bogus", hint: "check its signatures"},
		{name: "--trust-ad, resolver does not validate", zones: device, extra: []string{"--trust-ad"}, problem: "not-validated", hint: "drop --trust-ad"},
		{name: "--trust-ad, resolver validates", zones: device, setAD: true, extra: []string{"--trust-ad"}, starts: true},
		{name: "good anchors", zones: device, anchors: true, starts: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newProxyFixtureDNS(t, dnstest.Config{Zones: tt.zones, SetAD: tt.setAD})
			args := []string{"--listen", "127.0.0.1:0", "--backend", "http://127.0.0.1:1", "--cert", f.srvCert, "--key", f.srvKey,
				"--allow", "*._device.example.test", "--resolver", f.resolver}
			if tt.anchors {
				args = append(args, "--anchors", f.anchors)
			}
			args = append(args, tt.extra...)
			if tt.starts {
				_, _, stop := startProxyCmd(t, args)
				if code := stop(); code != 0 {
					t.Fatalf("exit %d", code)
				}
				return
			}
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"proxy"}, args...), nil, &out, &errb)
			if code != 2 || !strings.Contains(errb.String(), "_device.example.test") || !strings.Contains(errb.String(), tt.problem) ||
				!strings.Contains(errb.String(), "dance: hint: ") || !strings.Contains(errb.String(), tt.hint) {
				t.Fatalf("exit %d, stderr %q; want 2 naming the zone, %q and a hint with %q", code, errb.String(), tt.problem, tt.hint)
			}
			if strings.Contains(out.String(), "listening on") {
				t.Fatalf("the proxy listened before refusing: %s", out.String())
			}
		})
	}
}

// TestProxyUnboundWithoutAnchors: dance pointed at a validating Unbound
// for a private zone, without --anchors or --trust-ad, is refused at start
// with the two ways out; with either it starts and authenticates.
func TestProxyUnboundWithoutAnchors(t *testing.T) {
	env := dnstest.StartReal(t)
	f := newProxyFixture(t)
	anchors := filepath.Join(f.dir, "real-anchors")
	os.WriteFile(anchors, []byte(env.Anchor+"\n"), 0o644)
	base := []string{"--listen", "127.0.0.1:0", "--backend", "http://127.0.0.1:1", "--cert", f.srvCert, "--key", f.srvKey,
		"--allow", "*._device.example.test", "--resolver", env.UnboundAddr}
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"proxy"}, base...), nil, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "no-anchor") || !strings.Contains(errb.String(), "add --anchors FILE") || !strings.Contains(errb.String(), "--trust-ad") {
		t.Fatalf("without anchors: exit %d, stderr %q", code, errb.String())
	}
	for _, extra := range [][]string{{"--trust-ad"}, {"--anchors", anchors}} {
		_, errs, stop := startProxyCmd(t, append(append([]string(nil), base...), extra...))
		if code := stop(); code != 0 {
			t.Fatalf("%v: exit %d: %s", extra, code, errs.String())
		}
	}
}

// failingForwarder answers queries from h in-process, or SERVFAIL while
// down is set: a resolver whose authorities are out of reach.
func failingForwarder(t *testing.T, h *dnstest.Hierarchy, down *atomic.Bool) string {
	t.Helper()
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		if down.Load() {
			m := new(dns.Msg)
			m.SetRcode(q, dns.RcodeServerFailure)
			_ = w.WriteMsg(m)
			return
		}
		r, err := h.Exchange(context.Background(), q)
		if err != nil {
			return
		}
		_ = w.WriteMsg(r)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: handler}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	done := make(chan struct{})
	go func() { _ = srv.ActivateAndServe(); close(done) }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown(); <-done })
	return pc.LocalAddr().String()
}

// TestProxyStartsDuringDNSOutage: a resolver that cannot answer at start
// does not stop the proxy; it says so loudly, /healthz reports it, and the
// zones are checked again until they validate.
func TestProxyStartsDuringDNSOutage(t *testing.T) {
	old, oldMax := proxyHealthRetry, proxyHealthMaxRetry
	proxyHealthRetry, proxyHealthMaxRetry = 20*time.Millisecond, 100*time.Millisecond
	t.Cleanup(func() { proxyHealthRetry, proxyHealthMaxRetry = old, oldMax })
	f := newProxyFixture(t)
	var down atomic.Bool
	down.Store(true)
	fwd := failingForwarder(t, f.h, &down)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Dance-Client-Name"))
	}))
	defer backend.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"proxy", "--listen", "127.0.0.1:0", "--backend", backend.URL, "--cert", f.srvCert, "--key", f.srvKey,
			"--allow", "*._device.example.test", "--resolver", fwd, "--anchors", f.anchors, "--metrics", "127.0.0.1:0"}, nil, &out, &errb)
	}()
	re := regexp.MustCompile(`(?s)health on (http://127\.0\.0\.1:\d+/healthz).*listening on (127\.0\.0\.1:\d+)`)
	var m []string
	for deadline := time.Now().Add(30 * time.Second); m == nil; m = re.FindStringSubmatch(out.String()) {
		select {
		case code := <-done:
			t.Fatalf("the proxy exited %d during the outage: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no addresses reported: %s %s", out.String(), errb.String())
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	if !strings.Contains(errb.String(), "level=ERROR") || !strings.Contains(errb.String(), "did not answer for a zone") {
		t.Errorf("the outage is not logged as an error: %s", errb.String())
	}
	health := func() (int, string) {
		resp, err := http.Get(m[1])
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Down for as long as the forwarder fails, however often it is asked.
	if code, body := health(); code != http.StatusServiceUnavailable || !strings.Contains(body, "unreachable") || !strings.Contains(body, "_device.example.test") {
		t.Fatalf("healthz during the outage: %d %q", code, body)
	}
	if _, err := f.client().Get("https://" + m[2] + "/"); err == nil {
		t.Fatal("a client got through while DNS was down")
	}
	down.Store(false)
	for deadline := time.Now().Add(30 * time.Second); ; {
		code, body := health()
		if code == http.StatusOK && body == "ok\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz after the outage: %d %q", code, body)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	if !strings.Contains(errb.String(), "validate again") {
		t.Errorf("the recovery is not logged: %s", errb.String())
	}
	resp, err := f.client().Get("https://" + m[2] + "/")
	if err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != f.devName {
		t.Fatalf("after the outage the backend saw %q", b)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
}
