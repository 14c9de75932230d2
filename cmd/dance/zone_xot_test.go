package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/daemon"
	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/zone/tsigkey"
)

// xotServe starts 'zone serve' on dir with an admin API and extra flags,
// and returns its DNS and XoT addresses and its log; it must
// exit 0 when stopped at the end of the test.
func xotServe(t *testing.T, dir string, extra ...string) (dnsAddr, xotAddr string, log *syncBuffer) {
	t.Helper()
	m, errb, stop := serveUntil(t, dir, []*regexp.Regexp{
		regexp.MustCompile(`on (127\.0\.0\.1:\d+) \(udp, tcp\)`),
		regexp.MustCompile(`zone transfers over TLS \(XoT\) on (127\.0\.0\.1:\d+)`),
		regexp.MustCompile(`(admin API on)`),
	}, extra...)
	t.Cleanup(func() {
		if code := stop(); code != 0 {
			t.Errorf("serve exit %d: %s", code, errb.String())
		}
	})
	return m[0], m[1], errb
}

// runDance runs the command in-process and returns its exit code, stdout
// and stderr.
func runDance(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, nil, &out, &errb)
	return code, out.String(), errb.String()
}

func mustDance(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errb := runDance(args...)
	if code != 0 {
		t.Fatalf("dance %s: exit %d: %s%s", strings.Join(args, " "), code, out, errb)
	}
	return out
}

// zoneFileRecords reads a zone file and returns its records as sorted
// presentation lines.
func zoneFileRecords(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	zp := dns.NewZoneParser(bytes.NewReader(data), "", file)
	var out []string
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		out = append(out, rr.String())
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return out
}

// TestZoneXoTMutualDANE: two dance instances transfer a zone over XoT
// with both ends authenticated by DNS alone — the primary admits the
// secondary by the TLSA record at its name (on --xot-allow), the secondary
// authenticates the primary by the TLSA record at _PORT._tcp.ns1 — and
// everything else is refused: a secondary whose identity is unpublished,
// revoked or not on the list; a primary with another key; plain TCP
// without a transfer key.
func TestZoneXoTMutualDANE(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "zone")
	mustDance(t, "zone", "init", "--zone", "devices.test", "--dir", dir)
	ns1, ns1Data := adminIdentity(t, base, "ns1.devices.test")
	ns2, ns2Data := adminIdentity(t, base, "ns2.devices.test")
	ns3, ns3Data := adminIdentity(t, base, "ns3.devices.test") // revoked
	ns4, _ := adminIdentity(t, base, "ns4.devices.test")       // never published
	evil, evilData := adminIdentity(t, base, "evil.devices.test")
	imp, _ := adminIdentity(t, filepath.Join(base, "imp"), "ns1.devices.test")     // another key for ns1
	thief, _ := adminIdentity(t, filepath.Join(base, "thief"), "ns2.devices.test") // another key for ns2

	dnsAddr, xotAddr, slog := xotServe(t, dir,
		"--xot-listen", "127.0.0.1:0", "--xot-cert", filepath.Join(ns1, "cert.pem"), "--xot-key", filepath.Join(ns1, "key.pem"),
		"--xot-allow", "ns2.devices.test", "--xot-allow", "ns3.devices.test", "--xot-allow", "ns4.devices.test")
	_, xotPort, _ := strings.Cut(xotAddr, ":")
	mustDance(t, "zone", "add", "--dir", dir, "ns2.devices.test", "TLSA", ns2Data)
	mustDance(t, "zone", "add", "--dir", dir, "ns3.devices.test", "TLSA", ns3Data)
	mustDance(t, "zone", "add", "--dir", dir, "evil.devices.test", "TLSA", evilData)
	mustDance(t, "zone", "add", "--dir", dir, "_"+xotPort+"._tcp.ns1.devices.test", "TLSA", ns1Data)
	mustDance(t, "zone", "revoke", "--dir", dir, "ns3.devices.test")

	anchors := filepath.Join(dir, "anchors")
	secondary := func(id, out, primary, connect string, extra ...string) (int, string, string) {
		return runDance(append([]string{"zone", "secondary", "--zone", "devices.test", "--primary", primary, "--connect", connect,
			"--identity", id, "--out", out, "--resolver", dnsAddr, "--anchors", anchors, "--once"}, extra...)...)
	}
	primary := "ns1.devices.test:" + xotPort
	copyFile := filepath.Join(base, "copy", "devices.test.zone")
	os.MkdirAll(filepath.Dir(copyFile), 0o755)

	// The first transfer: the whole zone, which validates.
	code, out, errb := secondary(ns2, copyFile, primary, xotAddr)
	if code != 0 || !regexp.MustCompile(`^devices\.test: serial \d+ transferred from ns1\.devices\.test:\d+ \(axfr\), \d+ records written to `).MatchString(out) {
		t.Fatalf("first transfer: exit %d: %s%s", code, out, errb)
	}
	kz := daemon.Tool(t, "kzonecheck")
	if b, err := exec.Command(kz, "-o", "devices.test", "-d", "on", copyFile).CombinedOutput(); err != nil {
		t.Fatalf("kzonecheck on the copy: %v\n%s", err, b)
	}
	if !strings.Contains(strings.Join(zoneFileRecords(t, copyFile), "\n"), "ns2.devices.test.\t") {
		t.Fatal("the copy lacks ns2's record")
	}
	if !strings.Contains(slog.String(), `msg="zone transferred"`) || !strings.Contains(slog.String(), "secondary=ns2.devices.test") {
		t.Errorf("the primary did not log the transfer with the secondary's name: %s", slog.String())
	}

	// A change, then the differences; the copy is what a whole transfer
	// gives.
	mustDance(t, "zone", "add", "--dir", dir, "sensor1._device.devices.test", "TLSA", ns2Data)
	code, out, errb = secondary(ns2, copyFile, primary, xotAddr)
	if code != 0 || !strings.Contains(out, "(ixfr)") {
		t.Fatalf("second transfer: exit %d: %s%s", code, out, errb)
	}
	fresh := filepath.Join(base, "copy", "fresh.zone")
	if code, out, errb = secondary(ns2, fresh, primary, xotAddr); code != 0 || !strings.Contains(out, "(axfr)") {
		t.Fatalf("fresh transfer: exit %d: %s%s", code, out, errb)
	}
	if a, b := zoneFileRecords(t, copyFile), zoneFileRecords(t, fresh); strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("the copy brought up to date by IXFR differs from a whole transfer:\n%d records vs %d", len(a), len(b))
	}
	if code, out, _ = secondary(ns2, copyFile, primary, xotAddr); code != 0 || !strings.Contains(out, "current") {
		t.Fatalf("third transfer: exit %d: %s", code, out)
	}

	// The attacks. Each refused secondary writes nothing.
	impAddr, impPort := greeter(t, loadIdent(t, imp))
	mustDance(t, "zone", "add", "--dir", dir, tcpOwner("ns1.devices.test", impPort), "TLSA", ns1Data)
	for _, tt := range []struct {
		name, id, primary, connect string
		stderr, logged             string
	}{
		{"revoked secondary", ns3, primary, xotAddr, "refused this secondary in the TLS handshake", "name=ns3.devices.test reason=revoked"},
		{"unpublished secondary", ns4, primary, xotAddr, "refused this secondary in the TLS handshake", "name=ns4.devices.test reason=no-record"},
		{"secondary with another key for an admitted name", thief, primary, xotAddr, "refused this secondary in the TLS handshake", "name=ns2.devices.test reason=no-match"},
		{"secondary not on the list", evil, primary, xotAddr, "refused this secondary in the TLS handshake", "name=evil.devices.test reason=not-allowed"},
		{"primary with another key", ns2, "ns1.devices.test:" + strconv.Itoa(int(impPort)), impAddr, "DANE did not authenticate the primary (no-match)", ""},
		{"primary without a record for the port", ns2, "ns1.devices.test:1", xotAddr, "DANE did not authenticate the primary (no-record)", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(base, "copy", strings.ReplaceAll(tt.name, " ", "-"))
			code, out, errb := secondary(tt.id, file, tt.primary, tt.connect)
			if code != 1 || !strings.Contains(errb, tt.stderr) {
				t.Fatalf("exit %d, want 1 with %q: %s%s", code, tt.stderr, out, errb)
			}
			if _, err := os.Stat(file); !os.IsNotExist(err) {
				t.Errorf("a refused transfer wrote %s: %v", file, err)
			}
			if tt.logged != "" && !testwait.Until(10*time.Second, func() bool { return strings.Contains(slog.String(), tt.logged) }) {
				t.Errorf("the primary's log lacks %q: %s", tt.logged, slog.String())
			}
		})
	}
	if !strings.Contains(slog.String(), "component=xot-dane") {
		t.Errorf("refusals not logged by the XoT verification core: %s", slog.String())
	}

	// Plain TCP: no --allow-transfer, so no transfer, signed or not.
	m := new(dns.Msg)
	m.SetAxfr("devices.test.")
	tr := &dns.Transfer{}
	ch, err := tr.In(m, dnsAddr)
	if err != nil {
		t.Fatal(err)
	}
	var got int
	var xerr error
	for env := range ch {
		got += len(env.RR)
		if env.Error != nil {
			xerr = env.Error
		}
	}
	if got > 0 || xerr == nil || !strings.Contains(xerr.Error(), "rcode: 5") {
		t.Fatalf("plain AXFR: %d records, %v; want REFUSED", got, xerr)
	}

	// Without --once: NOTIFY makes the secondary fetch the change.
	live := filepath.Join(base, "copy", "live.zone")
	ctx, cancel := context.WithCancel(context.Background())
	var lout, lerr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"zone", "secondary", "--zone", "devices.test", "--primary", primary, "--connect", xotAddr,
			"--identity", ns2, "--out", live, "--resolver", dnsAddr, "--anchors", anchors, "--notify-listen", "127.0.0.1:0"}, nil, &lout, &lerr)
	}()
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("secondary exit %d: %s", code, lerr.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("secondary did not stop")
		}
	}()
	reNotify := regexp.MustCompile(`listening for NOTIFY" addr=(127\.0\.0\.1:\d+)`)
	var nm []string
	if !testwait.Until(30*time.Second, func() bool {
		nm = reNotify.FindStringSubmatch(lerr.String())
		_, err := os.Stat(live)
		return nm != nil && err == nil
	}) {
		t.Fatalf("secondary did not start: %s%s", lout.String(), lerr.String())
	}
	mustDance(t, "zone", "add", "--dir", dir, "sensor2._device.devices.test", "TLSA", ns2Data)
	n := new(dns.Msg)
	n.SetNotify("devices.test.")
	if r, err := dns.Exchange(n, nm[1]); err != nil || r.Rcode != dns.RcodeSuccess || !r.Authoritative {
		t.Fatalf("NOTIFY: %v %v", err, r)
	}
	if !testwait.Until(30*time.Second, func() bool {
		data, _ := os.ReadFile(live)
		return bytes.Contains(data, []byte("sensor2._device.devices.test."))
	}) {
		t.Fatalf("the change did not reach the copy after NOTIFY: %s", lerr.String())
	}
	// A NOTIFY for another zone is not acted upon.
	n.SetNotify("other.test.")
	if r, err := dns.Exchange(n, nm[1]); err != nil || r.Rcode != dns.RcodeNotAuth {
		t.Fatalf("NOTIFY for another zone: %v %v", err, r)
	}
}

// TestZoneXoTUsage: XoT settings that cannot work are usage errors, each
// saying what is missing, before anything serves or connects.
func TestZoneXoTUsage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "zone")
	mustDance(t, "zone", "init", "--zone", "devices.test", "--dir", dir)
	id, _ := adminIdentity(t, t.TempDir(), "ns2.devices.test")
	serveArgs := func(extra ...string) []string {
		return append([]string{"zone", "serve", "--dir", dir, "--listen", "127.0.0.1:0", "--admin-listen", "off"}, extra...)
	}
	xot := []string{"--xot-listen", "127.0.0.1:0", "--xot-cert", filepath.Join(id, "cert.pem"), "--xot-key", filepath.Join(id, "key.pem")}
	sec := func(extra ...string) []string {
		return append([]string{"zone", "secondary", "--zone", "devices.test", "--identity", id, "--out", filepath.Join(dir, "copy")}, extra...)
	}
	runCases(t, []cliCase{
		{"xot flags without a listener", serveArgs("--xot-allow", "ns2.devices.test"), 2, `^$`, "need --xot-listen"},
		{"listener without a certificate", serveArgs("--xot-listen", "127.0.0.1:0", "--xot-allow", "ns2.devices.test"), 2, `^$`, "needs --xot-cert and --xot-key"},
		{"dane without an allow-list", serveArgs(xot...), 2, `^$`, "needs --xot-allow"},
		{"tsig without a transfer key", serveArgs(append(xot, "--xot-auth", "tsig")...), 2, `^$`, "needs --transfer-key"},
		{"allow-list with tsig", serveArgs(append(xot, "--xot-auth", "tsig", "--transfer-key", filepath.Join(dir, "tsig.key"), "--xot-allow", "ns2.devices.test")...), 2, `^$`, "--xot-allow needs --xot-auth dane or both"},
		{"unknown mode", serveArgs(append(xot, "--xot-auth", "either")...), 2, `^$`, "want dane, tsig or both"},
		{"secondaries outside the zone, no resolver", serveArgs(append(xot, "--xot-allow", "ns2.example.net")...), 2, `^$`, "give --resolver ADDR"},
		{"secondary: missing flags", []string{"zone", "secondary", "--zone", "devices.test"}, 2, `^$`, "are required"},
		{"secondary: primary as an address", sec("--primary", "127.0.0.1:853"), 2, `^$`, "give the primary's name"},
		{"secondary: notify with once", sec("--primary", "ns1.devices.test", "--once", "--notify-listen", "127.0.0.1:0"), 2, `^$`, "no use with --once"},
		{"secondary: metrics with once", sec("--primary", "ns1.devices.test", "--once", "--metrics", "127.0.0.1:0"), 2, `^$`, "--metrics has no use with --once"},
		{"secondary: unknown expire policy", sec("--primary", "ns1.devices.test", "--on-expire", "delete"), 2, `^$`, "want keep or remove"},
	})
}

// TestZoneXoTBoth: with --xot-auth both, an authenticated secondary also
// needs the transfer key: without --tsig the transfer is REFUSED (the
// handshake succeeded), with it the zone is transferred.
func TestZoneXoTBoth(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "zone")
	mustDance(t, "zone", "init", "--zone", "devices.test", "--dir", dir)
	ns1, ns1Data := adminIdentity(t, base, "ns1.devices.test")
	ns2, ns2Data := adminIdentity(t, base, "ns2.devices.test")
	xk, err := tsigkey.Generate("xfr.devices.test.", tsigkey.HMACSHA256)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(base, "xfr.key")
	if err := tsigkey.WriteFile(keyFile, xk); err != nil {
		t.Fatal(err)
	}
	other, _ := tsigkey.Generate("other.devices.test.", tsigkey.HMACSHA256)
	otherFile := filepath.Join(base, "other.key")
	if err := tsigkey.WriteFile(otherFile, other); err != nil {
		t.Fatal(err)
	}
	dnsAddr, xotAddr, slog := xotServe(t, dir, "--transfer-key", keyFile, "--xot-auth", "both",
		"--xot-listen", "127.0.0.1:0", "--xot-cert", filepath.Join(ns1, "cert.pem"), "--xot-key", filepath.Join(ns1, "key.pem"),
		"--xot-allow", "ns2.devices.test")
	_, port, _ := strings.Cut(xotAddr, ":")
	mustDance(t, "zone", "add", "--dir", dir, "ns2.devices.test", "TLSA", ns2Data)
	mustDance(t, "zone", "add", "--dir", dir, "_"+port+"._tcp.ns1.devices.test", "TLSA", ns1Data)
	sec := func(file string, extra ...string) (int, string, string) {
		return runDance(append([]string{"zone", "secondary", "--zone", "devices.test", "--primary", "ns1.devices.test:" + port, "--connect", xotAddr,
			"--identity", ns2, "--out", file, "--resolver", dnsAddr, "--anchors", filepath.Join(dir, "anchors"), "--once"}, extra...)...)
	}
	file := filepath.Join(base, "copy.zone")
	if code, out, errb := sec(file); code != 1 || !strings.Contains(errb, "refused the transfer: REFUSED") || !strings.Contains(errb, "--tsig") {
		t.Fatalf("without the key: exit %d: %s%s", code, out, errb)
	}
	if !strings.Contains(slog.String(), `reason="not signed with a transfer key" secondary=ns2.devices.test`) {
		t.Errorf("refusal not logged with its reason and the secondary: %s", slog.String())
	}
	if code, out, errb := sec(file, "--tsig", otherFile); code != 1 {
		t.Fatalf("with a key the primary does not know: exit %d: %s%s", code, out, errb)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("a refused transfer wrote the file: %v", err)
	}
	if code, out, errb := sec(file, "--tsig", keyFile); code != 0 || !strings.Contains(out, "(axfr)") {
		t.Fatalf("with the key: exit %d: %s%s", code, out, errb)
	}
}
