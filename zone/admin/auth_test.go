package admin

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/verify"
	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/change"
)

func TestParseAuthMode(t *testing.T) {
	for _, m := range []AuthMode{AuthToken, AuthDANE, AuthEither, AuthBoth} {
		got, err := ParseAuthMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseAuthMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	for _, bad := range []string{"", "TOKEN", "none", "any"} {
		if _, err := ParseAuthMode(bad); err == nil {
			t.Errorf("ParseAuthMode(%q) accepted", bad)
		}
	}
}

// TestAuthModes runs every mode against every combination of credentials.
// The DANE identity reaches the handler the way a transport that
// authenticated it hands it over (danetls.ContextWithIdentity); the TLS
// path itself is tested end to end in cmd/dance.
func TestAuthModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "z")
	if _, err := zone.Init(dir, zone.InitOptions{Origin: origin}); err != nil {
		t.Fatal(err)
	}
	z, err := zone.Open(dir, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	const tok = "0123456789abcdef0123456789abcdef"
	admin := &verify.Identity{Name: "laptop._device.ops.devices.test", Kind: identity.KindDevice}
	type creds struct {
		id    bool
		token string // "" none, "good", "bad"
	}
	tests := []struct {
		mode   AuthMode
		creds  creds
		reason string // "" accepted
		by     string
	}{
		{AuthToken, creds{}, RefusedNoToken, ""},
		{AuthToken, creds{token: "good"}, "", "token"},
		{AuthToken, creds{token: "bad"}, RefusedBadToken, ""},
		{AuthToken, creds{id: true}, RefusedNoToken, ""},
		{AuthDANE, creds{}, RefusedNoIdentity, ""},
		{AuthDANE, creds{token: "good"}, RefusedNoIdentity, ""},
		{AuthDANE, creds{id: true}, "", admin.Name},
		{AuthDANE, creds{id: true, token: "bad"}, "", admin.Name},
		{AuthEither, creds{}, RefusedNoCredentials, ""},
		{AuthEither, creds{token: "good"}, "", "token"},
		{AuthEither, creds{token: "bad"}, RefusedBadToken, ""},
		{AuthEither, creds{id: true}, "", admin.Name},
		{AuthEither, creds{id: true, token: "good"}, "", admin.Name + "+token"},
		{AuthBoth, creds{id: true}, RefusedNoToken, ""},
		{AuthBoth, creds{token: "good"}, RefusedNoIdentity, ""},
		{AuthBoth, creds{id: true, token: "bad"}, RefusedBadToken, ""},
		{AuthBoth, creds{id: true, token: "good"}, "", admin.Name + "+token"},
	}
	for _, tt := range tests {
		name := tt.mode.String() + "/id=" + map[bool]string{true: "yes", false: "no"}[tt.creds.id] + "/token=" + tt.creds.token
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			reg := prometheus.NewRegistry()
			h := Handler(Config{Zone: z, Token: tok, Auth: tt.mode, Registry: reg, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			inner := h
			if tt.creds.id {
				inner = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					h.ServeHTTP(w, r.WithContext(danetls.ContextWithIdentity(r.Context(), admin)))
				})
			}
			srv := httptest.NewServer(inner)
			defer srv.Close()
			c := &Client{BaseURL: srv.URL}
			switch tt.creds.token {
			case "good":
				c.Token = tok
			case "bad":
				c.Token = strings.Repeat("x", len(tok))
			}
			_, err := c.Publish(t.Context(), "s1._device.devices.test", []Record{{Type: "TLSA", Data: "3 1 1 " + hash}}, change.Replace)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v\n%s", err, logs.String())
				}
				if !strings.Contains(logs.String(), "by="+tt.by+"\n") {
					t.Errorf("change not logged by %q:\n%s", tt.by, logs.String())
				}
				return
			}
			se, ok := err.(*StatusError)
			if !ok || se.Code != http.StatusUnauthorized || se.Message != "unauthorized" {
				t.Fatalf("got %v, want 401 unauthorized", err)
			}
			if !strings.Contains(logs.String(), "reason="+tt.reason) {
				t.Errorf("refusal not logged with reason %s:\n%s", tt.reason, logs.String())
			}
			// The counter of that reason, and of no other, went up.
			for _, r := range refusalReasons {
				want := 0.0
				if r == tt.reason {
					want = 1
				}
				if got := counter(t, reg, "dance_zone_admin_refused_total", "reason", r); got != want {
					t.Errorf("refused_total{reason=%q} = %v, want %v", r, got, want)
				}
			}
		})
	}
}

// counter returns the value of the counter name{label=value} in reg.
func counter(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, value)
	return 0
}
