package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/zone"
)

// adminServe starts 'dance zone serve' in process with extra arguments and
// returns the DNS address, the admin API URL, the server's stderr and a
// function that stops it and returns its exit code.
func adminServe(t *testing.T, dir string, extra ...string) (string, string, *syncBuffer, func() int) {
	t.Helper()
	m, errb, stop := serveUntil(t, dir, []*regexp.Regexp{
		regexp.MustCompile(`on (127\.0\.0\.1:\d+) \(udp, tcp\)`),
		regexp.MustCompile(`admin API on (https?://127\.0\.0\.1:\d+)`),
	}, extra...)
	return m[0], m[1], errb, stop
}

// serveUntil starts 'dance zone serve' in process on dir with the DNS and
// admin listeners on ports of their own and extra arguments, waits until
// its output matches every one of res, and returns the first submatch of
// each, the server's stderr and a function that stops it and returns its
// exit code (called at the end of the test too).
func serveUntil(t *testing.T, dir string, res []*regexp.Regexp, extra ...string) ([]string, *syncBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	args := append([]string{"zone", "serve", "--dir", dir, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"}, extra...)
	go func() { done <- run(ctx, args, nil, &out, &errb) }()
	stopped := false
	stop := func() int {
		if stopped {
			return 0
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop")
			return -1
		}
	}
	t.Cleanup(func() { stop() })
	found := func() []string {
		var subs []string
		for _, re := range res {
			m := re.FindStringSubmatch(out.String())
			if m == nil {
				return nil
			}
			subs = append(subs, m[1])
		}
		return subs
	}
	var subs []string
	exited := -1
	if !testwait.Until(30*time.Second, func() bool {
		if subs = found(); subs != nil {
			return true
		}
		select {
		case exited = <-done:
			return true
		default:
			return false
		}
	}) {
		t.Fatalf("serve did not report its addresses: %s", out.String())
	}
	if subs == nil {
		stopped = true
		t.Fatalf("serve exited %d: %s", exited, errb.String())
	}
	return subs, &errb, stop
}

// adminIdentity makes an identity with 'dance id new' and returns its
// directory and the data of its TLSA record.
func adminIdentity(t *testing.T, base, name string) (string, string) {
	t.Helper()
	dir := filepath.Join(base, name)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"id", "new", "--name", name, "--out", dir}, nil, &out, &errb); code != 0 {
		t.Fatalf("id new %s: exit %d: %s", name, code, errb.String())
	}
	f := strings.Fields(out.String())
	if len(f) < 8 || f[3] != "TLSA" {
		t.Fatalf("id new printed %q, want a TLSA record", out.String())
	}
	return dir, strings.Join(f[4:8], " ")
}

// curlResult is what one curl run against the admin API gave.
type curlResult struct {
	code   int // HTTP status, 0 when there was no HTTP response
	body   string
	exit   int // curl's exit status
	stderr string
}

// curlSSLConnectError is curl's exit status for a failed TLS handshake
// (curl(1), EXIT CODES).
const curlSSLConnectError = 35

// curlTLS12 makes curl speak TLS 1.2, where the server judges the client's
// certificate before sending its Finished, so that a refusal reaches curl
// inside the handshake, alert and all (exit 35). In TLS 1.3 the server
// judges it after the client has finished: its alert races curl's request,
// and curl reports a send (55) or receive (56) failure, with or without
// the alert, as the timing falls.
var curlTLS12 = []string{"--tlsv1.2", "--tls-max", "1.2"}

// adminCurlRun runs curl against the admin API and returns what happened,
// whatever the outcome.
func adminCurlRun(t *testing.T, args ...string) curlResult {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command("curl", append([]string{"-sS", "--max-time", "30", "-w", "\n%{http_code}"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	var r curlResult
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("curl %v: %v", args, err)
		}
		r.exit = ee.ExitCode()
	}
	r.stderr = errb.String()
	s := out.String()
	i := strings.LastIndexByte(s, '\n')
	code, err := strconv.Atoi(strings.TrimSpace(s[i+1:]))
	if err != nil {
		t.Fatalf("curl %v: exit %d, no status in %q (%s)", args, r.exit, s, r.stderr)
	}
	r.code, r.body = code, s[:max(i, 0)]
	return r
}

// adminCurl runs curl against the admin API, which must answer, and
// returns the HTTP status and the body.
func adminCurl(t *testing.T, args ...string) (int, string) {
	t.Helper()
	r := adminCurlRun(t, args...)
	if r.exit != 0 || r.code == 0 {
		t.Fatalf("curl %v: exit %d, HTTP %d: %s", args, r.exit, r.code, r.stderr)
	}
	return r.code, r.body
}

// Alerts (RFC 5246 §7.2.2) crypto/tls sends in TLS 1.2 when it refuses a
// client: a certificate VerifyConnection refused, no certificate where one
// is required.
const (
	alertBadCertificate   = "bad certificate"
	alertHandshakeFailure = "handshake failure"
)

// checkHandshakeRefused fails unless r is curl's report (with curlTLS12)
// of a TLS handshake the server refused with alert: not a server that is
// down (exit 7), a timeout (28), another refusal or an HTTP answer.
func checkHandshakeRefused(t *testing.T, r curlResult, alert string) {
	t.Helper()
	if r.code != 0 || r.exit != curlSSLConnectError || !strings.Contains(r.stderr, "alert "+alert) {
		t.Errorf("curl: exit %d, HTTP %d, stderr %q; want exit %d, no HTTP answer, TLS alert %q",
			r.exit, r.code, r.stderr, curlSSLConnectError, alert)
	}
}

// adminMetric returns the value of one sample in a Prometheus text
// exposition, or -1 when it is absent.
func adminMetric(body, sample string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// adminDNSQueries sums the DNS server's request counters.
func adminDNSQueries(body string) float64 {
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "dance_zone_dns_requests_total{") {
			f, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			sum += f
		}
	}
	return sum
}

// TestZoneAdminDANE runs the zone server with an HTTPS admin API that
// authenticates administrators by DANE: their TLSA records are published in
// the zone itself and looked up through the server's own DNS listener with
// the zone's anchors, by the verification core.
func TestZoneAdminDANE(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "z")
	// TTLs of one second: a revocation takes effect within a second.
	if code := run(context.Background(), []string{"zone", "init", "--zone", "devices.test", "--dir", dir, "--ttl", "1", "--negative-ttl", "1"}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("init failed")
	}
	srvCert, srvKey := filepath.Join(base, "admin.crt"), filepath.Join(base, "admin.key")
	if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", srvKey, "-out", srvCert, "-days", "1", "-subj", "/CN=zone admin", "-addext", "subjectAltName=IP:127.0.0.1").CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	// The update key may not reach the administrators' names.
	if err := os.WriteFile(filepath.Join(dir, zone.PolicyFile), []byte("update.devices.test. _device.devices.test.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	admin1, admin1TLSA := adminIdentity(t, base, "laptop._device.ops.devices.test")
	admin2, admin2TLSA := adminIdentity(t, base, "old._device.ops.devices.test")
	outsider, outsiderTLSA := adminIdentity(t, base, "sensor9._device.devices.test")

	_, api, logs, stop := adminServe(t, dir, "--admin-tls-cert", srvCert, "--admin-tls-key", srvKey, "--admin-allow", "*._device.ops.devices.test")
	if !strings.HasPrefix(api, "https://") {
		t.Fatalf("admin API at %s, want https", api)
	}
	metrics := func() string {
		code, body := adminCurl(t, "--cacert", srvCert, "--cert", filepath.Join(admin1, "cert.pem"), "--key", filepath.Join(admin1, "key.pem"), api+"/metrics")
		if code != 200 {
			t.Fatalf("metrics: %d %s", code, body)
		}
		return body
	}
	tlsaArgs := func(name, data string) []string { return []string{name, "TLSA", data} }
	withToken := []string{"--api", api, "--ca", srvCert, "--dir", dir}
	as := func(id string) []string { return []string{"--api", api, "--ca", srvCert, "--identity", id} }
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	type step struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}
	runSteps := func(steps []step) {
		t.Helper()
		for _, st := range steps {
			var o, e bytes.Buffer
			code := run(context.Background(), st.args, nil, &o, &e)
			if code != st.code || !strings.Contains(o.String(), st.stdout) || !strings.Contains(e.String(), st.stderr) {
				t.Errorf("%s: exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", st.name, code, st.code, o.String(), st.stdout, e.String(), st.stderr)
			}
		}
	}
	// The token publishes the administrators' records (and an outsider's).
	runSteps([]step{
		{"publish admin1 with the token", cat([]string{"zone", "add"}, withToken, tlsaArgs("laptop._device.ops.devices.test", admin1TLSA)), 0, "1 record(s) published", ""},
		{"publish admin2 with the token", cat([]string{"zone", "add"}, withToken, tlsaArgs("old._device.ops.devices.test", admin2TLSA)), 0, "1 record(s) published", ""},
		{"publish outsider with the token", cat([]string{"zone", "add"}, withToken, tlsaArgs("sensor9._device.devices.test", outsiderTLSA)), 0, "1 record(s) published", ""},
		{"https without --ca", cat([]string{"zone", "list", "--api", api, "--token-file", filepath.Join(dir, "admin.token")}), 1, "", "certificate"},
		{"https with the certificate recorded in --dir", cat([]string{"zone", "list", "--api", api, "--dir", dir}), 0, "laptop", ""},
		{"identity over http", cat([]string{"zone", "list", "--api", "http://127.0.0.1:1", "--identity", admin1}), 2, "", "https"},
		{"identity dir without a certificate", cat([]string{"zone", "list"}, as(base)), 2, "", "no identity"},
	})
	// Administrators authenticate with their certificates alone.
	runSteps([]step{
		{"add as admin1", cat([]string{"zone", "add"}, as(admin1), tlsaArgs("s1._device.devices.test", admin1TLSA)), 0, "1 record(s) published", ""},
		{"list as admin1", cat([]string{"zone", "list", "--under", "_device.devices.test"}, as(admin1)), 0, "s1._device.devices.test.\t1\tIN\tTLSA\t" + admin1TLSA, ""},
		{"import as admin2", append(cat([]string{"zone", "import"}, as(admin2)), "-"), 0, "0 records imported", ""},
		{"rollover list as admin1", cat([]string{"zone", "rollover"}, as(admin1)), 0, "active", ""},
		{"token still works", cat([]string{"zone", "list"}, withToken), 0, "sensor9._device.devices.test.", ""},
	})
	if !strings.Contains(logs.String(), "by=laptop._device.ops.devices.test") {
		t.Errorf("change not logged with the administrator's name:\n%s", logs.String())
	}
	// An identity not on the allow-list is refused without any DNS query.
	before := metrics()
	runSteps([]step{
		{"outsider refused", cat([]string{"zone", "remove"}, as(outsider), []string{"s1._device.devices.test"}), 1, "", "--admin-allow"},
	})
	after := metrics()
	if b, a := adminDNSQueries(before), adminDNSQueries(after); b <= 0 || a != b {
		t.Errorf("DNS queries %v before and %v after the outsider's attempt; want equal and positive", b, a)
	}
	if v := adminMetric(after, `dance_verify_verdicts_total{core="admin",result="not-allowed"}`); v != 1 {
		t.Errorf("not-allowed verdicts = %v, want 1", v)
	}
	// Neither a certificate nor a token: 401, counted.
	if code, body := adminCurl(t, "--cacert", srvCert, api+"/v1/zone"); code != 401 || !strings.Contains(body, "unauthorized") {
		t.Errorf("no credentials: %d %s", code, body)
	}
	if v := adminMetric(metrics(), `dance_zone_admin_refused_total{reason="no-credentials"}`); v != 1 {
		t.Errorf("refused no-credentials = %v, want 1", v)
	}
	// curl presents an identity too.
	if code, body := adminCurl(t, "--cacert", srvCert, "--cert", filepath.Join(admin2, "cert.pem"), "--key", filepath.Join(admin2, "key.pem"), api+"/v1/zone"); code != 200 || !strings.Contains(body, `"zone":"devices.test."`) {
		t.Errorf("curl as admin2: %d %s", code, body)
	}
	// Revocation: once admin2's record is removed, admin2 is refused
	// within the record's TTL (one second, plus the verdict cache's).
	runSteps([]step{{"revoke admin2", cat([]string{"zone", "remove"}, withToken, []string{"old._device.ops.devices.test"}), 0, "removed", ""}})
	var r curlResult
	if !testwait.Until(30*time.Second, func() bool {
		r = adminCurlRun(t, append(curlTLS12, "--cacert", srvCert, "--cert", filepath.Join(admin2, "cert.pem"), "--key", filepath.Join(admin2, "key.pem"), api+"/v1/zone")...)
		if r.exit == 0 && r.code != 200 {
			t.Fatalf("admin2 before the refusal: HTTP %d %s", r.code, r.body)
		}
		return r.exit != 0
	}) {
		t.Fatalf("revoked admin2 still accepted (HTTP %d)", r.code)
	}
	checkHandshakeRefused(t, r, alertBadCertificate)
	// The server that refused admin2 still serves admin1.
	if code, body := adminCurl(t, "--tls-max", "1.2", "--cacert", srvCert, "--cert", filepath.Join(admin1, "cert.pem"), "--key", filepath.Join(admin1, "key.pem"), api+"/v1/zone"); code != 200 || !strings.Contains(body, `"zone":"devices.test."`) {
		t.Errorf("curl as admin1 after admin2's refusal: %d %s", code, body)
	}
	runSteps([]step{{"revoked admin2 refused", cat([]string{"zone", "list"}, as(admin2)), 1, "", "--admin-allow"}})
	if v := adminMetric(metrics(), `dance_verify_verdicts_total{core="admin",result="no-record"}`); v < 1 {
		t.Errorf("no-record verdicts = %v, want at least 1", v)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exit %d: %s", code, logs.String())
	}

	// Mode dane: the token alone no longer opens the API, and a client
	// without a certificate does not get past the handshake.
	_, api, logs, stop = adminServe(t, dir, "--admin-tls-cert", srvCert, "--admin-tls-key", srvKey, "--admin-allow", "laptop._device.ops.devices.test", "--admin-auth", "dane")
	withToken = []string{"--api", api, "--ca", srvCert, "--dir", dir}
	runSteps([]step{
		{"dane: token refused", cat([]string{"zone", "list"}, withToken), 1, "", "certificate required"},
		{"dane: admin1 accepted", cat([]string{"zone", "remove"}, as(admin1), []string{"s1._device.devices.test"}), 0, "removed", ""},
	})
	checkHandshakeRefused(t, adminCurlRun(t, append(curlTLS12, "--cacert", srvCert, "-H", "Authorization: Bearer x", api+"/v1/zone")...), alertHandshakeFailure)
	// The same server, with a certificate it accepts, answers.
	if code, body := adminCurl(t, "--tls-max", "1.2", "--cacert", srvCert, "--cert", filepath.Join(admin1, "cert.pem"), "--key", filepath.Join(admin1, "key.pem"), api+"/v1/identities?under=_device.devices.test"); code != 200 || !strings.Contains(body, "sensor9._device.devices.test.") || strings.Contains(body, "s1._device") {
		t.Errorf("dane: curl as admin1: %d %s", code, body)
	}
	if !strings.Contains(logs.String(), "identity removed") || !strings.Contains(logs.String(), "by=laptop._device.ops.devices.test") {
		t.Errorf("removal not logged with its administrator:\n%s", logs.String())
	}
}

// TestZoneServeAdminFlags checks the combinations of admin flags that are
// refused before anything is served.
func TestZoneServeAdminFlags(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "z")
	if code := run(context.Background(), []string{"zone", "init", "--zone", "devices.test", "--dir", dir}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("init failed")
	}
	serve := []string{"zone", "serve", "--dir", dir, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"}
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"allow without https", []string{"--admin-allow", "*._device.devices.test"}, "needs HTTPS"},
		{"dane without allow", []string{"--admin-auth", "dane", "--admin-tls-cert", "c", "--admin-tls-key", "k"}, "needs --admin-allow"},
		{"allow with token mode", []string{"--admin-auth", "token", "--admin-allow", "*._device.devices.test"}, "--admin-allow needs"},
		{"unknown mode", []string{"--admin-auth", "maybe"}, "unknown authentication mode"},
		{"resolver tls without resolver", []string{"--admin-allow", "*._device.devices.test", "--admin-tls-cert", "CERT", "--admin-tls-key", "KEY", "--tls"}, "--tls needs --resolver"},
		{"resolver flags without DANE", []string{"--resolver", "127.0.0.1", "--anchors", "x"}, "--anchors, --resolver: the resolver flags are for"},
		{"unreadable parent anchors", []string{"--parent-anchors", "/nonexistent/anchors"}, "/nonexistent/anchors"},
		{"allow everything", []string{"--admin-allow", "*", "--admin-tls-cert", "c", "--admin-tls-key", "k"}, "--admin-allow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errb bytes.Buffer
			code := run(context.Background(), append(append([]string{}, serve...), tt.args...), nil, &bytes.Buffer{}, &errb)
			if code != 2 || !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errb.String(), tt.stderr)
			}
		})
	}
}

// TestZoneAdminEscalationByUpdateKey: an update key restricted to a subtree
// tries to make itself an administrator, by publishing a TLSA record for its
// own identity at a name on --admin-allow (through the wildcard its policy
// grants, or directly) and then logging into the admin API. A policy that
// reaches an admin name is refused when the server starts; with a policy
// that does not, the updates are refused; either way the login fails.
func TestZoneAdminEscalationByUpdateKey(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "z")
	if code := run(context.Background(), []string{"zone", "init", "--zone", "devices.test", "--dir", dir, "--ttl", "1", "--negative-ttl", "1"}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("init failed")
	}
	srvCert, srvKey := filepath.Join(base, "admin.crt"), filepath.Join(base, "admin.key")
	if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", srvKey, "-out", srvCert, "-days", "1", "-subj", "/CN=zone admin", "-addext", "subjectAltName=IP:127.0.0.1").CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	// The attacker holds the update key and an identity of its own under
	// the administrators' subtree.
	evil, evilTLSA := adminIdentity(t, base, "evil._device.ops.devices.test")
	key := filepath.Join(dir, zone.TSIGFile)
	policy := filepath.Join(dir, zone.PolicyFile)
	serveArgs := []string{"zone", "serve", "--dir", dir, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
		"--admin-tls-cert", srvCert, "--admin-tls-key", srvKey, "--admin-allow", "*._Device.Ops.Devices.Test.", "--admin-auth", "dane"}

	// attack publishes the attacker's record through the update key at
	// each owner, then tries to log in; it reports whether any update was
	// applied and whether the login got an HTTP answer.
	attack := func(dnsAddr, api string, owners ...string) (published []string, loggedIn bool) {
		for _, o := range owners {
			if code, _, _ := runPublish([]string{"--server", dnsAddr, "--tsig", key, o, "TLSA", evilTLSA}, ""); code == 0 {
				published = append(published, o)
			}
		}
		// The record's TTL is one second; poll a while in case a published
		// record takes effect only after cached denials expire.
		var r curlResult
		login := func() bool {
			r = adminCurlRun(t, append(curlTLS12, "--cacert", srvCert, "--cert", filepath.Join(evil, "cert.pem"), "--key", filepath.Join(evil, "key.pem"), api+"/v1/zone")...)
			return r.code == 200
		}
		in := login()
		if !in && len(published) > 0 {
			in = testwait.Until(5*time.Second, login)
		}
		if !in {
			checkHandshakeRefused(t, r, alertBadCertificate)
		}
		return published, in
	}

	// Refused at configuration time: policies whose subtree reaches an
	// admin name, and a key without a policy (the whole zone).
	for _, p := range []string{
		"update.devices.test. *._device.ops.devices.test. TLSA\n",
		"Update.Devices.Test _DEVICE.ops.devices.test\n",
		"update.devices.test. devices.test. TLSA\n",
		"", // no line for the key
	} {
		if err := os.WriteFile(policy, []byte(p), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var out, errb syncBuffer
		done := make(chan int, 1)
		go func() { done <- run(ctx, serveArgs, nil, &out, &errb) }()
		// Wait until it exits, or reports that it serves.
		re := regexp.MustCompile(`on (127\.0\.0\.1:\d+) \(udp, tcp\)`)
		reAPI := regexp.MustCompile(`admin API on (https://127\.0\.0\.1:\d+)`)
		code, started := -1, false
		if !testwait.Until(30*time.Second, func() bool {
			select {
			case code = <-done:
				return true
			default:
			}
			started = reAPI.MatchString(out.String())
			return started
		}) {
			t.Fatalf("policy %q: the server neither started nor refused: %s", p, errb.String())
		}
		if started {
			// The escalation must fail all the same.
			m, m2 := re.FindStringSubmatch(out.String()), reAPI.FindStringSubmatch(out.String())
			published, in := attack(m[1], m2[1], "*._device.ops.devices.test", "evil._device.ops.devices.test")
			t.Errorf("policy %q: server started; updates applied at %q; attacker logged in: %v", p, published, in)
			cancel()
			<-done
			continue
		}
		cancel()
		if code != 2 || !strings.Contains(errb.String(), "update key update.devices.test. may write") ||
			!strings.Contains(errb.String(), "*._device.ops.devices.test.") || !strings.Contains(errb.String(), "hint: limit key update.devices.test.") {
			t.Errorf("policy %q: exit %d, stderr %q; want 2 and the overlap named", p, code, errb.String())
		}
	}

	// A policy kept out of the admin names: the server starts, and the
	// key's attempts at the admin names are refused.
	if err := os.WriteFile(policy, []byte("update.devices.test. _device.devices.test. TLSA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dnsAddr, api, logs, stop := adminServe(t, dir, serveArgs[8:]...)
	if code, _, e := runPublish([]string{"--server", dnsAddr, "--tsig", key, "s1._device.devices.test", "TLSA", evilTLSA}, ""); code != 0 {
		t.Fatalf("the key inside its subtree: exit %d %s", code, e)
	}
	if published, in := attack(dnsAddr, api, "*._device.ops.devices.test", "evil._device.ops.devices.test", "*.devices.test"); len(published) > 0 || in {
		t.Errorf("updates applied at %q; attacker logged in: %v", published, in)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exit %d: %s", code, logs.String())
	}
}
