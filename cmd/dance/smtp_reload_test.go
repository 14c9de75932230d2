package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/testident"
)

// startSMTPRelayMetrics is startSMTPRelay with --metrics: it returns the
// relay's address, the metrics URL and its stderr.
func startSMTPRelayMetrics(t *testing.T, args []string) (addr, metricsURL string, errb *syncBuffer) {
	t.Helper()
	m, errb, stop := startServeCmd(t, append(append([]string{"smtp", "relay"}, args...), "--metrics", "127.0.0.1:0"),
		regexp.MustCompile(`(?s)metrics on (http://127\.0\.0\.1:\d+/metrics).*listening on (127\.0\.0\.1:\d+)`))
	t.Cleanup(func() {
		if code := stop(); code != 0 {
			t.Errorf("dance smtp relay exited %d: %s", code, errb.String())
		}
	})
	return m[2], m[1], errb
}

// smtpSend sends one message to addr as the identity in dir (STARTTLS with
// its certificate) and returns the relay's certificate and the error of
// the first refused command.
func smtpSend(t *testing.T, addr, dir string) ([]byte, error) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, testident.CertFile), filepath.Join(dir, testident.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	// The relay's certificate is what the test looks at, not what it
	// trusts.
	c, err := smtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("mta1.example.test"); err != nil {
		return nil, err
	}
	st, ok := c.TLSConnectionState()
	if !ok || len(st.PeerCertificates) == 0 {
		t.Fatal("no TLS after STARTTLS")
	}
	served := st.PeerCertificates[0].Raw
	if err := c.Mail("alice@mta1.example.test", nil); err != nil {
		return served, err
	}
	if err := c.Rcpt("bob@example.org", nil); err != nil {
		return served, err
	}
	w, err := c.Data()
	if err != nil {
		return served, err
	}
	io.WriteString(w, "Subject: reload\r\n\r\nhello\r\n")
	if err := w.Close(); err != nil {
		return served, err
	}
	return served, c.Quit()
}

// metricValue reads one sample ("name{label=\"value\"}") from the
// metrics page, or 0 when it is not there.
func metricValue(t *testing.T, url, sample string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return v
		}
	}
	return "0"
}

// TestSMTPRelayMetricsAndReload: the relay counts sessions, refusals by
// reason and relayed messages on --metrics; SIGHUP reloads the allow-list
// and the certificate, and a bad allow-list or certificate keeps the old
// configuration whole.
func TestSMTPRelayMetricsAndReload(t *testing.T) {
	f := newSMTPFixture(t)
	write := func(name string, data []byte) string {
		t.Helper()
		p := filepath.Join(f.dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	allowFile := write("allowed.txt", []byte("_smtp-client.other.example.test\n"))
	srvCert, _ := os.ReadFile(f.srvCert)
	srvKey, _ := os.ReadFile(f.srvKey)
	certFile, keyFile := write("relay.pem", srvCert), write("relay.key", srvKey)
	addr, metrics, errb := startSMTPRelayMetrics(t, []string{"--listen", "127.0.0.1:0", "--cert", certFile, "--key", keyFile,
		"--allow-file", allowFile, "--resolver", f.resolver, "--anchors", f.anchors, "--domain", "relay.example.test",
		"--next-hop", f.sink.addr})
	hup := func(want string) { t.Helper(); sighup(t, errb, want) }
	want := func(sample, value string) {
		t.Helper()
		if got := metricValue(t, metrics, sample); got != value {
			t.Errorf("%s = %s, want %s", sample, got, value)
		}
	}
	refusedCode := func(err error) int {
		var se *smtp.SMTPError
		if !errors.As(err, &se) {
			t.Fatalf("want an SMTP refusal, got %v", err)
		}
		return se.Code
	}

	// Off the allow-list.
	first, err := smtpSend(t, addr, f.ids[smtpPublished])
	if code := refusedCode(err); code != 550 {
		t.Fatalf("off the allow-list: %d", code)
	}
	want(`dance_smtp_refusals_total{reason="not-allowed"}`, "1")
	want(`dance_smtp_sessions_total{result="refused"}`, "1")

	// A bad allow-list and a bad certificate: the old configuration stays.
	write("allowed.txt", []byte("*\n"))
	hup("allow-list not reloaded")
	write("allowed.txt", []byte(smtpPublished+"\n"))
	write("relay.pem", []byte("not PEM"))
	hup("certificate not reloaded")
	served, err := smtpSend(t, addr, f.ids[smtpPublished])
	if code := refusedCode(err); code != 550 || !bytes.Equal(served, first) {
		t.Fatalf("after refused reloads: %d, same certificate %v", code, bytes.Equal(served, first))
	}

	// A new certificate and the published sender on the allow-list.
	cred := testident.SelfSigned(t, "relay.example.test", identity.KeyECDSAP256)
	dir := testident.Write(t, cred.Key, cred.Cert)
	newCert, _ := os.ReadFile(filepath.Join(dir, testident.CertFile))
	newKey, _ := os.ReadFile(filepath.Join(dir, testident.KeyFile))
	write("relay.pem", newCert)
	write("relay.key", newKey)
	hup("certificate reloaded")
	if !strings.Contains(errb.String(), "allow-list reloaded") {
		t.Errorf("the reload does not log the allow-list: %s", errb.String())
	}
	served, err = smtpSend(t, addr, f.ids[smtpPublished])
	if err != nil {
		t.Fatalf("after the reload: %v", err)
	}
	if !bytes.Equal(served, cred.Cert.Raw) {
		t.Fatal("after the reload the relay serves its old certificate")
	}
	if n := len(f.sink.messages()); n != 1 {
		t.Fatalf("%d messages at the next hop, want 1", n)
	}
	want(`dance_smtp_messages_total{result="relayed"}`, "1")
	want(`dance_smtp_sessions_total{result="authenticated"}`, "1")
	want(`dance_smtp_refusals_total{reason="not-allowed"}`, "2")
	// Each client's first EHLO, before STARTTLS.
	want(`dance_smtp_sessions_total{result="no_tls"}`, "3")
	if got := metricValue(t, metrics, `dance_verify_verdicts_total{result="ok"}`); got == "0" {
		t.Errorf("the core's verdicts are not on the metrics page")
	}
}
