package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/proxy"
	"github.com/dnsbound/dance/proxy/proxyproto"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tls13"
	"github.com/dnsbound/dance/verify"
)

// engineWorld publishes, under example.test:
//
//   - rawdev._device: DANE-EE 3 1 1 of a raw key (no certificate exists);
//   - certdev._device: DANE-EE 3 1 1 of a self-signed device certificate;
//   - tadev._device and tadev2._device: DANE-TA 2 0 1 of one device CA,
//     which issued a certificate for tadev only;
//   - tarawdev._device: DANE-TA of that CA only (no 3 1 x for any raw key).
type engineWorld struct {
	core               *verify.Core
	srvCert            tls.Certificate
	rawKey             crypto.Signer
	certDev, taDev     testident.Cred
	caDER              []byte
	taRawKey, otherKey crypto.Signer
	offset             atomic.Int64 // the clock of the core and the proxies, ahead of time.Now
}

// now is the clock of the world's core and proxies.
func (w *engineWorld) now() time.Time { return time.Now().Add(time.Duration(w.offset.Load())) }

func newEngineWorld(t *testing.T) *engineWorld {
	t.Helper()
	w := &engineWorld{
		rawKey:   testident.Key(t, identity.KeyEd25519),
		taRawKey: testident.Key(t, identity.KeyECDSAP256),
		otherKey: testident.Key(t, identity.KeyEd25519),
	}
	w.certDev = testident.SelfSigned(t, "certdev._device.example.test", identity.KeyECDSAP256)
	ca := testident.NewCA(t, identity.OrgCA, "example.test", identity.Options{})
	w.taDev = testident.IssueDevice(t, "tadev._device.example.test", ca, identity.Options{})
	w.caDER = ca.Cert.Raw
	records := []string{
		testident.EELine(t, "rawdev._device.example.test", w.rawKey.Public()),
		testident.EELine(t, "certdev._device.example.test", w.certDev.Cert.PublicKey),
		testident.TALine(t, "tadev._device.example.test", ca.Cert),
		testident.TALine(t, "tadev2._device.example.test", ca.Cert),
		testident.TALine(t, "tarawdev._device.example.test", ca.Cert),
	}
	h := dnstest.Start(t, dnstest.Config{Records: records})
	r := testident.Resolver(t, h, resolver.Config{})
	allow, err := verify.ParseAllowList([]string{"*._device.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if w.core, err = verify.New(verify.Config{Allow: allow, Resolver: r, Time: w.now}); err != nil {
		t.Fatal(err)
	}
	w.srvCert, _ = serverCert(t, t.TempDir())
	return w
}

// danceClient dials addr with our TLS 1.3 engine, presenting cert (a chain,
// or a raw key when it has none) and claiming name ("" claims none). A TLS
// 1.3 server refuses a client after the client's side of the handshake has
// completed: with request false nothing is written, and the refusal comes
// with the first read (a request written first could meet a closed socket).
func danceClient(t *testing.T, addr string, cert tls13.Certificate, name string, request bool) (*tls13.Conn, error) {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	raw.SetDeadline(time.Now().Add(time.Minute))
	c := tls13.Client(raw, &tls13.Config{
		ServerName: "localhost", VerifyPeer: func([]*x509.Certificate) error { return nil },
		Certificates: []tls13.Certificate{cert}, ClientName: name, NextProtos: []string{"http/1.1"},
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil || !request {
		return c, err
	}
	if _, err := io.WriteString(c, "GET /whoami HTTP/1.1\r\nHost: localhost\r\nDance-Client-Name: boss._device.example.test\r\n\r\n"); err != nil {
		return c, err
	}
	return c, nil
}

// TestDanceEngineHTTP runs the proxy with EngineDance in ModeHTTP: clients
// claim their name in dane_clientid or not, with a certificate or a raw
// key; the verification core decides, and the backend sees the name.
func TestDanceEngineHTTP(t *testing.T) {
	w := newEngineWorld(t)
	backend, _ := echoBackend(t)
	certOf := func(c testident.Cred, issuers ...[]byte) tls13.Certificate {
		return tls13.Certificate{Chain: append([][]byte{c.Cert.Raw}, issuers...), PrivateKey: c.Key}
	}
	cases := map[string]struct {
		cert     tls13.Certificate
		claim    string
		require  bool
		wantName string // "": refused
	}{
		"raw key with name":                    {cert: tls13.Certificate{PrivateKey: w.rawKey}, claim: "rawdev._device.example.test", wantName: "rawdev._device.example.test"},
		"raw key without name":                 {cert: tls13.Certificate{PrivateKey: w.rawKey}},
		"raw key claiming another's name":      {cert: tls13.Certificate{PrivateKey: w.otherKey}, claim: "rawdev._device.example.test"},
		"raw key under a DANE-TA record only":  {cert: tls13.Certificate{PrivateKey: w.taRawKey}, claim: "tarawdev._device.example.test"},
		"raw key claiming a name off the list": {cert: tls13.Certificate{PrivateKey: w.rawKey}, claim: "rawdev.example.test"},
		"certificate with name":                {cert: certOf(w.certDev), claim: "certdev._device.example.test", wantName: "certdev._device.example.test"},
		"certificate without name":             {cert: certOf(w.certDev), wantName: "certdev._device.example.test"},
		"certificate without name, required":   {cert: certOf(w.certDev), require: true},
		"certificate with name, required":      {cert: certOf(w.certDev), claim: "certdev._device.example.test", require: true, wantName: "certdev._device.example.test"},
		// DANE-TA: the claimed name must be in the certificate (client-auth-13 §5).
		"DANE-TA, name in the certificate":     {cert: certOf(w.taDev, w.caDER), claim: "tadev._device.example.test", wantName: "tadev._device.example.test"},
		"DANE-TA, name not in the certificate": {cert: certOf(w.taDev, w.caDER), claim: "tadev2._device.example.test"},
		// DANE-EE: the certificate's names do not count (RFC 7671 §5.1).
		"DANE-EE, name not in the certificate": {cert: certOf(w.certDev), claim: "rawdev._device.example.test"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			addr, _ := startEngineProxy(t, w, proxy.Config{Mode: proxy.ModeHTTP, Backend: backend.URL, RequireClientID: tc.require})
			c, err := danceClient(t, addr, tc.cert, tc.claim, tc.wantName != "")
			if tc.wantName == "" {
				if err == nil {
					_, err = c.Read(make([]byte, 1))
				}
				var rem *tls13.RemoteAlertError
				if !errors.As(err, &rem) || rem.Alert != 40 {
					t.Fatalf("got %v, want the proxy's handshake_failure alert", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			s := decodeSeen(t, string(body))
			if got := s.Header[proxy.DefaultNameHeader]; len(got) != 1 || got[0] != tc.wantName {
				t.Errorf("backend saw %s %v, want %s", proxy.DefaultNameHeader, got, tc.wantName)
			}
			if got := s.Header["X-Forwarded-Proto"]; len(got) != 1 || got[0] != "https" {
				t.Errorf("X-Forwarded-Proto %v, want https", got)
			}
			if got := s.Header["Dance-Client-Name"]; len(got) != 1 {
				t.Errorf("the client's forged Dance-Client-Name was not replaced: %v", got)
			}
			if got := s.Header["Client-Cert"]; (len(got) > 0) != (len(tc.cert.Chain) > 0) {
				t.Errorf("Client-Cert %v for a credential with %d certificates", got, len(tc.cert.Chain))
			}
		})
	}
}

// TestDanceEngineTCP: in ModeTCP the PROXY v2 header carries the name a
// raw-key client claimed and authenticated.
func TestDanceEngineTCP(t *testing.T) {
	w := newEngineWorld(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute))
		h, err := proxyproto.Read(bufio.NewReader(c))
		if err != nil {
			got <- nil
			return
		}
		for _, tlv := range h.TLVs {
			if tlv.Type == proxy.DefaultTLVType {
				got <- tlv.Value
				return
			}
		}
		got <- nil
	}()
	addr, _ := startEngineProxy(t, w, proxy.Config{Mode: proxy.ModeTCP, Backend: ln.Addr().String()})
	c, err := danceClient(t, addr, tls13.Certificate{PrivateKey: w.rawKey}, "rawdev._device.example.test", true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v := <-got; !bytes.Equal(v, []byte("rawdev._device.example.test")) {
		t.Fatalf("PROXY v2 TLV %q", v)
	}
}

// TestDanceEngineConfig: what EngineDance cannot do is refused by New.
func TestDanceEngineConfig(t *testing.T) {
	w := newEngineWorld(t)
	tlsConf := &tls.Config{Certificates: []tls.Certificate{w.srvCert}}
	for name, cfg := range map[string]proxy.Config{
		"passthrough":                {Mode: proxy.ModePassthrough, Engine: proxy.EngineDance, Backend: "http://127.0.0.1:1", TLS: tlsConf},
		"require without the engine": {Mode: proxy.ModeHTTP, Backend: "http://127.0.0.1:1", TLS: tlsConf, Verifier: w.core, RequireClientID: true},
	} {
		if _, err := proxy.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, s := range []string{"crypto/tls", "dance"} {
		e, err := proxy.ParseEngine(s)
		if err != nil || e.String() != s {
			t.Errorf("ParseEngine(%q) = %v, %v", s, e, err)
		}
	}
	if _, err := proxy.ParseEngine("openssl"); err == nil || !strings.Contains(err.Error(), "openssl") {
		t.Errorf("ParseEngine(openssl): %v", err)
	}
}

func startEngineProxy(t *testing.T, w *engineWorld, cfg proxy.Config) (string, *proxy.Server) {
	t.Helper()
	cfg.Engine = proxy.EngineDance
	cfg.TLS = &tls.Config{Certificates: []tls.Certificate{w.srvCert}}
	cfg.Verifier = w.core
	cfg.Time = w.now
	return serveProxy(t, cfg)
}
