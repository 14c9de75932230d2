package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestZoneServeLimitFlags(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "z")
	if code := run(context.Background(), []string{"zone", "init", "--zone", "devices.test", "--dir", dir}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("init failed")
	}
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"--rrl-rate", "0"}, "positive number, or off"},
		{[]string{"--signing-rate", "-5"}, "positive number, or off"},
		{[]string{"--rrl-rate", "fast"}, "positive number, or off"},
		{[]string{"--rrl-ipv4-prefix", "33"}, "--rrl-ipv4-prefix"},
		{[]string{"--rrl-ipv6-prefix", "0"}, "--rrl-ipv6-prefix"},
		{[]string{"--rrl-slip", "-1"}, "--rrl-slip"},
		{[]string{"--rrl-table-size", "0"}, "--rrl-table-size"},
		{[]string{"--signing-burst", "-1"}, "--signing-burst"},
		{[]string{"--max-tcp-conns", "0"}, "--max-tcp-conns"},
	}
	for _, b := range bad {
		var e bytes.Buffer
		args := append([]string{"zone", "serve", "--dir", dir, "--listen", "127.0.0.1:0", "--admin-listen", "off"}, b.args...)
		if code := run(context.Background(), args, nil, &bytes.Buffer{}, &e); code != 2 || !strings.Contains(e.String(), b.want) {
			t.Errorf("%v: exit %d, %q; want exit 2 and %q", b.args, code, e.String(), b.want)
		}
	}
	var o bytes.Buffer
	if code := run(context.Background(), []string{"zone", "serve", "--help"}, nil, &o, &o); code != 0 ||
		!strings.Contains(o.String(), "--rrl-rate") || !strings.Contains(o.String(), "--signing-rate") || !strings.Contains(o.String(), "REFUSED") ||
		!strings.Contains(o.String(), "--max-tcp-conns") || !strings.Contains(o.String(), "dance_zone_tcp_refused_total") {
		t.Errorf("help: exit %d\n%s", code, o.String())
	}
}

// TestZoneServeSigningCeiling runs zone serve with a ceiling of one
// signature a second and RRL off: a burst of random names over TCP gets
// REFUSED past the ceiling, the log says so and /metrics counts it.
func TestZoneServeSigningCeiling(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "z")
	if code := run(context.Background(), []string{"zone", "init", "--zone", "devices.test", "--dir", dir}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("init failed")
	}
	addr, api, stop := startServeStop(t, dir, "--rrl-rate", "off", "--signing-rate", "1", "--signing-burst", "2")
	c := &dns.Client{Net: "tcp", Timeout: 10 * time.Second}
	signed, refused := 0, 0
	for i := 0; i < 10 && refused == 0; i++ {
		m := new(dns.Msg)
		m.SetQuestion(fmt.Sprintf("nx%d._device.devices.test.", i), dns.TypeTLSA)
		m.SetEdns0(1232, true)
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			t.Fatal(err)
		}
		switch r.Rcode {
		case dns.RcodeRefused:
			refused++
		case dns.RcodeNameError, dns.RcodeSuccess:
			signed++
		}
	}
	if refused == 0 || signed < 2 {
		t.Fatalf("%d signed, %d refused: the ceiling did not hold", signed, refused)
	}
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", api+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"dance_zone_signing_refused_total 1\n", fmt.Sprintf("dance_zone_signing_admitted_total %d\n", signed)} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(string(body), "dance_zone_rrl_") {
		t.Errorf("/metrics has RRL series with --rrl-rate off")
	}
	log := stop()
	for _, want := range []string{"response rate limiting is off", "online signing ceiling reached"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// TestZoneServeTCPCap runs zone serve with --max-tcp-conns 1: while one
// client holds the only slot, the next connection is closed without an
// answer, /metrics counts it and the log says so once.
func TestZoneServeTCPCap(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "z")
	if code := run(context.Background(), []string{"zone", "init", "--zone", "devices.test", "--dir", dir}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("init failed")
	}
	addr, api, stop := startServeStop(t, dir, "--max-tcp-conns", "1")
	holder, err := dns.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	q := new(dns.Msg)
	q.SetQuestion("devices.test.", dns.TypeSOA)
	holder.SetDeadline(time.Now().Add(10 * time.Second))
	if err := holder.WriteMsg(q); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.ReadMsg(); err != nil {
		t.Fatalf("the first connection: %v", err)
	}
	c := &dns.Client{Net: "tcp", Timeout: 10 * time.Second}
	if r, _, err := c.Exchange(q, addr); err == nil {
		t.Fatalf("a second connection over --max-tcp-conns 1 answered: %v", r)
	}
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", api+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`dance_zone_tcp_refused_total{transport="tcp"} 1` + "\n", `dance_zone_tcp_connections{transport="tcp"} 1` + "\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	holder.Close()
	if log := stop(); strings.Count(log, "connection cap reached") != 1 {
		t.Errorf("log: want one line about the connection cap:\n%s", log)
	}
}
