package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/testwait"
)

// quickstartChecks are the lines a successful run must print, each in the
// part of the output (a step) where it belongs.
func checkQuickstartOutput(t *testing.T, out string) {
	t.Helper()
	step := func(n int) string {
		start := strings.Index(out, "\n"+string(rune('0'+n))+". ")
		end := strings.Index(out, "\n"+string(rune('1'+n))+". ")
		if start < 0 || end < start {
			t.Fatalf("no step %d in output:\n%s", n, out)
		}
		return out[start:end]
	}
	z := `quickstart\.dance\.test`
	for _, c := range []struct {
		step int
		re   string
	}{
		{6, `sensor1\._device\.` + z + ` +accepted; the backend saw Dance-Client-Name: sensor1\._device\.` + z + `, Dance-Client-Kind: device\n`},
		{6, `sensor2\._device\.` + z + ` +accepted; the backend saw Dance-Client-Name: sensor2\._device\.` + z + `, Dance-Client-Kind: device\n`},
		{6, `alice@` + z + ` +accepted; the backend saw Dance-Client-Name: alice@` + z + `, Dance-Client-Kind: user\n`},
		{6, `sensor3\._device\.` + z + ` +refused with a TLS alert; the proxy's log says: no-record \(.+\)\n`},
		{7, `sensor2\._device\.` + z + ` +refused; the proxy's log says: no-record \(.+\)\n`},
		{7, `sensor1\._device\.` + z + ` +still accepted\n`},
		{7, `ok: sensor2\._device\.` + z + ` refused once caches dropped its record`},
		{8, `meter1\._device\.` + z + ` +accepted by its raw key and dane_clientid; the backend saw Dance-Client-Name: meter1\._device\.` + z + `, Dance-Client-Kind: device\n`},
	} {
		if !regexp.MustCompile(c.re).MatchString(step(c.step)) {
			t.Errorf("step %d does not match %q:\n%s", c.step, c.re, step(c.step))
		}
	}
	if !strings.Contains(out, "\nall 10 steps behaved as expected.\n") {
		t.Errorf("no final verdict:\n%s", out)
	}
}

// quickstartAddrs returns the addresses a run printed: DNS, admin API,
// backend and proxy.
func quickstartAddrs(t *testing.T, out string) []string {
	t.Helper()
	var addrs []string
	for _, re := range []string{`DNS on (127\.0\.0\.1:\d+)`, `admin API on http://(127\.0\.0\.1:\d+)`,
		`backend http://(127\.0\.0\.1:\d+)`, `proxy https://(127\.0\.0\.1:\d+)`} {
		m := regexp.MustCompile(re).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("output lacks %s:\n%s", re, out)
		}
		addrs = append(addrs, m[1])
	}
	return addrs
}

func TestQuickstart(t *testing.T) {
	base := runtime.NumGoroutine()
	dir := filepath.Join(t.TempDir(), "qs")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"quickstart", "--ttl", "1", "--dir", dir}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	if errb.Len() != 0 {
		t.Errorf("stderr: %s", errb.String())
	}
	checkQuickstartOutput(t, out.String())
	for _, addr := range quickstartAddrs(t, out.String()) {
		if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after the run", addr)
		}
	}
	// The by-hand commands name this run's files.
	for _, f := range []string{"zone/anchors", "sensor1/cert.pem", "alice/key.pem", "proxy/cert.pem"} {
		p := filepath.Join(dir, f)
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
		if !strings.Contains(out.String(), p) {
			t.Errorf("output does not name %s", p)
		}
	}
	testwait.Eventually(t, 15*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > base+2 {
			buf := make([]byte, 1<<20)
			return fmt.Errorf("%d goroutines left, started with %d:\n%s", n, base, buf[:runtime.Stack(buf, true)])
		}
		return nil
	})
}

// interruptWriter cancels the run when the output shows a marker, as
// Ctrl-C would.
type interruptWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	cancel context.CancelFunc
}

func (w *interruptWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, _ := w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.marker) {
		w.cancel()
	}
	return n, nil
}

func TestQuickstartErrors(t *testing.T) {
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o600)
	runCases(t, []cliCase{
		{name: "help", args: []string{"quickstart", "--help"}, code: 0, stdout: `(?s)USAGE.*--ttl SECONDS.*EXAMPLES.*EXIT CODES`},
		{name: "argument", args: []string{"quickstart", "now"}, code: 2, stderr: `unexpected argument "now"`},
		{name: "ttl zero", args: []string{"quickstart", "--ttl", "0"}, code: 2, stderr: "--ttl must be between 1 and 300 seconds"},
		{name: "ttl too long", args: []string{"quickstart", "--ttl", "301"}, code: 2, stderr: "--ttl must be between 1 and 300 seconds"},
		{name: "dir and keep", args: []string{"quickstart", "--dir", full, "--keep"}, code: 2, stderr: "--keep is for the temporary directory"},
		{name: "dir not empty", args: []string{"quickstart", "--dir", full}, code: 2, stderr: "is not empty"},
		{name: "bad zone", args: []string{"quickstart", "--zone", "_user.example.test"}, code: 2, stderr: "want a plain domain"},
	})

	// Ctrl-C in the middle: exit 1, naming the step, after a clean stop.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &interruptWriter{marker: "waiting out the TTL", cancel: cancel}
	var errb bytes.Buffer
	code := run(ctx, []string{"quickstart", "--ttl", "300"}, nil, w, &errb)
	if code != 1 || !strings.Contains(errb.String(), "dance: error: interrupted during step 7 (revoke sensor2") {
		t.Fatalf("exit %d, stderr %q\n%s", code, errb.String(), w.buf.String())
	}
	if !strings.Contains(w.buf.String(), "ok: nothing left running") {
		t.Errorf("no clean stop after the interruption:\n%s", w.buf.String())
	}
}

// TestQuickstartBinary is the one-command experience: the built binary,
// no configuration. Then the commands a run printed are pasted into a
// shell, as a reader would: the provisioning lines into a new directory,
// the serving lines on the run's files and ports.
func TestQuickstartBinary(t *testing.T) {
	binDir := t.TempDir()
	bin := filepath.Join(binDir, "dance")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "quickstart", "--ttl", "1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	checkQuickstartOutput(t, out.String())
	m := regexp.MustCompile(`files in (\S+) \(removed at the end`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no temporary directory in output:\n%s", out.String())
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("%s: %v, want it removed", m[1], err)
	}
	for _, addr := range quickstartAddrs(t, out.String()) {
		if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after the binary exited", addr)
		}
	}

	t.Run("by hand", func(t *testing.T) { quickstartByHand(ctx, t, bin) })

	// A reader that stops early: the run still cleans up after itself.
	t.Run("head", func(t *testing.T) {
		b, err := exec.CommandContext(ctx, "bash", "-c", bin+" quickstart --ttl 1 | head -n 2").Output()
		if err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		m := regexp.MustCompile(`files in (\S+) \(removed`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("no directory in %q", b)
		}
		// bash waited for the whole pipeline: the run has ended.
		if _, err := os.Stat(string(m[1])); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want it removed", m[1], err)
		}
	})
}

func quickstartByHand(ctx context.Context, t *testing.T, bin string) {
	dir := filepath.Join(t.TempDir(), "qs")
	out, err := exec.CommandContext(ctx, bin, "quickstart", "--ttl", "1", "--dir", dir).Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if c, ok := strings.CutPrefix(l, "   $ "); ok {
			lines = append(lines, c)
		}
	}
	path := filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH")
	shell := func(line string) *exec.Cmd {
		c := exec.CommandContext(ctx, "bash", "-c", line)
		c.Env = append(os.Environ(), "PATH="+path)
		c.Stdin = strings.NewReader("")
		return c
	}
	runLine := func(line, want string) {
		t.Helper()
		b, err := shell(line).CombinedOutput()
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("$ %s\n%v\n%s\nwant %q in the output", line, err, b, want)
		}
	}
	// startLine runs a server line until the test ends and waits for the
	// line it prints once ready.
	startLine := func(line, ready string) {
		t.Helper()
		c := shell("exec " + line)
		var o syncBuffer
		c.Stdout, c.Stderr = &o, &o
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c.Process.Signal(os.Interrupt)
			c.Wait()
		})
		testwait.Eventually(t, 30*time.Second, func() error {
			if !strings.Contains(o.String(), ready) {
				return fmt.Errorf("$ %s\nnot ready:\n%s", line, o.String())
			}
			return nil
		})
	}
	find := func(prefix string) []string {
		var found []string
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				found = append(found, l)
			}
		}
		if len(found) == 0 {
			t.Fatalf("no line starts with %q in:\n%s", prefix, out)
		}
		return found
	}

	// Provisioning, into a new directory.
	fresh := filepath.Join(t.TempDir(), "byhand")
	for _, l := range lines {
		for _, p := range []string{"dance zone init ", "dance id new ", "dance ca new "} {
			if strings.HasPrefix(l, p) {
				runLine(strings.ReplaceAll(l, dir, fresh), "")
			}
		}
	}
	for _, f := range []string{"zone/anchors", "sensor1/cert.pem", "userca/key.pem", "alice/cert.pem", "proxy/key.pem"} {
		if _, err := os.Stat(filepath.Join(fresh, f)); err != nil {
			t.Error(err)
		}
	}

	// Serving and connecting, with the run's files and ports.
	startLine(find("dance zone serve ")[0], "admin API on")
	for _, l := range find("dance lookup ") {
		runLine(l, "secure")
	}
	runLine(find("dance zone add ")[0], "published")
	runLine(find("printf ")[0], "")
	pl := find("dance proxy ")[0]
	bm := regexp.MustCompile(`--backend http://(\S+)`).FindStringSubmatch(pl)
	if bm == nil {
		t.Fatalf("no backend in %s", pl)
	}
	backend, err := net.Listen("tcp", bm[1])
	if err != nil {
		t.Fatalf("the backend's port: %v", err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Dance-Client-Name: %s\n", r.Header.Get("Dance-Client-Name"))
	})}
	go hs.Serve(backend)
	t.Cleanup(func() { hs.Close() })
	startLine(pl, "listening on")
	runLine(find("dance connect ")[0], "Dance-Client-Name: sensor1._device.quickstart.dance.test")
	runLine(find("dance verify ")[0], "alice@quickstart.dance.test")
	runLine(find("curl ")[0], "Dance-Client-Name: alice@quickstart.dance.test")
	runLine(find("openssl s_client ")[0], "Verify return code: 0 (ok)")
	// sensor2 is gone already: revoke sensor1 instead.
	runLine(strings.ReplaceAll(find("dance zone remove ")[0], "sensor2", "sensor1"), "sensor1._device.quickstart.dance.test: removed")
	// The revocation printed for zones with a wildcard works too, on a
	// name without records.
	runLine(strings.ReplaceAll(find("dance zone revoke ")[0], "sensor2", "sensor1"), "sensor1._device.quickstart.dance.test: revoked")
	// Refused once the by-hand proxy's caches drop the record (dance
	// proxy keeps answers at least 5s, whatever their TTL).
	testwait.Eventually(t, 60*time.Second, func() error {
		b, err := shell(find("dance connect ")[0]).CombinedOutput()
		if err != nil && strings.Contains(string(b), "bad certificate") {
			return nil
		}
		return fmt.Errorf("sensor1 still accepted after its removal:\n%s", b)
	})
}
