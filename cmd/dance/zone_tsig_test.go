package main

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/tsigkey"
)

// TestZoneServeTSIGWindow: --tsig-window bounds the time of signed updates
// whatever fudge they carry; out-of-range values are usage errors.
func TestZoneServeTSIGWindow(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "z")
	if code := run(context.Background(), []string{"zone", "init", "--zone", "devices.test", "--dir", dir}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("init failed")
	}
	for _, bad := range []string{"0s", "500ms", "-1m", "19h"} {
		var e bytes.Buffer
		if code := run(context.Background(), []string{"zone", "serve", "--dir", dir, "--tsig-window", bad}, nil, &bytes.Buffer{}, &e); code != 2 || !strings.Contains(e.String(), "--tsig-window") {
			t.Errorf("--tsig-window %s: exit %d, %q", bad, code, e.String())
		}
	}
	keys, err := tsigkey.ReadFile(filepath.Join(dir, zone.TSIGFile))
	if err != nil {
		t.Fatal(err)
	}
	key := keys[0]
	// An update signed 30 s ahead of the server's clock with the widest
	// fudge: inside the default window, outside a 10 s one.
	send := func(addr, name string) *dns.Msg {
		m := new(dns.Msg)
		m.SetUpdate("devices.test.")
		rr, _ := dns.NewRR(name + " 300 IN TLSA 3 1 1 0102")
		m.Insert([]dns.RR{rr})
		m.SetTsig(key.Name, key.WireAlgorithm(), 65535, time.Now().Add(30*time.Second).Unix())
		wire, _, err := dns.TsigGenerate(m, key.Base64(), "", false)
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write(wire)
		b := make([]byte, 4096)
		n, err := c.Read(b)
		if err != nil {
			t.Fatal(err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(b[:n]); err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tt := range []struct {
		flags []string
		ok    bool
	}{
		{nil, true},
		{[]string{"--tsig-window", "10s"}, false},
	} {
		addr, _, stop := startServeStop(t, dir, tt.flags...)
		r := send(addr, "s1._device.devices.test.")
		logs := stop()
		if tt.ok && r.Rcode != dns.RcodeSuccess {
			t.Errorf("%v: %s, want the update applied", tt.flags, dns.RcodeToString[r.Rcode])
		}
		if !tt.ok && (r.Rcode != dns.RcodeNotAuth || r.IsTsig() == nil || r.IsTsig().Error != dns.RcodeBadTime || !strings.Contains(logs, "server's window")) {
			t.Errorf("%v: %v, want BADTIME and a log line; logs:\n%s", tt.flags, r, logs)
		}
	}
}
