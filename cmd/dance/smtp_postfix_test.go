package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/internal/testwait"
)

// postfixMasterCF runs the services a relaying Postfix needs, none
// chrooted; smtpd listens on the port put in by startPostfix.
const postfixMasterCF = `127.0.0.1:%d inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
`

// startPostfix runs a Postfix instance of its own (configuration, queue
// and data directories in a new directory) that relays everything to
// relay over STARTTLS, presenting the identity in idDir with
// smtp_tls_cert_file and smtp_tls_key_file as docs/smtp.md says. It
// returns the address of its smtpd and its log.
func startPostfix(t *testing.T, relay, idDir string) (string, *syncBuffer) {
	t.Helper()
	// Postfix's daemons run as the postfix user: the directories must be
	// reachable by it, which t.TempDir's are not.
	dir, err := os.MkdirTemp("", "dance-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"etc", "queue", "data"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("chown", "postfix", filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v: %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	rhost, rport, _ := net.SplitHostPort(relay)
	mainCF := strings.Join([]string{
		"compatibility_level = 3.6",
		"queue_directory = " + filepath.Join(dir, "queue"),
		"data_directory = " + filepath.Join(dir, "data"),
		"mail_owner = postfix",
		"setgid_group = postdrop",
		"inet_interfaces = 127.0.0.1",
		"inet_protocols = ipv4",
		"myhostname = mta1.example.test",
		"mydestination =",
		"mynetworks = 127.0.0.0/8",
		"smtp_dns_support_level = disabled",
		"maillog_file = /dev/stdout",
		"bounce_queue_lifetime = 0",
		"maximal_queue_lifetime = 0",
		"relayhost = [" + rhost + "]:" + rport,
		"smtp_tls_security_level = encrypt",
		"smtp_tls_cert_file = " + filepath.Join(idDir, testident.CertFile),
		"smtp_tls_key_file = " + filepath.Join(idDir, testident.KeyFile),
		"",
	}, "\n")
	etc := filepath.Join(dir, "etc")
	if err := os.WriteFile(filepath.Join(etc, "main.cf"), []byte(mainCF), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "master.cf"), []byte(fmt.Sprintf(postfixMasterCF, port)), 0o644); err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	cmd := exec.Command("postfix", "-c", etc, "start-fg")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = exec.Command("postfix", "-c", etc, "stop").Run()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Error("postfix did not stop within 30s")
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	testwait.Eventually(t, 30*time.Second, func() error {
		select {
		case err := <-done:
			t.Fatalf("postfix exited: %v\n%s", err, log.String())
		default:
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	})
	return addr, &log
}

// TestSMTPRelayPostfix: Postfix as the sending MTA. With a published
// identity its mail reaches the next hop through dance smtp relay; with a
// revoked one the relay's 550 5.7.1 is in Postfix's log and nothing
// arrives.
func TestSMTPRelayPostfix(t *testing.T) {
	if _, err := exec.LookPath("postfix"); err != nil {
		t.Fatal("postfix is not installed (Debian package postfix, in scripts/debian-packages)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("Postfix's master must start as root: run the suite as root, as .ci/run does (scripts/test needs root or sudo for its packages too)")
	}
	f := newSMTPFixture(t)
	relay, stderr := startSMTPRelay(t, f.args("--next-hop", f.sink.addr))
	for _, tc := range []struct {
		name, id string
		accepted bool
	}{
		{"published", smtpPublished, true},
		{"revoked", smtpRevoked, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pf, log := startPostfix(t, relay, f.ids[tc.id])
			before := len(f.sink.messages())
			subject := "via postfix " + tc.name
			if err := submitPlain(pf, "alice@mta1.example.test", "bob@example.org", "Subject: "+subject+"\r\n\r\nhello from postfix\r\n"); err != nil {
				t.Fatalf("submitting to postfix: %v\n%s", err, log.String())
			}
			if tc.accepted {
				testwait.Eventually(t, 60*time.Second, func() error {
					for _, m := range f.sink.messages()[before:] {
						if strings.Contains(m.data, "Subject: "+subject) {
							if !strings.Contains(m.data, "DANE client identity "+smtpPublished) {
								t.Fatalf("message without the identity's Received line:\n%s", m.data)
							}
							return nil
						}
					}
					return errors.New("the message has not reached the next hop")
				})
				return
			}
			testwait.Eventually(t, 60*time.Second, func() error {
				if strings.Contains(log.String(), "550 5.7.1") {
					return nil
				}
				return fmt.Errorf("no 550 5.7.1 in postfix's log yet:\n%s\nrelay: %s", log.String(), stderr.String())
			})
			for _, m := range f.sink.messages()[before:] {
				if strings.Contains(m.data, "Subject: "+subject) {
					t.Fatal("mail from a revoked identity reached the next hop")
				}
			}
		})
	}
}

// submitPlain hands one message to the SMTP server at addr without TLS
// (Postfix's smtpd here offers none).
func submitPlain(addr, from, to, msg string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("submit.example.test"); err != nil {
		return err
	}
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
