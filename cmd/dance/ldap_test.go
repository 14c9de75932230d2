package main

import (
	"context"
	"crypto"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/internal/testwait"
)

// TestLdapServeCommand: dance ldap serve with a directory file lets
// ldapwhoami and ldapsearch (ldap-utils) bind with a user certificate of
// example.test's published user CA, over LDAPS and StartTLS; a user of a
// CA that is not published is refused with one log line; the server stops
// on its context.
func TestLdapServeCommand(t *testing.T) {
	dir := t.TempDir()
	ca := testident.NewCA(t, identity.UserCA, "example.test", identity.Options{})
	rogue := testident.NewCA(t, identity.UserCA, "example.test", identity.Options{})
	alice := testident.IssueUser(t, "alice", "example.test", ca)
	mallory := testident.IssueUser(t, "alice", "example.test", rogue)
	aliceDir := testident.Write(t, alice.Key, alice.Cert, ca.Cert)
	malloryDir := testident.Write(t, mallory.Key, mallory.Cert, rogue.Cert)
	h := dnstest.Start(t, dnstest.Config{Records: []string{testident.TALine(t, "_user.example.test", ca.Cert)}})
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	anchors := write("anchors", h.Anchors()+"\n")
	ldif := write("users.ldif", "dn: uid=alice,ou=people,dc=example,dc=test\nuid: alice\ncn: Alice\n")
	srvCert, _ := testident.ServerCert(t)
	srvDir := testident.Write(t, srvCert.PrivateKey.(crypto.Signer), srvCert.Leaf)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"ldap", "serve", "--listen", "127.0.0.1:0", "--starttls-listen", "127.0.0.1:0",
			"--cert", filepath.Join(srvDir, testident.CertFile), "--key", filepath.Join(srvDir, testident.KeyFile),
			"--domain", "example.test=ou=people,dc=example,dc=test", "--directory", ldif, "--whoami", "u",
			"--resolver", h.Addr(), "--anchors", anchors}, nil, &out, &errb)
	}()
	re := regexp.MustCompile(`ldap listening on (127\.0\.0\.1:\d+), ldaps\n.*ldap listening on (127\.0\.0\.1:\d+), ldap \(StartTLS\)`)
	var m []string
	testwait.Eventually(t, 30*time.Second, func() error {
		if m = re.FindStringSubmatch(out.String()); m != nil && strings.Contains(out.String(), "1 directory entries") {
			return nil
		}
		select {
		case code := <-done:
			t.Fatalf("dance ldap serve exited %d: %s", code, errb.String())
		default:
		}
		return errors.New("no address yet")
	})
	caFile := write("server-ca.pem", string(identity.MarshalCertificate(srvCert.Leaf)))
	tool := func(userDir string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "LDAPCONF=/dev/null", "LDAPTLS_CACERT=" + caFile,
			"LDAPTLS_CERT=" + filepath.Join(userDir, testident.CertFile), "LDAPTLS_KEY=" + filepath.Join(userDir, testident.KeyFile)}
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	for _, url := range []string{"ldaps://127.0.0.1:" + port(m[1]), "ldap://127.0.0.1:" + port(m[2])} {
		args := []string{"ldapwhoami", "-H", url, "-Y", "EXTERNAL", "-Q"}
		if strings.HasPrefix(url, "ldap:") {
			args = append(args, "-ZZ")
		}
		if got, err := tool(aliceDir, args...); err != nil || strings.TrimSpace(got) != "u:alice@example.test" {
			t.Errorf("ldapwhoami %s: %v %s", url, err, got)
		}
	}
	url := "ldaps://127.0.0.1:" + port(m[1])
	got, err := tool(aliceDir, "ldapsearch", "-H", url, "-Y", "EXTERNAL", "-Q", "-LLL", "-b", "ou=people,dc=example,dc=test", "(uid=alice)", "cn")
	if err != nil || strings.TrimSpace(got) != "dn: uid=alice,ou=people,dc=example,dc=test\ncn: Alice" {
		t.Errorf("ldapsearch: %v %s", err, got)
	}
	if got, err := tool(malloryDir, "ldapwhoami", "-H", url, "-Y", "EXTERNAL", "-Q"); err == nil || !strings.Contains(got, "Invalid credentials (49)") {
		t.Errorf("unpublished CA: %v %s", err, got)
	}
	testwait.Eventually(t, 30*time.Second, func() error {
		if n := strings.Count(errb.String(), "ldap: bind refused"); n != 1 {
			return errors.New("want one refusal line, got " + errb.String())
		}
		return nil
	})
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("dance ldap serve did not stop")
	}
}

func port(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

// TestLdapServeCommandErrors: bad flags and files exit 2 before anything
// listens.
func TestLdapServeCommandErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	srvCert, _ := testident.ServerCert(t)
	srvDir := testident.Write(t, srvCert.PrivateKey.(crypto.Signer), srvCert.Leaf)
	cert, key := filepath.Join(srvDir, testident.CertFile), filepath.Join(srvDir, testident.KeyFile)
	badLDIF := write("bad.ldif", "cn: no dn\n")
	badAuthz := write("bad.authz", "alice@example.test\n")
	base := []string{"ldap", "serve", "--listen", "127.0.0.1:0", "--cert", cert, "--key", key}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no domain", base, "--domain is required"},
		{"no listener", []string{"ldap", "serve", "--cert", cert, "--key", key, "--domain", "example.test"}, "--listen"},
		{"device domain", append(base, "--domain", "a._device.example.test"), "--domain"},
		{"whoami form", append(base, "--domain", "example.test", "--whoami", "x"), "--whoami"},
		{"bad ldif", append(base, "--domain", "example.test", "--directory", badLDIF), "line 1"},
		{"bad authz", append(base, "--domain", "example.test", "--authz", badAuthz), "line 1"},
		{"bad base", append(base, "--domain", "example.test=nonsense"), "not a DN"},
		{"tiny messages", append(base, "--domain", "example.test", "--max-message-size", "10"), "--max-message-size"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb syncBuffer
			code := run(context.Background(), tc.args, nil, &out, &errb)
			if code != 2 || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errb.String(), tc.want)
			}
		})
	}
}
