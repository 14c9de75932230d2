package admin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dnsbound/dance/zone/change"
)

// TestClientRefusesBadModes: a change without a mode the API knows, a
// remove that carries records, or an import in remove mode never reaches
// the server.
func TestClientRefusesBadModes(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "unexpected", http.StatusTeapot)
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL}
	recs := []Record{{Type: "TLSA", Data: "3 1 1 " + hash}}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"zero mode", func() error { _, err := c.Publish(t.Context(), "s1.devices.test", recs, 0); return err }, "unknown change mode"},
		{"unknown mode", func() error { _, err := c.Publish(t.Context(), "s1.devices.test", recs, change.Remove+1); return err }, "unknown change mode"},
		{"remove with records", func() error { _, err := c.Publish(t.Context(), "s1.devices.test", recs, change.Remove); return err }, "takes no records"},
		{"import remove", func() error {
			_, err := c.Import(t.Context(), strings.NewReader(""), ImportOptions{Mode: change.Remove})
			return err
		}, "want add or replace"},
		{"import format", func() error {
			_, err := c.Import(t.Context(), strings.NewReader(""), ImportOptions{Format: CSV + 1})
			return err
		}, "unknown import format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the server", n)
	}
}

// TestClientContext: a cancelled context stops a request before it is
// answered.
func TestClientContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	defer close(release)
	c := &Client{BaseURL: srv.URL}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Info(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Info with a cancelled context: %v", err)
	}
}
