package admin

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone"
)

const origin = "devices.test."

func newAPI(t *testing.T) (*zone.Zone, *Client, *httptest.Server) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "z")
	if _, err := zone.Init(dir, zone.InitOptions{Origin: origin}); err != nil {
		t.Fatal(err)
	}
	z, err := zone.Open(dir, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	tok, err := LoadOrCreateToken(filepath.Join(dir, TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateToken(filepath.Join(dir, TokenFile))
	if err != nil || again != tok || len(tok) != 2*tokenBytes {
		t.Fatalf("token not stable: %q %q %v", tok, again, err)
	}
	srv := httptest.NewServer(Handler(Config{Zone: z, Token: tok, DNSCounters: func() map[string]uint64 { return map[string]uint64{"success": 7} }}))
	t.Cleanup(srv.Close)
	return z, &Client{BaseURL: srv.URL, Token: tok}, srv
}

const hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestIdentityLifecycle(t *testing.T) {
	z, c, _ := newAPI(t)
	s0 := z.Serial()
	serial, err := c.Put("s1._device.devices.test", []Record{{Type: "TLSA", Data: "3 1 1 " + hash}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if serial == s0 || len(z.Get("s1._device.devices.test.", dns.TypeTLSA)) != 1 {
		t.Fatalf("add: serial %d, records %v", serial, z.Get("s1._device.devices.test.", dns.TypeTLSA))
	}
	if _, err := c.Put("s1._device.devices.test", []Record{{Type: "tlsa", Data: "3 1 1 abcd", TTL: 60}}, false); err != nil {
		t.Fatal(err)
	}
	id, err := c.Get("s1._device.devices.test.")
	if err != nil || len(id.Records) != 2 || id.Records[0].TTL != 60 {
		t.Fatalf("get after second add: %+v %v", id, err)
	}
	// Replace: one SSHFP instead of both TLSA.
	if _, err := c.Put("s1._device.devices.test", []Record{{Type: "SSHFP", Data: "4 2 " + hash}}, true); err != nil {
		t.Fatal(err)
	}
	if z.Get("s1._device.devices.test.", dns.TypeTLSA) != nil || len(z.Get("s1._device.devices.test.", dns.TypeSSHFP)) != 1 {
		t.Fatal("replace did not replace")
	}
	info, err := c.Info()
	if err != nil || info.Zone != origin || len(info.DS) != 1 || info.Serial != z.Serial() {
		t.Fatalf("info %+v %v", info, err)
	}
	list, err := c.List("", "", 0)
	if err != nil || len(list) != 1 || list[0].Name != "s1._device.devices.test." {
		t.Fatalf("list %+v %v", list, err)
	}
	if _, err := c.Remove("s1._device.devices.test"); err != nil {
		t.Fatal(err)
	}
	var se *StatusError
	if _, err := c.Get("s1._device.devices.test"); !errors.As(err, &se) || se.Code != http.StatusNotFound {
		t.Fatalf("get after remove: %v", err)
	}
	if _, err := c.Remove("s1._device.devices.test"); !errors.As(err, &se) || se.Code != http.StatusNotFound {
		t.Fatalf("second remove: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	z, c, srv := newAPI(t)
	tests := []struct {
		name string
		do   func() error
		code int
	}{
		{"A record", func() error {
			_, err := c.Put("x.devices.test", []Record{{Type: "A", Data: "192.0.2.1"}}, false)
			return err
		}, http.StatusForbidden},
		{"outside zone", func() error {
			_, err := c.Put("x.example.com", []Record{{Type: "TLSA", Data: "3 1 1 ab"}}, false)
			return err
		}, http.StatusBadRequest},
		{"asterisk not leftmost", func() error {
			_, err := c.Put("a.*.devices.test", []Record{{Type: "TLSA", Data: "3 1 1 ab"}}, false)
			return err
		}, http.StatusForbidden},
		{"injection", func() error {
			_, err := c.Put("x.devices.test", []Record{{Type: "TLSA", Data: "3 1 1 ab\nx.devices.test. 300 IN A 1.2.3.4"}}, false)
			return err
		}, http.StatusBadRequest},
		{"bad data", func() error {
			_, err := c.Put("x.devices.test", []Record{{Type: "TLSA", Data: "3 1"}}, false)
			return err
		}, http.StatusBadRequest},
		{"no records", func() error { _, err := c.Put("x.devices.test", nil, false); return err }, http.StatusBadRequest},
		{"bad token", func() error { _, err := (&Client{BaseURL: srv.URL, Token: "nope"}).Info(); return err }, http.StatusUnauthorized},
		{"no token", func() error { _, err := (&Client{BaseURL: srv.URL}).Info(); return err }, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := z.Serial()
			err := tt.do()
			var se *StatusError
			if !errors.As(err, &se) || se.Code != tt.code {
				t.Fatalf("err %v, want status %d", err, tt.code)
			}
			if z.Serial() != before {
				t.Fatal("refused request changed the zone")
			}
		})
	}
}

func TestImportExport(t *testing.T) {
	z, c, srv := newAPI(t)
	const n = 2*ImportBatch + 17
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "d%d._device.devices.test,TLSA,3 1 1 %064x\n", i, i)
	}
	var progress []Progress
	// Through a pipe, so the body is still being sent when progress comes
	// back (the server must read and write at once).
	pr, pw := io.Pipe()
	go func() {
		for _, line := range strings.SplitAfter(b.String(), "\n") {
			if _, err := io.WriteString(pw, line); err != nil {
				return
			}
		}
		pw.Close()
	}()
	last, err := c.Import(pr, true, false, func(p Progress) { progress = append(progress, p) })
	if err != nil || last.Error != "" || last.Applied != n || last.Lines != n {
		t.Fatalf("import: %+v %v", last, err)
	}
	if len(progress) != 4 || progress[0].Applied != ImportBatch || progress[1].Applied != 2*ImportBatch {
		t.Fatalf("progress lines %+v", progress)
	}
	if got := len(z.Names(origin, 0)); got != n {
		t.Fatalf("%d names after import of %d", got, n)
	}
	// JSON lines with an error on line 3: lines 1-2 are in the failed
	// batch and are not applied.
	jl := `{"name":"j1.devices.test","type":"SSHFP","data":"4 2 ` + hash + `"}
{"name":"j2.devices.test","type":"OPENPGPKEY","data":"AQID"}
{"name":"j3.devices.test","type":"TXT","data":"nope"}
`
	last, err = c.Import(strings.NewReader(jl), false, false, nil)
	if err != nil || !strings.Contains(last.Error, "line 3") || last.Applied != 0 {
		t.Fatalf("bad import: %+v %v", last, err)
	}
	if z.Get("j1.devices.test.", dns.TypeSSHFP) != nil {
		t.Fatal("a record of a failed import batch was applied")
	}
	// Export returns every record, as JSON lines.
	req, _ := http.NewRequest("GET", srv.URL+"/v1/export", nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if lines := strings.Count(string(body), "\n"); lines != n {
		t.Fatalf("export has %d lines, want %d", lines, n)
	}
	// Metrics are served behind the token.
	req, _ = http.NewRequest("GET", srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"dance_zone_serial ", `dance_zone_dns_requests_total{outcome="success"} 7`, "dance_zone_admin_requests_total"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestRolloverAPI(t *testing.T) {
	z, c, _ := newAPI(t)
	ks, err := c.Keys()
	if err != nil || len(ks) != 2 || ks[0].State != "active" || ks[1].State != "active" {
		t.Fatalf("keys %+v %v", ks, err)
	}
	var se *StatusError
	if _, _, err := c.Rollover("retire"); !errors.As(err, &se) || se.Code != http.StatusConflict {
		t.Fatalf("retire first: %v", err)
	}
	if _, _, err := c.Rollover("sideways"); !errors.As(err, &se) || se.Code != http.StatusConflict {
		t.Fatalf("unknown step: %v", err)
	}
	for _, step := range []string{"prepublish", "activate", "retire"} {
		ks, serial, err := c.Rollover(step)
		if err != nil || serial != z.Serial() {
			t.Fatalf("%s: %v", step, err)
		}
		if step == "prepublish" && (len(ks) != 3 || ks[2].State != "incoming") {
			t.Fatalf("after prepublish: %+v", ks)
		}
	}
	after, _ := c.Keys()
	// The ZSK was rolled; the KSK stays.
	if len(after) != 2 || after[0].Tag != ks[0].Tag || after[1].Tag == ks[1].Tag {
		t.Fatalf("after rollover: %+v (before %+v)", after, ks)
	}
}
