package main

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
)

// dotServerConfig makes, with the identity package, a CA for "test" and a
// DNS-over-TLS server certificate for serverName issued by it, and returns
// the server's TLS configuration and the CA in PEM.
func dotServerConfig(t *testing.T, serverName string) (*tls.Config, []byte) {
	t.Helper()
	caKey, err := identity.GenerateKey(identity.KeyECDSAP256, nil)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := identity.NewCA(identity.OrgCA, identity.MustParseName("test"), caKey, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key, err := identity.GenerateKey(identity.KeyECDSAP256, nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := identity.IssueDevice(identity.MustParseName(serverName), key.Public(), identity.Issuer{Cert: ca, Key: caKey}, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	return cfg, identity.MarshalCertificate(ca)
}

// TestLookupOverTLS runs dance lookup against a DNS-over-TLS upstream whose
// certificate is issued by a private CA: only --tls-ca and the right
// --tls-name let the lookup through.
func TestLookupOverTLS(t *testing.T) {
	srvCfg, caPEM := dotServerConfig(t, "dns.test")
	h := dnstest.Start(t, dnstest.Config{TLSConfig: srvCfg})
	adCfg, adCAPEM := dotServerConfig(t, "dns.test")
	ad := dnstest.Start(t, dnstest.Config{TLSConfig: adCfg, SetAD: true})
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := write("ca.pem", caPEM)
	anchors := write("anchors", []byte(h.Anchors()+"\n"))
	adCAFile := write("ad-ca.pem", adCAPEM)
	notPEM := write("not.pem", []byte("not a certificate\n"))
	base := []string{"lookup", "dev1._device.example.test", "--resolver", h.TLSAddr(), "--tls", "--anchors", anchors}
	runCases(t, []cliCase{
		{"private CA and name", append(base, "--tls-ca", caFile, "--tls-name", "dns.test"), 0, `(?m)^secure$`, ""},
		{"system roots do not know the CA", base, 1, `(?m)^indeterminate`, ""},
		{"wrong name", append(base, "--tls-ca", caFile, "--tls-name", "other.test"), 1, `(?m)^indeterminate`, ""},
		{"tls-ca without tls", []string{"lookup", "x.test", "--tls-ca", caFile}, 2, `^$`, "need --tls"},
		{"tls-ca not PEM", append(base, "--tls-ca", notPEM), 2, `^$`, "not.pem: no PEM CERTIFICATE"},
		{"tls-ca missing", append(base, "--tls-ca", filepath.Join(dir, "none.pem")), 2, `^$`, "none.pem"},
		// Trusting the AD bit needs the channel to be authenticated.
		{"trust-ad over verified TLS", []string{"lookup", "dev1._device.example.test", "--resolver", ad.TLSAddr(), "--tls", "--tls-ca", adCAFile, "--tls-name", "dns.test", "--trust-ad"}, 0, `(?m)^secure$`, ""},
		{"trust-ad with a CA that did not issue the certificate", []string{"lookup", "dev1._device.example.test", "--resolver", ad.TLSAddr(), "--tls", "--tls-ca", caFile, "--tls-name", "dns.test", "--trust-ad"}, 1, `(?m)^indeterminate`, ""},
	})
	if h.Queries() == 0 {
		t.Error("the DNS-over-TLS server saw no query")
	}
}
