package dnstest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/daemon"
)

// Zones of the real-software set-up besides Zone, Device and Unsigned.
const (
	// Broken is signed, but its parent's DS is made from another key.
	Broken = "broken.example.test."
	// Tampered is signed correctly, but a proxy between Unbound and Knot
	// alters the TLSA data of its answers.
	Tampered = "tampered.example.test."
	// Hashed is signed with NSEC3 (no salt, no extra iterations, RFC 9276)
	// and holds dev1 TLSA and a wildcard *.wild TLSA.
	Hashed = "nsec3.example.test."
)

// Real is the real-software set-up: Knot signs example.test. (Zone) and
// its children (Device, Unsigned without DS, Broken, Tampered, Hashed) and serves
// them; Unbound, with Zone's key as trust anchor, recurses to it. The zones
// hold the records of the in-process hierarchy that matter for DANE:
// _443._tcp.www.example.test. and dev1 TLSA records in each child,
// alias.example.test. (CNAME to www), *.wild.example.test. TLSA, and
// www.insecure.example.test. A.
type Real struct {
	dir string
	// KnotAddr and UnboundAddr are 127.0.0.1:PORT (UDP and TCP).
	KnotAddr    string
	UnboundAddr string
	// Anchor is Zone's DNSKEY as a zone-file line.
	Anchor    string
	proxyAddr string
}

// Delv asks delv, trusting Anchor, through Unbound.
func (r *Real) Delv(tb testing.TB, name string, qtype uint16) string {
	return Delv(tb, Zone, r.Anchor, r.UnboundAddr, name, qtype)
}

// Delv asks BIND's delv, trusting the DNSKEY line key for zone, to resolve
// name/qtype through the server at addr, and returns its verdict: "secure",
// "insecure", "bogus", or "" when its output is not understood.
func Delv(tb testing.TB, zone, key, addr, name string, qtype uint16) string {
	tb.Helper()
	host, port, _ := net.SplitHostPort(addr)
	f := strings.Fields(key)
	i := 0
	for i < len(f) && f[i] != "DNSKEY" {
		i++
	}
	if i+4 >= len(f) {
		tb.Fatalf("not a DNSKEY line: %q", key)
	}
	conf := fmt.Sprintf("trust-anchors { %q static-key %s %s %s \"%s\"; };\n", zone, f[i+1], f[i+2], f[i+3], strings.Join(f[i+4:], ""))
	path := filepath.Join(tb.TempDir(), "delv-anchors.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command("delv", "-a", path, "@"+host, "-p", port, "+root="+zone, name, dns.TypeToString[qtype])
	out, _ := cmd.CombinedOutput()
	s := string(out)
	// A CNAME chain is reported link by link: one unsigned link makes the
	// whole answer insecure.
	switch {
	case strings.Contains(s, "unsigned answer"):
		return "insecure"
	case strings.Contains(s, "fully validated"):
		return "secure"
	case strings.Contains(s, "resolution failed"), strings.Contains(s, "no valid"), strings.Contains(s, "broken trust chain"):
		tb.Logf("delv: %s", strings.TrimSpace(s))
		return "bogus"
	}
	tb.Logf("delv output not understood: %s", s)
	return ""
}

// startDaemon starts a daemon on a freshly picked port (the config is made
// per port), waits until it answers probe over TCP with a signature, and
// retries with another port if it dies first; one that neither answers nor
// dies within 30s fails the test. The process is killed when the test ends.
func startDaemon(tb testing.TB, name string, probe string, mk func(port int) *exec.Cmd) string {
	tb.Helper()
	return daemon.Start(tb, daemon.Spec{
		Name:        name,
		Command:     mk,
		Ready:       func(addr string) bool { return answers(addr, probe) },
		FatalIfSlow: true,
	})
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

func runTool(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func StartReal(tb testing.TB) *Real {
	tb.Helper()
	dir := tb.TempDir()
	env := &Real{dir: dir}
	for _, d := range []string{"db", "zones", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	signed := []string{Zone, Device, Broken, Tampered, Hashed}
	knotConf := func(port int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "server:\n    listen: 127.0.0.1@%d\n    rundir: %s\n", port, filepath.Join(dir, "run"))
		fmt.Fprintf(&b, "database:\n    storage: %s\n", filepath.Join(dir, "db"))
		fmt.Fprintf(&b, "log:\n  - target: stderr\n    any: notice\n")
		fmt.Fprintf(&b, "policy:\n  - id: p\n    algorithm: ecdsap256sha256\n    single-type-signing: on\n    nsec3: off\n")
		fmt.Fprintf(&b, "  - id: p3\n    algorithm: ecdsap256sha256\n    single-type-signing: on\n    nsec3: on\n    nsec3-iterations: 0\n    nsec3-salt-length: 0\n")
		fmt.Fprintf(&b, "template:\n  - id: default\n    storage: %s\n    file: \"%%s.zone\"\n    dnssec-signing: on\n    dnssec-policy: p\n", filepath.Join(dir, "zones"))
		fmt.Fprintf(&b, "zone:\n")
		for _, z := range signed {
			fmt.Fprintf(&b, "  - domain: %s\n", z)
			if z == Hashed {
				fmt.Fprintf(&b, "    dnssec-policy: p3\n")
			}
		}
		fmt.Fprintf(&b, "  - domain: %s\n    dnssec-signing: off\n", Unsigned)
		return b.String()
	}
	confPath := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(confPath, []byte(knotConf(53)), 0o644); err != nil {
		tb.Fatal(err)
	}
	// Keys first, so that the parent can carry the children's DS.
	for _, z := range signed {
		runTool(tb, "keymgr", "-c", confPath, z, "generate", "algorithm=ecdsap256sha256", "ksk=yes", "zsk=yes")
	}
	dsOf := func(z string) string {
		return strings.SplitN(strings.TrimSpace(runTool(tb, "keymgr", "-c", confPath, z, "ds")), "\n", 2)[0]
	}
	env.Anchor = strings.TrimSpace(strings.SplitN(runTool(tb, "keymgr", "-c", confPath, Zone, "dnskey"), "\n", 2)[0])
	// broken.example.test. gets the DS of _device's key under its own name:
	// right format, wrong digest.
	brokenDS := strings.Replace(dsOf(Device), Device, Broken, 1)
	zones := map[string]string{
		Zone: `@ SOA ns hostmaster 1 3600 600 86400 60
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
nsec3 NS ns
` + dsOf(Device) + "\n" + dsOf(Tampered) + "\n" + dsOf(Hashed) + "\n" + brokenDS + "\n",
		Device:   "@ SOA ns.example.test. h.example.test. 1 3600 600 86400 60\n@ NS ns.example.test.\ndev1 TLSA 3 1 1 8CB0FC6C527506A053F4F14C8464BEBBD6DEDE2738D11468DD953D7D6A3021F1\n",
		Unsigned: "@ SOA ns.example.test. h.example.test. 1 3600 600 86400 60\n@ NS ns.example.test.\nwww A 192.0.2.20\n",
		Broken:   "@ SOA ns.example.test. h.example.test. 1 3600 600 86400 60\n@ NS ns.example.test.\ndev1 TLSA 3 1 1 8CB0FC6C527506A053F4F14C8464BEBBD6DEDE2738D11468DD953D7D6A3021F1\n",
		Hashed:   "@ SOA ns.example.test. h.example.test. 1 3600 600 86400 60\n@ NS ns.example.test.\ndev1 TLSA 3 1 1 8CB0FC6C527506A053F4F14C8464BEBBD6DEDE2738D11468DD953D7D6A3021F1\n*.wild TLSA 3 1 1 1F2E3D4C5B6A79880F1E2D3C4B5A69788796A5B4C3D2E1F00F1E2D3C4B5A6978\n",
		Tampered: "@ SOA ns.example.test. h.example.test. 1 3600 600 86400 60\n@ NS ns.example.test.\ndev1 TLSA 3 1 1 8CB0FC6C527506A053F4F14C8464BEBBD6DEDE2738D11468DD953D7D6A3021F1\n",
	}
	for z, body := range zones {
		text := fmt.Sprintf("$ORIGIN %s\n$TTL 300\n%s", z, body)
		if err := os.WriteFile(filepath.Join(dir, "zones", strings.TrimSuffix(z, ".")+".zone"), []byte(text), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	env.KnotAddr = startDaemon(tb, "knotd", Device, func(port int) *exec.Cmd {
		if err := os.WriteFile(confPath, []byte(knotConf(port)), 0o644); err != nil {
			tb.Fatal(err)
		}
		return exec.Command("knotd", "-c", confPath)
	})
	for _, z := range signed {
		deadline := time.Now().Add(30 * time.Second)
		for !answers(env.KnotAddr, z) {
			if time.Now().After(deadline) {
				tb.Fatalf("knotd does not serve %s signed", z)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	env.proxyAddr = startTamperProxy(tb, env.KnotAddr)
	unboundConf := filepath.Join(dir, "unbound.conf")
	env.UnboundAddr = startDaemon(tb, "unbound", Device, func(port int) *exec.Cmd {
		var b strings.Builder
		fmt.Fprintf(&b, "server:\n    interface: 127.0.0.1\n    port: %d\n    do-not-query-localhost: no\n", port)
		fmt.Fprintf(&b, "    chroot: \"\"\n    username: \"\"\n    directory: %q\n    pidfile: \"\"\n", dir)
		fmt.Fprintf(&b, "    use-syslog: no\n    logfile: \"\"\n    verbosity: 1\n    do-ip6: no\n    ede: yes\n")
		fmt.Fprintf(&b, "    local-zone: \"test.\" nodefault\n    trust-anchor: %q\n", env.Anchor)
		fmt.Fprintf(&b, "remote-control:\n    control-enable: no\n")
		for _, z := range []string{Zone, Device, Unsigned, Broken, Hashed} {
			fmt.Fprintf(&b, "stub-zone:\n    name: %q\n    stub-addr: %s\n", z, strings.Replace(env.KnotAddr, ":", "@", 1))
		}
		fmt.Fprintf(&b, "stub-zone:\n    name: %q\n    stub-addr: %s\n", Tampered, strings.Replace(env.proxyAddr, ":", "@", 1))
		if err := os.WriteFile(unboundConf, []byte(b.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
		return exec.Command("unbound", "-d", "-c", unboundConf)
	})
	return env
}

// startTamperProxy forwards queries to upstream and alters the TLSA data in
// answers, leaving the signatures as they were.
func startTamperProxy(tb testing.TB, upstream string) string {
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
			tb.Fatal(err)
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
		tb.Cleanup(func() { _ = s.Shutdown(); <-done })
	}
	return pc.LocalAddr().String()
}

// Delv asks delv, trusting the hierarchy's root key, through this server.
func (h *Hierarchy) Delv(tb testing.TB, name string, qtype uint16) string {
	return Delv(tb, Root, h.DNSKEY(Root), h.Addr(), name, qtype)
}
