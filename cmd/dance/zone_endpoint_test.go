package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsbound/dance/zone/admin"
)

// TestZoneDirFindsAdminAPI: 'zone serve' records its HTTPS admin API in the
// zone directory, and 'zone add|list|remove|revoke --dir DIR' reach it with
// nothing else: the URL and the server's certificate come from the file.
// A file whose certificate is not the server's makes the client refuse the
// server, so the recorded certificate is what is trusted, not anything.
func TestZoneDirFindsAdminAPI(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "z")
	idMust(t, "zone", "init", "--zone", "devices.test", "--dir", dir)
	selfSigned := func(name string) (string, string) {
		cert, key := filepath.Join(base, name+".crt"), filepath.Join(base, name+".key")
		if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
			"-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN="+name, "-addext", "subjectAltName=IP:127.0.0.1").CombinedOutput(); err != nil {
			t.Fatalf("openssl: %v\n%s", err, out)
		}
		return cert, key
	}
	srvCert, srvKey := selfSigned("admin")
	_, api, _, _ := adminServe(t, dir, "--admin-tls-cert", srvCert, "--admin-tls-key", srvKey)
	if !strings.HasPrefix(api, "https://") {
		t.Fatalf("admin API at %s, want https", api)
	}
	ep, pool, err := admin.ReadEndpoint(dir)
	if err != nil || ep.URL != api || pool == nil {
		t.Fatalf("recorded endpoint %+v (pool %v, err %v), want %s with the server's certificate", ep, pool != nil, err, api)
	}
	_, hash := adminIdentity(t, base, "sensor1._device.devices.test")
	const name = "sensor1._device.devices.test"
	runCases(t, []cliCase{
		{"add with --dir alone", []string{"zone", "add", "--dir", dir, name, "TLSA", hash}, 0, `^` + name + `: 1 record\(s\) published, serial \d+\n$`, ""},
		{"list with --dir alone", []string{"zone", "list", "--dir", dir}, 0, `^` + name + `\.\t300\tIN\tTLSA\t` + hash + `\n$`, ""},
		{"the same --api takes the recorded certificate", []string{"zone", "list", "--dir", dir, "--api", api}, 0, `TLSA`, ""},
		{"revoke with --dir alone", []string{"zone", "revoke", "--dir", dir, name}, 0, `revoked`, ""},
		{"remove with --dir alone", []string{"zone", "remove", "--dir", dir, name}, 0, `removed`, ""},
	})

	// Another certificate in the file: the server is refused.
	other, _ := selfSigned("other")
	b, err := os.ReadFile(other)
	if err != nil {
		t.Fatal(err)
	}
	ep.CertPEM = string(b)
	j, _ := json.Marshal(ep)
	if err := os.WriteFile(filepath.Join(dir, admin.EndpointFile), j, 0o644); err != nil {
		t.Fatal(err)
	}
	runCases(t, []cliCase{
		{"a certificate that is not the server's", []string{"zone", "list", "--dir", dir}, 1, `^$`, "certificate"},
		{"--ca overrides the recorded certificate", []string{"zone", "list", "--dir", dir, "--ca", srvCert}, 0, `^$`, ""},
	})
	if err := os.WriteFile(filepath.Join(dir, admin.EndpointFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	runCases(t, []cliCase{{"a damaged file", []string{"zone", "list", "--dir", dir}, 2, `^$`, admin.EndpointFile}})
}
