package resolver_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/resolver"
	"github.com/miekg/dns"
)

// The real-software set-up: Knot signs example.test. and its children and
// serves them; Unbound, with example.test.'s key as trust anchor, is the
// upstream; delv, with the same anchor, gives a second opinion.
const (
	ktParent   = "example.test."
	ktDevice   = "_device.example.test."  // signed child, correct DS
	ktInsecure = "insecure.example.test." // unsigned child, no DS
	ktBroken   = "broken.example.test."   // signed child, DS of another zone's key
	ktTampered = "tampered.example.test." // signed child, answers altered in transit
)

type kt struct {
	dir       string
	knotAddr  string
	proxyAddr string
	unbound   string
	anchorKey string // DNSKEY line of example.test.
}

func TestAgainstKnotUnboundDelv(t *testing.T) {
	env := startKnotUnbound(t)
	anchors, err := resolver.ParseAnchorsString(env.anchorKey)
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{Upstreams: []string{env.unbound}, Anchors: anchors})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		qtype  uint16
		status resolver.Status
		kind   resolver.Kind
	}{
		{"_443._tcp.www.example.test.", dns.TypeTLSA, resolver.Secure, resolver.KindAnswer},
		{"dev1._device.example.test.", dns.TypeTLSA, resolver.Secure, resolver.KindAnswer},
		{"nope._device.example.test.", dns.TypeTLSA, resolver.Secure, resolver.KindNXDomain},
		{"www.example.test.", dns.TypeTLSA, resolver.Secure, resolver.KindNoData},
		{"alias.example.test.", dns.TypeA, resolver.Secure, resolver.KindAnswer},
		{"x.wild.example.test.", dns.TypeTLSA, resolver.Secure, resolver.KindAnswer},
		{"www.insecure.example.test.", dns.TypeA, resolver.Insecure, resolver.KindAnswer},
		{"dev1.broken.example.test.", dns.TypeTLSA, resolver.Bogus, 0},
		{"dev1.tampered.example.test.", dns.TypeTLSA, resolver.Bogus, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
			res, err := r.Lookup(context.Background(), tc.name, tc.qtype)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status {
				t.Errorf("dance: %s (%s), want %s", res.Status, res.Reason, tc.status)
			}
			if res.Status == resolver.Secure && res.Kind != tc.kind {
				t.Errorf("dance: kind %s, want %s", res.Kind, tc.kind)
			}
			if got := env.delv(t, tc.name, tc.qtype); got != res.Status {
				t.Errorf("delv says %s, dance says %s", got, res.Status)
			}
		})
	}
}

// delv runs BIND's validating lookup tool with the same anchor and maps its
// verdict onto a Status.
func (e *kt) delv(t *testing.T, name string, qtype uint16) resolver.Status {
	return delvStatus(t, e.dir, ktParent, e.anchorKey, e.unbound, name, qtype)
}

// delvStatus asks delv, trusting the DNSKEY line key for zone, to resolve
// name/qtype through the server at addr, and maps its verdict onto a
// Status.
func delvStatus(t *testing.T, dir, zone, key, addr, name string, qtype uint16) resolver.Status {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	f := strings.Fields(key)
	i := 0
	for i < len(f) && f[i] != "DNSKEY" {
		i++
	}
	if i+4 >= len(f) {
		t.Fatalf("not a DNSKEY line: %q", key)
	}
	conf := fmt.Sprintf("trust-anchors { %q static-key %s %s %s \"%s\"; };\n", zone, f[i+1], f[i+2], f[i+3], strings.Join(f[i+4:], ""))
	path := filepath.Join(dir, "delv-anchors.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("delv", "-a", path, "@"+host, "-p", port, "+root="+zone, name, dns.TypeToString[qtype])
	out, _ := cmd.CombinedOutput()
	s := string(out)
	// A CNAME chain is reported link by link: one unsigned link makes the
	// whole answer insecure.
	switch {
	case strings.Contains(s, "unsigned answer"):
		return resolver.Insecure
	case strings.Contains(s, "fully validated"):
		return resolver.Secure
	case strings.Contains(s, "resolution failed"), strings.Contains(s, "no valid"), strings.Contains(s, "broken trust chain"):
		t.Logf("delv: %s", strings.TrimSpace(s))
		return resolver.Bogus
	}
	t.Logf("delv output not understood: %s", s)
	return resolver.Indeterminate
}

// freePort returns a loopback port that was free for both UDP and TCP a
// moment ago; callers retry if the daemon cannot bind it.
func freePort(t *testing.T) int {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port <= 10000 {
			continue
		}
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		pc.Close()
		return port
	}
}

// startDaemon starts a daemon on a freshly picked port (the config is made
// per port), waits until it answers probe over TCP and UDP, and retries with
// another port if it dies first. The process is killed when the test ends.
func startDaemon(t *testing.T, name string, probe string, mk func(port int) *exec.Cmd) string {
	t.Helper()
	for attempt := 0; attempt < 5; attempt++ {
		port := freePort(t)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		cmd := mk(port)
		var logb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logb, &logb
		if err := cmd.Start(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() {
			_ = cmd.Process.Kill()
			<-exited
		}
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-exited:
				t.Logf("%s exited on port %d, retrying: %s", name, port, logb.String())
				goto retry
			default:
			}
			if answers(addr, probe) {
				t.Cleanup(stop)
				return addr
			}
			time.Sleep(50 * time.Millisecond)
		}
		stop()
		t.Fatalf("%s did not answer %s within 30s: %s", name, probe, logb.String())
	retry:
	}
	t.Fatalf("%s: could not start", name)
	return ""
}

// answers reports whether a server answers a DO query for probe's SOA with a
// signature (or, for unsigned zones, at all) over TCP.
func answers(addr, probe string) bool {
	q := new(dns.Msg)
	q.SetQuestion(probe, dns.TypeSOA)
	q.SetEdns0(1232, true)
	c := &dns.Client{Net: "tcp", Timeout: time.Second}
	r, _, err := c.Exchange(q, addr)
	if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		return false
	}
	for _, rr := range r.Answer {
		if _, ok := rr.(*dns.RRSIG); ok {
			return true
		}
	}
	return false
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func startKnotUnbound(t *testing.T) *kt {
	dir := t.TempDir()
	env := &kt{dir: dir}
	for _, d := range []string{"db", "zones", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	signed := []string{ktParent, ktDevice, ktBroken, ktTampered}
	knotConf := func(port int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "server:\n    listen: 127.0.0.1@%d\n    rundir: %s\n", port, filepath.Join(dir, "run"))
		fmt.Fprintf(&b, "database:\n    storage: %s\n", filepath.Join(dir, "db"))
		fmt.Fprintf(&b, "log:\n  - target: stderr\n    any: notice\n")
		fmt.Fprintf(&b, "policy:\n  - id: p\n    algorithm: ecdsap256sha256\n    single-type-signing: on\n    nsec3: off\n")
		fmt.Fprintf(&b, "template:\n  - id: default\n    storage: %s\n    file: \"%%s.zone\"\n    dnssec-signing: on\n    dnssec-policy: p\n", filepath.Join(dir, "zones"))
		fmt.Fprintf(&b, "zone:\n")
		for _, z := range signed {
			fmt.Fprintf(&b, "  - domain: %s\n", z)
		}
		fmt.Fprintf(&b, "  - domain: %s\n    dnssec-signing: off\n", ktInsecure)
		return b.String()
	}
	confPath := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(confPath, []byte(knotConf(53)), 0o644); err != nil {
		t.Fatal(err)
	}
	// Keys first, so that the parent can carry the children's DS.
	for _, z := range signed {
		run(t, "keymgr", "-c", confPath, z, "generate", "algorithm=ecdsap256sha256", "ksk=yes", "zsk=yes")
	}
	dsOf := func(z string) string {
		return strings.SplitN(strings.TrimSpace(run(t, "keymgr", "-c", confPath, z, "ds")), "\n", 2)[0]
	}
	env.anchorKey = strings.TrimSpace(strings.SplitN(run(t, "keymgr", "-c", confPath, ktParent, "dnskey"), "\n", 2)[0])
	// broken.example.test. gets the DS of _device's key under its own name:
	// right format, wrong digest.
	brokenDS := strings.Replace(dsOf(ktDevice), ktDevice, ktBroken, 1)
	zones := map[string]string{
		ktParent: `@ SOA ns hostmaster 1 3600 600 86400 60
@ NS ns
ns A 127.0.0.1
www A 192.0.2.10
_443._tcp.www TLSA 3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6
alias CNAME www
*.wild TLSA 3 1 1 1F2E3D4C5B6A79880F1E2D3C4B5A69788796A5B4C3D2E1F00F1E2D3C4B5A6978
_device NS ns
insecure NS ns
broken NS ns
tampered NS ns
` + dsOf(ktDevice) + "\n" + dsOf(ktTampered) + "\n" + brokenDS + "\n",
		ktDevice:   "@ SOA ns.example.test. h.example.test. 1 3600 600 86400 60\n@ NS ns.example.test.\ndev1 TLSA 3 1 1 8CB0FC6C527506A053F4F14C8464BEBBD6DEDE2738D11468DD953D7D6A3021F1\n",
		ktInsecure: "@ SOA ns.example.test. h.example.test. 1 3600 600 86400 60\n@ NS ns.example.test.\nwww A 192.0.2.20\n",
		ktBroken:   "@ SOA ns.example.test. h.example.test. 1 3600 600 86400 60\n@ NS ns.example.test.\ndev1 TLSA 3 1 1 8CB0FC6C527506A053F4F14C8464BEBBD6DEDE2738D11468DD953D7D6A3021F1\n",
		ktTampered: "@ SOA ns.example.test. h.example.test. 1 3600 600 86400 60\n@ NS ns.example.test.\ndev1 TLSA 3 1 1 8CB0FC6C527506A053F4F14C8464BEBBD6DEDE2738D11468DD953D7D6A3021F1\n",
	}
	for z, body := range zones {
		text := fmt.Sprintf("$ORIGIN %s\n$TTL 300\n%s", z, body)
		if err := os.WriteFile(filepath.Join(dir, "zones", strings.TrimSuffix(z, ".")+".zone"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env.knotAddr = startDaemon(t, "knotd", ktDevice, func(port int) *exec.Cmd {
		if err := os.WriteFile(confPath, []byte(knotConf(port)), 0o644); err != nil {
			t.Fatal(err)
		}
		return exec.Command("knotd", "-c", confPath)
	})
	for _, z := range signed {
		deadline := time.Now().Add(30 * time.Second)
		for !answers(env.knotAddr, z) {
			if time.Now().After(deadline) {
				t.Fatalf("knotd does not serve %s signed", z)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	env.proxyAddr = startTamperProxy(t, env.knotAddr)
	unboundConf := filepath.Join(dir, "unbound.conf")
	env.unbound = startDaemon(t, "unbound", ktDevice, func(port int) *exec.Cmd {
		var b strings.Builder
		fmt.Fprintf(&b, "server:\n    interface: 127.0.0.1\n    port: %d\n    do-not-query-localhost: no\n", port)
		fmt.Fprintf(&b, "    chroot: \"\"\n    username: \"\"\n    directory: %q\n    pidfile: \"\"\n", dir)
		fmt.Fprintf(&b, "    use-syslog: no\n    logfile: \"\"\n    verbosity: 1\n    do-ip6: no\n")
		fmt.Fprintf(&b, "    local-zone: \"test.\" nodefault\n    trust-anchor: %q\n", env.anchorKey)
		fmt.Fprintf(&b, "remote-control:\n    control-enable: no\n")
		for _, z := range []string{ktParent, ktDevice, ktInsecure, ktBroken} {
			fmt.Fprintf(&b, "stub-zone:\n    name: %q\n    stub-addr: %s\n", z, strings.Replace(env.knotAddr, ":", "@", 1))
		}
		fmt.Fprintf(&b, "stub-zone:\n    name: %q\n    stub-addr: %s\n", ktTampered, strings.Replace(env.proxyAddr, ":", "@", 1))
		if err := os.WriteFile(unboundConf, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return exec.Command("unbound", "-d", "-c", unboundConf)
	})
	return env
}

// startTamperProxy forwards queries to upstream and alters the TLSA data in
// answers, leaving the signatures as they were.
func startTamperProxy(t *testing.T, upstream string) string {
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
		r, _, err := c.Exchange(q, upstream)
		if err != nil {
			m := new(dns.Msg)
			m.SetRcode(q, dns.RcodeServerFailure)
			_ = w.WriteMsg(m)
			return
		}
		for _, rr := range r.Answer {
			if x, ok := rr.(*dns.TLSA); ok {
				x.Certificate = strings.Repeat("00", 32)
			}
		}
		_ = w.WriteMsg(r)
	})
	var pc net.PacketConn
	var l net.Listener
	for pc == nil {
		p, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if l, err = net.Listen("tcp", p.LocalAddr().String()); err != nil {
			p.Close()
			continue
		}
		pc = p
	}
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: l, Handler: h}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		done := make(chan struct{})
		go func() { _ = s.ActivateAndServe(); close(done) }()
		<-started
		t.Cleanup(func() { _ = s.Shutdown(); <-done })
	}
	return pc.LocalAddr().String()
}
