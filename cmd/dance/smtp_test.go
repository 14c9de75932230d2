package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/tlsa"
)

// Client MTAs of the SMTP tests: one published, one never published, one
// revoked (its name holds tlsa.RevocationMarker, as dance zone revoke
// leaves it). All three are on the relay's allow-list.
const (
	smtpPublished   = "_smtp-client.mta1.example.test"
	smtpUnpublished = "_smtp-client.mta2.example.test"
	smtpRevoked     = "_smtp-client.mta3.example.test"
)

// smtpFixture is a signed hierarchy, the client MTAs' identities as
// "dance id new" writes them, the relay's certificate and a next hop.
type smtpFixture struct {
	dir, srvCert, srvKey, anchors, resolver string
	ids                                     map[string]string // name -> identity directory
	sink                                    *smtpSink
	h                                       *dnstest.Hierarchy
}

func newSMTPFixture(t *testing.T) *smtpFixture {
	t.Helper()
	f := &smtpFixture{dir: t.TempDir(), ids: map[string]string{}}
	var records []string
	for _, n := range []string{smtpPublished, smtpUnpublished, smtpRevoked} {
		c := testident.SelfSigned(t, n, identity.KeyECDSAP256)
		f.ids[n] = testident.Write(t, c.Key, c.Cert)
		switch n {
		case smtpPublished:
			records = append(records, testident.EELine(t, n, c.Key.Public()))
		case smtpRevoked:
			records = append(records, n+". 300 IN TLSA "+tlsa.RevocationMarker)
		}
	}
	h := dnstest.Start(t, dnstest.Config{Records: records})
	f.h = h
	f.anchors = filepath.Join(f.dir, "anchors")
	if err := os.WriteFile(f.anchors, []byte(h.Anchors()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.resolver = h.Addr()
	srv := testident.SelfSigned(t, "relay.example.test", identity.KeyECDSAP256)
	sdir := testident.Write(t, srv.Key, srv.Cert)
	f.srvCert, f.srvKey = filepath.Join(sdir, testident.CertFile), filepath.Join(sdir, testident.KeyFile)
	f.sink = startSMTPSink(t)
	return f
}

// args are the relay's flags but for where mail goes.
func (f *smtpFixture) args(extra ...string) []string {
	return append([]string{"--listen", "127.0.0.1:0", "--cert", f.srvCert, "--key", f.srvKey,
		"--allow", "*.example.test", "--resolver", f.resolver, "--anchors", f.anchors,
		"--domain", "relay.example.test"}, extra...)
}

// smtpSink is the next hop: a go-smtp server that keeps what it is given.
type smtpSink struct {
	addr string
	mu   sync.Mutex
	msgs []sinkMsg
}

type sinkMsg struct {
	from string
	to   []string
	data string
}

func startSMTPSink(t *testing.T) *smtpSink {
	t.Helper()
	k := &smtpSink{}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{k: k}, nil }))
	s.Domain = "sink.example.test"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k.addr = l.Addr().String()
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return k
}

func (k *smtpSink) messages() []sinkMsg {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]sinkMsg(nil), k.msgs...)
}

type sinkSession struct {
	k *smtpSink
	m sinkMsg
}

func (s *sinkSession) Reset()        { s.m = sinkMsg{} }
func (s *sinkSession) Logout() error { return nil }
func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	s.m.from = from
	return nil
}
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.m.to = append(s.m.to, to)
	return nil
}
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.data = string(b)
	s.k.mu.Lock()
	s.k.msgs = append(s.k.msgs, s.m)
	s.k.mu.Unlock()
	return nil
}

// startSMTPRelay runs "dance smtp relay args..." in-process until the test
// ends and returns the address it reports and its stderr.
func startSMTPRelay(t *testing.T, args []string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"smtp", "relay"}, args...), nil, &out, &errb) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("dance smtp relay did not stop within 30s of its context ending")
		}
	})
	re := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)
	var m []string
	testwait.Eventually(t, 30*time.Second, func() error {
		if m = re.FindStringSubmatch(out.String()); m != nil {
			return nil
		}
		select {
		case code := <-done:
			t.Fatalf("dance smtp relay exited %d: %s", code, errb.String())
		default:
		}
		return errors.New("dance smtp relay did not report its address")
	})
	return m[1], &errb
}

// swaks sends one message to addr and returns its transcript and exit
// code. tlsMode is "" (no TLS), "tls" (STARTTLS, no certificate) or the
// name of the identity whose certificate to present.
func swaks(t *testing.T, f *smtpFixture, addr, tlsMode, subject string) (string, int) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"--server", host, "--port", port, "--ehlo", "mta1.example.test",
		"--from", "alice@mta1.example.test", "--to", "bob@example.org",
		"--header", "Subject: " + subject, "--body", "hello over DANE", "--timeout", "60"}
	if tlsMode != "" {
		args = append(args, "--tls")
		if dir, ok := f.ids[tlsMode]; ok {
			args = append(args, "--tls-cert", filepath.Join(dir, testident.CertFile), "--tls-key", filepath.Join(dir, testident.KeyFile))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "swaks", args...).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("swaks: %v: %s", err, out)
	}
	code := 0
	if ee != nil {
		code = ee.ExitCode()
	}
	return string(out), code
}

// TestSMTPRelaySwaks: swaks as the client MTA. A published identity's
// mail reaches the next hop with a Received line naming it; the others
// get the replies of smtpauth and nothing reaches the next hop.
func TestSMTPRelaySwaks(t *testing.T) {
	f := newSMTPFixture(t)
	addr, stderr := startSMTPRelay(t, f.args("--next-hop", f.sink.addr))
	tests := []struct {
		name, tlsMode, reply string
		accepted             bool
	}{
		{name: "published", tlsMode: smtpPublished, accepted: true},
		{name: "no STARTTLS", tlsMode: "", reply: "530 5.7.0 Must issue a STARTTLS command first"},
		{name: "no certificate", tlsMode: "tls", reply: "530 5.7.0 Authentication required"},
		{name: "unpublished", tlsMode: smtpUnpublished, reply: "550 5.7.1 "},
		{name: "revoked", tlsMode: smtpRevoked, reply: "550 5.7.1 "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.sink.messages())
			out, code := swaks(t, f, addr, tc.tlsMode, "test "+tc.name)
			got := f.sink.messages()[before:]
			if !tc.accepted {
				if code == 0 || !strings.Contains(out, tc.reply) {
					t.Fatalf("swaks exit %d, want a failure with %q:\n%s", code, tc.reply, out)
				}
				if len(got) != 0 {
					t.Fatalf("next hop got %d messages from a refused sender", len(got))
				}
				return
			}
			if code != 0 {
				t.Fatalf("swaks exit %d:\n%s\nrelay: %s", code, out, stderr.String())
			}
			if len(got) != 1 {
				t.Fatalf("next hop got %d messages, want 1", len(got))
			}
			m := got[0]
			if m.from != "alice@mta1.example.test" || len(m.to) != 1 || m.to[0] != "bob@example.org" {
				t.Fatalf("envelope %q -> %q", m.from, m.to)
			}
			if !strings.HasPrefix(m.data, "Received: from mta1.example.test ([127.0.0.1])") ||
				!strings.Contains(m.data, "DANE client identity "+smtpPublished) ||
				!strings.Contains(m.data, "Subject: test published") || !strings.Contains(m.data, "hello over DANE") {
				t.Fatalf("message at the next hop:\n%s", m.data)
			}
		})
	}
	for _, want := range []string{"identity=" + smtpPublished, "reason=no-record", "reason=revoked", "reason=no-certificate"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("relay log lacks %q:\n%s", want, stderr.String())
		}
	}
}

// TestSMTPRelayDir: with --dir, accepted mail is one file in DIR/new
// with its envelope, and DIR/tmp is left empty.
func TestSMTPRelayDir(t *testing.T) {
	f := newSMTPFixture(t)
	spool := filepath.Join(t.TempDir(), "spool")
	addr, stderr := startSMTPRelay(t, f.args("--dir", spool))
	if out, code := swaks(t, f, addr, smtpPublished, "to a dir"); code != 0 {
		t.Fatalf("swaks exit %d:\n%s\nrelay: %s", code, out, stderr.String())
	}
	files, err := filepath.Glob(filepath.Join(spool, "new", "*"))
	if err != nil || len(files) != 1 {
		t.Fatalf("DIR/new holds %q (%v), want one message", files, err)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Return-Path: <alice@mta1.example.test>\r\n", "X-Envelope-To: <bob@example.org>\r\n",
		"DANE client identity " + smtpPublished, "Subject: to a dir"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("message lacks %q:\n%s", want, b)
		}
	}
	if tmp, _ := os.ReadDir(filepath.Join(spool, "tmp")); len(tmp) != 0 {
		t.Errorf("DIR/tmp holds %d files", len(tmp))
	}
}

// smtpRaw is a line-level SMTP client for what real clients never send.
type smtpRaw struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *smtpRaw {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	r := &smtpRaw{t: t, c: c, br: bufio.NewReader(c)}
	r.expect("220 ")
	return r
}

// reply reads one (possibly multi-line) reply and returns its last line.
func (r *smtpRaw) reply() (string, error) {
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			return line, err
		}
		if len(line) < 4 || line[3] != '-' {
			return strings.TrimRight(line, "\r\n"), nil
		}
	}
}

func (r *smtpRaw) expect(prefix string) string {
	r.t.Helper()
	line, err := r.reply()
	if err != nil || !strings.HasPrefix(line, prefix) {
		r.t.Fatalf("reply %q (%v), want %q...", line, err, prefix)
	}
	return line
}

func (r *smtpRaw) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatal(err)
	}
}

// TestSMTPRelayProtocolAbuse: garbage before and after TLS, an oversized
// line, a client that says nothing, a TLS handshake that is not one: each
// gets the protocol's own reply or a closed connection, and the relay goes
// on serving (the published client's mail still gets through).
func TestSMTPRelayProtocolAbuse(t *testing.T) {
	f := newSMTPFixture(t)
	addr, stderr := startSMTPRelay(t, f.args("--next-hop", f.sink.addr, "--read-timeout", "2s", "--max-line-length", "512"))
	cert, err := tls.LoadX509KeyPair(filepath.Join(f.ids[smtpPublished], testident.CertFile), filepath.Join(f.ids[smtpPublished], testident.KeyFile))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("garbage before TLS", func(t *testing.T) {
		r := dialRaw(t, addr)
		r.send("\x00\x01\x02 NOT SMTP\r\n")
		r.expect("50") // 500 or 501 (RFC 5321 §4.2.4)
		r.send("MAIL FROM:<a@b.test>\r\n")
		r.expect("502 5.5.1") // no EHLO yet
		r.send("EHLO x.test\r\nMAIL FROM:<a@b.test>\r\n")
		r.expect("250")
		r.expect("530 5.7.0 Must issue a STARTTLS command first")
	})
	t.Run("garbage after TLS", func(t *testing.T) {
		r := dialRaw(t, addr)
		r.send("EHLO mta1.example.test\r\n")
		r.expect("250")
		r.send("STARTTLS\r\n")
		r.expect("220")
		tc := tls.Client(r.c, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}}) // the relay's certificate is not what is tested
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		r.c, r.br = tc, bufio.NewReader(tc)
		r.send("EHLO mta1.example.test\r\n")
		r.expect("250")
		r.send("\xff\xfe GARBAGE\r\n")
		r.expect("50") // 500 or 501 (RFC 5321 §4.2.4)
		r.send("MAIL FROM:<alice@mta1.example.test>\r\n")
		r.expect("250")
		r.send("QUIT\r\n")
		r.expect("221")
	})
	t.Run("oversized line", func(t *testing.T) {
		r := dialRaw(t, addr)
		r.send("EHLO " + strings.Repeat("a", 1000) + "\r\n")
		r.expect("500 5.4.0")
		if _, err := r.reply(); err == nil {
			t.Fatal("connection still open after an oversized line")
		}
	})
	t.Run("silent client", func(t *testing.T) {
		r := dialRaw(t, addr)
		// --read-timeout 2s: the relay says 421 (RFC 5321 §4.2.2, "closing
		// transmission channel") and closes; dialRaw's 60s deadline is far
		// beyond it.
		r.expect("421 4.4.2")
		if line, err := r.reply(); err == nil {
			t.Fatalf("reply %q after 421, want the connection closed", line)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the relay kept a silent client for 60s")
		}
	})
	t.Run("not a TLS handshake", func(t *testing.T) {
		r := dialRaw(t, addr)
		r.send("EHLO x.test\r\n")
		r.expect("250")
		r.send("STARTTLS\r\n")
		r.expect("220")
		r.send("HELLO THIS IS NOT TLS\r\n\r\n")
		// The handshake fails (a TLS alert, then go-smtp's 550 5.0.0 in
		// plain text); the connection stays what it was before STARTTLS:
		// it may not send mail.
		line, err := r.br.ReadString('\n')
		if err != nil || !strings.Contains(line, "550 5.0.0") {
			t.Fatalf("after a failed handshake: %q (%v), want 550 5.0.0", line, err)
		}
		r.send("MAIL FROM:<alice@mta1.example.test>\r\n")
		r.expect("530 5.7.0 Must issue a STARTTLS command first")
	})
	t.Run("still serving", func(t *testing.T) {
		before := len(f.sink.messages())
		if out, code := swaks(t, f, addr, smtpPublished, "after abuse"); code != 0 {
			t.Fatalf("swaks exit %d:\n%s\nrelay: %s", code, out, stderr.String())
		}
		if n := len(f.sink.messages()) - before; n != 1 {
			t.Fatalf("next hop got %d messages, want 1", n)
		}
	})
}

// TestSMTPRelayLimits: too many recipients and an oversized message get
// their replies (RFC 5321 §4.5.3.1.10: 452; RFC 1870: 552), and the
// message is not handed on.
func TestSMTPRelayLimits(t *testing.T) {
	f := newSMTPFixture(t)
	addr, _ := startSMTPRelay(t, f.args("--next-hop", f.sink.addr, "--max-recipients", "2", "--max-message-bytes", "4096"))
	cert, err := tls.LoadX509KeyPair(filepath.Join(f.ids[smtpPublished], testident.CertFile), filepath.Join(f.ids[smtpPublished], testident.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("mta1.example.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("alice@mta1.example.test", nil); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		err := c.Rcpt(fmt.Sprintf("r%d@example.org", i), nil)
		var se *smtp.SMTPError
		switch {
		case i < 2 && err != nil:
			t.Fatalf("RCPT %d: %v", i, err)
		case i == 2 && (!errors.As(err, &se) || se.Code != 452):
			t.Fatalf("RCPT over the limit: %v, want 452", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat(strings.Repeat("x", 70)+"\r\n", 100)
	_, werr := io.WriteString(w, "Subject: big\r\n\r\n"+big)
	err = w.Close()
	if werr == nil && err == nil {
		t.Fatal("a message over --max-message-bytes was accepted")
	}
	var se *smtp.SMTPError
	if err != nil && (!errors.As(err, &se) || se.Code != 552) {
		t.Fatalf("DATA over the limit: %v, want 552", err)
	}
	if n := len(f.sink.messages()); n != 0 {
		t.Fatalf("next hop got %d messages", n)
	}
}

// TestSMTPRelayUsage: bad flag combinations are usage errors (exit 2).
func TestSMTPRelayUsage(t *testing.T) {
	f := newSMTPFixture(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no destination", f.args()},
		{"two destinations", f.args("--next-hop", "127.0.0.1:1", "--dir", t.TempDir())},
		{"no allow-list", []string{"--listen", "127.0.0.1:0", "--cert", f.srvCert, "--key", f.srvKey, "--dir", t.TempDir()}},
		{"bad next hop", f.args("--next-hop", "nohost")},
		{"zero recipients", f.args("--dir", t.TempDir(), "--max-recipients", "0")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb syncBuffer
			if code := run(context.Background(), append([]string{"smtp", "relay"}, tc.args...), nil, &out, &errb); code != 2 {
				t.Fatalf("exit %d, want 2: %s", code, errb.String())
			}
		})
	}
}
