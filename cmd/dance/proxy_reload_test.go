package main

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
)

// TestProxyReload: SIGHUP reloads the certificate, the allow-list and the
// trust anchors, logs what it reloaded, and keeps the old configuration
// whole when any part of the new one is bad.
func TestProxyReload(t *testing.T) {
	f := newProxyFixture(t)
	write := func(name string, data []byte) string {
		t.Helper()
		p := filepath.Join(f.dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A second certificate for the proxy's name, trusted by the client.
	key2, err := identity.GenerateKey(identity.KeyECDSAP256, nil)
	if err != nil {
		t.Fatal(err)
	}
	cert2, err := identity.SelfSigned(identity.MustParseName("proxy.example.test"), key2, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.pool.AddCert(cert2)
	key2PEM, _ := identity.MarshalPrivateKey(key2)
	goodAnchors, _ := os.ReadFile(f.anchors)
	allowFile := write("allowed.txt", []byte("*._device.example.test\n"))

	backend := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer backend.Close()
	addr, errb, stop := startProxyCmd(t, []string{"--listen", "127.0.0.1:0", "--backend", backend.URL,
		"--cert", f.srvCert, "--key", f.srvKey, "--allow-file", allowFile, "--resolver", f.resolver, "--anchors", f.anchors})
	// handshake returns the proxy's certificate, or the error of a
	// refused handshake.
	handshake := func() ([]byte, error) {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: f.pool, ServerName: "proxy.example.test", Certificates: []tls.Certificate{f.dev}})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		// TLS 1.3: the server's verdict on the client arrives after
		// the client's Finished; a read surfaces it.
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		if _, err := c.Read(make([]byte, 1)); err != nil {
			return nil, err
		}
		return c.ConnectionState().PeerCertificates[0].Raw, nil
	}
	hup := func(want string) { t.Helper(); sighup(t, errb, want) }
	first, err := handshake()
	if err != nil {
		t.Fatalf("before any reload: %v", err)
	}
	stillOld := func(step string) {
		t.Helper()
		got, err := handshake()
		if err != nil || !bytes.Equal(got, first) {
			t.Fatalf("%s: the old configuration is not in force: %v", step, err)
		}
	}

	// New anchors under which the zone is bogus: refused, with the
	// certificate and allow-list given with them.
	write("srv.pem", identity.MarshalCertificate(cert2))
	write("srv.key", key2PEM)
	write("anchors", []byte(dnstest.Device+" IN DS 12345 13 2 "+strings.Repeat("AB", 32)+"\n"))
	hup("configuration not reloaded")
	if !strings.Contains(errb.String(), "_device.example.test") {
		t.Errorf("the refused reload does not name the zone: %s", errb.String())
	}
	stillOld("anchors that cannot validate")

	// A certificate file that does not parse.
	write("anchors", goodAnchors)
	write("srv.pem", []byte("not PEM"))
	hup("certificate not reloaded")
	stillOld("bad certificate")

	// An allow-list that does not parse.
	write("srv.pem", identity.MarshalCertificate(cert2))
	write("allowed.txt", []byte("*\n"))
	hup("allow-list not reloaded")
	stillOld("bad allow-list")

	// All good: the zone's own key as the only anchor, the new
	// certificate.
	write("allowed.txt", []byte("*._device.example.test\n"))
	write("anchors", []byte(f.h.DS(dnstest.Device)+"\n"))
	hup("certificate reloaded")
	for _, want := range []string{"allow-list reloaded", "trust anchors reloaded", `subject="CN=proxy.example.test"`} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("the reload does not log %q: %s", want, errb.String())
		}
	}
	got, err := handshake()
	if err != nil || !bytes.Equal(got, cert2.Raw) {
		t.Fatalf("after the reload: new certificate %v, err %v", bytes.Equal(got, cert2.Raw), err)
	}

	// The reloaded allow-list is in force.
	write("allowed.txt", []byte("other._device.example.test\n"))
	hup("allow-list reloaded")
	if _, err := handshake(); err == nil {
		t.Fatal("a device no longer on the allow-list got through")
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestProxyReloadKeepsConfigFile: SIGHUP does not read --config again, as
// the help says: a pattern changed in the file stays as it was at start
// (the file's allow-list is the one in force), while the files its keys
// name are reloaded.
func TestProxyReloadKeepsConfigFile(t *testing.T) {
	f := newProxyFixture(t)
	conf := filepath.Join(f.dir, "proxy.conf")
	writeConf := func(allow string) {
		t.Helper()
		text := "listen = 127.0.0.1:0\ncert = " + f.srvCert + "\nkey = " + f.srvKey + "\nallow = " + allow +
			"\nresolver = " + f.resolver + "\nanchors = " + f.anchors + "\n"
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeConf("*._device.example.test")
	backend := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer backend.Close()
	addr, errb, stop := startProxyCmd(t, []string{"--config", conf, "--backend", backend.URL})
	handshake := func() error {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: f.pool, ServerName: "proxy.example.test", Certificates: []tls.Certificate{f.dev}})
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		_, err = c.Read(make([]byte, 1))
		return err
	}
	if err := handshake(); err != nil {
		t.Fatalf("before the reload: %v", err)
	}
	writeConf("other._device.example.test")
	hangUp(t)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(errb.String(), "allow-list reloaded"); {
		if time.Now().After(deadline) {
			t.Fatalf("no reload logged: %s", errb.String())
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	if err := handshake(); err != nil {
		t.Fatalf("after a SIGHUP the allow-list of the changed --config file is in force: %v", err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
