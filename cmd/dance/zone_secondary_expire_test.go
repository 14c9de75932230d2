package main

import (
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dnsbound/dance/internal/testwait"
)

// TestZoneSecondaryExpire: a secondary whose primary does not answer
// marks its copy expired once the SOA expire time (2 s here) passes:
// /healthz answers 503 with the reason, the gauge is 1, the error is
// logged, and --on-expire remove deletes the file while keep leaves it.
// (zone/secondary's TestExpire has the primary coming back.)
func TestZoneSecondaryExpire(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	id, _ := adminIdentity(t, t.TempDir(), "ns2.devices.test")
	zone := "devices.test. 300 IN SOA ns1.devices.test. hostmaster.devices.test. 7 3600 600 2 300\n" +
		"devices.test. 300 IN NS ns1.devices.test.\n"
	for _, tt := range []struct {
		policy string
		kept   bool
	}{
		{"keep", true},
		{"remove", false},
	} {
		t.Run(tt.policy, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "devices.test.zone")
			if err := os.WriteFile(file, []byte(zone), 0o644); err != nil {
				t.Fatal(err)
			}
			m, errb, stop := startServeCmd(t, []string{"zone", "secondary", "--zone", "devices.test", "--primary", "ns1.devices.test",
				"--connect", dead, "--identity", id, "--out", file, "--resolver", dead, "--on-expire", tt.policy, "--metrics", "127.0.0.1:0"},
				regexp.MustCompile(`(?s)metrics on (http://127\.0\.0\.1:\d+/metrics), health on (http://127\.0\.0\.1:\d+/healthz).*on expire: `+tt.policy))
			defer func() {
				if code := stop(); code != 0 {
					t.Errorf("exit %d: %s", code, errb.String())
				}
			}()
			var body string
			testwait.For(t, "/healthz to report the expiry", func() bool {
				var code int
				code, body = httpGet(t, m[2])
				return code == http.StatusServiceUnavailable
			})
			if !strings.Contains(body, "zone devices.test. expired") || !strings.Contains(body, "last error: ") {
				t.Errorf("healthz body %q, want the reason", body)
			}
			if _, metrics := httpGet(t, m[1]); !strings.Contains(metrics, `dance_secondary_expired{zone="devices.test."} 1`) {
				t.Errorf("metrics lack the expired gauge at 1:\n%s", metrics)
			}
			if !strings.Contains(errb.String(), `level=ERROR msg="zone expired`) || !strings.Contains(errb.String(), "on_expire="+tt.policy) {
				t.Errorf("expiry not logged: %s", errb.String())
			}
			b, err := os.ReadFile(file)
			switch {
			case tt.kept && string(b) != zone:
				t.Errorf("keep: file %q %v, want it as it was", b, err)
			case !tt.kept && !errors.Is(err, os.ErrNotExist):
				t.Errorf("remove: the file is still there (%v)", err)
			}
		})
	}
}
