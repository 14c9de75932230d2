package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// initZone makes a zone devices.test in a new directory.
func initZone(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "z")
	if code := run(context.Background(), []string{"zone", "init", "--zone", "devices.test", "--dir", dir}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("init failed")
	}
	return dir
}

// TestZoneServeLocked: a second server on a directory the first holds is
// refused, saying so and naming the holder, not "create the zone first";
// the first serves on.
func TestZoneServeLocked(t *testing.T) {
	dir := initZone(t)
	addr, _, stop := startServeStop(t, dir)
	defer stop()
	var o, e bytes.Buffer
	code := run(context.Background(), []string{"zone", "serve", "--dir", dir, "--listen", "127.0.0.1:0", "--admin-listen", "off"}, nil, &o, &e)
	want := fmt.Sprintf("zone.db is locked by a running server (pid %d)", os.Getpid())
	if code != 2 || !strings.Contains(e.String(), want) || strings.Contains(e.String(), "zone init") {
		t.Fatalf("second serve: exit %d, stderr %q; want exit 2 and %q", code, e.String(), want)
	}
	m := new(dns.Msg)
	m.SetQuestion("devices.test.", dns.TypeSOA)
	if r, err := dns.Exchange(m, addr); err != nil || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("first server after the refused second: %v %v", err, r)
	}
}

// TestZoneServeMetricsListen: with --admin-listen off, --metrics-listen
// serves the DNS metrics without credentials; a bad address is a usage
// error.
func TestZoneServeMetricsListen(t *testing.T) {
	dir := initZone(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"zone", "serve", "--dir", dir, "--listen", "127.0.0.1:0", "--admin-listen", "off", "--metrics-listen", "127.0.0.1:0"}, nil, &out, &errb)
	}()
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exit %d: %s", code, errb.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	reDNS := regexp.MustCompile(`on (127\.0\.0\.1:\d+) \(udp, tcp\)`)
	reMetrics := regexp.MustCompile(`metrics on (http://127\.0\.0\.1:\d+/metrics)`)
	var addr, url string
	for deadline := time.Now().Add(30 * time.Second); ; {
		if m, m2 := reDNS.FindStringSubmatch(out.String()), reMetrics.FindStringSubmatch(out.String()); m != nil && m2 != nil {
			addr, url = m[1], m2[1]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not report its addresses: %s %s", out.String(), errb.String())
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	if strings.Contains(out.String(), "admin API on") {
		t.Errorf("admin API started with --admin-listen off: %s", out.String())
	}
	m := new(dns.Msg)
	m.SetQuestion("devices.test.", dns.TypeSOA)
	if _, err := dns.Exchange(m, addr); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(url) // no token
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// A plain query over UDP is answered by the fast path ("direct").
	if resp.StatusCode != 200 || !strings.Contains(string(body), `dance_zone_dns_requests_total{outcome="direct"} 1`) {
		t.Errorf("metrics: %d\n%s", resp.StatusCode, body)
	}

	var e bytes.Buffer
	if code := run(context.Background(), []string{"zone", "serve", "--dir", dir, "--metrics-listen", "nowhere"}, nil, &bytes.Buffer{}, &e); code != 2 || !strings.Contains(e.String(), "--metrics-listen") {
		t.Errorf("bad --metrics-listen: exit %d, %q", code, e.String())
	}
	var a bytes.Buffer
	if code := run(context.Background(), []string{"zone", "serve", "--dir", dir, "--admin-tls-cert", "c", "--admin-tls-key", "k",
		"--admin-allow", "*._device.devices.test", "--anchors", "-"}, nil, &bytes.Buffer{}, &a); code != 2 || !strings.Contains(a.String(), "reads the anchors again on SIGHUP") {
		t.Errorf("--anchors -: exit %d, %q", code, a.String())
	}
	var h bytes.Buffer
	if code := run(context.Background(), []string{"zone", "serve", "--help"}, nil, &h, &h); code != 0 || !strings.Contains(h.String(), "--metrics-listen") || !strings.Contains(h.String(), "SIGHUP") {
		t.Errorf("help lacks --metrics-listen or SIGHUP: %s", h.String())
	}
}

// opensslCert writes a self-signed certificate for 127.0.0.1 with common
// name cn.
func opensslCert(t *testing.T, certFile, keyFile, cn string) {
	t.Helper()
	if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", keyFile, "-out", certFile, "-days", "1", "-subj", "/CN="+cn, "-addext", "subjectAltName=IP:127.0.0.1").CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
}

// presentedCN is the common name of the certificate the TLS server at
// addr presents, or "" when the handshake fails.
func presentedCN(addr string) string {
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // only the name is read
	if err != nil {
		return ""
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// TestZoneServeSIGHUP runs the real binary: SIGHUP makes it take the
// admin certificate renewed on disk and log it; a SIGHUP with a broken
// pair keeps the certificate in use and logs why; the server serves on
// and stops cleanly.
func TestZoneServeSIGHUP(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "dance")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := initZone(t)
	files := t.TempDir()
	cert, key := filepath.Join(files, "admin.crt"), filepath.Join(files, "admin.key")
	opensslCert(t, cert, key, "first")
	cmd := exec.Command(bin, "zone", "serve", "--dir", dir, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
		"--admin-tls-cert", cert, "--admin-tls-key", key)
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	exited := false
	defer func() {
		if !exited {
			cmd.Process.Kill()
			<-done
		}
	}()
	// poll waits for cond, failing the test after a generous deadline.
	poll := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); {
			if time.Now().After(deadline) {
				t.Fatalf("%s: gave up; stderr:\n%s", what, errb.String())
			}
			time.Sleep(20 * time.Millisecond) // polling interval
		}
	}
	reAPI := regexp.MustCompile(`admin API on https://(127\.0\.0\.1:\d+)`)
	poll("start", func() bool { return reAPI.MatchString(out.String()) })
	api := reAPI.FindStringSubmatch(out.String())[1]
	if cn := presentedCN(api); cn != "first" {
		t.Fatalf("admin API presents %q", cn)
	}

	opensslCert(t, cert, key, "second")
	cmd.Process.Signal(syscall.SIGHUP)
	poll("reload", func() bool {
		return strings.Contains(errb.String(), `msg=reloaded what="admin certificate, update keys and policy"`)
	})
	if cn := presentedCN(api); cn != "second" {
		t.Errorf("admin API presents %q after SIGHUP, want second", cn)
	}

	// A key that does not go with the certificate.
	opensslCert(t, filepath.Join(files, "other.crt"), key, "third")
	cmd.Process.Signal(syscall.SIGHUP)
	poll("failed reload", func() bool { return strings.Contains(errb.String(), "reload failed") })
	if !strings.Contains(errb.String(), "admin API certificate") {
		t.Errorf("failed reload does not say why: %s", errb.String())
	}
	if cn := presentedCN(api); cn != "second" {
		t.Errorf("admin API presents %q after a failed reload, want second", cn)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		exited = true
		if err != nil {
			t.Fatalf("exit %v; stderr %s", err, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(errb.String(), "msg=stopped") {
		t.Errorf("no clean stop logged: %s", errb.String())
	}
}
