package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/daemon"
	"github.com/dnsbound/dance/internal/testwait"
)

// bindSecondary is one BIND (named) secondary of devices.test over XoT.
type bindSecondary struct {
	addr string // where named answers DNS queries
	log  string // named's log file
}

// bindXoTConf is a named.conf for a secondary of devices.test that
// fetches the zone over XoT from the primary at 127.0.0.1:xotPort,
// presenting cert/key as its client certificate and verifying the
// primary's certificate against caFile under the name remote.
func bindXoTConf(dir string, port int, xotPort, cert, key, caFile, remote string) string {
	return fmt.Sprintf(`options {
	directory %[1]q;
	pid-file %[2]q;
	session-keyfile %[11]q;
	listen-on port %[3]d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
};
controls { };
logging {
	channel file { file %[4]q; severity info; print-time yes; };
	category default { file; };
	category xfer-in { file; };
};
tls primary-xot {
	cert-file %[5]q;
	key-file %[6]q;
	ca-file %[7]q;
	remote-hostname %[8]q;
};
zone "devices.test" {
	type secondary;
	file %[9]q;
	primaries { 127.0.0.1 port %[10]s tls primary-xot; };
};
`, dir, filepath.Join(dir, "named.pid"), port, filepath.Join(dir, "named.log"),
		cert, key, caFile, remote, filepath.Join(dir, "devices.test.db"), xotPort,
		filepath.Join(dir, "session.key"))
}

// startBIND runs named in the foreground (-f, logging to a file in its
// directory) with bindXoTConf on a port it picks, and returns once named
// answers at all. named runs as the test's user (no -u; every file it
// writes is in its directory), root in CI. It is killed when the test
// ends.
func startBIND(t *testing.T, xotPort, cert, key, caFile, remote string) bindSecondary {
	t.Helper()
	named := daemon.Tool(t, "named")
	var dir string
	addr := daemon.Start(t, daemon.Spec{
		Name: "named",
		Command: func(port int) *exec.Cmd {
			dir = t.TempDir()
			conf := filepath.Join(dir, "named.conf")
			if err := os.WriteFile(conf, []byte(bindXoTConf(dir, port, xotPort, cert, key, caFile, remote)), 0o644); err != nil {
				t.Fatal(err)
			}
			return exec.Command(named, "-f", "-c", conf)
		},
		Ready: daemon.AnswersSOA("devices.test."),
	})
	b := bindSecondary{addr: addr, log: filepath.Join(dir, "named.log")}
	t.Cleanup(func() {
		if t.Failed() {
			data, _ := os.ReadFile(b.log)
			t.Logf("named's log:\n%s", data)
		}
	})
	return b
}

// logged reports whether named's log has s.
func (b bindSecondary) logged(s string) bool {
	data, _ := os.ReadFile(b.log)
	return strings.Contains(string(data), s)
}

// tlsa asks named for the TLSA records at name and returns the response
// code and the records' data.
func (b bindSecondary) tlsa(t *testing.T, name string) (int, []string) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeTLSA)
	r, err := dns.Exchange(m, b.addr)
	if err != nil {
		return -1, nil
	}
	var data []string
	for _, rr := range r.Answer {
		if tl, ok := rr.(*dns.TLSA); ok {
			data = append(data, fmt.Sprintf("%d %d %d %s", tl.Usage, tl.Selector, tl.MatchingType, tl.Certificate))
		}
	}
	return r.Rcode, data
}

// TestZoneXoTBINDSecondary: BIND 9.18 as the secondary of a dance primary
// with --xot-auth dane. named presents its client certificate (tls
// cert-file/key-file); the primary admits it by the TLSA record at its
// name, and named serves the zone. named verifies the primary against the
// primary's own certificate (ca-file) under its name (remote-hostname).
// A named with another key for the admitted name, or a name not on
// --xot-allow, is refused in the handshake and gets no zone; a named that
// expects another certificate or another name for the primary refuses the
// primary.
func TestZoneXoTBINDSecondary(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "zone")
	mustDance(t, "zone", "init", "--zone", "devices.test", "--dir", dir)
	ns1, _ := adminIdentity(t, base, "ns1.devices.test")
	ns2, ns2Data := adminIdentity(t, base, "ns2.devices.test")
	evil, evilData := adminIdentity(t, base, "evil.devices.test")
	thief, _ := adminIdentity(t, filepath.Join(base, "thief"), "ns2.devices.test") // another key for ns2
	imp, _ := adminIdentity(t, filepath.Join(base, "imp"), "ns1.devices.test")     // another key for ns1

	_, xotAddr, slog := xotServe(t, dir,
		"--xot-listen", "127.0.0.1:0", "--xot-cert", filepath.Join(ns1, "cert.pem"), "--xot-key", filepath.Join(ns1, "key.pem"),
		"--xot-allow", "ns2.devices.test", "--xot-auth", "dane")
	_, xotPort, _ := strings.Cut(xotAddr, ":")
	mustDance(t, "zone", "add", "--dir", dir, "ns2.devices.test", "TLSA", ns2Data)
	mustDance(t, "zone", "add", "--dir", dir, "evil.devices.test", "TLSA", evilData)

	cert := func(id string) string { return filepath.Join(id, "cert.pem") }
	key := func(id string) string { return filepath.Join(id, "key.pem") }
	want := strings.Fields(strings.ToLower(ns2Data))

	t.Run("admitted", func(t *testing.T) {
		b := startBIND(t, xotPort, cert(ns2), key(ns2), cert(ns1), "ns1.devices.test")
		var rcode int
		var got []string
		if !testwait.Until(60*time.Second, func() bool {
			rcode, got = b.tlsa(t, "ns2.devices.test.")
			return rcode == dns.RcodeSuccess && len(got) == 1
		}) {
			t.Fatalf("named does not serve ns2's TLSA record: rcode %d, %q", rcode, got)
		}
		if f := strings.Fields(strings.ToLower(got[0])); strings.Join(f, " ") != strings.Join(want, " ") {
			t.Errorf("named serves %q, want %q", got[0], ns2Data)
		}
		if !testwait.Until(10*time.Second, func() bool {
			return strings.Contains(slog.String(), `msg="zone transferred"`) && strings.Contains(slog.String(), "secondary=ns2.devices.test")
		}) {
			t.Errorf("the primary did not log the transfer to ns2: %s", slog.String())
		}
	})

	for _, tt := range []struct {
		name, id, caFile, remote string
		primaryLogged            string // the primary's refusal, "" when named refuses
		namedLogged              string
	}{
		{"another key for the admitted name", thief, cert(ns1), "ns1.devices.test", "name=ns2.devices.test reason=no-match", "Transfer status: "},
		{"name not on --xot-allow", evil, cert(ns1), "ns1.devices.test", "name=evil.devices.test reason=not-allowed", "Transfer status: "},
		{"primary with another certificate", ns2, cert(imp), "ns1.devices.test", "", "TLS peer certificate verification failed"},
		{"primary under another name", ns2, cert(ns1), "ns9.devices.test", "", "TLS peer certificate verification failed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := strings.Count(slog.String(), `msg="zone transferred"`)
			b := startBIND(t, xotPort, cert(tt.id), key(tt.id), tt.caFile, tt.remote)
			if !testwait.Until(60*time.Second, func() bool { return b.logged(tt.namedLogged) }) {
				t.Fatalf("named's log lacks %q", tt.namedLogged)
			}
			if b.logged("Transfer status: success") {
				t.Fatal("named transferred the zone")
			}
			if rcode, got := b.tlsa(t, "ns2.devices.test."); rcode != dns.RcodeServerFailure || len(got) != 0 {
				t.Errorf("named answers rcode %d, %q; want SERVFAIL (no zone)", rcode, got)
			}
			if tt.primaryLogged != "" && !testwait.Until(10*time.Second, func() bool { return strings.Contains(slog.String(), tt.primaryLogged) }) {
				t.Errorf("the primary's log lacks %q: %s", tt.primaryLogged, slog.String())
			}
			if n := strings.Count(slog.String(), `msg="zone transferred"`); n != before {
				t.Errorf("the primary logged %d transfers, want none: %s", n-before, slog.String())
			}
		})
	}
}
