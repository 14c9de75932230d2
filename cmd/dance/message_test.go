package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/tlsa"
)

// TestSignVerifyMessage signs with identity directories and verifies the
// messages against the signed test hierarchy, as a sender and a receiver
// would.
func TestSignVerifyMessage(t *testing.T) {
	digest := testident.SelfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	full := testident.SelfSigned(t, "sensor2._device.example.test", identity.KeyEd25519)
	impostor := testident.SelfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	rec, err := tlsa.ForPublicKey(full.Key.Public(), tlsa.DANEEE, tlsa.MatchFull)
	if err != nil {
		t.Fatal(err)
	}
	h := dnstest.Start(t, dnstest.Config{Records: []string{
		testident.EELine(t, "sensor1._device.example.test", digest.Key.Public()),
		rec.ZoneLine("sensor2._device.example.test", 300),
	}})
	dir := t.TempDir()
	anchors := vcWrite(t, dir, "anchors", []byte(h.Anchors()+"\n"))
	reading := vcWrite(t, dir, "reading.json", []byte(`{"temperature":21.5}`))
	digestDir := testident.Write(t, digest.Key, digest.Cert)
	fullDir := testident.Write(t, full.Key, full.Cert)
	impostorDir := testident.Write(t, impostor.Key, impostor.Cert)
	rpkDir := t.TempDir()
	kb, err := identity.MarshalPrivateKey(full.Key)
	if err != nil {
		t.Fatal(err)
	}
	vcWrite(t, rpkDir, "key.pem", kb)
	garbage := vcWrite(t, dir, "garbage", []byte("not a message\n"))
	p := func(name string) string { return filepath.Join(dir, name) }
	r := []string{"--resolver", h.Addr(), "--anchors", anchors}
	vm := func(args ...string) []string { return append(append([]string{"verify-message"}, r...), args...) }
	runCases(t, []cliCase{
		{"sign jws with the certificate", []string{"sign", "--identity", digestDir, "--out", p("a.jws"), reading}, 0, `^$`, ""},
		{"sign cose, key from the record", []string{"sign", "--identity", fullDir, "--format", "cose", "--no-chain", "--out", p("b.cose"), reading}, 0, `^$`, ""},
		{"sign jws-json, raw public key", []string{"sign", "--identity", rpkDir, "--name", "sensor2._device.example.test", "--format", "jws-json", "--lifetime", "1m", "--out", p("c.json"), reading}, 0, `^$`, ""},
		{"sign as an impostor", []string{"sign", "--identity", impostorDir, "--out", p("d.jws"), reading}, 0, `^$`, ""},
		{"sign to stdout", []string{"sign", "--identity", digestDir, reading}, 0, `^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$`, ""},

		{"verify 3 1 1 with the carried certificate", vm("--out", p("a.out"), p("a.jws")), 0,
			`^authenticated: sensor1\._device\.example\.test \(device\)\nrecord: 3 1 1 [0-9a-f]{64} \(DANE-EE, depth 0\)\nkey from: certificate\nsigned: \d{4}-\d\d-\d\dT[0-9:]+Z, jws-compact ES256\nid: \S+\n$`, ""},
		{"verify cose, key from 3 1 0", vm("--format", "cose", p("b.cose")), 0, `(?s)^authenticated: sensor2\._device\.example\.test \(device\)\nrecord: 3 1 0 .*key from: record\nsigned: .* cose-sign1 EdDSA\n`, ""},
		{"json", vm("--json", p("c.json")), 0, `(?s)"authenticated": true.*"name": "sensor2\._device\.example\.test".*"record": "3 1 0 .*"format": "jws-json".*"alg": "EdDSA".*"key_from": "record".*"issued_at": ".*"expires": "`, ""},
		{"impostor", vm(p("d.jws")), 1, `^not authenticated: no-match\ndetail: message: signer: verify: sensor1\._device\.example\.test: no-match`, ""},
		{"impostor json", vm("--json", p("d.jws")), 1, `(?s)"authenticated": false.*"reason": "no-match"`, ""},
		{"not allowed", vm("--allow", "*._device.other.test", p("a.jws")), 1, `^not authenticated: not-allowed\n`, ""},
		{"format refused", vm("--format", "jws", p("b.cose")), 1, `^not authenticated: malformed\n`, ""},
		{"garbage", vm(garbage), 1, `^not authenticated: malformed\n`, ""},
		{"no file", vm(p("missing")), 2, `^$`, "missing"},
		{"bad format flag", vm("--format", "xml", p("a.jws")), 2, `^$`, "--format"},
		{"sign without identity", []string{"sign", reading}, 2, `^$`, "--identity DIR is required"},
		{"sign bad format", []string{"sign", "--identity", digestDir, "--format", "xml", reading}, 2, `^$`, "--format"},
		{"sign raw key without a name", []string{"sign", "--identity", rpkDir, reading}, 2, `^$`, "--name"},
		{"sign jws with an Ed25519 identity", []string{"sign", "--identity", fullDir, "--out", p("e.jws"), reading}, 0, `^$`, ""},
	})
	got, err := os.ReadFile(p("a.out"))
	if err != nil || string(got) != `{"temperature":21.5}` {
		t.Fatalf("--out payload %q, %v", got, err)
	}
}
