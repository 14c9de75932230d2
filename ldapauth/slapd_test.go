package ldapauth

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/internal/testwait"
)

// slapdConf is a slapd configuration with one mdb database, for slapadd
// and slapcat (Debian's slapd; no daemon is started).
const slapdConf = `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
suffix "dc=example,dc=test"
directory DIR
`

const slapdLDIF = `dn: dc=example,dc=test
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,dc=example,dc=test
objectClass: organizationalUnit
ou: people

dn: uid=alice,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
userPassword: secret
description: a description long enough that slapcat would fold it at its default wrap column of 76
`

// TestSlapcatDirectory: a directory exported from slapd as docs/ldap.md
// says (slapcat of the users' subtree, without userPassword) is read by
// ParseLDIF and served: ldapsearch with a user certificate gets the
// entry, operational attributes and all, and no password.
func TestSlapcatDirectory(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(strings.Replace(slapdConf, "DIR", db, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	add := exec.CommandContext(ctx, "slapadd", "-f", conf)
	add.Stdin = strings.NewReader(slapdLDIF)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}
	var export bytes.Buffer
	cat := exec.CommandContext(ctx, "slapcat", "-f", conf, "-b", "dc=example,dc=test",
		"-a", "(|(objectClass=organizationalUnit)(objectClass=inetOrgPerson))", "-o", "ldif-wrap=no")
	cat.Stdout = &export
	if err := cat.Run(); err != nil {
		t.Fatalf("slapcat: %v", err)
	}
	var kept []string
	for _, l := range strings.Split(export.String(), "\n") {
		if !strings.HasPrefix(l, "userPassword") { // grep -v '^userPassword'
			kept = append(kept, l)
		}
	}
	d, err := ParseLDIF(strings.NewReader(strings.Join(kept, "\n")))
	if err != nil {
		t.Fatalf("ParseLDIF of slapcat's output: %v\n%s", err, export.String())
	}
	if d.Entries() != 2 || d.Lookup("uid=alice,ou=people,dc=example,dc=test") == nil {
		t.Fatalf("%d entries from\n%s", d.Entries(), export.String())
	}
	e := startEnv(t, func(c *Config) {
		c.Directory = d
		c.Domains = []Domain{{Name: domain, Base: "ou=people,dc=example,dc=test"}, {Name: domainRevoked}, {Name: domainUnpub}}
	})
	alice := e.users[uAlice]
	out, err := e.ldapTool(t, &alice, "ldapsearch", "-H", "ldaps://127.0.0.1:"+port(e.addr), "-Y", "EXTERNAL", "-Q", "-LLL", "-o", "ldif-wrap=no",
		"-b", "ou=people,dc=example,dc=test", "(uid=alice)")
	if err != nil || !strings.Contains(out, "dn: uid=alice,ou=people,dc=example,dc=test\n") ||
		!strings.Contains(out, "\ncn: Alice Liddell\n") || !strings.Contains(out, "\nentryUUID: ") ||
		!strings.Contains(out, "column of 76\n") || strings.Contains(out, "userPassword") {
		t.Errorf("ldapsearch: %v\n%s", err, out)
	}
	out, err = e.ldapTool(t, &alice, "ldapwhoami", "-H", "ldaps://127.0.0.1:"+port(e.addr), "-Y", "EXTERNAL", "-Q")
	if err != nil || strings.TrimSpace(out) != "dn:uid=alice,ou=people,dc=example,dc=test" {
		t.Errorf("ldapwhoami: %v\n%s", err, out)
	}
}

// slapdFrontConf is the slapd in front of docs/ldap.md, in slapd.conf
// form: the user CA as a file, the certificate's subject mapped to the
// user's entry.
const slapdFrontConf = `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile DIR/slapd.pid
TLSCertificateFile SRVCERT
TLSCertificateKeyFile SRVKEY
TLSCACertificateFile USERCA
TLSVerifyClient demand
authz-regexp "^cn=([^@,]+)@example\.test$" "uid=$1,ou=people,dc=example,dc=test"
database mdb
suffix "dc=example,dc=test"
directory DIR/db
`

// TestSlapdInFront: the slapd configuration of docs/ldap.md maps a user
// certificate to its entry (ldapwhoami shows the DN), checking the CA by
// the file alone.
func TestSlapdInFront(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	ca := testident.NewCA(t, identity.UserCA, domain, identity.Options{})
	alice := testident.IssueUser(t, "alice", domain, ca)
	aliceDir := testident.Write(t, alice.Key, alice.Cert, ca.Cert)
	srv, _ := testident.ServerCert(t)
	srvDir := testident.Write(t, srv.PrivateKey.(crypto.Signer), srv.Leaf)
	userCA := filepath.Join(dir, "userca.pem")
	if err := os.WriteFile(userCA, identity.MarshalCertificate(ca.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("DIR", dir, "SRVCERT", filepath.Join(srvDir, testident.CertFile),
		"SRVKEY", filepath.Join(srvDir, testident.KeyFile), "USERCA", userCA).Replace(slapdFrontConf)
	confFile := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	// -d keeps slapd in the foreground, so that the test owns and ends
	// the process, and its errors on stderr (256: "stats", a line per
	// connection and operation).
	cmd := exec.Command("slapd", "-f", confFile, "-h", "ldaps://"+addr+"/", "-d", "256")
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	caFile := filepath.Join(dir, "server-ca.pem")
	if err := os.WriteFile(caFile, identity.MarshalCertificate(srv.Leaf), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{caFile: caFile}
	u := user{dir: aliceDir}
	var out string
	testwait.Eventually(t, 30*time.Second, func() error {
		out, err = e.ldapTool(t, &u, "ldapwhoami", "-H", "ldaps://"+addr, "-Y", "EXTERNAL", "-Q")
		if err != nil {
			return fmt.Errorf("ldapwhoami: %v\n%s\nslapd: %s", err, out, log.String())
		}
		return nil
	})
	if strings.TrimSpace(out) != "dn:uid=alice,ou=people,dc=example,dc=test" {
		t.Errorf("ldapwhoami: %s", out)
	}
}
