package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/testwait"
)

func TestZoneInit(t *testing.T) {
	base := t.TempDir()
	existing := filepath.Join(base, "existing")
	if code := run(context.Background(), []string{"zone", "init", "--zone", "x.test", "--dir", existing}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatalf("setup: exit %d", code)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // regexp
		stderr string // substring
	}{
		{"ok", []string{"zone", "init", "--zone", "devices.test", "--dir", filepath.Join(base, "a")}, 0,
			`(?m)^devices\.test\.\t3600\tIN\tDS\t\d+ 13 2 [0-9A-F]{64}$`, ""},
		{"ed25519 and ns", []string{"zone", "init", "--zone", "devices.test", "--dir", filepath.Join(base, "b"), "--algorithm", "ed25519", "--ns", "ns1.example.net", "--ns", "ns2.example.net"}, 0,
			`DS\t\d+ 15 2 `, ""},
		{"in-zone ns with address", []string{"zone", "init", "--zone", "devices.test", "--dir", filepath.Join(base, "f"), "--ns", "ns1.devices.test=192.0.2.1,2001:db8::1"}, 0, `DS\t`, ""},
		{"in-zone ns without address", []string{"zone", "init", "--zone", "devices.test", "--dir", filepath.Join(base, "g"), "--ns", "ns1.devices.test"}, 2, `^$`, "needs an address"},
		{"bad ns address", []string{"zone", "init", "--zone", "devices.test", "--dir", filepath.Join(base, "h"), "--ns", "ns1.devices.test=300.1.1.1"}, 2, `^$`, "--ns"},
		{"missing zone", []string{"zone", "init", "--dir", filepath.Join(base, "c")}, 2, `^$`, "--zone and --dir are required"},
		{"bad algorithm", []string{"zone", "init", "--zone", "d.test", "--dir", filepath.Join(base, "d"), "--algorithm", "rsasha1"}, 2, `^$`, "unsupported DNSSEC algorithm"},
		{"bad ttl", []string{"zone", "init", "--zone", "d.test", "--dir", filepath.Join(base, "d"), "--ttl", "0"}, 2, `^$`, "--ttl"},
		{"existing", []string{"zone", "init", "--zone", "x.test", "--dir", existing}, 2, `^$`, "already holds a zone"},
		{"bad name", []string{"zone", "init", "--zone", "bad..name", "--dir", filepath.Join(base, "e")}, 2, `^$`, "invalid zone name"},
		{"help", []string{"zone", "init", "--help"}, 0, `EXAMPLES`, ""},
		{"ksk and zsk by default", []string{"zone", "init", "--zone", "devices.test", "--dir", filepath.Join(base, "split")}, 0,
			`^zone devices\.test\. created in \S+ \(KSK tag (\d+), ZSK tag \d+\)\n; DS record\(s\) for the parent zone:\ndevices\.test\.\t3600\tIN\tDS\t\d+ 13 2 [0-9A-F]{64}\n;`, ""},
		{"csk", []string{"zone", "init", "--zone", "devices.test", "--dir", filepath.Join(base, "csk"), "--csk"}, 0,
			`^zone devices\.test\. created in \S+ \(CSK tag \d+\)\n`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, nil, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.code, errb.String())
			}
			if !regexp.MustCompile(tt.stdout).MatchString(out.String()) {
				t.Errorf("stdout %q does not match %q", out.String(), tt.stdout)
			}
			if !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("stderr %q does not contain %q", errb.String(), tt.stderr)
			}
		})
	}
	// The key files: a KSK and a ZSK by default, one CSK with --csk; the
	// DS printed names the KSK.
	for _, c := range []struct {
		dir   string
		flags []uint16
	}{{"split", []uint16{257, 256}}, {"csk", []uint16{257}}} {
		keyFiles, _ := filepath.Glob(filepath.Join(base, c.dir, "keys", "*.key"))
		var flags []uint16
		for _, f := range keyFiles {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rr, err := dns.NewRR(string(b))
			if err != nil {
				t.Fatal(err)
			}
			flags = append(flags, rr.(*dns.DNSKEY).Flags)
		}
		slices.Sort(flags)
		slices.Sort(c.flags)
		if !slices.Equal(flags, c.flags) {
			t.Errorf("%s: key flags %v, want %v", c.dir, flags, c.flags)
		}
		anchors, err := os.ReadFile(filepath.Join(base, c.dir, "anchors"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(anchors), "\tDS\t") != 1 || strings.Contains(string(anchors), "DNSKEY\t256 ") {
			t.Errorf("%s: anchors name other keys than the KSK:\n%s", c.dir, anchors)
		}
	}
	// The created zone has its NS names and files.
	z := filepath.Join(base, "b")
	for _, f := range []string{"anchors", "tsig.key", "zone.db"} {
		if _, err := os.Stat(filepath.Join(z, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestZoneInitJSON(t *testing.T) {
	for _, csk := range []bool{false, true} {
		var out, errb bytes.Buffer
		args := []string{"zone", "init", "--zone", "Devices.Test.", "--dir", filepath.Join(t.TempDir(), "z"), "--json"}
		if csk {
			args = append(args, "--csk")
		}
		if code := run(context.Background(), args, nil, &out, &errb); code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		checkInitJSON(t, out.Bytes(), csk)
	}
}

func checkInitJSON(t *testing.T, out []byte, csk bool) {
	t.Helper()
	var res struct {
		Zone      string   `json:"zone"`
		Keys      string   `json:"keys"`
		KeyTag    uint16   `json:"key_tag"`
		ZSKTag    uint16   `json:"zsk_tag"`
		DS        []string `json:"ds"`
		DNSKEY    string   `json:"dnskey"`
		ZSKDNSKEY string   `json:"zsk_dnskey"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if csk && (res.Keys != "csk" || res.ZSKTag != 0 || res.ZSKDNSKEY != "") {
		t.Fatalf("--csk JSON: %+v", res)
	}
	if !csk {
		zsk, err := dns.NewRR(res.ZSKDNSKEY)
		if err != nil {
			t.Fatal(err)
		}
		if res.Keys != "ksk+zsk" || zsk.(*dns.DNSKEY).Flags != 256 || zsk.(*dns.DNSKEY).KeyTag() != res.ZSKTag {
			t.Fatalf("split JSON: %+v", res)
		}
	}
	rr, err := dns.NewRR(res.DS[0])
	if err != nil {
		t.Fatal(err)
	}
	key, err := dns.NewRR(res.DNSKEY)
	if err != nil {
		t.Fatal(err)
	}
	if res.Zone != "devices.test." || rr.(*dns.DS).KeyTag != res.KeyTag || !strings.EqualFold(key.(*dns.DNSKEY).ToDS(dns.SHA256).Digest, rr.(*dns.DS).Digest) {
		t.Fatalf("JSON result inconsistent: %+v", res)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestZoneServe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "z")
	if code := run(context.Background(), []string{"zone", "init", "--zone", "devices.test", "--dir", dir}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("init failed")
	}
	addr, api, stop := startServeStop(t, dir)
	m := new(dns.Msg)
	m.SetQuestion("devices.test.", dns.TypeSOA)
	r, err := dns.Exchange(m, addr)
	if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("SOA query: %v %v", err, r)
	}
	// The admin API clients.
	csv := filepath.Join(t.TempDir(), "fleet.csv")
	os.WriteFile(csv, []byte("a1._device.devices.test,TLSA,3 1 1 0102\na2._device.devices.test,TLSA,3 1 1 0304\n"), 0o644)
	hash := strings.Repeat("ab", 32)
	wrongTok := filepath.Join(t.TempDir(), "wrong.token")
	os.WriteFile(wrongTok, []byte(strings.Repeat("0", 64)+"\n"), 0o600)
	steps := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"add", []string{"zone", "add", "--api", api, "--dir", dir, "s1._device.devices.test", "TLSA", "3 1 1 " + hash}, 0, "1 record(s) published", ""},
		{"add A refused", []string{"zone", "add", "--api", api, "--dir", dir, "s1._device.devices.test", "A", "192.0.2.1"}, 2, "", "not an identity type"},
		{"add odd args", []string{"zone", "add", "--api", api, "--dir", dir, "s1._device.devices.test", "TLSA"}, 2, "", "want NAME TYPE DATA"},
		{"import", []string{"zone", "import", "--api", api, "--dir", dir, csv}, 0, "2 records imported from 2 lines", "imported 2 records"},
		{"list", []string{"zone", "list", "--api", api, "--dir", dir}, 0, "a1._device.devices.test.\t300\tIN\tTLSA\t3 1 1 0102", ""},
		{"remove", []string{"zone", "remove", "--api", api, "--dir", dir, "a1._device.devices.test"}, 0, "removed", ""},
		{"remove again", []string{"zone", "remove", "--api", api, "--dir", dir, "a1._device.devices.test"}, 2, "", "404"},
		{"list json", []string{"zone", "list", "--api", api, "--dir", dir, "--json", "--under", "_device.devices.test"}, 0, `"name":"a2._device.devices.test."`, ""},
		{"wrong token", []string{"zone", "list", "--api", api, "--token-file", wrongTok}, 1, "", "401"},
		{"unusable token file", []string{"zone", "list", "--api", api, "--token-file", csv}, 2, "", "not one line"},
		{"no token", []string{"zone", "list", "--api", api}, 2, "", "--token-file or --dir"},
		{"keys", []string{"zone", "rollover", "--api", api, "--dir", dir}, 0, "active   zsk tag", ""},
		{"keys json", []string{"zone", "rollover", "--api", api, "--dir", dir, "--json"}, 0, `"role":"zsk","state":"active","ds":""}]`, ""},
		{"retire first", []string{"zone", "rollover", "--api", api, "--dir", dir, "retire"}, 2, "", "out of order"},
		{"prepublish", []string{"zone", "rollover", "--api", api, "--dir", dir, "prepublish"}, 0, "incoming zsk tag", ""},
		{"bad step", []string{"zone", "rollover", "--api", api, "--dir", dir, "sideways"}, 2, "", "unknown step"},
		{"bad role", []string{"zone", "rollover", "--api", api, "--dir", dir, "--key", "psk", "activate"}, 2, "", "unknown key role"},
		{"role without step", []string{"zone", "rollover", "--api", api, "--dir", dir, "--key", "ksk"}, 2, "", "--key needs a step"},
		{"csk in a split zone", []string{"zone", "rollover", "--api", api, "--dir", dir, "--key", "csk", "activate"}, 2, "", "no CSK"},
		{"ksk during a zsk rollover", []string{"zone", "rollover", "--api", api, "--dir", dir, "--key", "ksk", "activate"}, 2, "", "zsk rollover is under way"},
		// The DNSKEY TTL has not passed since prepublish.
		{"zsk activate too early", []string{"zone", "rollover", "--api", api, "--dir", dir, "--key", "zsk", "activate"}, 2, "", "refused until"},
		{"zsk activate too early hint", []string{"zone", "rollover", "--api", api, "--dir", dir, "activate"}, 2, "", "--force (dangerous"},
		{"force without step", []string{"zone", "rollover", "--api", api, "--dir", dir, "--force"}, 2, "", "--force needs a step"},
		{"zsk activate forced", []string{"zone", "rollover", "--api", api, "--dir", dir, "--key", "zsk", "activate", "--force"}, 0, "outgoing zsk tag", "WARNING: step forced"},
		{"zsk retire too early", []string{"zone", "rollover", "--api", api, "--dir", dir, "retire"}, 2, "", "largest TTL"},
		{"zsk retire forced", []string{"zone", "rollover", "--api", api, "--dir", dir, "retire", "--force"}, 0, "active   ksk tag", ""},
		{"ksk prepublish", []string{"zone", "rollover", "--api", api, "--dir", dir, "--key", "ksk", "prepublish"}, 0, "next: reload validators that use a static copy of " + filepath.Join(dir, "anchors"), ""},
		{"ksk activate forced", []string{"zone", "rollover", "--api", api, "--dir", dir, "activate", "--force"}, 0, "next: publish this DS at the parent now", ""},
		{"ksk retire too early", []string{"zone", "rollover", "--api", api, "--dir", dir, "retire"}, 2, "", "refused until"},
		{"rollover help", []string{"zone", "rollover", "--help"}, 0, "wait the DNSKEY TTL", ""},
		{"rollover help force", []string{"zone", "rollover", "--help"}, 0, "--force is DANGEROUS", ""},
	}
	for _, st := range steps {
		var o, e bytes.Buffer
		code := run(context.Background(), st.args, nil, &o, &e)
		if code != st.code || !strings.Contains(o.String(), st.stdout) || !strings.Contains(e.String(), st.stderr) {
			t.Errorf("%s: exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", st.name, code, st.code, o.String(), st.stdout, e.String(), st.stderr)
		}
	}
	m = new(dns.Msg)
	m.SetQuestion("a2._device.devices.test.", dns.TypeTLSA)
	if r, err := dns.Exchange(m, addr); err != nil || len(r.Answer) != 1 {
		t.Fatalf("imported identity not served: %v %v", err, r)
	}
	m.SetQuestion("a1._device.devices.test.", dns.TypeTLSA)
	if r, err := dns.Exchange(m, addr); err != nil || r.Rcode != dns.RcodeNameError {
		t.Fatalf("removed identity still served: %v %v", err, r)
	}
	// stop cancels the context, as SIGINT/SIGTERM do in main, and checks
	// the exit status.
	if log := stop(); !strings.Contains(log, "msg=stopped") {
		t.Errorf("no stop line in log: %q", log)
	}
	// A plain-HTTP admin API on a public address needs an explicit flag.
	var e3 bytes.Buffer
	if code := run(context.Background(), []string{"zone", "serve", "--dir", dir, "--admin-listen", "0.0.0.0:0"}, nil, &bytes.Buffer{}, &e3); code != 2 || !strings.Contains(e3.String(), "--admin-insecure") {
		t.Fatalf("public admin API without TLS: exit %d, %q", code, e3.String())
	}
	// A second serve on a missing directory is an input error.
	var e2 bytes.Buffer
	if code := run(context.Background(), []string{"zone", "serve", "--dir", filepath.Join(dir, "nope")}, nil, &bytes.Buffer{}, &e2); code != 2 || !strings.Contains(e2.String(), "dance zone init") {
		t.Fatalf("serve without a zone: exit %d, %q", code, e2.String())
	}
}

// TestZoneServeSignals runs the real binary and stops it with SIGTERM and
// SIGINT: it must exit 0 after shutting down, with the store closed (a
// second serve can open it).
func TestZoneServeSignals(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "dance")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "z")
	if out, err := exec.Command(bin, "zone", "init", "--zone", "devices.test", "--dir", dir).CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		cmd := exec.Command(bin, "zone", "serve", "--dir", dir, "--listen", "127.0.0.1:0", "--admin-listen", "off")
		var out, errb syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if !testwait.Until(30*time.Second, func() bool { return strings.Contains(out.String(), "serving devices.test.") }) {
			cmd.Process.Kill()
			t.Fatalf("serve did not start: %s", errb.String())
		}
		cmd.Process.Signal(sig)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%v: exit %v; stderr %s", sig, err, errb.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%v: serve did not stop", sig)
		}
		if !strings.Contains(errb.String(), "msg=stopped") {
			t.Errorf("%v: no clean stop logged: %s", sig, errb.String())
		}
	}
}
