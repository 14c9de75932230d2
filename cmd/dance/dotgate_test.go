package main

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/testwait"
)

// dotGateUpstream is a TCP DNS server that answers every A question with
// 192.0.2.53.
func dotGateUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		r := new(dns.Msg)
		r.SetReply(q)
		rr, _ := dns.NewRR(q.Question[0].Name + " 60 IN A 192.0.2.53")
		r.Answer = append(r.Answer, rr)
		_ = w.WriteMsg(r)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	done := make(chan struct{})
	go func() { _ = srv.ActivateAndServe(); close(done) }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown(); <-done })
	return ln.Addr().String()
}

// TestDotGateCommand: dance dot-gate admits the published device, answers
// it within its zone through the upstream, REFUSES outside it, refuses a
// client without a certificate at TLS with one log line, and stops on its
// context.
func TestDotGateCommand(t *testing.T) {
	f := newProxyFixture(t)
	policy := filepath.Join(f.dir, "clients.policy")
	if err := os.WriteFile(policy, []byte("# test\n"+f.devName+" example.test rate=0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, errb, stop := startServeCmd(t, []string{"dot-gate", "--listen", "127.0.0.1:0", "--cert", f.srvCert, "--key", f.srvKey,
		"--upstream", dotGateUpstream(t), "--policy", policy, "--resolver", f.resolver, "--anchors", f.anchors},
		regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`))
	addr := m[1]
	exchange := func(certs []tls.Certificate, name string) (*dns.Msg, error) {
		c := &dns.Client{Net: "tcp-tls", Timeout: 30 * time.Second, TLSConfig: &tls.Config{
			RootCAs: f.pool, ServerName: "proxy.example.test", Certificates: certs}}
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		r, _, err := c.Exchange(q, addr)
		return r, err
	}
	r, err := exchange([]tls.Certificate{f.dev}, "www.example.test.")
	if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || !strings.Contains(r.Answer[0].String(), "192.0.2.53") {
		t.Fatalf("allowed query: %v %v", r, err)
	}
	r, err = exchange([]tls.Certificate{f.dev}, "www.example.org.")
	if err != nil || r.Rcode != dns.RcodeRefused || len(r.Answer) != 0 {
		t.Fatalf("query outside the zones: %v %v", r, err)
	}
	if r, err = exchange(nil, "www.example.test."); err == nil {
		t.Fatalf("a client without a certificate got %v", r)
	}
	testwait.Eventually(t, 30*time.Second, func() error {
		if n := strings.Count(errb.String(), "dotgate: client refused"); n != 1 {
			return errors.New("want one refusal line, got " + errb.String())
		}
		return nil
	})
	if code := stop(); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

func TestDotGateCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.policy")
	if err := os.WriteFile(bad, []byte("a._device.example.test rate=3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.policy")
	if err := os.WriteFile(good, []byte("a._device.example.test .\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"dot-gate", "--listen", "127.0.0.1:0", "--cert", "c.pem", "--key", "k.pem", "--upstream", "127.0.0.1:53"}
	runCases(t, []cliCase{
		{"no policy", base, 2, "", "--policy is required"},
		{"bad policy", append(base[:len(base):len(base)], "--policy", bad), 2, "", "line 1: identity a._device.example.test has no zone"},
		{"upstream without port", []string{"dot-gate", "--listen", ":0", "--cert", "c", "--key", "k", "--upstream", "127.0.0.1", "--policy", good}, 2, "", "want host:port"},
		{"missing certificate", append(base[:len(base):len(base)], "--policy", good), 2, "", "--cert/--key"},
		{"no in-flight queries", append(base[:len(base):len(base)], "--policy", good, "--max-in-flight", "0"), 2, "", "--max-in-flight"},
		{"upstream in-flight over the IDs", append(base[:len(base):len(base)], "--policy", good, "--upstream-max-in-flight", "40000"), 2, "", "--upstream-max-in-flight from 1 to 32768"},
		{"upstream CA without TLS", append(base[:len(base):len(base)], "--policy", good, "--upstream-ca", "ca.pem"), 2, "", "--upstream-ca needs --upstream-tls-name"},
	})
}
