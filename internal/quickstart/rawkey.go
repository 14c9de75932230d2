package quickstart

import (
	"bufio"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/proxy"
	"github.com/dnsbound/dance/tls13"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/zone/admin"
	"github.com/dnsbound/dance/zone/change"
)

// rawDev is the raw-key device: a key and no certificate (RFC 7250), as
// 'dance id new --rpk' makes one.
const rawDev = "meter1"

// rawKey is the step that shows a raw-key device: provisioned, published
// (3 1 1, the only record that can authenticate a bare key), and
// connected through a second proxy that runs dance's own TLS 1.3 engine,
// where it claims its name in dane_clientid.
func (q *qs) rawKey(ctx context.Context, n int) error {
	name := q.deviceName(rawDev)
	key, err := identity.GenerateKey(identity.KeyEd25519, nil)
	if err != nil {
		return err
	}
	dir := q.path(rawDev)
	if err := os.MkdirAll(dir, identity.DirMode); err != nil {
		return err
	}
	keyPEM, err := identity.MarshalPrivateKey(key)
	if err != nil {
		return err
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	if err := identity.WriteFile(filepath.Join(dir, danetls.KeyFile), keyPEM, identity.KeyFileMode, false); err != nil {
		return err
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	if err := identity.WriteFile(filepath.Join(dir, "pubkey.pem"), pubPEM, identity.PublicFileMode, false); err != nil {
		return err
	}
	rec, err := tlsa.ForSPKI(spki, tlsa.DANEEE, tlsa.MatchSHA256)
	if err != nil {
		return err
	}
	if _, err := q.api.Publish(ctx, name, []admin.Record{{Type: "TLSA", Data: rec.String()}}, change.Add); err != nil {
		return fmt.Errorf("admin API: %s: %w", name, err)
	}
	q.p.line("%-40s %-9s raw public key (no certificate), TLSA %s (DANE-EE SPKI)", name, rawDev+"/", rec.String()[:5])

	addr, err := q.startDanceProxy()
	if err != nil {
		return err
	}
	got, err := q.rawConnect(ctx, addr, key, name)
	if err != nil {
		return err
	}
	q.res.RawKey = &got
	q.p.line("%-40s accepted by its raw key and dane_clientid; the backend saw %s: %s, %s: %s", name, proxy.DefaultNameHeader, got.Name, proxy.DefaultKindHeader, got.Kind)
	if got.Name != name || got.Kind != "device" {
		return fmt.Errorf("the backend saw %q (%s) for %s, want %q (device)", got.Name, got.Kind, rawDev, name)
	}
	q.p.dance("id", "new", "--name", name, "--key", "ed25519", "--rpk", "--out", dir)
	q.p.dance("zone", "add", "--dir", q.zoneDir, "--api", q.adminURL, name, "TLSA", rec.String())
	args := []string{"proxy", "--engine", "dance", "--listen", addr, "--backend", "http://" + q.res.Backend,
		"--cert", q.path(proxyDir, danetls.CertFile), "--key", q.path(proxyDir, danetls.KeyFile),
		"--allow", "*._device." + q.cfg.Zone, "--resolver", q.res.DNS, "--anchors", q.anchorsFile}
	q.p.dance(args...)
	q.p.dance("connect", "--engine", "dance", "--raw-key", "--client-name", name, "--identity", dir,
		"--ca", q.path(proxyDir, danetls.CertFile), "--server-name", q.proxyName, "https://"+addr+"/")
	q.p.verdict("ok: the raw-key device authenticated by its name and its 3 1 1 record")
	return nil
}

// startDanceProxy runs a second proxy, with EngineDance, in front of the
// same backend and verification core.
func (q *qs) startDanceProxy() (string, error) {
	addr, err := q.serveProxy(proxy.EngineDance, q.log.With("component", "proxy", "engine", "dance"))
	if err != nil {
		return "", err
	}
	q.res.DanceProxy = addr
	q.p.line("proxy https://%s with --engine dance: dane_clientid and raw public keys", addr)
	return addr, nil
}

// rawConnect makes one request through the proxy at addr with key as a raw
// public key, claiming name.
func (q *qs) rawConnect(ctx context.Context, addr string, key crypto.Signer, name string) (Attempt, error) {
	a := Attempt{Identity: rawDev}
	actx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(actx, "tcp", addr)
	if err != nil {
		return a, err
	}
	defer raw.Close()
	if dl, ok := actx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	c := tls13.Client(raw, &tls13.Config{
		ServerName: q.proxyName, RootCAs: q.proxyPool, NextProtos: []string{"http/1.1"},
		Certificates: []tls13.Certificate{{PrivateKey: key}}, ClientName: name,
	})
	defer c.Close()
	if err := c.HandshakeContext(actx); err != nil {
		return a, err
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+q.proxyName+"\r\nConnection: close\r\n\r\n"); err != nil {
		return a, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return a, fmt.Errorf("%s: %w", rawDev, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return a, fmt.Errorf("%s: the proxy answered %s", rawDev, resp.Status)
	}
	a.Accepted = true
	return a, a.readWhoami(resp.Body)
}
