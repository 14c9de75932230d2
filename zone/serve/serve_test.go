package serve

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/admin"
	"github.com/dnsbound/dance/zone/tsigkey"
)

const origin = "devices.test"

// newDir makes a zone directory as zone.Init and 'dance zone init' do.
func newDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "z")
	if _, err := zone.Init(dir, zone.InitOptions{Origin: origin}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// lockedBuffer is a log sink that tests read while the server writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// running starts s.Run and returns a function that stops it and closes
// s, failing the test on any error of either.
func running(t *testing.T, s *Server) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func query(t *testing.T, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(1232, true) // DO: answers are signed
	r, err := dns.Exchange(m, addr)
	if err != nil {
		t.Fatalf("query %s: %v", name, err)
	}
	return r
}

// TestServeRunAndClose: the zone answers while Run runs; a stop by the
// context returns nil, closes the listeners, and Close leaves the
// signature cache that the next New loads.
func TestServeRunAndClose(t *testing.T) {
	dir := newDir(t)
	s, err := New(Config{Dir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	stop := running(t, s)
	if r := query(t, s.Addr(), origin, dns.TypeSOA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
		t.Fatalf("SOA: %v", r)
	}
	addr := s.Addr()
	stop()
	c := &dns.Client{Timeout: time.Second}
	m := new(dns.Msg)
	m.SetQuestion(origin+".", dns.TypeSOA)
	if _, _, err := c.Exchange(m, addr); err == nil {
		t.Error("the DNS listener still answers after Run returned")
	}
	if _, err := os.Stat(filepath.Join(dir, zone.SigCacheFile)); err != nil {
		t.Fatalf("no signature cache after Close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, zone.PIDFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file left after Close: %v", err)
	}
	again, err := New(Config{Dir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if n, err := again.Zone().SignaturesLoaded(); err != nil || n == 0 {
		t.Errorf("next start loaded %d signatures (%v), want those Close saved", n, err)
	}
}

// TestServeReleasesLoadingMemory: New hands the memory that opening the
// zone freed back to the system, once, after the zone and the journal
// are loaded (bench/RESULTS.md, "Resident memory after a restart").
func TestServeReleasesLoadingMemory(t *testing.T) {
	old := releaseMemory
	t.Cleanup(func() { releaseMemory = old })
	dir := newDir(t)
	calls, opened := 0, false
	releaseMemory = func() {
		calls++
		// The zone is open by now: its pid file is written.
		_, err := os.Stat(filepath.Join(dir, zone.PIDFile))
		opened = err == nil
	}
	s, err := New(Config{Dir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if calls != 1 || !opened {
		t.Fatalf("memory released %d times (zone open then: %v), want once, after the zone is open", calls, opened)
	}
}

// TestServeLocked: a directory another server holds is refused with a
// *zone.LockedError that names the holder, not as a missing zone.
func TestServeLocked(t *testing.T) {
	dir := newDir(t)
	first, err := New(Config{Dir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	running(t, first)
	_, err = New(Config{Dir: dir, Listen: "127.0.0.1:0"})
	var le *zone.LockedError
	if !errors.As(err, &le) || !errors.Is(err, zone.ErrLocked) || errors.Is(err, ErrOpenZone) {
		t.Fatalf("second New: %v, want a *zone.LockedError", err)
	}
	want := fmt.Sprintf("zone.db is locked by a running server (pid %d)", os.Getpid())
	if le.PID != os.Getpid() || !strings.Contains(err.Error(), want) {
		t.Errorf("error %q (pid %d), want %q", err, le.PID, want)
	}
	// The first server serves on.
	if r := query(t, first.Addr(), origin, dns.TypeSOA); r.Rcode != dns.RcodeSuccess {
		t.Errorf("first server after the refused second: %v", r)
	}
	// A directory without a zone is a different error.
	if _, err := New(Config{Dir: t.TempDir(), Listen: "127.0.0.1:0"}); !errors.Is(err, ErrOpenZone) || errors.Is(err, zone.ErrLocked) {
		t.Errorf("New on an empty directory: %v, want ErrOpenZone", err)
	}
}

// TestServeChecks: settings that cannot work are refused by New with the
// reason, before anything is opened (the directory stays free).
func TestServeChecks(t *testing.T) {
	dir := newDir(t)
	cert, key := writeCert(t, t.TempDir(), "a")
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no dir", Config{}, "no zone directory"},
		{"dot without cert", Config{Dir: dir, TLSListen: "127.0.0.1:0"}, "go together"},
		{"xfr tls only without tls", Config{Dir: dir, TransferTLSOnly: true}, "needs TLSListen"},
		{"bad notify", Config{Dir: dir, Notify: []string{"192.0.2.1"}}, "want HOST:PORT"},
		{"admin without address", Config{Dir: dir, Admin: &AdminConfig{}}, "without an address"},
		{"plain admin on a public address", Config{Dir: dir, Admin: &AdminConfig{Listen: "0.0.0.0:0"}}, "non-loopback"},
		{"dane without allow", Config{Dir: dir, Admin: &AdminConfig{Listen: "127.0.0.1:0", CertFile: cert, KeyFile: key, Auth: admin.AuthDANE}}, "needs an allow-list"},
		{"dane without https", Config{Dir: dir, Admin: &AdminConfig{Listen: "127.0.0.1:0", Auth: admin.AuthDANE, Allow: []string{"a.example"}}}, "needs HTTPS"},
		{"allow without dane", Config{Dir: dir, Admin: &AdminConfig{Listen: "127.0.0.1:0", Allow: []string{"a.example"}}}, "needs admin auth dane"},
		{"bad sig validity", Config{Dir: dir, IdentitySigValidity: time.Minute}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Listen = "127.0.0.1:0"
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
	var ie *InsecureAdminError
	if _, err := New(Config{Dir: dir, Admin: &AdminConfig{Listen: "0.0.0.0:0"}}); !errors.As(err, &ie) {
		t.Errorf("plain admin on a public address: %v, want *InsecureAdminError", err)
	}
	// Insecure says the operator means it.
	s, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", Admin: &AdminConfig{Listen: "127.0.0.1:0", Insecure: true}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// TestServePolicyNamesUnknownKey: an update policy for a key that
// tsig.key does not hold (a typo, which would leave the real key
// unlimited) is refused; one naming the real key is taken.
func TestServePolicyNamesUnknownKey(t *testing.T) {
	dir := newDir(t)
	policy := filepath.Join(dir, zone.PolicyFile)
	os.WriteFile(policy, []byte("updte."+origin+". _device."+origin+". TLSA\n"), 0o600)
	_, err := New(Config{Dir: dir, Listen: "127.0.0.1:0"})
	var pe *PolicyKeyError
	if !errors.As(err, &pe) || pe.Key != "updte."+origin+"." {
		t.Fatalf("policy with an unknown key: %v", err)
	}
	os.WriteFile(policy, []byte("update."+origin+". _device."+origin+". TLSA\n"), 0o600)
	s, err := New(Config{Dir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("policy with the zone's key: %v", err)
	}
	s.Close()
}

// TestServeMetricsListener: with no admin API, the DNS metrics are on the
// metrics listener, without credentials, every outcome from the start;
// the listener serves nothing else.
func TestServeMetricsListener(t *testing.T) {
	dir := newDir(t)
	s, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", MetricsListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	running(t, s)
	query(t, s.Addr(), origin, dns.TypeSOA)
	query(t, s.Addr(), "nope."+origin, dns.TypeTLSA)
	body := get(t, "http://"+s.MetricsAddr()+"/metrics", http.StatusOK)
	for _, want := range []string{
		`dance_zone_dns_requests_total{outcome="success"} 1`,
		`dance_zone_dns_requests_total{outcome="nxdomain"} 1`,
		`dance_zone_dns_requests_total{outcome="update_refused"} 0`,
		`dance_zone_dns_requests_total{outcome="xfr_refused"} 0`,
		"dance_zone_serial ",
		"dance_zone_signing_admitted_total ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	get(t, "http://"+s.MetricsAddr()+"/v1/zone", http.StatusNotFound)
}

func get(t *testing.T, url string, want int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d", url, resp.StatusCode, want)
	}
	return string(b)
}

// writeCert writes a self-signed certificate for 127.0.0.1 named cn, and
// its key, into dir as cn.crt and cn.key.
func writeCert(t *testing.T, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, cn+".crt"), filepath.Join(dir, cn+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

// servedCN is the common name of the certificate a TLS server at addr
// presents.
func servedCN(t *testing.T, addr string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // only the name is read
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// TestServeReload: Reload takes new certificates for the admin API and
// DNS over TLS; one that fails to load changes nothing and says why.
func TestServeReload(t *testing.T) {
	dir := newDir(t)
	files := t.TempDir()
	cert, key := writeCert(t, files, "first")
	var log lockedBuffer
	s, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", TLSListen: "127.0.0.1:0", TLSCertFile: cert, TLSKeyFile: key,
		Admin:  &AdminConfig{Listen: "127.0.0.1:0", CertFile: cert, KeyFile: key},
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	running(t, s)
	admin := strings.TrimPrefix(s.AdminURL(), "https://")
	if cn := servedCN(t, admin); cn != "first" {
		t.Fatalf("admin API presents %q", cn)
	}
	// New files in place of the old ones, as a certificate renewal
	// leaves them.
	newCert, newKey := writeCert(t, files, "second")
	os.Rename(newCert, cert)
	os.Rename(newKey, key)
	done, err := s.Reload()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(done, ", "); got != "DNS-over-TLS certificate, admin certificate, update keys and policy" {
		t.Errorf("Reload reports %q", got)
	}
	if cn := servedCN(t, admin); cn != "second" {
		t.Errorf("admin API presents %q after the reload, want second", cn)
	}
	if cn := servedCN(t, s.TLSAddr()); cn != "second" {
		t.Errorf("DNS over TLS presents %q after the reload, want second", cn)
	}
	if !strings.Contains(log.String(), `msg=reloaded what="DNS-over-TLS certificate, admin certificate, update keys and policy"`) {
		t.Errorf("reload not logged: %s", log.String())
	}
	// A key that does not go with the certificate: nothing changes.
	_, otherKey := writeCert(t, files, "third")
	os.Rename(otherKey, key)
	if _, err := s.Reload(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("reload with a mismatched key: %v", err)
	}
	if cn := servedCN(t, admin); cn != "second" {
		t.Errorf("admin API presents %q after a failed reload, want second", cn)
	}
	if !strings.Contains(log.String(), "reload failed; serving on with the configuration of before") {
		t.Errorf("failed reload not logged: %s", log.String())
	}
}

// TestServeReloadAnchors: with DANE administrators, Reload reads the
// anchors file again and puts a new resolver behind the verification
// core; an anchors file that does not parse keeps the old one.
func TestServeReloadAnchors(t *testing.T) {
	dir := newDir(t)
	files := t.TempDir()
	cert, key := writeCert(t, files, "admin")
	anchors := filepath.Join(files, "anchors")
	zoneAnchors, err := os.ReadFile(filepath.Join(dir, zone.AnchorsFile))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(anchors, zoneAnchors, 0o600)
	// The update key may not write at the administrators' names.
	os.WriteFile(filepath.Join(dir, zone.PolicyFile), []byte("update."+origin+". _device."+origin+".\n"), 0o600)
	var log lockedBuffer
	s, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(&log, nil)),
		Admin: &AdminConfig{Listen: "127.0.0.1:0", CertFile: cert, KeyFile: key, Auth: admin.AuthDANE,
			Allow: []string{"*._admin." + origin}, AnchorsFile: anchors}})
	if err != nil {
		t.Fatal(err)
	}
	running(t, s)
	before := s.adminResolver.r.Load()
	done, err := s.Reload()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(done, ", "); got != "admin certificate, admin trust anchors, update keys and policy" {
		t.Errorf("Reload reports %q", got)
	}
	reloaded := s.adminResolver.r.Load()
	if reloaded == before {
		t.Error("the resolver of the admin identities was not replaced")
	}
	os.WriteFile(anchors, []byte("this is not an anchor\n"), 0o600)
	if _, err := s.Reload(); err == nil || !strings.Contains(err.Error(), "anchors") {
		t.Fatalf("reload with a broken anchors file: %v", err)
	}
	if s.adminResolver.r.Load() != reloaded {
		t.Error("a failed reload replaced the resolver")
	}
	if !strings.Contains(log.String(), "reload failed") {
		t.Errorf("failed reload not logged: %s", log.String())
	}
}

// update sends an update adding a TLSA record at name, signed with k, and
// returns the response code.
func update(t *testing.T, addr string, k *tsigkey.Key, name string) int {
	t.Helper()
	m := new(dns.Msg)
	m.SetUpdate(origin + ".")
	rr, err := dns.NewRR(name + " 300 IN TLSA 3 1 1 " + strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	m.Insert([]dns.RR{rr})
	m.SetTsig(k.Name, k.WireAlgorithm(), 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", TsigSecret: map[string]string{k.Name: k.Base64()}}
	r, _, err := c.Exchange(m, addr)
	if err != nil && r == nil {
		t.Fatalf("update with %s: %v", k.Name, err)
	}
	return r.Rcode
}

// TestServeReloadUpdateKeys: a key added to DIR/tsig.key is accepted
// after Reload and not before; an update policy naming a key the file
// lacks makes the reload fail and keeps the keys in force.
func TestServeReloadUpdateKeys(t *testing.T) {
	dir := newDir(t)
	keyFile := filepath.Join(dir, zone.TSIGFile)
	first, err := tsigkey.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	second, err := tsigkey.Generate("second."+origin, tsigkey.HMACSHA256)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Dir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	running(t, s)
	if rc := update(t, s.Addr(), second, "a._device."+origin); rc != dns.RcodeNotAuth {
		t.Fatalf("update with a key not yet in tsig.key: %s, want NOTAUTH", dns.RcodeToString[rc])
	}
	os.Remove(keyFile)
	if err := tsigkey.WriteFile(keyFile, append(first, second)...); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if rc := update(t, s.Addr(), second, "b._device."+origin); rc != dns.RcodeSuccess {
		t.Fatalf("update with the reloaded key: %s", dns.RcodeToString[rc])
	}
	if got := strings.Join(s.UpdateKeys(), " "); !strings.Contains(got, second.Name) {
		t.Errorf("UpdateKeys() = %q after the reload", got)
	}
	// A policy for a key tsig.key does not hold: nothing changes.
	os.WriteFile(filepath.Join(dir, zone.PolicyFile), []byte("nobody."+origin+". _device."+origin+".\n"), 0o600)
	var pe *PolicyKeyError
	if _, err := s.Reload(); !errors.As(err, &pe) {
		t.Fatalf("reload with a policy naming an unknown key: %v", err)
	}
	if rc := update(t, s.Addr(), second, "c._device."+origin); rc != dns.RcodeSuccess {
		t.Fatalf("update after a failed reload: %s", dns.RcodeToString[rc])
	}
	// Keys removed from the file are refused after the next reload.
	os.Remove(filepath.Join(dir, zone.PolicyFile))
	os.Remove(keyFile)
	if err := tsigkey.WriteFile(keyFile, first...); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if rc := update(t, s.Addr(), second, "d._device."+origin); rc != dns.RcodeNotAuth {
		t.Fatalf("update with a key removed from tsig.key: %s, want NOTAUTH", dns.RcodeToString[rc])
	}
}
