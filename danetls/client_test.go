package danetls

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/verify"
)

func TestLoadIdentity(t *testing.T) {
	t.Parallel()
	good := selfSigned(t, "sensor1._device.example.test", identity.KeyEd25519)
	other := selfSigned(t, "sensor2._device.example.test", identity.KeyEd25519)
	c, err := LoadIdentity(good.dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Leaf == nil || c.Leaf.DNSNames[0] != good.name || len(c.Certificate) != 1 {
		t.Errorf("loaded %+v", c.Leaf)
	}

	mixed := t.TempDir()
	copyFile(t, good.certFile(), filepath.Join(mixed, CertFile))
	copyFile(t, other.keyFile(), filepath.Join(mixed, KeyFile))
	if _, err := LoadIdentity(mixed); err == nil || !strings.Contains(err.Error(), "not the certificate's") {
		t.Errorf("mismatched key: %v", err)
	}
	if _, err := LoadIdentity(t.TempDir()); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("empty directory: %v", err)
	}
	garbage := t.TempDir()
	os.WriteFile(filepath.Join(garbage, CertFile), []byte("not pem"), 0o600)
	os.WriteFile(filepath.Join(garbage, KeyFile), []byte("not pem"), 0o600)
	if _, err := LoadIdentity(garbage); err == nil {
		t.Error("garbage accepted")
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestIdentityFromConn: a raw TLS server (no HTTP) reads the identity from
// the connection after the handshake, and not before.
func TestIdentityFromConn(t *testing.T) {
	t.Parallel()
	dev := selfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	srvID := selfSigned(t, "server.example.test", identity.KeyECDSAP256)
	e := newEnv(t, []string{testident.EELine(t, dev.name, dev.key.Public())}, dev.name)
	srvCert, err := LoadIdentity(srvID.dir)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ServerConfig(&tls.Config{Certificates: []tls.Certificate{srvCert}}, e.core))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	type result struct {
		before, after *verify.Identity
		err           error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		before, _ := IdentityFromConn(tc)
		err = tc.Handshake()
		after, _ := IdentityFromConn(tc)
		io.WriteString(tc, "hello\n")
		done <- result{before, after, err}
	}()
	cert, err := LoadIdentity(dev.dir)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := tls.Dial("tcp", ln.Addr().String(), ClientConfig(&tls.Config{InsecureSkipVerify: true}, cert))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	io.ReadAll(io.LimitReader(cc, 6))
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.before != nil {
		t.Errorf("identity before the handshake: %+v", r.before)
	}
	if r.after == nil || r.after.Name != dev.name {
		t.Errorf("identity after the handshake: %+v", r.after)
	}
	if id, ok := IdentityFromConn(nil); ok || id != nil {
		t.Error("identity for a nil connection")
	}
	var _ net.Conn = cc
}
