package serve

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/zone/server"
)

// TestServeXoTChecks: XoT settings that cannot work are refused by New,
// with nothing left open.
func TestServeXoTChecks(t *testing.T) {
	dir := newDir(t)
	cert, key := writeCert(t, t.TempDir(), "ns1")
	xfrKey := filepath.Join(dir, "tsig.key") // any key file will do
	x := func(auth server.XoTAuth, allow ...string) *XoTConfig {
		return &XoTConfig{Listen: "127.0.0.1:0", CertFile: cert, KeyFile: key, Auth: auth, Allow: allow}
	}
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no certificate", Config{XoT: &XoTConfig{Listen: "127.0.0.1:0"}}, "needs Listen, CertFile and KeyFile"},
		{"dane without allow", Config{XoT: x(server.XoTDANE)}, "needs an allow-list"},
		{"allow without dane", Config{XoT: x(server.XoTTSIG, "ns2.devices.test"), TransferKeyFile: xfrKey}, "needs XoT auth dane or both"},
		{"tsig without keys", Config{XoT: x(server.XoTTSIG)}, "needs TransferKeyFile"},
		{"both without keys", Config{XoT: x(server.XoTBoth, "ns2.devices.test")}, "needs TransferKeyFile"},
		{"unknown mode", Config{XoT: x(server.XoTAuth(7), "ns2.devices.test")}, "unknown"},
		{"bad allow-list", Config{XoT: x(server.XoTDANE, "*")}, "allow-list"},
		{"names outside the zone, no resolver", Config{XoT: x(server.XoTDANE, "ns2.example.net")}, "outside the zone devices.test"},
		{"key without its certificate", Config{XoT: &XoTConfig{Listen: "127.0.0.1:0", CertFile: key, KeyFile: key, Allow: []string{"ns2.devices.test"}}}, "XoT certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Dir, tt.cfg.Listen = dir, "127.0.0.1:0"
			s, err := New(tt.cfg)
			if err == nil {
				s.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want %q", err, tt.want)
			}
		})
	}
	var oe *XoTOutsideZoneError
	if _, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", XoT: x(server.XoTDANE, "ns2.example.net")}); !errors.As(err, &oe) || oe.Names[0] != "ns2.example.net" {
		t.Errorf("outside the zone: %v, want an *XoTOutsideZoneError", err)
	}
}

// TestServeXoTReload: Reload takes a new XoT certificate and anchors;
// anchors that do not parse keep everything as it was.
func TestServeXoTReload(t *testing.T) {
	dir := newDir(t)
	files := t.TempDir()
	cert, key := writeCert(t, files, "first")
	anchors := filepath.Join(files, "anchors")
	data, err := os.ReadFile(filepath.Join(dir, "anchors"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(anchors, data, 0o644)
	s, err := New(Config{Dir: dir, Listen: "127.0.0.1:0",
		XoT: &XoTConfig{Listen: "127.0.0.1:0", CertFile: cert, KeyFile: key, Allow: []string{"ns2.devices.test"}, AnchorsFile: anchors}})
	if err != nil {
		t.Fatal(err)
	}
	running(t, s)
	if cn := servedCN(t, s.XoTAddr()); cn != "first" {
		t.Fatalf("XoT presents %q", cn)
	}
	newCert, newKey := writeCert(t, files, "second")
	os.Rename(newCert, cert)
	os.Rename(newKey, key)
	done, err := s.Reload()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(done, ", "); got != "XoT certificate, XoT trust anchors, update keys and policy" {
		t.Errorf("Reload reports %q", got)
	}
	if cn := servedCN(t, s.XoTAddr()); cn != "second" {
		t.Errorf("XoT presents %q after the reload, want second", cn)
	}
	os.WriteFile(anchors, []byte("not an anchor\n"), 0o644)
	third, thirdKey := writeCert(t, files, "third")
	os.Rename(third, cert)
	os.Rename(thirdKey, key)
	if _, err := s.Reload(); err == nil || !strings.Contains(err.Error(), "XoT anchors") {
		t.Fatalf("reload with bad anchors: %v", err)
	}
	if cn := servedCN(t, s.XoTAddr()); cn != "second" {
		t.Errorf("XoT presents %q after a failed reload, want second", cn)
	}
}

// xotRefusal connects to the XoT listener at addr presenting pair and
// returns how the connection ended: TLS 1.3 completes the client's side of
// the handshake before the server's refusal arrives, which the first read
// then returns.
func xotRefusal(t *testing.T, addr string, pair tls.Certificate) error {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{server.ALPN}, Certificates: []tls.Certificate{pair}})
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = c.Read(make([]byte, 1))
	if err == nil {
		t.Fatal("the XoT listener admitted a secondary off its allow-list")
	}
	return err
}

// TestServeXoTMetrics: the XoT listener's verification core exports its
// verdicts beside the admin API's core, each under its own core label, in
// the one registry of the metrics listener; the refused secondary gets the
// one generic handshake_failure alert.
func TestServeXoTMetrics(t *testing.T) {
	dir := newDir(t)
	files := t.TempDir()
	cert, key := writeCert(t, files, "xot")
	s, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", Admin: daneAdmin(t, dir),
		XoT: &XoTConfig{Listen: "127.0.0.1:0", CertFile: cert, KeyFile: key, Allow: []string{"ns2." + origin}}})
	if err != nil {
		t.Fatal(err)
	}
	running(t, s)
	// A secondary whose certificate names "localhost": off the allow-list.
	ccert, ckey := writeCert(t, files, "intruder")
	pair, err := tls.LoadX509KeyPair(ccert, ckey)
	if err != nil {
		t.Fatal(err)
	}
	if err := xotRefusal(t, s.XoTAddr(), pair); !strings.Contains(err.Error(), "remote error: tls: handshake failure") {
		t.Errorf("refused secondary saw %v, want the handshake_failure alert", err)
	}
	verdict := func(core, result string) float64 {
		mfs, err := s.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "dance_verify_verdicts_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["core"] == core && labels["result"] == result {
					return m.GetCounter().GetValue()
				}
			}
		}
		return -1
	}
	testwait.Eventually(t, 30*time.Second, func() error {
		if v := verdict("xot", "not-allowed"); v != 1 {
			return fmt.Errorf("dance_verify_verdicts_total{core=xot,result=not-allowed} = %v, want 1", v)
		}
		return nil
	})
	if v := verdict("admin", "not-allowed"); v != 0 {
		t.Errorf("the admin core counted the XoT refusal: %v (-1: not exported)", v)
	}
}
