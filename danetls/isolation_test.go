package danetls

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/tlsa"
)

// TestIdentityPerConnection: crypto/tls hands resumed sessions their
// certificates from a process-wide cache keyed by DER, so connections to
// different servers of one process can hold the same *x509.Certificate.
// Three servers share a process: A and B authenticate the same client by
// different verifiers (A finds its DANE-EE SPKI record, B its DANE-EE Cert
// record) and C verifies nothing. Each connection reports only what its
// own server's verifier said, and C's none, with every connection resumed
// and alive at once.
func TestIdentityPerConnection(t *testing.T) {
	t.Parallel()
	dev := selfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	certRec, err := tlsa.ForCertificate(dev.cert[0], tlsa.DANEEE, tlsa.SelectorCert, tlsa.MatchSHA256)
	if err != nil {
		t.Fatal(err)
	}
	spkiRec, err := tlsa.ForPublicKey(dev.key.Public(), tlsa.DANEEE, tlsa.MatchSHA256)
	if err != nil {
		t.Fatal(err)
	}
	envA := newEnv(t, []string{spkiRec.ZoneLine(dev.name, 300)}, dev.name)
	envB := newEnv(t, []string{certRec.ZoneLine(dev.name, 300)}, dev.name)
	sc, pool := testident.ServerCert(t)
	base := func() *tls.Config { return &tls.Config{Certificates: []tls.Certificate{sc}} }
	plain := base()
	plain.ClientAuth = tls.RequireAnyClientCert

	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			servers := []struct {
				name string
				addr string
				want whoReply
			}{
				{"A", startTLS(t, ServerConfig(base(), envA.core)), whoReply{OK: true, Name: dev.name, Record: spkiRec.String()}},
				{"B", startTLS(t, ServerConfig(base(), envB.core)), whoReply{OK: true, Name: dev.name, Record: certRec.String()}},
				{"C (verifies nothing)", startTLS(t, plain), whoReply{}},
			}
			// A full handshake on each server leaves the client a session
			// to resume; then resumed connections to A, C and B are opened
			// in that order and kept open.
			live := make([]*whoConn, len(servers))
			for i, s := range servers {
				cfg := whoClient(t, pool, &dev, version)
				first := mustDialWho(t, s.addr, cfg)
				if got := first.ask(t); got != s.want {
					t.Fatalf("server %s, full handshake: %v, want %v", s.name, got, s.want)
				}
				first.tc.Close()
				live[i] = mustDialWho(t, s.addr, cfg)
				if !live[i].tc.ConnectionState().DidResume {
					t.Fatalf("server %s: the session was not resumed, the test proves nothing", s.name)
				}
			}
			for _, i := range []int{0, 2, 1} {
				if got := live[i].ask(t); got != servers[i].want {
					t.Errorf("server %s, resumed: %v, want %v", servers[i].name, got, servers[i].want)
				}
			}
			// And once more, every connection having been verified.
			for i, s := range servers {
				if got := live[i].ask(t); got != s.want {
					t.Errorf("server %s, resumed, asked again: %v, want %v", s.name, got, s.want)
				}
			}
		})
	}
}

// serverHandshake runs one handshake over an in-memory connection and
// returns the server's error.
func serverHandshake(t *testing.T, clientCfg, serverCfg *tls.Config) error {
	t.Helper()
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	go func() {
		tc := tls.Client(c, clientCfg)
		if tc.Handshake() == nil {
			var one [1]byte
			tc.Read(one[:])
		}
		c.Close()
	}()
	ts := tls.Server(s, serverCfg)
	err := ts.Handshake()
	if err == nil {
		// The handshake is complete on the server's side: the identity
		// must be there.
		if _, ok := IdentityFromConn(ts); !ok {
			return errors.New("handshake completed without an identity")
		}
		ts.Write([]byte{1})
	}
	return err
}

// TestHandshakeOutsideServerConfig: a handshake that does not go through
// the per-connection configuration of ServerConfig's GetConfigForClient
// (replaced, or the configuration handed out by another's
// GetConfigForClient, which crypto/tls does not call in turn) is refused
// rather than left unverified or without an identity; a configuration
// without a server certificate says where it belongs.
func TestHandshakeOutsideServerConfig(t *testing.T) {
	t.Parallel()
	dev := selfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	e := newEnv(t, []string{testident.EELine(t, dev.name, dev.key.Public())}, dev.name)
	sc, pool := testident.ServerCert(t)
	cert, err := LoadIdentity(dev.dir)
	if err != nil {
		t.Fatal(err)
	}
	good := func() *tls.Config { return ServerConfig(&tls.Config{Certificates: []tls.Certificate{sc}}, e.core) }
	replaced := good()
	replaced.GetConfigForClient = nil
	inner := good()
	dispatcher := &tls.Config{Certificates: []tls.Certificate{sc},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return inner, nil }}
	tests := []struct {
		name string
		cfg  *tls.Config
		want error // nil: authenticated
	}{
		{"ServerConfig", good(), nil},
		{"wrapped GetConfigForClient returning a configuration from ServerConfig", ServerConfig(dispatcher, e.core), errBypassed},
		{"GetConfigForClient replaced", replaced, errBypassed},
		{"returned by another GetConfigForClient", dispatcher, errBypassed},
		{"no server certificate", ServerConfig(nil, e.core), errNoServerCertificate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clientCfg := ClientConfig(&tls.Config{RootCAs: pool, ServerName: "localhost"}, cert)
			err := serverHandshake(t, clientCfg, tc.cfg)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("server: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestIdentityFromRequestWithoutConnContext: a request does not say which
// connection it came over, so without ConnContext there is no identity to
// find, even on an authenticated connection.
func TestIdentityFromRequestWithoutConnContext(t *testing.T) {
	t.Parallel()
	dev := selfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	e := newEnv(t, []string{testident.EELine(t, dev.name, dev.key.Public())}, dev.name)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, ok := IdentityFromRequest(r)
		fmt.Fprintf(w, "%v %d", ok, len(r.TLS.PeerCertificates))
	}))
	sc, _ := testident.ServerCert(t)
	srv.TLS = ServerConfig(&tls.Config{Certificates: []tls.Certificate{sc}}, e.core)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	resp, err := client(t, srv, &dev, nil).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "false 1" {
		t.Errorf("IdentityFromRequest without ConnContext, certificate count: %q, want %q", body, "false 1")
	}
}

// TestServeTLSNegotiatesHTTP2: http.Server.ServeTLS adds "h2" to the
// configuration it was given, which is the one the per-handshake copies
// are made from, so HTTP/2 is negotiated without NextProtos in base, and
// the identity reaches the handler over it.
func TestServeTLSNegotiatesHTTP2(t *testing.T) {
	t.Parallel()
	dev := selfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	e := newEnv(t, []string{testident.EELine(t, dev.name, dev.key.Public())}, dev.name)
	sc, pool := testident.ServerCert(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		TLSConfig:   ServerConfig(&tls.Config{Certificates: []tls.Certificate{sc}}, e.core),
		ConnContext: ConnContext,
		ErrorLog:    log.New(io.Discard, "", 0),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, ok := IdentityFromRequest(r)
			if !ok {
				http.Error(w, "no identity", http.StatusForbidden)
				return
			}
			fmt.Fprintf(w, "%s %s", r.Proto, id.Name)
		}),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeTLS(ln, "", "")
	}()
	t.Cleanup(func() { srv.Close(); <-done })
	cert, err := LoadIdentity(dev.dir)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: ClientConfig(&tls.Config{RootCAs: pool}, cert), ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if want := "HTTP/2.0 " + dev.name; string(body) != want {
		t.Errorf("%s: %q, want %q", resp.Status, body, want)
	}
}
