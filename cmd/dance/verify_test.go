package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/tlsa"
)

// vcWrite writes data to dir/name and returns the path.
func vcWrite(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// vcIdent makes a key and a self-signed certificate for name.
func vcIdent(t *testing.T, name string, kt identity.KeyType) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	k, err := identity.GenerateKey(kt, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := identity.SelfSigned(identity.MustParseName(name), k, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return k, c
}

func vcRecord(t *testing.T, owner string, u tlsa.Usage, pub crypto.PublicKey, cert *x509.Certificate) string {
	t.Helper()
	var r tlsa.Record
	var err error
	if cert != nil {
		r, err = tlsa.ForCertificate(cert, u, tlsa.SelectorCert, tlsa.MatchSHA256)
	} else {
		r, err = tlsa.ForPublicKey(pub, u, tlsa.MatchSHA256)
	}
	if err != nil {
		t.Fatal(err)
	}
	return r.ZoneLine(owner, 300)
}

func TestVerifyCommand(t *testing.T) {
	devKey, devCert := vcIdent(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	_, otherCert := vcIdent(t, "sensor1._device.example.test", identity.KeyEd25519)
	_, unpubCert := vcIdent(t, "sensor9._device.example.test", identity.KeyEd25519)
	caKey, _ := identity.GenerateKey(identity.KeyECDSAP256, nil)
	uca, err := identity.NewCA(identity.UserCA, identity.MustParseName("example.test"), caKey, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	aliceKey, _ := identity.GenerateKey(identity.KeyEd25519, nil)
	alice, err := identity.IssueUser(identity.User{UID: "alice", Domain: identity.MustParseName("example.test")}, aliceKey.Public(), identity.Issuer{Cert: uca, Key: caKey}, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	orgKey, _ := identity.GenerateKey(identity.KeyECDSAP256, nil)
	org, err := identity.NewCA(identity.OrgCA, identity.MustParseName("example.test"), orgKey, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pkixKey, _ := identity.GenerateKey(identity.KeyECDSAP256, nil)
	pkixCert, err := identity.IssueDevice(identity.MustParseName("sensor3._device.example.test"), pkixKey.Public(), identity.Issuer{Cert: org, Key: orgKey}, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := dnstest.Start(t, dnstest.Config{Records: []string{
		vcRecord(t, "sensor3._device.example.test", tlsa.PKIXEE, nil, pkixCert),
		vcRecord(t, "sensor1._device.example.test", tlsa.DANEEE, devKey.Public(), nil),
		vcRecord(t, "_user.example.test", tlsa.DANETA, nil, uca),
	}})
	dir := t.TempDir()
	anchors := vcWrite(t, dir, "anchors", []byte(h.Anchors()+"\n"))
	chain := vcWrite(t, dir, "dev.pem", identity.MarshalCertificate(devCert))
	other := vcWrite(t, dir, "other.pem", identity.MarshalCertificate(otherCert))
	unpub := vcWrite(t, dir, "unpub.pem", identity.MarshalCertificate(unpubCert))
	aliceChain := vcWrite(t, dir, "alice.pem", append(identity.MarshalCertificate(alice), identity.MarshalCertificate(uca)...))
	pubPEM, err := identity.MarshalPublicKey(devKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	pub := vcWrite(t, dir, "pub.pem", pubPEM)
	pkixChain := vcWrite(t, dir, "pkix.pem", append(identity.MarshalCertificate(pkixCert), identity.MarshalCertificate(org)...))
	roots := vcWrite(t, dir, "roots.pem", identity.MarshalCertificate(org))
	garbage := vcWrite(t, dir, "garbage.pem", []byte("hello\n"))
	two := filepath.Join("..", "..", "verify", "testdata", "two-dnsnames.pem")
	r := []string{"--resolver", h.Addr(), "--anchors", anchors}
	c := func(args ...string) []string { return append(append([]string{"verify"}, args...), r...) }
	runCases(t, []cliCase{
		{"device", c("--chain", chain), 0,
			`^authenticated: sensor1\._device\.example\.test \(device\)\nrecord: 3 1 1 [0-9a-f]{64} \(DANE-EE, depth 0\)\nvalid until: `, ""},
		{"explicit name and pattern", c("--chain", chain, "--name", "Sensor1._device.example.test.", "--allow", "*._device.example.test"), 0, `^authenticated: sensor1\._device\.example\.test`, ""},
		{"user", c("--chain", aliceChain), 0, `(?s)^authenticated: _user\.example\.test \(user\)\nuser: alice@example\.test\nrecord: 2 0 1 .*depth 1`, ""},
		{"raw public key", c("--pubkey", pub, "--name", "sensor1._device.example.test"), 0, `^authenticated: sensor1\._device\.example\.test \(device\)`, ""},
		{"wrong key", c("--chain", other), 1, `^not authenticated: no-match\ndetail: verify: sensor1\._device\.example\.test: no-match`, ""},
		{"not allowed", c("--chain", chain, "--allow", "*._device.other.test"), 1, `^not authenticated: not-allowed\n`, ""},
		{"no record", c("--chain", unpub), 1, `^not authenticated: no-record\n`, ""},
		{"two dNSNames", c("--chain", two), 1, `^not authenticated: ambiguous-name\n`, ""},
		{"json", c("--chain", aliceChain, "--json"), 0, `(?s)"authenticated": true.*"kind": "user".*"user": "alice@example\.test".*"record": "2 0 1 `, ""},
		{"json refusal", c("--chain", other, "--json"), 1, `(?s)"authenticated": false.*"reason": "no-match".*"error": "no TLSA record matches`, ""},
		{"pkix-ee with roots", c("--chain", pkixChain, "--pkix-roots", roots), 0, `(?s)^authenticated: sensor3\._device\.example\.test \(device\)\nrecord: 1 0 1 .*PKIX-EE, depth 0`, ""},
		{"pkix-ee without roots", c("--chain", pkixChain), 1, `^not authenticated: no-usable-records\n`, ""},
		{"garbage roots", c("--chain", pkixChain, "--pkix-roots", garbage), 2, `^$`, "no PEM CERTIFICATE"},
		{"pubkey needs a name", c("--pubkey", pub), 2, `^$`, "--pubkey needs --name"},
		{"chain and pubkey", c("--chain", chain, "--pubkey", pub), 2, `^$`, "exactly one of --chain and --pubkey"},
		{"nothing", c(), 2, `^$`, "exactly one of --chain and --pubkey"},
		{"garbage chain", c("--chain", garbage), 2, `^$`, "garbage.pem"},
		{"garbage pubkey", c("--pubkey", garbage, "--name", "a.example.test"), 2, `^$`, "no PEM PUBLIC KEY"},
		{"missing file", c("--chain", filepath.Join(dir, "none.pem")), 2, `^$`, "no such file"},
		{"bad name", c("--chain", chain, "--name", "a..b"), 2, `^$`, "--name"},
		{"bad pattern", c("--chain", chain, "--allow", "*"), 2, `^$`, "allow-list"},
		{"help", []string{"verify", "--help"}, 0, `(?s)EXAMPLES.*EXIT CODES`, ""},
	})
	t.Run("chain on stdin", func(t *testing.T) {
		var out, errb bytes.Buffer
		code := run(context.Background(), c("--chain", "-"), bytes.NewReader(identity.MarshalCertificate(devCert)), &out, &errb)
		if code != 0 || !strings.HasPrefix(out.String(), "authenticated: sensor1._device.example.test") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
		}
	})
}
