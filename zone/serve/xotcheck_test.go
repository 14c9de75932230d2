package serve

import (
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/zone"
)

// xotFor is an XoT listener for the secondary ns2.ORIGIN with anchors.
func xotFor(t *testing.T, anchors string) *XoTConfig {
	t.Helper()
	cert, key := writeCert(t, t.TempDir(), "xot")
	return &XoTConfig{Listen: "127.0.0.1:0", CertFile: cert, KeyFile: key, Allow: []string{"ns2." + origin}, AnchorsFile: anchors}
}

// TestServeXoTCheckSelf: secondaries looked up on this server need anchors
// that hold the zone's own keys; others are refused by New, before
// anything serves, and by Reload, which keeps the resolver in force.
func TestServeXoTCheckSelf(t *testing.T) {
	elsewhere, wrongKey := otherAnchors(t)
	for _, anchors := range []string{elsewhere, wrongKey} {
		dir := newDir(t)
		s, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", XoT: xotFor(t, anchors)})
		if err == nil {
			s.Close()
			t.Fatalf("anchors %s accepted", anchors)
		}
		var ce *XoTCheckError
		if !errors.As(err, &ce) || !ce.Self || len(ce.Checks) != 1 || ce.Checks[0].Problem != resolver.ProblemNoAnchor {
			t.Fatalf("anchors %s: %v, want an *XoTCheckError with one no-anchor check", anchors, err)
		}
		if !strings.Contains(err.Error(), "must hold this zone's own keys") {
			t.Errorf("error %q does not say what to change", err)
		}
	}

	dir := newDir(t)
	anchors := filepath.Join(t.TempDir(), "anchors")
	good, _ := os.ReadFile(filepath.Join(dir, zone.AnchorsFile))
	os.WriteFile(anchors, good, 0o600)
	s, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", MetricsListen: "127.0.0.1:0", XoT: xotFor(t, anchors)})
	if err != nil {
		t.Fatal(err)
	}
	running(t, s)
	if err := s.Health(); err != nil {
		t.Fatalf("Health: %v", err)
	}
	get(t, "http://"+s.MetricsAddr()+"/healthz", http.StatusOK)
	before := s.xotResolver.r.Load()
	wrong, _ := os.ReadFile(wrongKey)
	os.WriteFile(anchors, wrong, 0o600)
	var ce *XoTCheckError
	if _, err := s.Reload(); !errors.As(err, &ce) {
		t.Fatalf("reload with anchors that do not hold the zone's key: %v, want an *XoTCheckError", err)
	}
	if s.xotResolver.r.Load() != before {
		t.Error("a refused reload replaced the resolver")
	}
	if err := s.Health(); err != nil {
		t.Errorf("a refused reload changed the health: %v", err)
	}
}

// TestServeXoTCheckUnreachable: an upstream for the secondaries that does
// not answer does not stop the server: /healthz says why until it answers.
func TestServeXoTCheckUnreachable(t *testing.T) {
	dir := newDir(t)
	f := startForwarder(t)
	var log lockedBuffer
	x := xotFor(t, "")
	x.Resolver = resolver.Config{Upstreams: []string{f.addr}, QueryTimeout: 200 * time.Millisecond, Attempts: 1, LookupTimeout: time.Second}
	// The retry of the checks is the admin API's (AdminConfig.CheckRetry);
	// without an admin API, the default: the recovery is seen through a
	// reload instead.
	s, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", MetricsListen: "127.0.0.1:0", XoT: x,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f.to.Store(s.Addr())
	if err := s.Health(); !errors.Is(err, errXoTNotChecked) {
		t.Errorf("Health before Run: %v, want not checked yet", err)
	}
	running(t, s)
	waitFor(t, "an unhealthy report", func() bool {
		err := s.Health()
		return err != nil && strings.Contains(err.Error(), "XoT secondaries") && strings.Contains(err.Error(), "unreachable")
	})
	if body := get(t, "http://"+s.MetricsAddr()+"/healthz", http.StatusServiceUnavailable); !strings.Contains(body, "XoT secondaries") {
		t.Errorf("/healthz: %q", body)
	}
	if !strings.Contains(log.String(), "XoT secondaries: DNS check: the resolver did not answer for a zone") {
		t.Errorf("the outage is not logged: %s", log.String())
	}
	f.on.Store(true)
	if _, err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "healthy once the upstream answers", func() bool { return s.Health() == nil })
	get(t, "http://"+s.MetricsAddr()+"/healthz", http.StatusOK)
}
