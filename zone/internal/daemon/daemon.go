// Package daemon starts real DNS servers (Knot, Unbound) for the zone
// packages' tests: on 127.0.0.1, on ports above 10000 picked here, in the
// foreground, killed when the test ends.
package daemon

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Tool returns the path of a required external program; a missing one fails
// the test (the tools are in scripts/debian-packages).
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required (Debian packages in scripts/debian-packages): %v", name, err)
	}
	return p
}

// FreePort returns a port above 10000 that was free on 127.0.0.1 for UDP
// and TCP a moment ago; callers retry if a daemon cannot bind it.
func FreePort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 100; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err != nil {
			continue
		}
		pc.Close()
		if port > 10000 {
			return port
		}
	}
	t.Fatal("no free port above 10000")
	return 0
}

// WaitDNS polls addr with an SOA query for zone until it answers, the
// deadline passes, or exited is closed.
func WaitDNS(addr, zone string, exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	c := &dns.Client{Timeout: 500 * time.Millisecond}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("daemon exited")
		default:
		}
		m := new(dns.Msg)
		m.SetQuestion(zone, dns.TypeSOA)
		if r, _, err := c.Exchange(m, addr); err == nil && r != nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
	return fmt.Errorf("%s did not answer within 30s", addr)
}

// Run starts bin with the configuration conf(dir, port) written to
// dir/name, waits until it answers for zone, and returns its address. With
// port 0 a port is picked (and another tried if the daemon fails).
func Run(t testing.TB, bin string, args func(confFile string) []string, name, zone string, port int, conf func(dir string, port int) string) string {
	t.Helper()
	for attempt := 0; attempt < 5; attempt++ {
		dir := t.TempDir()
		p := port
		if p == 0 {
			p = FreePort(t)
		}
		cf := filepath.Join(dir, name)
		if err := os.WriteFile(cf, []byte(conf(dir, p)), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, args(cf)...)
		var log strings.Builder
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		if err := WaitDNS(addr, zone, exited); err != nil {
			cmd.Process.Kill()
			<-exited
			if port != 0 {
				t.Fatalf("%s on port %d: %v\n%s", filepath.Base(bin), port, err, log.String())
			}
			t.Logf("%s attempt %d: %v\n%s", filepath.Base(bin), attempt, err, log.String())
			continue
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
			if t.Failed() {
				t.Logf("%s log:\n%s", filepath.Base(bin), log.String())
			}
		})
		return addr
	}
	t.Fatalf("%s did not start", filepath.Base(bin))
	return ""
}
