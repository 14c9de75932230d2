package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/server"
	"github.com/dnsbound/dance/zone/tsigkey"
)

// runPublish runs "dance id publish" with args and stdin.
func runPublish(args []string, stdin string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"id", "publish"}, args...), strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestIDPublish(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "z")
	res, err := zone.Init(dir, zone.InitOptions{Origin: "devices.test."})
	if err != nil {
		t.Fatal(err)
	}
	z, err := zone.Open(dir, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	srv, _ := server.New(server.Config{Zone: z, UpdateKeys: []*tsigkey.Key{res.TSIG}})
	ls, err := server.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ls) }()
	defer func() { cancel(); <-done }()
	key := filepath.Join(dir, zone.TSIGFile)
	wrong := filepath.Join(t.TempDir(), "wrong.key")
	wk, _ := tsigkey.Generate("update.devices.test.", tsigkey.HMACSHA256)
	tsigkey.WriteFile(wrong, wk)
	const name = "s1._device.devices.test."
	hash := strings.Repeat("ab", 32)
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string
		stderr string
		count  int // TLSA records at name afterwards
	}{
		{"publish", []string{"--server", ls.Addr(), "--tsig", key, name, "TLSA", "3 1 1 " + hash}, "", 0, strings.TrimSuffix(name, ".") + ": 1 record(s) published, serial ", "", 1},
		{"from stdin add", []string{"--server", ls.Addr(), "--tsig", key, "--from", "-", "--add"}, name + " 300 IN TLSA 3 1 1 " + strings.Repeat("cd", 32) + "\n", 0, strings.TrimSuffix(name, ".") + ": 1 record(s) added, serial ", "", 2},
		{"wrong key", []string{"--server", ls.Addr(), "--tsig", wrong, "--remove", name}, "", 1, "", "NOTAUTH", 2},
		{"refused type", []string{"--server", ls.Addr(), "--tsig", key, name, "TXT", "hello"}, "", 1, "", "REFUSED", 2},
		{"remove", []string{"--server", ls.Addr(), "--tsig", key, "--remove", name}, "", 0, strings.TrimSuffix(name, ".") + ": 0 record(s) removed, serial ", "", 0},
		{"missing flags", []string{name}, "", 2, "", "--server and --tsig are required", 0},
		{"bad record", []string{"--server", ls.Addr(), "--tsig", key, name, "TLSA", "3 1"}, "", 2, "", "record TLSA", 0},
		{"add and remove", []string{"--server", ls.Addr(), "--tsig", key, "--add", "--remove", name}, "", 2, "", "exclude", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runPublish(tt.args, tt.stdin)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", code, tt.code, out, tt.stdout, errOut, tt.stderr)
			}
			if got := len(z.Get(name, dns.TypeTLSA)); got != tt.count {
				t.Fatalf("%d TLSA records, want %d", got, tt.count)
			}
		})
	}
}

// TestZoneServePolicyFile: DIR/update-policy limits the update key.
func TestZoneServePolicyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "z")
	if code := run(context.Background(), []string{"zone", "init", "--zone", "devices.test", "--dir", dir}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("init failed")
	}
	os.WriteFile(filepath.Join(dir, zone.PolicyFile), []byte("update.devices.test. _device.devices.test. TLSA\n"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"zone", "serve", "--dir", dir, "--listen", "127.0.0.1:0", "--admin-listen", "off"}, nil, &out, &errb)
	}()
	defer func() { cancel(); <-done }()
	re := regexp.MustCompile(`on (127\.0\.0\.1:\d+) \(udp, tcp\)`)
	var addr string
	for deadline := time.Now().Add(30 * time.Second); addr == ""; {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %s", errb.String())
		} else {
			time.Sleep(10 * time.Millisecond) // polling interval
		}
	}
	key := filepath.Join(dir, zone.TSIGFile)
	if code, _, e := runPublish([]string{"--server", addr, "--tsig", key, "s1._device.devices.test", "TLSA", "3 1 1 abcd"}, ""); code != 0 {
		t.Fatalf("inside the subtree: exit %d %s", code, e)
	}
	if code, _, e := runPublish([]string{"--server", addr, "--tsig", key, "u1._user.devices.test", "TLSA", "3 1 1 abcd"}, ""); code != 1 || !strings.Contains(e, "REFUSED") {
		t.Fatalf("outside the subtree: exit %d %s", code, e)
	}
	if code, _, e := runPublish([]string{"--server", addr, "--tsig", key, "s1._device.devices.test", "SSHFP", "4 2 abcd"}, ""); code != 1 || !strings.Contains(e, "REFUSED") {
		t.Fatalf("type not in the policy: exit %d %s", code, e)
	}
}
