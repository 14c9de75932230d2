package admin

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestRecordEndpoint: the recorded URL is one a local client can reach (a
// listener on every address is recorded at loopback), a certificate file
// without certificates records nothing, and a directory without the file
// says ErrNoEndpoint.
func TestRecordEndpoint(t *testing.T) {
	for _, tt := range []struct {
		addr, want string
	}{
		{"127.0.0.1:8053", "http://127.0.0.1:8053"},
		{"0.0.0.0:8053", "http://127.0.0.1:8053"},
		{"[::]:8053", "http://[::1]:8053"},
		{"[::1]:9", "http://[::1]:9"},
		{"192.0.2.7:443", "http://192.0.2.7:443"},
	} {
		dir := t.TempDir()
		addr, err := net.ResolveTCPAddr("tcp", tt.addr)
		if err != nil {
			t.Fatal(err)
		}
		RecordEndpoint(dir, addr, "", nil)
		ep, pool, err := ReadEndpoint(dir)
		if err != nil || ep.URL != tt.want || pool != nil {
			t.Errorf("%s: recorded %+v (pool %v, %v), want %s", tt.addr, ep, pool != nil, err, tt.want)
		}
	}
	dir := t.TempDir()
	if _, _, err := ReadEndpoint(dir); !errors.Is(err, ErrNoEndpoint) {
		t.Errorf("empty directory: %v, want ErrNoEndpoint", err)
	}
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("no certificate here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	RecordEndpoint(dir, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, bad, nil)
	if _, _, err := ReadEndpoint(dir); !errors.Is(err, ErrNoEndpoint) {
		t.Errorf("certificate file without certificates: %v, want nothing recorded", err)
	}
}
