package ldapauth

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// ldapTool runs an ldap-utils command as the user u (no certificate when
// u is nil), with a configuration of its own: no ldap.conf, no ldaprc.
func (e *env) ldapTool(t *testing.T, u *user, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = home
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "LDAPCONF=/dev/null",
		"LDAPTLS_CACERT=" + e.caFile, "LDAPTLS_REQCERT=demand"}
	if u != nil {
		cmd.Env = append(cmd.Env, "LDAPTLS_CERT="+u.certFile(), "LDAPTLS_KEY="+u.keyFile())
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestLdapWhoami: OpenLDAP's ldapwhoami binds with SASL EXTERNAL over
// LDAPS and over StartTLS and prints the identity in either form; users
// from an unpublished CA, of a revoked, unpublished or unserved domain are
// refused with invalidCredentials, and so are simple binds.
func TestLdapWhoami(t *testing.T) {
	for _, form := range []WhoAmIForm{WhoAmIDN, WhoAmIUser} {
		e := startEnv(t, func(c *Config) { c.WhoAmI = form })
		want := "dn:uid=alice,dc=example,dc=test"
		if form == WhoAmIUser {
			want = "u:alice@example.test"
		}
		alice := e.users[uAlice]
		for _, args := range [][]string{
			{"-H", "ldaps://127.0.0.1:" + port(e.addr)},
			{"-H", "ldap://127.0.0.1:" + port(e.plain), "-ZZ"},
		} {
			out, err := e.ldapTool(t, &alice, "ldapwhoami", append(args, "-Y", "EXTERNAL", "-Q")...)
			if err != nil || strings.TrimSpace(out) != want {
				t.Errorf("ldapwhoami %v: %v\n%s", args, err, out)
			}
		}
	}
	e := startEnv(t, nil)
	url := "ldaps://127.0.0.1:" + port(e.addr)
	for _, name := range []string{uMallory, uRevoked, uUnpub, uOther, uDevice} {
		u := e.users[name]
		out, err := e.ldapTool(t, &u, "ldapwhoami", "-H", url, "-Y", "EXTERNAL", "-Q")
		if err == nil || !strings.Contains(out, "Invalid credentials (49)") {
			t.Errorf("%s: ldapwhoami: %v\n%s", name, err, out)
		}
	}
	// Without a certificate the client has no EXTERNAL to offer (the
	// server's answer to such a bind is in TestBindExternal).
	out, err := e.ldapTool(t, nil, "ldapwhoami", "-H", url, "-Y", "EXTERNAL", "-Q")
	if err == nil || strings.Contains(out, "dn:") {
		t.Errorf("no certificate: ldapwhoami: %v\n%s", err, out)
	}
	alice := e.users[uAlice]
	out, err = e.ldapTool(t, &alice, "ldapwhoami", "-H", url, "-x", "-D", "uid=alice,dc=example,dc=test", "-w", "secret")
	if err == nil || !strings.Contains(out, "Authentication method not supported (7)") {
		t.Errorf("simple bind: ldapwhoami: %v\n%s", err, out)
	}
	out, err = e.ldapTool(t, &alice, "ldapwhoami", "-H", url, "-x")
	if err == nil || !strings.Contains(out, "Inappropriate authentication (48)") {
		t.Errorf("anonymous bind: ldapwhoami: %v\n%s", err, out)
	}
	// An authorization identity other than the user's own (-X) is refused.
	out, err = e.ldapTool(t, &alice, "ldapwhoami", "-H", url, "-Y", "EXTERNAL", "-Q", "-X", "u:bob@example.test")
	if err == nil || !strings.Contains(out, "Insufficient access (50)") {
		t.Errorf("authzid: ldapwhoami: %v\n%s", err, out)
	}
}

// TestLdapSearch: ldapsearch binds with SASL EXTERNAL and reads entries;
// an anonymous ldapsearch is refused at its bind.
func TestLdapSearch(t *testing.T) {
	e := startEnv(t, nil)
	url := "ldaps://127.0.0.1:" + port(e.addr)
	alice := e.users[uAlice]
	out, err := e.ldapTool(t, &alice, "ldapsearch", "-H", url, "-Y", "EXTERNAL", "-Q", "-LLL",
		"-b", "dc=example,dc=test", "(|(uid=b*)(mail=alice@example.test))", "cn", "description")
	want := "dn: uid=alice,dc=example,dc=test\ncn: Alice Liddell\n\ndn: uid=bob,dc=example,dc=test\ncn: Bob\ndescription:: w6lsw6h2ZQ=="
	if err != nil || strings.TrimSpace(out) != want {
		t.Errorf("ldapsearch: %v\n%s\nwant\n%s", err, out, want)
	}
	out, err = e.ldapTool(t, &alice, "ldapsearch", "-H", url, "-Y", "EXTERNAL", "-Q", "-LLL", "-b", "", "-s", "base", "supportedSASLMechanisms", "supportedExtension")
	if err != nil || !strings.Contains(out, "supportedSASLMechanisms: EXTERNAL") || !strings.Contains(out, "supportedExtension: "+OIDWhoAmI) {
		t.Errorf("root DSE: %v\n%s", err, out)
	}
	// ldapsearch -x binds anonymously first: refused by default.
	out, err = e.ldapTool(t, &alice, "ldapsearch", "-H", url, "-x", "-LLL", "-b", "dc=example,dc=test", "uid=alice")
	if err == nil || !strings.Contains(out, "Inappropriate authentication (48)") || strings.Contains(out, "dn: ") {
		t.Errorf("anonymous search: %v\n%s", err, out)
	}
	revoked := e.users[uRevoked]
	out, err = e.ldapTool(t, &revoked, "ldapsearch", "-H", url, "-Y", "EXTERNAL", "-Q", "-b", "dc=example,dc=test", "uid=alice")
	if err == nil || !strings.Contains(out, "Invalid credentials (49)") || strings.Contains(out, "dn: ") {
		t.Errorf("revoked: %v\n%s", err, out)
	}
}

func port(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }
