package serve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/admin"
)

// daneAdmin is an admin API for DANE administrators below _admin.ORIGIN;
// the update key may not write there.
func daneAdmin(t *testing.T, dir string, allow ...string) *AdminConfig {
	t.Helper()
	cert, key := writeCert(t, t.TempDir(), "admin")
	os.WriteFile(filepath.Join(dir, zone.PolicyFile), []byte("update."+origin+". _device."+origin+".\n"), 0o600)
	if len(allow) == 0 {
		allow = []string{"*._admin." + origin}
	}
	return &AdminConfig{Listen: "127.0.0.1:0", CertFile: cert, KeyFile: key, Auth: admin.AuthDANE, Allow: allow}
}

// otherAnchors writes the anchors of another zone, and those anchors
// renamed to this zone's origin (a key that is not the zone's), and
// returns both files.
func otherAnchors(t *testing.T) (elsewhere, wrongKey string) {
	t.Helper()
	odir := filepath.Join(t.TempDir(), "other")
	if _, err := zone.Init(odir, zone.InitOptions{Origin: "other.test"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(odir, zone.AnchorsFile))
	if err != nil {
		t.Fatal(err)
	}
	files := t.TempDir()
	elsewhere, wrongKey = filepath.Join(files, "elsewhere"), filepath.Join(files, "wrongkey")
	os.WriteFile(elsewhere, b, 0o600)
	os.WriteFile(wrongKey, []byte(strings.ReplaceAll(string(b), "other.test.", origin+".")), 0o600)
	return elsewhere, wrongKey
}

// TestServeAdminCheckSelf: with no resolver of their own, the
// administrators' records are asked of this server, which can validate
// only names of its zone with anchors holding its own keys. An allow-list
// or anchors that cannot work are refused by New, saying what to change;
// before, the server started and refused every administrator.
func TestServeAdminCheckSelf(t *testing.T) {
	elsewhere, wrongKey := otherAnchors(t)
	tests := []struct {
		name    string
		allow   []string
		anchors string
		want    resolver.Problem // ProblemNone: an *AdminOutsideZoneError
		outside bool
	}{
		{name: "allow-list outside the zone", allow: []string{"*._admin.other.test"}, outside: true},
		{name: "one name outside the zone", allow: []string{"*._admin." + origin, "ops.example.org"}, outside: true},
		{name: "anchors of another zone", anchors: elsewhere, want: resolver.ProblemNoAnchor},
		{name: "anchors with a key that is not the zone's", anchors: wrongKey, want: resolver.ProblemNoAnchor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newDir(t)
			a := daneAdmin(t, dir, tt.allow...)
			a.AnchorsFile = tt.anchors
			s, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", Admin: a})
			if err == nil {
				s.Close()
				t.Fatal("accepted")
			}
			var oe *AdminOutsideZoneError
			var ce *AdminCheckError
			switch {
			case tt.outside:
				if !errors.As(err, &oe) || !strings.Contains(err.Error(), "give the admin identities a resolver") {
					t.Fatalf("error %v, want an *AdminOutsideZoneError saying what to change", err)
				}
			case !errors.As(err, &ce):
				t.Fatalf("error %v, want an *AdminCheckError", err)
			case !ce.Self || len(ce.Checks) != 1 || ce.Checks[0].Problem != tt.want:
				t.Fatalf("error %v: self %v, checks %+v; want one check with %v", err, ce.Self, ce.Checks, tt.want)
			case !strings.Contains(err.Error(), "must hold this zone's own keys"):
				t.Errorf("error %q does not say what to change", err)
			}
		})
	}
	// The default anchors, DIR/anchors, are the zone's own: it starts,
	// healthy, and stays so on a reload.
	dir := newDir(t)
	s, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", MetricsListen: "127.0.0.1:0", Admin: daneAdmin(t, dir)})
	if err != nil {
		t.Fatal(err)
	}
	running(t, s)
	if err := s.Health(); err != nil {
		t.Fatalf("Health: %v", err)
	}
	if body := get(t, "http://"+s.MetricsAddr()+"/healthz", http.StatusOK); body != "ok\n" {
		t.Errorf("/healthz: %q", body)
	}
	if _, err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := s.Health(); err != nil {
		t.Fatalf("Health after a reload: %v", err)
	}
}

// TestServeAdminCheckReload: a reload whose anchors cannot validate the
// administrators' zone is refused, and the resolver in force stays.
func TestServeAdminCheckReload(t *testing.T) {
	dir := newDir(t)
	_, wrongKey := otherAnchors(t)
	anchors := filepath.Join(t.TempDir(), "anchors")
	b, _ := os.ReadFile(filepath.Join(dir, zone.AnchorsFile))
	os.WriteFile(anchors, b, 0o600)
	a := daneAdmin(t, dir)
	a.AnchorsFile = anchors
	s, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", Admin: a})
	if err != nil {
		t.Fatal(err)
	}
	running(t, s)
	before := s.adminResolver.r.Load()
	wrong, _ := os.ReadFile(wrongKey)
	os.WriteFile(anchors, wrong, 0o600)
	var ce *AdminCheckError
	if _, err := s.Reload(); !errors.As(err, &ce) {
		t.Fatalf("reload with anchors that do not hold the zone's key: %v, want an *AdminCheckError", err)
	}
	if s.adminResolver.r.Load() != before {
		t.Error("a refused reload replaced the resolver")
	}
	if err := s.Health(); err != nil {
		t.Errorf("a refused reload changed the health: %v", err)
	}
}

// forwarder is an upstream for the admin identities: it passes queries to
// the zone server when on, drops them when off, and can strip the
// signatures from the answers (as some resolvers do).
type forwarder struct {
	to          atomic.Value // string
	on, strip   atomic.Bool
	addr        string
	srv         *dns.Server
	forwardings atomic.Int64
}

func startForwarder(t *testing.T) *forwarder {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{addr: pc.LocalAddr().String()}
	f.srv = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		to, _ := f.to.Load().(string)
		if !f.on.Load() || to == "" {
			return
		}
		f.forwardings.Add(1)
		c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
		r, _, err := c.Exchange(q, to)
		if err != nil {
			return
		}
		if f.strip.Load() {
			for _, sec := range []*[]dns.RR{&r.Answer, &r.Ns} {
				var kept []dns.RR
				for _, rr := range *sec {
					if rr.Header().Rrtype != dns.TypeRRSIG {
						kept = append(kept, rr)
					}
				}
				*sec = kept
			}
		}
		w.WriteMsg(r)
	})}
	started := make(chan struct{})
	f.srv.NotifyStartedFunc = func() { close(started) }
	go f.srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { f.srv.Shutdown() })
	return f
}

// upstreamAdmin is daneAdmin with the upstream f, quick to give up.
func upstreamAdmin(t *testing.T, dir string, f *forwarder) *AdminConfig {
	a := daneAdmin(t, dir)
	a.Resolver = resolver.Config{Upstreams: []string{f.addr}, QueryTimeout: 200 * time.Millisecond, Attempts: 1, LookupTimeout: time.Second}
	a.CheckRetry = 50 * time.Millisecond
	return a
}

// TestServeAdminCheckUnreachable: an upstream that does not answer does
// not stop the server: it starts, says why it is unhealthy (Health,
// /healthz 503, an error in the log), checks again, and is healthy once
// the upstream answers.
func TestServeAdminCheckUnreachable(t *testing.T) {
	dir := newDir(t)
	f := startForwarder(t)
	var log lockedBuffer
	s, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", MetricsListen: "127.0.0.1:0", Admin: upstreamAdmin(t, dir, f),
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f.to.Store(s.Addr())
	if err := s.Health(); !errors.Is(err, errNotChecked) {
		t.Errorf("Health before Run: %v, want not checked yet", err)
	}
	running(t, s)
	waitFor(t, "an unhealthy report", func() bool {
		err := s.Health()
		return err != nil && strings.Contains(err.Error(), "unreachable")
	})
	if body := get(t, "http://"+s.MetricsAddr()+"/healthz", http.StatusServiceUnavailable); !strings.Contains(body, "unreachable") {
		t.Errorf("/healthz: %q", body)
	}
	if !strings.Contains(log.String(), "admin identities: DNS check: the resolver did not answer for a zone") {
		t.Errorf("the outage is not logged: %s", log.String())
	}
	f.on.Store(true)
	waitFor(t, "healthy once the upstream answers", func() bool { return s.Health() == nil })
	get(t, "http://"+s.MetricsAddr()+"/healthz", http.StatusOK)
	if !strings.Contains(log.String(), "admin identities: DNS check: the zones validate again") {
		t.Errorf("the recovery is not logged: %s", log.String())
	}
}

// TestServeAdminCheckStripped: an upstream that answers without
// signatures can never validate the administrators: Run stops with an
// *AdminCheckError once it has asked it.
func TestServeAdminCheckStripped(t *testing.T) {
	dir := newDir(t)
	f := startForwarder(t)
	f.on.Store(true)
	f.strip.Store(true)
	s, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", Admin: upstreamAdmin(t, dir, f)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f.to.Store(s.Addr())
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	select {
	case err := <-done:
		var ce *AdminCheckError
		if !errors.As(err, &ce) || ce.Self || ce.Checks[0].Problem != resolver.ProblemNoSignatures {
			t.Fatalf("Run: %v, want an *AdminCheckError for an upstream without signatures", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run still runs with an upstream that strips signatures")
	}
	if f.forwardings.Load() == 0 {
		t.Error("the upstream was never asked")
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
