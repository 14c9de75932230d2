package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/daemon"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/tlsa"
)

// greeter serves TLS with cert on 127.0.0.1, greeting every client whose
// handshake completes, until the test ends.
func greeter(t *testing.T, cert tls.Certificate) (string, uint16) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if c.(*tls.Conn).Handshake() == nil {
				io.WriteString(c, "hello\n")
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), uint16(ln.Addr().(*net.TCPAddr).Port)
}

func loadIdent(t *testing.T, dir string) tls.Certificate {
	t.Helper()
	c, err := danetls.LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tcpOwner(host string, port uint16) string {
	return "_" + strconv.Itoa(int(port)) + "._tcp." + host
}

// TestConnectDANE: dance connect --dane authenticates the server by the
// TLSA records at _PORT._tcp.HOST, refuses what they do not authenticate,
// and falls back to PKIX only when asked, and loudly.
func TestConnectDANE(t *testing.T) {
	client, _ := vcIdentityDir(t, "ns1.example.test", identity.KeyECDSAP256)
	srvDir, _ := vcIdentityDir(t, "srv.example.test", identity.KeyECDSAP256)
	impDir, _ := vcIdentityDir(t, "srv.example.test", identity.KeyECDSAP256)
	srvCert, impCert := loadIdent(t, srvDir), loadIdent(t, impDir)
	addr, port := greeter(t, srvCert)
	impAddr, impPort := greeter(t, impCert)
	pub := srvCert.Leaf.PublicKey
	h := dnstest.Start(t, dnstest.Config{Records: []string{
		vcRecord(t, tcpOwner("srv.example.test", port), tlsa.DANEEE, pub, nil),
		// The impostor's port publishes the genuine key: the right name,
		// another key.
		vcRecord(t, tcpOwner("srv.example.test", impPort), tlsa.DANEEE, pub, nil),
		// A record for another port only.
		vcRecord(t, tcpOwner("other.example.test", port+1), tlsa.DANEEE, pub, nil),
		vcRecord(t, tcpOwner("www.insecure.example.test", port), tlsa.DANEEE, pub, nil),
	}})
	dir := t.TempDir()
	anchors := vcWrite(t, dir, "anchors", []byte(h.Anchors()+"\n"))
	srvCA := filepath.Join(srvDir, "cert.pem")
	dns := []string{"--resolver", h.Addr(), "--anchors", anchors}
	args := func(extra ...string) []string {
		return append(append([]string{"connect", "--identity", client, "--dane"}, dns...), extra...)
	}
	o := regexp.QuoteMeta(tcpOwner("srv.example.test", port))
	runCases(t, []cliCase{
		{"dane-ee", args("--server-name", "srv.example.test", addr), 0,
			`^handshake ok: TLS 1\.3, .*\nserver authenticated by DANE: ` + o + ` 3 1 1 [0-9a-f]{64} \(DANE-EE, depth 0\)\nserver said: "hello\\n"\n$`, ""},
		{"right name, different key", args("--server-name", "srv.example.test", impAddr), 1,
			`^handshake failed: danetls: server _\d+\._tcp\.srv\.example\.test not authenticated: .*no-match`, "hint: DANE did not authenticate the server (no-match)"},
		{"right name, different key, fallback", args("--pkix-fallback", "--ca", filepath.Join(impDir, "cert.pem"), "--server-name", "srv.example.test", impAddr), 1,
			`no-match`, ""},
		{"record for another port", args("--server-name", "other.example.test", addr), 1, `not authenticated: .*no-record`, "(no-record)"},
		{"records win over the fallback", args("--pkix-fallback", "--ca", srvCA, "--server-name", "srv.example.test", addr), 0,
			`\nserver authenticated by DANE: ` + o + ` 3 1 1 `, ""},
		{"insecure, no fallback", args("--server-name", "www.insecure.example.test", addr), 1, `not authenticated: DANE does not apply to this server and PKIX fallback is off: .*dns-insecure`, ""},
		{"dane and insecure", args("--insecure-skip-server-verify", addr), 2, `^$`, "exclude each other"},
		{"ca without fallback", args("--ca", srvCA, addr), 2, `^$`, "add --pkix-fallback"},
		{"fallback without dane", []string{"connect", "--identity", client, "--pkix-fallback", addr}, 2, `^$`, "--pkix-fallback needs --dane"},
		{"resolver without dane", []string{"connect", "--identity", client, "--resolver", h.Addr(), addr}, 2, `^$`, "--resolver only apply with --dane"},
		{"address without a name", args(addr), 2, `^$`, "give the name with --server-name"},
	})

	// A server with no records and a certificate the fallback trusts:
	// authenticated by PKIX, with a warning.
	nodane, _ := vcIdentityDir(t, "nodane.example.test", identity.KeyECDSAP256)
	ndAddr, _ := greeter(t, loadIdent(t, nodane))
	runCases(t, []cliCase{
		{"no record, no fallback", args("--server-name", "nodane.example.test", ndAddr), 1, `fallback is off: .*no-record`, ""},
		{"no record, pkix fallback", args("--pkix-fallback", "--ca", filepath.Join(nodane, "cert.pem"), "--server-name", "nodane.example.test", ndAddr), 0,
			`^handshake ok: .*\nserver authenticated by PKIX: nodane\.example\.test \(no DANE: no-record\)\n`, "warning: DANE does not apply to _"},
	})
}

// TestMutualDANECommands: two self-signed peers, a LoRaWAN network server
// (dance connect) and a join server (dance proxy), authenticate each other
// by name alone: the proxy authenticates ns1.example.test by the TLSA record
// at its name, connect authenticates the proxy by the record at
// _PORT._tcp.js1.example.test.
func TestMutualDANECommands(t *testing.T) {
	nsDir, nsRec := vcIdentityDir(t, "ns1.example.test", identity.KeyECDSAP256)
	strangerDir, _ := vcIdentityDir(t, "ns1.example.test", identity.KeyECDSAP256)
	jsDir, _ := vcIdentityDir(t, "js1.example.test", identity.KeyEd25519)
	jsPub := loadIdent(t, jsDir).Leaf.PublicKey
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "join server greets %s\n", r.Header.Get("X-Peer"))
	}))
	defer backend.Close()

	// The join server's record names its port, so the port is chosen
	// before the records are signed; another is tried if it is taken.
	var h *dnstest.Hierarchy
	var addr, anchors string
	var port uint16
	var proxyLog *syncBuffer
	for attempt := 0; ; attempt++ {
		port = uint16(daemon.FreePort(t))
		h = dnstest.Start(t, dnstest.Config{Records: []string{nsRec, vcRecord(t, tcpOwner("js1.example.test", port), tlsa.DANEEE, jsPub, nil)}})
		anchors = vcWrite(t, t.TempDir(), "anchors", []byte(h.Anchors()+"\n"))
		var err error
		addr, proxyLog, err = startProxyOn(t, []string{"--listen", "127.0.0.1:" + strconv.Itoa(int(port)), "--backend", backend.URL,
			"--cert", filepath.Join(jsDir, "cert.pem"), "--key", filepath.Join(jsDir, "key.pem"),
			"--allow", "ns1.example.test", "--name-header", "X-Peer", "--resolver", h.Addr(), "--anchors", anchors})
		if err == nil {
			break
		}
		if attempt == 4 {
			t.Fatal(err)
		}
		t.Logf("port %d: %v; trying another", port, err)
	}
	connect := func(id, name string) []string {
		return []string{"connect", "--identity", id, "--dane", "--resolver", h.Addr(), "--anchors", anchors,
			"--server-name", name, "https://" + addr + "/"}
	}
	o := regexp.QuoteMeta(tcpOwner("js1.example.test", port))
	runCases(t, []cliCase{
		{"mutual", connect(nsDir, "js1.example.test"), 0,
			`(?s)^HTTP/\S+ 200 OK\n; TLS 1\.3, [^\n]*\nserver authenticated by DANE: ` + o + ` 3 1 1 [0-9a-f]{64} \(DANE-EE, depth 0\)\n.*\n\njoin server greets ns1\.example\.test\n$`, ""},
		// The refusal reaches the client as an alert or as a closed
		// connection, whichever wins the race with its first write; the
		// proxy's log says why.
		{"client key not published", connect(strangerDir, "js1.example.test"), 1, `^$`, "dance: hint: the server"},
		{"server not the one named", connect(nsDir, "js2.example.test"), 1, `^$`, "(no-record)"},
	})
	testwait.Eventually(t, 30*time.Second, func() error {
		if !regexp.MustCompile(`peer refused.*name=ns1\.example\.test reason=no-match`).MatchString(proxyLog.String()) {
			return fmt.Errorf("the proxy did not log the refusal of the unpublished key:\n%s", proxyLog.String())
		}
		return nil
	})
}

// startProxyOn runs "dance proxy args..." in-process until the test ends
// and returns the address it reports and its stderr, or an error when it
// exits first.
func startProxyOn(t *testing.T, args []string) (string, *syncBuffer, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"proxy"}, args...), nil, &out, &errb) }()
	re := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)
	var m []string
	var exited error
	testwait.Eventually(t, 30*time.Second, func() error {
		if m = re.FindStringSubmatch(out.String()); m != nil {
			return nil
		}
		select {
		case code := <-done:
			exited = fmt.Errorf("dance proxy exited %d: %s", code, strings.TrimSpace(errb.String()))
			return nil
		default:
		}
		return errors.New("dance proxy did not report its address")
	})
	if exited != nil {
		cancel()
		return "", nil, exited
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("dance proxy did not stop within 30s")
		}
	})
	return m[1], &errb, nil
}
