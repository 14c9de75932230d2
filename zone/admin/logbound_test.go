package admin

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/dnsbound/dance/zone"
)

// TestRefusedRequestLogBounded: a refused request's path goes into the
// log cut to a bounded length, in one line.
func TestRefusedRequestLogBounded(t *testing.T) {
	var logs bytes.Buffer
	_, _, srv, _ := newAPIWith(t, zone.InitOptions{}, slog.New(slog.NewTextHandler(&logs, nil)))
	path := "/v1/" + strings.Repeat("x", 20000)
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", resp.StatusCode)
	}
	out := logs.String()
	if n := strings.Count(out, "admin request refused"); n != 1 {
		t.Fatalf("%d refusal lines, want 1: %.300s", n, out)
	}
	if len(out) > 2000 || !strings.Contains(out, "more bytes") {
		t.Fatalf("refusal line of %d bytes, want the path cut: %.300s", len(out), out)
	}
}
