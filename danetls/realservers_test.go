package danetls

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/daemon"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/verify"
)

// realServer is an outside TLS server: its port and where its files are.
type realServer struct {
	name string
	port uint16
}

// writeServerFiles writes cert.pem (the chain, leaf first) and key.pem to
// a new directory.
func writeServerFiles(t *testing.T, key crypto.Signer, chain ...*x509.Certificate) (certFile, keyFile string) {
	t.Helper()
	dir := testident.Write(t, key, chain...)
	return filepath.Join(dir, testident.CertFile), filepath.Join(dir, testident.KeyFile)
}

// acceptsTLSPort reports whether something accepts TCP connections at addr.
func acceptsTLSPort(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func portOf(t *testing.T, addr string) uint16 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	return uint16(n)
}

// startSServer runs openssl s_server with the chain and key until the
// test ends.
func startSServer(t *testing.T, name string, key crypto.Signer, chain ...*x509.Certificate) realServer {
	t.Helper()
	certFile, keyFile := writeServerFiles(t, key, chain...)
	bin := daemon.Tool(t, "openssl")
	addr := daemon.Start(t, daemon.Spec{
		Name: "openssl s_server " + name,
		Command: func(port int) *exec.Cmd {
			// -cert_chain sends the CA certificates after the leaf.
			return exec.Command(bin, "s_server", "-accept", "127.0.0.1:"+strconv.Itoa(port),
				"-cert", certFile, "-key", keyFile, "-cert_chain", certFile, "-www", "-quiet")
		},
		Ready: acceptsTLSPort,
	})
	return realServer{name: "s_server " + name, port: portOf(t, addr)}
}

// startNginxTLS runs nginx serving the chain and key over TLS until the
// test ends.
func startNginxTLS(t *testing.T, name string, key crypto.Signer, chain ...*x509.Certificate) realServer {
	t.Helper()
	certFile, keyFile := writeServerFiles(t, key, chain...)
	bin := daemon.Tool(t, "nginx")
	addr := daemon.Start(t, daemon.Spec{
		Name: "nginx " + name,
		Command: func(port int) *exec.Cmd {
			dir := t.TempDir()
			conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log stderr info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server {
    listen 127.0.0.1:%[2]d ssl;
    ssl_certificate %[3]s;
    ssl_certificate_key %[4]s;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { return 200 "hello\n"; }
  }
}
`, dir, port, certFile, keyFile)
			cf := filepath.Join(dir, "nginx.conf")
			if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			return exec.Command(bin, "-e", "stderr", "-p", dir, "-c", cf)
		},
		Ready: acceptsTLSPort,
	})
	return realServer{name: "nginx " + name, port: portOf(t, addr)}
}

// rdata is the presentation form of a TLSA record's data for cert.
func rdata(t *testing.T, c *x509.Certificate, u tlsa.Usage, s tlsa.Selector, m tlsa.MatchingType) string {
	t.Helper()
	r, err := tlsa.ForCertificate(c, u, s, m)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d %d %d %s", r.Usage, r.Selector, r.MatchingType, hex.EncodeToString(r.Data))
}

// sClientVerdict asks openssl s_client whether the server at port is
// valid for host with the TLSA records rrdata (RFC 7671 rules: DANE-EE
// without name checks, no PKIX trust store to fall back on).
func sClientVerdict(t *testing.T, port uint16, host string, rrdata []string) (bool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := []string{"s_client", "-connect", "127.0.0.1:" + strconv.Itoa(int(port)), "-servername", host,
		"-dane_tlsa_domain", host, "-dane_ee_no_namechecks", "-verify_return_error",
		"-no-CAfile", "-no-CApath", "-no-CAstore", "-brief"}
	for _, r := range rrdata {
		args = append(args, "-dane_tlsa_rrdata", r)
	}
	cmd := exec.CommandContext(ctx, "openssl", args...)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	return err == nil && strings.Contains(string(out), "Verification: OK"), string(out)
}

// TestRealServersAgree: our DANE client and openssl s_client judge the
// same servers (openssl s_server and nginx, self-signed and under a
// private CA) with the same TLSA records, and agree on every verdict,
// which is the one RFC 7671 gives, but one: a wildcard certificate under
// DANE-TA, which OpenSSL accepts (RFC 6125 matching) and dance refuses
// (names are compared exactly, tlsa.Options.Name). Our client reads the
// records from the signed hierarchy; openssl gets them on its command
// line.
func TestRealServersAgree(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ca := testident.NewCA(t, identity.OrgCA, "example.test", identity.Options{})
	otherCA := testident.NewCA(t, identity.OrgCA, "example.test", identity.Options{})
	taNames := []string{"ta-cert.example.test", "ta-spki.example.test", "ta-wrongca.example.test", "ta-full.example.test",
		"ta-fullmissing.example.test", "ta-nginx.example.test", "pkix-ee.example.test"}
	self := issueServer(t, identity.Issuer{}, []string{"srv.example.test"}, now.Add(-time.Hour), 24*time.Hour)
	ngxSelf := issueServer(t, identity.Issuer{}, []string{"srv.example.test"}, now.Add(-time.Hour), 24*time.Hour)
	expiredSelf := issueServer(t, identity.Issuer{}, []string{"srv.example.test"}, now.Add(-48*time.Hour), 24*time.Hour)
	leaf := issueServer(t, ca, taNames, now.Add(-time.Hour), 24*time.Hour)
	expiredLeaf := issueServer(t, ca, []string{"ta-expired.example.test"}, now.Add(-48*time.Hour), 24*time.Hour)
	wildLeaf := issueServer(t, ca, []string{"*.wc.example.test"}, now.Add(-time.Hour), 24*time.Hour)

	sSelf := startSServer(t, "self-signed", self.Key, self.Cert)
	sExpiredSelf := startSServer(t, "expired self-signed", expiredSelf.Key, expiredSelf.Cert)
	sCA := startSServer(t, "private CA", leaf.Key, leaf.Cert, ca.Cert)
	sLeafOnly := startSServer(t, "private CA, leaf only", leaf.Key, leaf.Cert)
	sExpired := startSServer(t, "private CA, expired leaf", expiredLeaf.Key, expiredLeaf.Cert, ca.Cert)
	sWild := startSServer(t, "private CA, wildcard name", wildLeaf.Key, wildLeaf.Cert, ca.Cert)
	nSelf := startNginxTLS(t, "self-signed", ngxSelf.Key, ngxSelf.Cert)
	nCA := startNginxTLS(t, "private CA", leaf.Key, leaf.Cert, ca.Cert)

	ee := func(c *x509.Certificate) string { return rdata(t, c, tlsa.DANEEE, tlsa.SelectorSPKI, tlsa.MatchSHA256) }
	wrongSHA512 := "3 1 2 " + strings.Repeat("ab", 64)
	wrongSHA256 := "3 1 1 " + strings.Repeat("ab", 32)
	yes := true
	cases := []struct {
		name   string
		srv    realServer
		host   string
		rrdata []string
		valid  bool
		// opensslValid, when set, is openssl's verdict where it
		// deliberately differs from ours.
		opensslValid *bool
	}{
		{"dane-ee spki sha256", sSelf, "ee1.example.test", []string{ee(self.Cert)}, true, nil},
		{"dane-ee cert sha512", sSelf, "ee2.example.test", []string{rdata(t, self.Cert, tlsa.DANEEE, tlsa.SelectorCert, tlsa.MatchSHA512)}, true, nil},
		{"dane-ee spki full", sSelf, "ee3.example.test", []string{rdata(t, self.Cert, tlsa.DANEEE, tlsa.SelectorSPKI, tlsa.MatchFull)}, true, nil},
		{"dane-ee wrong key", sSelf, "ee4.example.test", []string{ee(ngxSelf.Cert)}, false, nil},
		{"dane-ee expired certificate", sExpiredSelf, "ee5.example.test", []string{ee(expiredSelf.Cert)}, true, nil},
		{"dane-ee nginx", nSelf, "ee6.example.test", []string{ee(ngxSelf.Cert)}, true, nil},
		{"dane-ee nginx wrong key", nSelf, "ee7.example.test", []string{ee(self.Cert)}, false, nil},
		{"dane-ee leaf under a ca", sCA, "ee8.example.test", []string{ee(leaf.Cert)}, true, nil},
		{"digest agility: only the stronger digest counts", sSelf, "ee9.example.test", []string{ee(self.Cert), wrongSHA512}, false, nil},
		{"digest agility: the stronger digest matches", sSelf, "ee10.example.test", []string{wrongSHA256, rdata(t, self.Cert, tlsa.DANEEE, tlsa.SelectorSPKI, tlsa.MatchSHA512)}, true, nil},
		{"unusable record only", sSelf, "ee11.example.test", []string{"3 1 9 00"}, false, nil},
		{"dane-ta cert", sCA, "ta-cert.example.test", []string{rdata(t, ca.Cert, tlsa.DANETA, tlsa.SelectorCert, tlsa.MatchSHA256)}, true, nil},
		{"dane-ta spki", sCA, "ta-spki.example.test", []string{rdata(t, ca.Cert, tlsa.DANETA, tlsa.SelectorSPKI, tlsa.MatchSHA256)}, true, nil},
		{"dane-ta name mismatch", sCA, "ta-miss.example.test", []string{rdata(t, ca.Cert, tlsa.DANETA, tlsa.SelectorCert, tlsa.MatchSHA256)}, false, nil},
		{"dane-ta another ca", sCA, "ta-wrongca.example.test", []string{rdata(t, otherCA.Cert, tlsa.DANETA, tlsa.SelectorCert, tlsa.MatchSHA256)}, false, nil},
		{"dane-ta full ca in the record, leaf sent alone", sLeafOnly, "ta-full.example.test", []string{rdata(t, ca.Cert, tlsa.DANETA, tlsa.SelectorCert, tlsa.MatchFull)}, true, nil},
		{"dane-ta digest of a ca not sent", sLeafOnly, "ta-fullmissing.example.test", []string{rdata(t, ca.Cert, tlsa.DANETA, tlsa.SelectorCert, tlsa.MatchSHA256)}, false, nil},
		{"dane-ta nginx", nCA, "ta-nginx.example.test", []string{rdata(t, ca.Cert, tlsa.DANETA, tlsa.SelectorCert, tlsa.MatchSHA256)}, true, nil},
		{"dane-ta expired leaf", sExpired, "ta-expired.example.test", []string{rdata(t, ca.Cert, tlsa.DANETA, tlsa.SelectorCert, tlsa.MatchSHA256)}, false, nil},
		{"dane-ta naming a self-signed leaf", sSelf, "srv.example.test", []string{rdata(t, self.Cert, tlsa.DANETA, tlsa.SelectorSPKI, tlsa.MatchSHA256)}, false, nil},
		{"pkix-ee without a trust store", sCA, "pkix-ee.example.test", []string{rdata(t, leaf.Cert, tlsa.PKIXEE, tlsa.SelectorSPKI, tlsa.MatchSHA256)}, false, nil},
		{"dane-ta wildcard certificate", sWild, "a.wc.example.test", []string{rdata(t, ca.Cert, tlsa.DANETA, tlsa.SelectorCert, tlsa.MatchSHA256)}, false, &yes},
	}
	var records []string
	for _, c := range cases {
		for _, r := range c.rrdata {
			records = append(records, fmt.Sprintf("_%d._tcp.%s. 300 IN TLSA %s", c.srv.port, c.host, r))
		}
	}
	h := dnstest.Start(t, dnstest.Config{Records: records})
	core, err := verify.New(verify.Config{Resolver: testident.Resolver(t, h, resolver.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := DANEClientConfig(nil, core, net.JoinHostPort(c.host, strconv.Itoa(int(c.srv.port))))
			if err != nil {
				t.Fatal(err)
			}
			ours := dialOnly("127.0.0.1:"+strconv.Itoa(int(c.srv.port)), cfg)
			theirs, out := sClientVerdict(t, c.srv.port, c.host, c.rrdata)
			if (ours == nil) != c.valid {
				t.Errorf("%s: ours says valid=%v (%v), want %v", c.srv.name, ours == nil, ours, c.valid)
			}
			want := c.valid
			if c.opensslValid != nil {
				want = *c.opensslValid
			}
			if theirs != want {
				t.Errorf("%s: openssl says valid=%v, want %v:\n%s", c.srv.name, theirs, want, out)
			}
		})
	}
}

// dialOnly completes a handshake with cfg and closes the connection.
func dialOnly(addr string, cfg *tls.Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := (&tls.Dialer{Config: cfg}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}
