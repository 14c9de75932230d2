package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/proxy/proxyproto"
	"github.com/dnsbound/dance/tlsa"
)

// proxyFixture writes what dance proxy needs: its own certificate, a
// published device identity and the trust anchors of a signed test
// hierarchy that holds the device's TLSA record.
type proxyFixture struct {
	dir, srvCert, srvKey, anchors, resolver string
	dev                                     tls.Certificate
	devName                                 string
	pool                                    *x509.CertPool
	h                                       *dnstest.Hierarchy
}

func newProxyFixture(t *testing.T) *proxyFixture {
	t.Helper()
	return newProxyFixtureDNS(t, dnstest.Config{})
}

// newProxyFixtureDNS is newProxyFixture with a hierarchy configured by
// hc (its faults), the device's record added.
func newProxyFixtureDNS(t *testing.T, hc dnstest.Config) *proxyFixture {
	t.Helper()
	f := &proxyFixture{dir: t.TempDir(), devName: "sensor1._device.example.test"}
	write := func(name string, data []byte) string {
		p := filepath.Join(f.dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mk := func(name string) (*x509.Certificate, []byte, []byte) {
		key, err := identity.GenerateKey(identity.KeyECDSAP256, nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := identity.SelfSigned(identity.MustParseName(name), key, identity.Options{})
		if err != nil {
			t.Fatal(err)
		}
		kp, _ := identity.MarshalPrivateKey(key)
		return c, identity.MarshalCertificate(c), kp
	}
	srv, srvPEM, srvKey := mk("proxy.example.test")
	f.srvCert, f.srvKey = write("srv.pem", srvPEM), write("srv.key", srvKey)
	f.pool = x509.NewCertPool()
	f.pool.AddCert(srv)
	dev, devPEM, devKey := mk(f.devName)
	var err error
	if f.dev, err = tls.X509KeyPair(devPEM, devKey); err != nil {
		t.Fatal(err)
	}
	rec, err := tlsa.ForCertificate(dev, tlsa.DANEEE, tlsa.SelectorSPKI, tlsa.MatchSHA256)
	if err != nil {
		t.Fatal(err)
	}
	hc.Records = append(hc.Records, rec.ZoneLine(f.devName, 300))
	f.h = dnstest.Start(t, hc)
	f.anchors = write("anchors", []byte(f.h.Anchors()+"\n"))
	f.resolver = f.h.Addr()
	return f
}

func (f *proxyFixture) client() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: f.pool, ServerName: "proxy.example.test", Certificates: []tls.Certificate{f.dev}}}}
}

// startProxyCmd runs "dance proxy args..." in-process until the test ends
// and returns the address it reports and its stderr.
func startProxyCmd(t *testing.T, args []string) (string, *syncBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"proxy"}, args...), nil, &out, &errb) }()
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
	t.Cleanup(func() { cancel() })
	re := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)
	var m []string
	testwait.Eventually(t, 30*time.Second, func() error {
		if m = re.FindStringSubmatch(out.String()); m != nil {
			return nil
		}
		select {
		case code := <-done:
			t.Fatalf("dance proxy exited %d: %s", code, errb.String())
		default:
		}
		return errors.New("dance proxy did not report its address")
	})
	return m[1], &errb, stop
}

func TestProxyCommand(t *testing.T) {
	f := newProxyFixture(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s|%s", r.Header.Get("X-Who"), r.Header.Get("X-Kind"))
	}))
	defer backend.Close()
	allowFile := filepath.Join(f.dir, "allowed.txt")
	if err := os.WriteFile(allowFile, []byte("# devices\n*._device.example.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, errb, stop := startProxyCmd(t, []string{"--listen", "127.0.0.1:0", "--backend", backend.URL,
		"--cert", f.srvCert, "--key", f.srvKey, "--allow-file", allowFile, "--allow", "other.example.test",
		"--resolver", f.resolver, "--anchors", f.anchors, "--name-header", "X-Who", "--kind-header", "X-Kind",
		"--metrics", "127.0.0.1:0", "--log-level", "debug"})
	cl := f.client()
	get := func() (string, error) {
		resp, err := cl.Get("https://" + addr + "/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if body, err := get(); err != nil || body != f.devName+"|device" {
		t.Fatalf("through the proxy: %q, %v", body, err)
	}

	// SIGHUP reloads the allow-list file: without the device's subtree,
	// its next handshake is refused.
	if err := os.WriteFile(allowFile, []byte("nobody._device.example.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cl.CloseIdleConnections()
	hangUp(t)
	testwait.Eventually(t, 30*time.Second, func() error {
		if !strings.Contains(errb.String(), "allow-list reloaded") {
			return fmt.Errorf("no reload logged: %s", errb.String())
		}
		return nil
	})
	cl.CloseIdleConnections()
	if body, err := get(); err == nil {
		t.Fatalf("after the reload the device still gets through: %q", body)
	}
	if !strings.Contains(errb.String(), "not-allowed") {
		t.Errorf("stderr lacks the refusal's reason: %s", errb.String())
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d after SIGTERM-like stop: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "proxy: stopped") {
		t.Errorf("no clean stop logged: %s", errb.String())
	}
}

func TestProxyCommandMetrics(t *testing.T) {
	f := newProxyFixture(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"proxy", "--listen", "127.0.0.1:0", "--backend", backend.URL, "--cert", f.srvCert, "--key", f.srvKey,
			"--allow", "*._device.example.test", "--resolver", f.resolver, "--anchors", f.anchors, "--metrics", "127.0.0.1:0"}, nil, &out, &errb)
	}()
	re := regexp.MustCompile(`(?s)metrics on (http://127\.0\.0\.1:\d+/metrics).*listening on (127\.0\.0\.1:\d+)`)
	var m []string
	testwait.Eventually(t, 30*time.Second, func() error {
		if m = re.FindStringSubmatch(out.String()); m == nil {
			return fmt.Errorf("no addresses reported: %s %s", out.String(), errb.String())
		}
		return nil
	})
	resp, err := f.client().Get("https://" + m[2] + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mr, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mr.Body)
	mr.Body.Close()
	for _, want := range []string{`dance_proxy_handshakes_total{result="ok"} 1`, `dance_proxy_forwarded_total{mode="http"} 1`, `dance_verify_verdicts_total{result="ok"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

// TestProxyCommandHTTPSBackend: --backend-ca verifies an https backend.
func TestProxyCommandHTTPSBackend(t *testing.T) {
	f := newProxyFixture(t)
	backend := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls backend sees %s", r.Header.Get("Dance-Client-Name"))
	}))
	defer backend.Close()
	ca := filepath.Join(f.dir, "backend-ca.pem")
	os.WriteFile(ca, identity.MarshalCertificate(backend.Certificate()), 0o644)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"with --backend-ca", []string{"--backend-ca", ca}, "tls backend sees " + f.devName},
		{"without: the backend's certificate is not trusted", nil, "Bad Gateway\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr, _, stop := startProxyCmd(t, append([]string{"--listen", "127.0.0.1:0", "--backend", backend.URL,
				"--cert", f.srvCert, "--key", f.srvKey, "--allow", "*._device.example.test",
				"--resolver", f.resolver, "--anchors", f.anchors}, tt.args...))
			defer stop()
			resp, err := f.client().Get("https://" + addr + "/")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != tt.want {
				t.Fatalf("got %q, want %q", b, tt.want)
			}
		})
	}
}

func TestProxyCommandErrors(t *testing.T) {
	f := newProxyFixture(t)
	base := []string{"proxy", "--listen", "127.0.0.1:0", "--cert", f.srvCert, "--key", f.srvKey}
	badAllow := filepath.Join(f.dir, "bad-allow")
	os.WriteFile(badAllow, []byte("ok._device.example.test\n*\n"), 0o644)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no listen", []string{"proxy", "--backend", "http://a"}, 2, "--listen is required"},
		{"no backend", append(base, "--allow", "*.x.test"), 2, "--backend is required"},
		{"no cert", []string{"proxy", "--listen", ":0", "--backend", "http://a"}, 2, "--cert and --key"},
		{"bad mode", append(base, "--backend", "http://a", "--mode", "socks"), 2, "unknown mode"},
		{"tlv outside the custom range", append(base, "--backend", "a:1", "--mode", "tcp", "--tlv", "0x20", "--allow", "*.x.test"), 2, "0xE0 to 0xEF"},
		{"empty allow-list", append(base, "--backend", "http://a"), 2, "allow-list is empty"},
		{"allow-list in passthrough", append(base, "--backend", "http://a", "--mode", "passthrough", "--allow", "*.x.test"), 2, "passthrough"},
		{"allow-list that allows all", append(base, "--backend", "http://a", "--allow-file", badAllow), 2, "line 2"},
		{"missing allow file", append(base, "--backend", "http://a", "--allow-file", filepath.Join(f.dir, "none")), 2, "no such file"},
		{"missing cert", []string{"proxy", "--listen", ":0", "--backend", "http://a", "--cert", "/nonexistent", "--key", f.srvKey, "--allow", "*.x.test"}, 2, "--cert/--key"},
		{"tcp backend as a URL", append(base, "--backend", "http://a", "--mode", "tcp", "--allow", "*.x.test", "--resolver", f.resolver), 2, "host:port"},
		{"backend CA without certificates", append(base, "--backend", "https://a", "--allow", "*.x.test", "--backend-ca", f.anchors), 2, "no PEM certificate"},
		{"bad log level", append(base, "--backend", "http://a", "--log-level", "loud"), 2, "--log-level"},
		{"positional argument", append(base, "extra"), 2, "unexpected argument"},
		{"help", []string{"proxy", "--help"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, nil, &out, &errb)
			if code != tt.code || !strings.Contains(errb.String(), tt.stderr) {
				t.Fatalf("exit %d stderr %q, want %d and %q", code, errb.String(), tt.code, tt.stderr)
			}
			if tt.name == "help" && !regexp.MustCompile(`(?s)EXAMPLES.*EXIT CODES`).MatchString(out.String()) {
				t.Errorf("help lacks examples or exit codes: %s", out.String())
			}
		})
	}
}

// TestProxySignals runs the real binary in tcp mode: SIGHUP reloads the
// allow-list file (a bad file keeps the old list), SIGTERM and SIGINT stop
// it with exit 0 after draining.
func TestProxySignals(t *testing.T) {
	f := newProxyFixture(t)
	bin := filepath.Join(t.TempDir(), "dance")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	allowFile := filepath.Join(f.dir, "allowed.txt")
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		os.WriteFile(allowFile, []byte("*._device.example.test\n"), 0o644)
		backend, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				c, err := backend.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					br := bufio.NewReader(c)
					h, err := proxyproto.Read(br)
					if err != nil {
						return
					}
					name, _ := h.TLV(0xE3)
					fmt.Fprintf(c, "%s\n", name)
				}()
			}
		}()
		cmd := exec.Command(bin, "proxy", "--mode", "tcp", "--listen", "127.0.0.1:0", "--backend", backend.Addr().String(),
			"--tlv", "0xE3", "--cert", f.srvCert, "--key", f.srvKey, "--allow-file", allowFile,
			"--resolver", f.resolver, "--anchors", f.anchors)
		var out, errb syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		re := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)
		var m []string
		if !testwait.Until(30*time.Second, func() bool { m = re.FindStringSubmatch(out.String()); return m != nil }) {
			cmd.Process.Kill()
			t.Fatalf("proxy did not start: %s", errb.String())
		}
		dial := func() (string, error) {
			c, err := tls.Dial("tcp", m[1], &tls.Config{RootCAs: f.pool, ServerName: "proxy.example.test", Certificates: []tls.Certificate{f.dev}})
			if err != nil {
				return "", err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			return bufio.NewReader(c).ReadString('\n')
		}
		if got, err := dial(); err != nil || got != f.devName+"\n" {
			t.Fatalf("%v: through the proxy: %q, %v", sig, got, err)
		}
		waitLog := func(s string, n int) {
			t.Helper()
			testwait.Eventually(t, 30*time.Second, func() error {
				if strings.Count(errb.String(), s) < n {
					return fmt.Errorf("%q not logged: %s", s, errb.String())
				}
				return nil
			})
		}
		// A broken file is refused and the old list stays.
		os.WriteFile(allowFile, []byte("*\n"), 0o644)
		cmd.Process.Signal(syscall.SIGHUP)
		waitLog("allow-list not reloaded", 1)
		if got, err := dial(); err != nil || got != f.devName+"\n" {
			t.Fatalf("%v: after a failed reload: %q, %v", sig, got, err)
		}
		os.WriteFile(allowFile, []byte("other._device.example.test\n"), 0o644)
		cmd.Process.Signal(syscall.SIGHUP)
		waitLog("allow-list reloaded", 1)
		if got, err := dial(); err == nil && got != "" {
			t.Fatalf("%v: after the reload the device still gets through: %q", sig, got)
		}
		cmd.Process.Signal(sig)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%v: exit %v; stderr %s", sig, err, errb.String())
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%v: proxy did not stop", sig)
		}
		backend.Close()
		if !strings.Contains(errb.String(), "proxy: stopped") {
			t.Errorf("%v: no clean stop logged: %s", sig, errb.String())
		}
	}
}
