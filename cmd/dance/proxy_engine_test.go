package main

import (
	"context"
	"crypto"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/tlsa"
)

// TestProxyEngineDance runs 'dance proxy --engine dance' and, through it,
// 'dance connect --engine dance' with a raw-key device (made as 'dance id
// new --rpk' makes one: key.pem and pubkey.pem, a 3 1 1 record) and with a
// certificate device, claiming names in dane_clientid or not.
func TestProxyEngineDance(t *testing.T) {
	const rawName = "meter7._device.example.test"
	rawKey, err := identity.GenerateKey(identity.KeyEd25519, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := tlsa.ForPublicKey(rawKey.Public(), tlsa.DANEEE, tlsa.MatchSHA256)
	if err != nil {
		t.Fatal(err)
	}
	f := newProxyFixtureDNS(t, dnstest.Config{Records: []string{rec.ZoneLine(rawName, 300)}})
	rawDir := t.TempDir()
	kp, _ := identity.MarshalPrivateKey(rawKey)
	if err := os.WriteFile(filepath.Join(rawDir, "key.pem"), kp, 0o600); err != nil {
		t.Fatal(err)
	}
	// The certificate device of the fixture, on disk as 'dance id new'
	// writes it.
	certDir := t.TempDir()
	devKey, _ := identity.MarshalPrivateKey(f.dev.PrivateKey.(crypto.Signer))
	os.WriteFile(filepath.Join(certDir, "cert.pem"), identity.MarshalCertificate(f.dev.Leaf), 0o600)
	os.WriteFile(filepath.Join(certDir, "key.pem"), devKey, 0o600)

	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "name=%s kind=%s cert=%v\n", r.Header.Get("Dance-Client-Name"), r.Header.Get("Dance-Client-Kind"), r.Header.Get("Client-Cert") != "")
	}))
	defer backend.Close()

	connect := func(args ...string) (int, string, string) {
		var out, errb strings.Builder
		code := run(context.Background(), append([]string{"connect", "--engine", "dance", "--ca", f.srvCert, "--server-name", "proxy.example.test"}, args...), nil, &out, &errb)
		return code, out.String(), errb.String()
	}
	for _, require := range []bool{false, true} {
		t.Run(fmt.Sprintf("require-clientid=%v", require), func(t *testing.T) {
			args := []string{"--engine", "dance", "--listen", "127.0.0.1:0", "--backend", backend.URL,
				"--cert", f.srvCert, "--key", f.srvKey, "--allow", "*._device.example.test",
				"--resolver", f.resolver, "--anchors", f.anchors, "--clientid-codepoint", "0xFF42"}
			if require {
				args = append(args, "--require-clientid")
			}
			addr, errb, _ := startProxyCmd(t, args)
			url := "https://" + addr + "/"

			code, out, stderr := connect("--raw-key", "--client-name", rawName, "--identity", rawDir, "--clientid-codepoint", "65346", url)
			if code != 0 || !strings.Contains(out, "name="+rawName+" kind=device cert=false") || !strings.Contains(out, "claimed "+rawName+" in dane_clientid") {
				t.Fatalf("raw key: exit %d\n%s%s\nproxy: %s", code, out, stderr, errb.String())
			}
			// Another name for the same key: its records do not
			// hold the key.
			if code, out, _ := connect("--raw-key", "--client-name", f.devName, "--identity", rawDir, "--clientid-codepoint", "0xff42", url); code == 0 {
				t.Fatalf("raw key under another's name accepted:\n%s", out)
			}
			// The codepoints differ: the client does not see the
			// proxy's request and claims nothing; a raw key cannot
			// be served without a name.
			if code, out, _ := connect("--raw-key", "--client-name", rawName, "--identity", rawDir, url); code == 0 {
				t.Fatalf("raw key without dane_clientid accepted:\n%s", out)
			}
			// A certificate device claiming its certificate's name.
			code, out, stderr = connect("--identity", certDir, "--clientid-codepoint", "0xFF42", url)
			if code != 0 || !strings.Contains(out, "name="+f.devName+" kind=device cert=true") {
				t.Fatalf("certificate with dane_clientid: exit %d\n%s%s", code, out, stderr)
			}
			// A certificate device that claims nothing (the codepoints
			// differ): served by its certificate's name, unless the
			// proxy requires dane_clientid.
			code, out, _ = connect("--identity", certDir, url)
			if served := code == 0 && strings.Contains(out, "name="+f.devName); served == require {
				t.Fatalf("certificate without dane_clientid, --require-clientid=%v: exit %d\n%s", require, code, out)
			}
		})
	}
}

// TestConnectEngineFlags: the dance-only flags need --engine dance, and a
// raw key needs a name.
func TestConnectEngineFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--raw-key", "--client-name", "a.example.test"},
		{"--clientid-codepoint", "0xFF42"},
		{"--engine", "dance", "--raw-key"},
		{"--engine", "openssl"},
		{"--engine", "dance", "--clientid-codepoint", "70000"},
		{"--engine", "dance", "--clientid-codepoint", "0x10"},
		{"--engine", "dance", "--dane", "--insecure-skip-server-verify"},
		{"--engine", "dance", "--pkix-fallback"},
	} {
		var out, errb strings.Builder
		code := run(context.Background(), append([]string{"connect", "--identity", t.TempDir()}, append(args, "127.0.0.1:1")...), nil, &out, &errb)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)\n%s", args, code, errb.String())
		}
	}
	for _, args := range [][]string{
		{"--require-clientid"},
		{"--clientid-codepoint", "0xFF42"},
		{"--engine", "dance", "--mode", "passthrough"},
		{"--engine", "boringssl"},
	} {
		var out, errb strings.Builder
		code := run(context.Background(), append([]string{"proxy", "--listen", "127.0.0.1:0", "--backend", "http://127.0.0.1:1", "--cert", "x", "--key", "y"}, args...), nil, &out, &errb)
		if code != 2 {
			t.Errorf("proxy %v: exit %d, want 2 (usage)\n%s", args, code, errb.String())
		}
	}
}
