package admin

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/httplimit"
	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/change"
)

// TestImportUnderServerLimits serves the API as dance zone serve does,
// under a server's limits (internal/httplimit), made small: an import runs
// past the request totals and the body limit while its input keeps coming,
// and an ordinary request over the body limit gets 413.
func TestImportUnderServerLimits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "z")
	if _, err := zone.Init(dir, zone.InitOptions{Origin: origin}); err != nil {
		t.Fatal(err)
	}
	z, err := zone.Open(dir, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	l := httplimit.Limits{ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, MaxBodyBytes: 4 << 10}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := l.Server(Handler(Config{Zone: z, Token: "tok"}))
	done := make(chan struct{})
	go func() { srv.Serve(l.Listener(ln, nil)); close(done) }()
	defer func() { srv.Close(); <-done }()
	c := &Client{BaseURL: "http://" + ln.Addr().String(), Token: "tok"}

	// Seven parts a second apart: longer than ReadTimeout in all, each
	// part well within it (five times over, for a loaded machine), and
	// over 100 times the body limit.
	const parts, perPart = 7, 1000
	pr, pw := io.Pipe()
	go func() {
		for p := 0; p < parts; p++ {
			var b strings.Builder
			for i := 0; i < perPart; i++ {
				fmt.Fprintf(&b, "d%d-%d._device.devices.test,TLSA,3 1 1 %064x\n", p, i, i)
			}
			if _, err := io.WriteString(pw, b.String()); err != nil {
				return
			}
			time.Sleep(time.Second)
		}
		pw.Close()
	}()
	start := time.Now()
	last, err := c.Import(t.Context(), pr, ImportOptions{Format: CSV})
	if err != nil || last.Error != "" || last.Applied != parts*perPart {
		t.Fatalf("import: %+v %v", last, err)
	}
	if time.Since(start) < l.ReadTimeout {
		t.Fatalf("the import took %s, not longer than the read total; the test proves nothing", time.Since(start))
	}
	// An ordinary request is held to the body limit.
	var recs []Record
	for i := 0; i < 100; i++ {
		recs = append(recs, Record{Type: "TLSA", Data: fmt.Sprintf("3 1 1 %064x", i)})
	}
	_, err = c.Publish(t.Context(), "big._device.devices.test", recs, change.Add)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("put over the body limit: %v, want 413", err)
	}
}
