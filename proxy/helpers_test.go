package proxy_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/daemon"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/proxy"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/verify"
)

// client is an identity on disk, as dance id new writes one.
type client struct {
	name     string
	keyType  identity.KeyType
	cert     *x509.Certificate
	certFile string
	keyFile  string
	pair     tls.Certificate
}

// world is a signed DNS hierarchy publishing the TLSA records of the
// published clients, a verification core anchored to it, and the proxy's
// own certificate.
type world struct {
	dir       string
	clients   map[string]*client // by short name
	core      *verify.Core
	resolver  *resolver.Resolver
	h         *dnstest.Hierarchy
	srvCert   tls.Certificate
	srvCAFile string       // the proxy's self-signed certificate, for --cacert
	offset    atomic.Int64 // the clock of the core and the proxies, ahead of time.Now
}

// now is the clock of the world's core and proxies.
func (w *world) now() time.Time { return time.Now().Add(time.Duration(w.offset.Load())) }

// advance moves the world's clock forward.
func (w *world) advance(d time.Duration) { w.offset.Add(int64(d)) }

// Short names of the test clients.
const (
	ecdsaClient   = "ecdsa"   // published, allowed
	ed25519Client = "ed25519" // published, allowed
	rsaClient     = "rsa"     // published, allowed
	revokedClient = "revoked" // allowed, no TLSA record
	outsider      = "outsider"
	userClient    = "user" // alice@example.test, issued by the user CA published at _user.example.test
)

var keyTypes = map[string]identity.KeyType{
	ecdsaClient: identity.KeyECDSAP256, ed25519Client: identity.KeyEd25519, rsaClient: identity.KeyRSA2048,
	revokedClient: identity.KeyECDSAP256, outsider: identity.KeyECDSAP256,
}

func names(short string) string {
	if short == outsider {
		// Published, but outside the allow-list.
		return "gw.example.test"
	}
	return short + "._device.example.test"
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{dir: t.TempDir(), clients: map[string]*client{}}
	var records []string
	for short, kt := range keyTypes {
		c := newClient(t, w.dir, names(short), kt)
		w.clients[short] = c
		if short == revokedClient {
			continue
		}
		rec, err := tlsa.ForCertificate(c.cert, tlsa.DANEEE, tlsa.SelectorSPKI, tlsa.MatchSHA256)
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, fmt.Sprintf("%s. 300 IN TLSA %s", c.name, rec))
	}
	u, rec := newUser(t, w.dir)
	w.clients[userClient] = u
	records = append(records, rec)
	w.h = dnstest.Start(t, dnstest.Config{Records: records})
	r := testident.Resolver(t, w.h, resolver.Config{})
	allow, err := verify.ParseAllowList([]string{"*._device.example.test", "_user.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	w.resolver = r
	w.core, err = verify.New(verify.Config{Allow: allow, Resolver: r, Time: w.now})
	if err != nil {
		t.Fatal(err)
	}
	w.srvCert, w.srvCAFile = serverCert(t, w.dir)
	return w
}

func newClient(t testing.TB, dir, name string, kt identity.KeyType) *client {
	t.Helper()
	id := testident.SelfSigned(t, name, kt)
	key, cert := id.Key, id.Cert
	c := &client{name: name, keyType: kt, cert: cert,
		certFile: filepath.Join(dir, name+".pem"), keyFile: filepath.Join(dir, name+".key")}
	kp, err := identity.MarshalPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.certFile, identity.MarshalCertificate(cert), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.keyFile, kp, 0o600); err != nil {
		t.Fatal(err)
	}
	c.pair, err = tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newUser makes the user CA of example.test, its DANE-TA record at
// _user.example.test, and a user certificate for alice whose file holds the
// chain (user, CA), as dance id new --user writes it.
func newUser(t testing.TB, dir string) (*client, string) {
	t.Helper()
	users := testident.NewCA(t, identity.UserCA, "example.test", identity.Options{})
	ca := users.Cert
	alice := testident.IssueUser(t, "Alice", "example.test", users)
	key, cert := alice.Key, alice.Cert
	c := &client{name: "_user.example.test", keyType: identity.KeyECDSAP256, cert: cert,
		certFile: filepath.Join(dir, "alice.pem"), keyFile: filepath.Join(dir, "alice.key")}
	kp, _ := identity.MarshalPrivateKey(key)
	chain := append(identity.MarshalCertificate(cert), identity.MarshalCertificate(ca)...)
	if err := os.WriteFile(c.certFile, chain, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.keyFile, kp, 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	if c.pair, err = tls.LoadX509KeyPair(c.certFile, c.keyFile); err != nil {
		t.Fatal(err)
	}
	return c, testident.TALine(t, c.name, ca)
}

// serverCert makes the proxy's certificate for 127.0.0.1, self-signed, and
// writes it for the clients' --cacert / -CAfile.
func serverCert(t testing.TB, dir string) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "proxy under test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	f := filepath.Join(dir, "proxy-ca.pem")
	if err := os.WriteFile(f, identity.MarshalCertificate(cert), 0o644); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, f
}

// startProxy runs a proxy on 127.0.0.1 with cfg (TLS and Verifier filled
// in from w when unset) and returns its address; it is shut down when the
// test ends.
func startProxy(t testing.TB, w *world, cfg proxy.Config) (string, *proxy.Server) {
	t.Helper()
	if cfg.TLS == nil {
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{w.srvCert}}
	}
	if cfg.Verifier == nil && cfg.Mode != proxy.ModePassthrough {
		cfg.Verifier = w.core
	}
	if cfg.Time == nil {
		cfg.Time = w.now
	}
	return serveProxy(t, cfg)
}

// serveProxy makes a proxy of cfg and serves it on a port of its own
// until the test ends, when it must stop with ErrServerClosed.
func serveProxy(t testing.TB, cfg proxy.Config) (string, *proxy.Server) {
	t.Helper()
	s, err := proxy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-done; !errors.Is(err, proxy.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ln.Addr().String(), s
}

// runTool runs a command with a deadline and returns its stdout, stderr
// and error.
func runTool(t *testing.T, stdin string, name string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// curl runs curl against url presenting c (nil: no client certificate),
// trusting the proxy's certificate; extra arguments go before the URL.
func (w *world) curl(t *testing.T, c *client, url string, extra ...string) (string, string, error) {
	t.Helper()
	args := []string{"-sS", "--max-time", "30", "--cacert", w.srvCAFile}
	if c != nil {
		args = append(args, "--cert", c.certFile, "--key", c.keyFile)
	}
	args = append(args, extra...)
	return runTool(t, "", "curl", append(args, url)...)
}

// sClient sends one HTTP/1.1 request through openssl s_client presenting c
// and returns what the server answered.
func (w *world) sClient(t *testing.T, c *client, addr, request string) (string, string, error) {
	t.Helper()
	return runTool(t, request, "openssl", "s_client", "-connect", addr, "-CAfile", w.srvCAFile, "-verify_return_error",
		"-cert", c.certFile, "-key", c.keyFile, "-quiet", "-ign_eof")
}

// startNginx runs nginx in the foreground with the http-block body conf
// (%PORT% stands for the port picked) and returns its address; another port
// is tried if nginx fails on the one picked (internal/daemon).
func startNginx(t *testing.T, conf string) string {
	t.Helper()
	nginx := daemon.Tool(t, "nginx")
	return daemon.Start(t, daemon.Spec{
		Name: "nginx",
		Command: func(port int) *exec.Cmd {
			dir := t.TempDir()
			full := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log stderr info;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  %[2]s
}
`, dir, strings.ReplaceAll(conf, "%PORT%", fmt.Sprint(port)))
			cf := filepath.Join(dir, "nginx.conf")
			if err := os.WriteFile(cf, []byte(full), 0o644); err != nil {
				t.Fatal(err)
			}
			return exec.Command(nginx, "-e", "stderr", "-p", dir, "-c", cf)
		},
		Ready: acceptsTCP,
	})
}

// acceptsTCP reports whether something accepts TCP connections at addr.
func acceptsTCP(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func mustAddrPort(t *testing.T, s string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return ap
}
