package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/miekg/dns"
)

func TestLookup(t *testing.T) {
	good := dnstest.Start(t, dnstest.Config{})
	bad := dnstest.Start(t, dnstest.Config{Zones: map[string]dnstest.ZoneOptions{dnstest.Device: {Fault: dnstest.ExpiredSignatures}}})
	dir := t.TempDir()
	anchorsFor := func(h *dnstest.Hierarchy, name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("; test root\n"+h.Anchors()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	goodAnchors, badAnchors := anchorsFor(good, "good.ds"), anchorsFor(bad, "bad.ds")
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("example.test. IN A 192.0.2.1\n"), 0o644)
	g := []string{"--resolver", good.Addr(), "--anchors", goodAnchors}
	b := []string{"--resolver", bad.Addr(), "--anchors", badAnchors}
	runCases(t, []cliCase{
		{"secure tlsa", append([]string{"lookup", "_443._tcp.www.example.test"}, g...), 0,
			`(?m)^_443\._tcp\.www\.example\.test\.\t300\tIN\tTLSA\t3 1 1 0c72ac70.*\nsecure\n$`, ""},
		{"secure device", append([]string{"lookup", "dev1._device.example.test."}, g...), 0, `(?m)^secure$`, ""},
		{"secure nxdomain", append([]string{"lookup", "nope._device.example.test"}, g...), 0, `^secure nxdomain\n$`, ""},
		{"secure nodata", append([]string{"lookup", "www.example.test", "--type", "txt"}, g...), 0, `^secure nodata\n$`, ""},
		{"cname chain", append([]string{"lookup", "alias.example.test", "--type", "A"}, g...), 0,
			`(?s)^; alias for www\.example\.test\.\n.*192\.0\.2\.10\nsecure\n$`, ""},
		{"insecure", append([]string{"lookup", "www.insecure.example.test", "--type", "A"}, g...), 1,
			`(?m)192\.0\.2\.20\ninsecure: insecure\.example\.test\.: insecure delegation`, ""},
		{"bogus", append([]string{"lookup", "dev1._device.example.test"}, b...), 1,
			`(?m)^bogus: _device\.example\.test\.: .*expired.*\(EDE 7: Signature Expired\)$`, ""},
		{"bogus hides records", append([]string{"lookup", "dev1._device.example.test"}, b...), 1, `^bogus`, ""},
		{"no anchor covers the name", []string{"lookup", "www.example.test", "--type", "A", "--resolver", good.Addr()}, 1,
			`(?m)^bogus: \.: no DNSKEY matches the trust anchor \(EDE 9: DNSKEY Missing\)$`, ""},
		{"json", append([]string{"lookup", "_443._tcp.www.example.test", "--json"}, g...), 0, `"status": "secure"`, ""},
		{"no name", append([]string{"lookup"}, g...), 2, `^$`, "exactly one NAME"},
		{"bad type", append([]string{"lookup", "www.example.test", "--type", "NOPE"}, g...), 2, `^$`, "unknown record type"},
		{"bad name", append([]string{"lookup", "a..b"}, g...), 2, `^$`, "not a domain name"},
		{"missing anchors file", []string{"lookup", "x.test", "--anchors", filepath.Join(dir, "none")}, 2, `^$`, "no such file"},
		{"anchors file with other records", []string{"lookup", "x.test", "--anchors", garbage}, 2, `^$`, "not a trust anchor"},
		{"trust-ad over plain udp to a remote resolver", []string{"lookup", "x.test", "--trust-ad", "--resolver", "192.0.2.1"}, 2, `^$`, "hint: add --tls"},
		{"help", []string{"lookup", "--help"}, 0, `(?s)EXAMPLES.*EXIT CODES`, ""},
	})
	t.Run("json fields", func(t *testing.T) {
		var out bytes.Buffer
		args := append([]string{"lookup", "dev1._device.example.test", "--json"}, b...)
		if code := run(context.Background(), args, nil, &out, &bytes.Buffer{}); code != 1 {
			t.Fatalf("exit %d", code)
		}
		var got struct {
			Status  string
			Kind    string
			Reason  struct{ EDE int }
			Records []any
		}
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got.Status != "bogus" || got.Reason.EDE != 7 || len(got.Records) != 0 {
			t.Errorf("json %+v, want bogus, EDE 7, no records", got)
		}
	})
}

func TestSystemResolvers(t *testing.T) {
	dir := t.TempDir()
	old := resolvConf
	t.Cleanup(func() { resolvConf = old })
	tests := []struct {
		conf string
		want string
	}{
		{"nameserver 192.0.2.53\nnameserver 2001:db8::53\n", "192.0.2.53:53,[2001:db8::53]:53"},
		{"# nothing\n", "127.0.0.1"},
	}
	for i, tc := range tests {
		resolvConf = filepath.Join(dir, "resolv.conf")
		if err := os.WriteFile(resolvConf, []byte(tc.conf), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(systemResolvers(), ","); got != tc.want {
			t.Errorf("%d: %s, want %s", i, got, tc.want)
		}
	}
	resolvConf = filepath.Join(dir, "missing")
	if got := strings.Join(systemResolvers(), ","); got != "127.0.0.1" {
		t.Errorf("missing file: %s", got)
	}
}

// TestLookupKnotUnbound runs dance lookup against Knot behind Unbound and
// checks the verdict against delv's.
func TestLookupKnotUnbound(t *testing.T) {
	env := dnstest.StartReal(t)
	anchors := filepath.Join(t.TempDir(), "anchors")
	if err := os.WriteFile(anchors, []byte(env.Anchor+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, qtype, verdict string
		code                 int
	}{
		{"_443._tcp.www.example.test", "TLSA", "secure", 0},
		{"dev1._device.example.test", "TLSA", "secure", 0},
		{"nope._device.example.test", "TLSA", "secure nxdomain", 0},
		{"www.insecure.example.test", "A", "insecure", 1},
		{"dev1.broken.example.test", "TLSA", "bogus", 1},
		{"dev1.tampered.example.test", "TLSA", "bogus", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := []string{"lookup", tt.name, "--type", tt.qtype, "--resolver", env.UnboundAddr, "--anchors", anchors}
			code := run(context.Background(), args, nil, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tt.code, out.String(), errb.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, tt.verdict) {
				t.Errorf("verdict %q, want %q", last, tt.verdict)
			}
			qt := dns.StringToType[tt.qtype]
			if d := env.Delv(t, dns.Fqdn(tt.name), qt); !strings.HasPrefix(tt.verdict, d) || d == "" {
				t.Errorf("delv says %q, dance says %q", d, last)
			}
		})
	}
}
