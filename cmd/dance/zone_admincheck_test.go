package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsbound/dance/zone"
)

// TestZoneServeAdminCheck: admin settings under which no DANE
// administrator could ever log in are refused at start (exit 2) with a
// hint on the flags to change; before, the server started and refused
// them all.
func TestZoneServeAdminCheck(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "z")
	other := filepath.Join(base, "other")
	idMust(t, "zone", "init", "--zone", "devices.test", "--dir", dir)
	idMust(t, "zone", "init", "--zone", "other.test", "--dir", other)
	if err := os.WriteFile(filepath.Join(dir, zone.PolicyFile), []byte("update.devices.test. _device.devices.test.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(base, "admin.crt"), filepath.Join(base, "admin.key")
	if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=zone admin", "-addext", "subjectAltName=IP:127.0.0.1").CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	serveArgs := []string{"zone", "serve", "--dir", dir, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
		"--admin-tls-cert", cert, "--admin-tls-key", key}
	tests := []struct {
		name      string
		extra     []string
		err, hint string
	}{
		{"allow-list outside the zone", []string{"--admin-allow", "*._admin.other.test"},
			"outside the zone devices.test", "give --resolver ADDR"},
		{"anchors of another zone", []string{"--admin-allow", "*._admin.devices.test", "--anchors", filepath.Join(other, "anchors")},
			"zone devices.test (_admin.devices.test): no-anchor", "--anchors must hold this zone's own keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append(append([]string(nil), serveArgs...), tt.extra...), nil, &out, &errb)
			if code != 2 || !strings.Contains(errb.String(), tt.err) || !strings.Contains(errb.String(), "dance: hint: ") || !strings.Contains(errb.String(), tt.hint) {
				t.Errorf("exit %d\nstdout %s\nstderr %s\nwant exit 2, %q and a hint with %q", code, out.String(), errb.String(), tt.err, tt.hint)
			}
			if strings.Contains(out.String(), "serving") {
				t.Errorf("the server started: %s", out.String())
			}
		})
	}
}
