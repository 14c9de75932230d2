// Package daemon starts real DNS servers (Knot, Unbound) for tests: on
// 127.0.0.1, on ports above 10000 picked here (or given), in the
// foreground, killed when the test ends. The callers write the servers'
// configurations; this package owns starting, waiting and stopping.
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

// startTimeout is how long a daemon has to answer after it is started.
const startTimeout = 30 * time.Second

// Spec says how to start one daemon.
type Spec struct {
	// Name names the daemon in messages.
	Name string
	// Port is the port to listen on; 0 picks one with FreePort, and
	// another is tried (up to 5 in all) if the daemon fails on it.
	Port int
	// Command writes the configuration for port and returns the command
	// that runs the daemon in the foreground on 127.0.0.1:port.
	Command func(port int) *exec.Cmd
	// Ready reports whether the daemon at addr answers as wanted.
	Ready func(addr string) bool
	// FatalIfSlow fails the test when a daemon on a picked port neither
	// answers nor exits within 30s, instead of trying another port.
	FatalIfSlow bool
}

// Start starts the daemon described by s, waits until it is ready, and
// returns its address (127.0.0.1:PORT). The daemon is killed when the test
// ends; its output is logged then if the test failed.
func Start(t testing.TB, s Spec) string {
	t.Helper()
	for attempt := 0; attempt < 5; attempt++ {
		p := s.Port
		if p == 0 {
			p = FreePort(t)
		}
		cmd := s.Command(p)
		var log strings.Builder
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() {
			_ = cmd.Process.Kill()
			<-exited
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		if err := wait(addr, s.Ready, exited); err != nil {
			stop()
			if s.Port != 0 || (s.FatalIfSlow && err != errExited) {
				t.Fatalf("%s on port %d: %v\n%s", s.Name, p, err, log.String())
			}
			t.Logf("%s on port %d, attempt %d: %v, retrying\n%s", s.Name, p, attempt, err, log.String())
			continue
		}
		t.Cleanup(func() {
			stop()
			if t.Failed() {
				t.Logf("%s log:\n%s", s.Name, log.String())
			}
		})
		return addr
	}
	t.Fatalf("%s did not start", s.Name)
	return ""
}

var errExited = fmt.Errorf("daemon exited")

// wait polls ready(addr) until it holds, the deadline passes, or exited is
// closed.
func wait(addr string, ready func(string) bool, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errExited
		default:
		}
		if ready(addr) {
			return nil
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
	return fmt.Errorf("%s did not answer within 30s", addr)
}

// AnswersSOA returns a Ready function that holds once a server replies at
// all to an SOA query for zone over UDP.
func AnswersSOA(zone string) func(addr string) bool {
	c := &dns.Client{Timeout: 500 * time.Millisecond}
	return func(addr string) bool {
		m := new(dns.Msg)
		m.SetQuestion(zone, dns.TypeSOA)
		r, _, err := c.Exchange(m, addr)
		return err == nil && r != nil
	}
}

// Run starts bin with the configuration conf(dir, port) written to
// dir/name (a fresh directory per attempt), waits until it answers for
// zone, and returns its address. With port 0 a port is picked (and another
// tried if the daemon fails).
func Run(t testing.TB, bin string, args func(confFile string) []string, name, zone string, port int, conf func(dir string, port int) string) string {
	t.Helper()
	return Start(t, Spec{
		Name: filepath.Base(bin),
		Port: port,
		Command: func(p int) *exec.Cmd {
			dir := t.TempDir()
			cf := filepath.Join(dir, name)
			if err := os.WriteFile(cf, []byte(conf(dir, p)), 0o644); err != nil {
				t.Fatal(err)
			}
			return exec.Command(bin, args(cf)...)
		},
		Ready: AnswersSOA(zone),
	})
}
