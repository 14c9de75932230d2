package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/zone/admin"
)

// TestZoneServeConfigFile: zone serve takes its flags from --config, the
// command line overriding them (the file's log level is invalid, the
// command line's is not); the admin clients take the token from
// $DANCE_ADMIN_TOKEN.
func TestZoneServeConfigFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "z")
	if code := run(context.Background(), []string{"zone", "init", "--zone", "devices.test", "--dir", dir}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("init failed")
	}
	conf := filepath.Join(t.TempDir(), "serve.conf")
	os.WriteFile(conf, []byte("# zone server\ndir = "+dir+"\nlisten = 127.0.0.1:0\nadmin-listen = 127.0.0.1:0\nlog-level = shouting\n"), 0o600)

	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"zone", "serve", "--config", conf}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--log-level") {
		t.Fatalf("the file's bad log level: exit %d, %s", code, errb.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.conf")
	os.WriteFile(bad, []byte("dir = "+dir+"\nlisten-addr = 127.0.0.1:0\n"), 0o600)
	errb.Reset()
	if code := run(context.Background(), []string{"zone", "serve", "--config", bad}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), bad+":2: listen-addr: unknown key") {
		t.Fatalf("unknown key: exit %d, %s", code, errb.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sout, serr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"zone", "serve", "--config", conf, "--log-level", "info"}, nil, &sout, &serr)
	}()
	reAPI := regexp.MustCompile(`admin API on (http://127\.0\.0\.1:\d+)`)
	var m []string
	for deadline := time.Now().Add(30 * time.Second); m == nil; m = reAPI.FindStringSubmatch(sout.String()) {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, serr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not report its admin API: %s", serr.String())
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	tok, err := admin.ReadToken(filepath.Join(dir, admin.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(adminTokenEnv, tok)
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"zone", "add", "--api", m[1], "s1._device.devices.test", "TLSA", "3 1 1 " + strings.Repeat("ab", 32)}, nil, &out, &errb); code != 0 {
		t.Fatalf("zone add with $%s: exit %d: %s", adminTokenEnv, code, errb.String())
	}
	t.Setenv(adminTokenEnv, strings.Repeat("0", 64))
	if code := run(context.Background(), []string{"zone", "list", "--api", m[1]}, nil, &out, &errb); code != 1 {
		t.Fatalf("zone list with a wrong $%s: exit %d, want 1 (401)", adminTokenEnv, code)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exit %d: %s", code, serr.String())
	}
}

// TestProxyConfigFile: dance proxy runs from a --config file, repeatable
// flags on several lines, the command line overriding the file.
func TestProxyConfigFile(t *testing.T) {
	f := newProxyFixture(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Dance-Client-Name"))
	}))
	defer backend.Close()
	conf := filepath.Join(f.dir, "proxy.conf")
	os.WriteFile(conf, []byte(`# dance proxy
listen = 127.0.0.1:0
backend = `+backend.URL+`
cert = `+f.srvCert+`
key = `+f.srvKey+`
allow = nobody._device.example.test
allow = *._device.example.test
resolver = `+f.resolver+`
anchors = `+f.anchors+`
access-log = true
log-level = shouting
`), 0o600)
	addr, errb, stop := startProxyCmd(t, []string{"--config", conf, "--log-level", "info"})
	resp, err := f.client().Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != f.devName {
		t.Fatalf("backend saw %q", b)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errb.String(), "client accepted") {
		t.Errorf("access-log = true in the file did not apply: %s", errb.String())
	}
	os.WriteFile(conf, []byte("listen = 127.0.0.1:0\nallow-files = x\n"), 0o600)
	var out, e bytes.Buffer
	if code := run(context.Background(), []string{"proxy", "--config", conf}, nil, &out, &e); code != 2 || !strings.Contains(e.String(), conf+":2: allow-files: unknown key") {
		t.Fatalf("unknown key: exit %d: %s", code, e.String())
	}
}
