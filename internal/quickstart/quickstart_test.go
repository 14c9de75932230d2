package quickstart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/testwait"
	"github.com/miekg/dns"
)

// goroutinesSettle waits until the goroutine count is back within slack of
// base: servers stop their goroutines asynchronously after Shutdown
// returns, so the count is polled with a generous deadline.
func goroutinesSettle(t *testing.T, base, slack int) {
	t.Helper()
	testwait.Eventually(t, 15*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > base+slack {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Errorf("%d goroutines left, started with %d:\n%s", n, base, buf)
		}
		return nil
	})
}

// assertClosed checks that nothing answers on the run's addresses: TCP
// connections are refused and the DNS port answers no query over UDP.
func assertClosed(t *testing.T, res *Result) {
	t.Helper()
	addrs := []string{res.DNS, res.Admin, res.Backend, res.Proxy}
	if res.DanceProxy != "" {
		// Only a run that reached the raw-key step started it.
		addrs = append(addrs, res.DanceProxy)
	}
	for _, addr := range addrs {
		if addr == "" {
			t.Fatalf("an address is missing from %+v", res)
		}
		if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections", addr)
		}
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(DefaultZone), dns.TypeSOA)
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	if _, _, err := c.Exchange(m, res.DNS); err == nil {
		t.Errorf("%s still answers DNS over UDP", res.DNS)
	}
}

func TestRun(t *testing.T) {
	base := runtime.NumGoroutine()
	dir := filepath.Join(t.TempDir(), "qs")
	var out bytes.Buffer
	res, err := Run(context.Background(), Config{Dir: dir, TTL: time.Second, Out: &out})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	z := DefaultZone
	want := []Attempt{
		{Step: 6, Identity: "sensor1", Accepted: true, Name: "sensor1._device." + z, Kind: "device"},
		{Step: 6, Identity: "sensor2", Accepted: true, Name: "sensor2._device." + z, Kind: "device"},
		{Step: 6, Identity: "alice", Accepted: true, Name: "alice@" + z, Kind: "user"},
		{Step: 6, Identity: "sensor3", Reason: "no-record"},
	}
	if len(res.Attempts) < len(want)+2 {
		t.Fatalf("attempts %+v, want at least %d", res.Attempts, len(want)+2)
	}
	for i, w := range want {
		got := res.Attempts[i]
		if !got.Accepted && got.Detail == "" {
			t.Errorf("attempt %d: refusal without the core's detail", i)
		}
		got.Detail = ""
		if got != w {
			t.Errorf("attempt %d: %+v, want %+v", i, res.Attempts[i], w)
		}
	}
	// Step 7: sensor2 accepted while cached (zero or more times), then
	// refused for want of a record, then sensor1 still accepted.
	rest := res.Attempts[len(want):]
	last := rest[len(rest)-1]
	if last != (Attempt{Step: 7, Identity: "sensor1", Accepted: true, Name: "sensor1._device." + z, Kind: "device"}) {
		t.Errorf("last attempt %+v, want sensor1 accepted", last)
	}
	revoked := rest[len(rest)-2]
	if revoked.Step != 7 || revoked.Identity != "sensor2" || revoked.Accepted || revoked.Reason != "no-record" || revoked.Detail == "" {
		t.Errorf("revoked attempt %+v, want sensor2 refused with no-record", revoked)
	}
	for _, a := range rest[:len(rest)-2] {
		if a.Identity != "sensor2" || !a.Accepted || a.Name != "sensor2._device."+z {
			t.Errorf("attempt while cached %+v, want sensor2 accepted", a)
		}
	}
	if !res.Kept || res.Dir != dir {
		t.Errorf("dir %q kept %v, want %q kept", res.Dir, res.Kept, dir)
	}
	// The files are there for the by-hand commands, as dance writes them.
	for _, id := range []string{"sensor1", "sensor2", "sensor3", "alice", "proxy"} {
		if _, err := danetls.LoadIdentity(filepath.Join(dir, id)); err != nil {
			t.Errorf("identity %s: %v", id, err)
		}
		fi, err := os.Stat(filepath.Join(dir, id, danetls.KeyFile))
		if err != nil || fi.Mode().Perm() != identity.KeyFileMode {
			t.Errorf("%s key file: %v %v", id, fi, err)
		}
	}
	for _, f := range []string{"zone/anchors", "zone/tsig.key", "zone/zone.db", "userca/cert.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	text := out.String()
	for _, s := range []string{
		"\n9. Signed readings: sensor → gateway → cloud\n",
		"\n10. Shut everything down\n",
		"all 10 steps behaved as expected.",
		"$ dance connect --engine dance --raw-key --client-name meter1._device." + z,
		"$ dance zone serve --dir " + filepath.Join(dir, "zone") + " --listen " + res.DNS + " --admin-listen " + res.Admin,
		"--resolve proxy." + z + ":" + portOf(res.Proxy) + ":127.0.0.1",
		"--allow '*._device." + z + "' --allow _user." + z,
		"jws-compact: sensor=sensor1._device." + z + " gateway=gw1._device." + z + " reading=21.5 (seq 1)",
		"cose-sign1: sensor=sensor1._device." + z + " gateway=gw1._device." + z + " reading=21.7 (seq 2)",
		"forged sensor1 (sensor3's key)           refused by the gateway: no-match",
		"revoked sensor2                          refused by the gateway: no-record",
		"$ dance mqtt cloud --allow '*._device." + z + "' --gateway gw1._device." + z + " --json --resolver " + res.DNS,
		"$ dance mqtt sensor --identity " + filepath.Join(dir, "sensor1") + " --format cose 21.5",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("output lacks %q:\n%s", s, text)
		}
	}
	if a := res.RawKey; a == nil || !a.Accepted || a.Name != "meter1._device."+z || a.Kind != "device" {
		t.Errorf("raw-key device: %+v, want meter1 accepted as a device", a)
	}
	if _, err := os.Stat(filepath.Join(dir, "meter1", "pubkey.pem")); err != nil {
		t.Error(err)
	}
	assertClosed(t, res)
	goroutinesSettle(t, base, 2)
}

// TestRunTemporaryDir checks that the default directory is removed, and
// that quiet output has one title and one verdict per step.
func TestRunTemporaryDir(t *testing.T) {
	var out bytes.Buffer
	res, err := Run(context.Background(), Config{TTL: time.Second, Out: &out, Quiet: true, Zone: "ids.example.test"})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if res.Kept {
		t.Error("temporary directory reported kept")
	}
	if _, err := os.Stat(res.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: %v, want it removed", res.Dir, err)
	}
	text := out.String()
	if strings.Contains(text, "$ ") {
		t.Errorf("quiet output has commands:\n%s", text)
	}
	if n := strings.Count(text, "\n   ok: "); n != 10 {
		t.Errorf("%d verdicts, want 10:\n%s", n, text)
	}
	if !strings.Contains(text, "sensor2._device.ids.example.test refused once caches dropped its record") {
		t.Errorf("output lacks the revocation verdict:\n%s", text)
	}
	assertClosed(t, res)
}

// cancelOn is an output writer that cancels a context once the output
// holds a marker.
type cancelOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.marker) {
		c.cancel()
	}
	return n, err
}

// TestRunInterrupted cancels the run while it waits out a long TTL: the
// step fails with ErrInterrupted and everything is still stopped.
func TestRunInterrupted(t *testing.T) {
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelOn{marker: "waiting out the TTL", cancel: cancel}
	start := time.Now()
	res, err := Run(ctx, Config{TTL: MaxTTL, Out: w})
	var se *StepError
	if !errors.As(err, &se) || se.Step != 7 || !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err %v, want an interruption of step 7\n%s", err, w.buf.String())
	}
	if !strings.HasPrefix(err.Error(), "interrupted during step 7 (revoke sensor2") {
		t.Errorf("error %q", err)
	}
	if d := time.Since(start); d > MaxTTL/2 {
		t.Errorf("took %v: the wait was not interrupted", d)
	}
	if !strings.Contains(w.buf.String(), "ok: nothing left running") {
		t.Errorf("no clean shutdown:\n%s", w.buf.String())
	}
	if _, err := os.Stat(res.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: %v, want it removed", res.Dir, err)
	}
	assertClosed(t, res)
	goroutinesSettle(t, base, 2)
}

func TestConfigErrors(t *testing.T) {
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o600)
	var out bytes.Buffer
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no output", Config{}, "no output writer"},
		{"ttl too short", Config{Out: &out, TTL: time.Millisecond}, "whole seconds"},
		{"ttl not whole", Config{Out: &out, TTL: 1500 * time.Millisecond}, "whole seconds"},
		{"ttl too long", Config{Out: &out, TTL: MaxTTL + time.Second}, "whole seconds"},
		{"zone syntax", Config{Out: &out, Zone: "bad_zone..test"}, "zone"},
		{"zone is a device name", Config{Out: &out, Zone: "a._device.example.test"}, "want a plain domain"},
		{"zone too long", Config{Out: &out, Zone: strings.Repeat(strings.Repeat("a", 60)+".", 4) + "test"}, "zone"},
		{"dir not empty", Config{Out: &out, Dir: full}, "is not empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), tt.cfg)
			var ce *ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want a ConfigError with %q", err, tt.want)
			}
			if res != nil {
				t.Errorf("result %+v for a config error", res)
			}
			if tt.cfg.Check() == nil {
				t.Error("Check accepts what Run refuses")
			}
		})
	}
	if out.Len() != 0 {
		t.Errorf("config errors printed %q", out.String())
	}
	if Config.Check(Config{Out: &out}) != nil {
		t.Error("the zero Config with an output is refused")
	}
}

func TestShellQuote(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", "''"},
		{"plain", "plain"},
		{"/tmp/x-1/cert.pem", "/tmp/x-1/cert.pem"},
		{"http://127.0.0.1:8053", "http://127.0.0.1:8053"},
		{"*._device.example.test", "'*._device.example.test'"},
		{"3 1 1 ab", "'3 1 1 ab'"},
		{"it's", `'it'\''s'`},
		{"$HOME", "'$HOME'"},
	} {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
