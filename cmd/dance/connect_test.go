package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/verify"
)

// vcIdentityDir writes DIR/cert.pem and DIR/key.pem as 'dance id new' does.
func vcIdentityDir(t *testing.T, name string, kt identity.KeyType) (string, string) {
	t.Helper()
	k, c := vcIdent(t, name, kt)
	dir := t.TempDir()
	key, err := identity.MarshalPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	vcWrite(t, dir, "cert.pem", identity.MarshalCertificate(c))
	vcWrite(t, dir, "key.pem", key)
	return dir, vcRecord(t, name, tlsa.DANEEE, k.Public(), nil)
}

func TestConnectCommand(t *testing.T) {
	good, rec := vcIdentityDir(t, "sensor1._device.example.test", identity.KeyEd25519)
	unpub, _ := vcIdentityDir(t, "sensor2._device.example.test", identity.KeyECDSAP256)
	h := dnstest.Start(t, dnstest.Config{Records: []string{rec}})
	a, err := resolver.ParseAnchorsString(h.Anchors())
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{Upstreams: []string{h.Addr()}, Anchors: a})
	if err != nil {
		t.Fatal(err)
	}
	allow, _ := verify.ParseAllowList([]string{"*._device.example.test"})
	core, err := verify.New(verify.Config{Resolver: r, Allow: allow})
	if err != nil {
		t.Fatal(err)
	}

	// An HTTPS server that greets the authenticated identity.
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := danetls.IdentityFromRequest(r)
		if !ok || r.URL.Path == "/forbidden" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		w.Header().Set("X-Identity", id.Name)
		fmt.Fprintf(w, "hello %s\n", id.Name)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Config.ConnContext = danetls.ConnContext
	cert, _ := testident.ServerCert(t)
	srv.TLS = danetls.ServerConfig(&tls.Config{Certificates: []tls.Certificate{cert}}, core)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ca := vcWrite(t, dir, "server-ca.pem", identity.MarshalCertificate(srv.Certificate()))

	// A raw TLS server with a certificate for server.example.test.
	sdir, _ := vcIdentityDir(t, "server.example.test", identity.KeyECDSAP256)
	scert, err := danetls.LoadIdentity(sdir)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", danetls.ServerConfig(&tls.Config{Certificates: []tls.Certificate{scert}}, core))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if err := c.(*tls.Conn).Handshake(); err == nil {
					io.WriteString(c, "hello\n")
				}
			}()
		}
	}()
	addr := ln.Addr().String()
	sca := filepath.Join(sdir, "cert.pem")

	runCases(t, []cliCase{
		{"url", []string{"connect", "--identity", good, "--ca", ca, srv.URL + "/whoami"}, 0,
			`(?s)^HTTP/1\.1 200 OK\n; TLS 1\.3, TLS_\w+, server .*\nContent-Length: .*X-Identity: sensor1\._device\.example\.test\n\nhello sensor1\._device\.example\.test\n$`, ""},
		{"url insecure", []string{"connect", "--identity", good, "--insecure-skip-server-verify", srv.URL}, 0, `^HTTP/1\.1 200 OK`, "warning: the server's certificate is not verified"},
		{"url 403", []string{"connect", "--identity", good, "--ca", ca, srv.URL + "/forbidden"}, 1, `^HTTP/1\.1 403 Forbidden\n(?s:.*)forbidden\n$`, ""},
		{"url unknown server", []string{"connect", "--identity", good, srv.URL}, 1, `^$`, "hint: the server's certificate is not trusted"},
		{"url refused identity", []string{"connect", "--identity", unpub, "--ca", ca, srv.URL}, 1, `^$`, "hint: the server refused this identity"},
		{"addr", []string{"connect", "--identity", good, "--ca", sca, "--server-name", "server.example.test", addr}, 0,
			`^handshake ok: TLS 1\.3, .*server.*\(server\.example\.test\)\nserver said: "hello\\n"\n$`, ""},
		{"addr refused identity", []string{"connect", "--identity", unpub, "--ca", sca, "--server-name", "server.example.test", addr}, 1,
			`^handshake failed: remote error: tls: bad certificate\n$`, "hint: the server refused this identity"},
		{"addr wrong server name", []string{"connect", "--identity", good, "--ca", sca, addr}, 1, `^handshake failed: .*127\.0\.0\.1`, ""},
		{"http url", []string{"connect", "--identity", good, "http://" + addr}, 2, `^$`, "only https URLs"},
		{"not an address", []string{"connect", "--identity", good, "--ca", sca, "localhost"}, 2, `^$`, "neither an https URL nor HOST:PORT"},
		{"no identity dir", []string{"connect", "--identity", t.TempDir(), addr}, 2, `^$`, "no identity"},
		{"no identity flag", []string{"connect", addr}, 2, `^$`, "--identity DIR is required"},
		{"ca and insecure", []string{"connect", "--identity", good, "--ca", ca, "--insecure-skip-server-verify", addr}, 2, `^$`, "exclude each other"},
		{"help", []string{"connect", "--help"}, 0, `(?s)EXAMPLES.*EXIT CODES`, ""},
	})
}
