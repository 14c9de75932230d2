package main

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/tlsa"
)

// TestConnectEngineDanceDANE: 'dance connect --engine dance --dane'
// authenticates the server by the TLSA records at _PORT._tcp.HOST with
// the same check as crypto/tls, and refuses another key under the name
// with a handshake_failure.
func TestConnectEngineDanceDANE(t *testing.T) {
	client, _ := vcIdentityDir(t, "ns1.example.test", identity.KeyECDSAP256)
	srvDir, _ := vcIdentityDir(t, "srv.example.test", identity.KeyECDSAP256)
	impDir, _ := vcIdentityDir(t, "srv.example.test", identity.KeyECDSAP256)
	srvCert := loadIdent(t, srvDir)
	addr, port := greeter(t, srvCert)
	impAddr, impPort := greeter(t, loadIdent(t, impDir))
	nodane, _ := vcIdentityDir(t, "nodane.example.test", identity.KeyECDSAP256)
	ndAddr, _ := greeter(t, loadIdent(t, nodane))
	pub := srvCert.Leaf.PublicKey
	h := dnstest.Start(t, dnstest.Config{Records: []string{
		vcRecord(t, tcpOwner("srv.example.test", port), tlsa.DANEEE, pub, nil),
		// The impostor's port publishes the genuine key.
		vcRecord(t, tcpOwner("srv.example.test", impPort), tlsa.DANEEE, pub, nil),
	}})
	anchors := vcWrite(t, t.TempDir(), "anchors", []byte(h.Anchors()+"\n"))
	args := func(extra ...string) []string {
		return append([]string{"connect", "--engine", "dance", "--identity", client, "--dane", "--resolver", h.Addr(), "--anchors", anchors}, extra...)
	}
	o := regexp.QuoteMeta(tcpOwner("srv.example.test", port))
	runCases(t, []cliCase{
		{"dane-ee", args("--server-name", "srv.example.test", addr), 0,
			`^handshake ok: TLS 1\.3, .*\nserver authenticated by DANE: ` + o + ` 3 1 1 [0-9a-f]{64} \(DANE-EE, depth 0\)\nserver said: "hello\\n"\n$`, ""},
		{"right name, different key", args("--server-name", "srv.example.test", impAddr), 1,
			`^handshake failed: .*handshake_failure.*danetls: server _\d+\._tcp\.srv\.example\.test not authenticated: .*no-match`, "hint: DANE did not authenticate the server (no-match)"},
		{"no record, no fallback", args("--server-name", "nodane.example.test", ndAddr), 1, `fallback is off: .*no-record`, ""},
		{"no record, pkix fallback", args("--pkix-fallback", "--ca", filepath.Join(nodane, "cert.pem"), "--server-name", "nodane.example.test", ndAddr), 0,
			`^handshake ok: .*\nserver authenticated by PKIX: nodane\.example\.test \(no DANE: no-record\)\n`, "warning: DANE does not apply to _"},
		{"address without a name", args(addr), 2, `^$`, "give the name with --server-name"},
	})
}
