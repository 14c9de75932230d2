package verify

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
)

// logRecords parses JSON log lines.
func logRecords(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

// TestCachedRefusalsRateLimited: a client refused again and again from
// the verdict cache costs one log line per name and RefusalLogInterval;
// the next line counts the ones left out. Other names and fresh refusals
// are not held back.
func TestCachedRefusalsRateLimited(t *testing.T) {
	t.Parallel()
	dev := testident.SelfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	dev2 := testident.SelfSigned(t, "sensor2._device.example.test", identity.KeyECDSAP256)
	other := testident.SelfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	other2 := testident.SelfSigned(t, "sensor2._device.example.test", identity.KeyECDSAP256)
	h := dnstest.Start(t, dnstest.Config{Records: []string{
		testident.EELine(t, "sensor1._device.example.test", dev.Key.Public()),
		testident.EELine(t, "sensor2._device.example.test", dev2.Key.Public()),
	}})
	clock := &fakeClock{now: time.Now()}
	var logs bytes.Buffer
	core := newCore(t, Config{
		Resolver: testident.Resolver(t, h, resolver.Config{}),
		Allow:    mustAllow(t, "*._device.example.test"),
		Time:     clock.Now,
		Logger:   slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	ctx := WithPeerAddr(context.Background(), "192.0.2.7:4433")
	bad := Presented{Chain: []*x509.Certificate{other.Cert}}
	bad2 := Presented{Chain: []*x509.Certificate{other2.Cert}}
	for range 50 {
		if _, err := core.Verify(ctx, "sensor1._device.example.test", bad); ReasonOf(err) != ReasonNoMatch {
			t.Fatalf("refusal %v, want no-match", err)
		}
	}
	core.Verify(ctx, "sensor2._device.example.test", bad2)
	core.Verify(ctx, "sensor2._device.example.test", bad2)
	recs := logRecords(t, &logs)
	if len(recs) != 2 {
		t.Fatalf("%d log lines for 50 refusals of one name and 2 of another, want 2 (one per name): %s", len(recs), logs.String())
	}
	for _, r := range recs {
		if r["msg"] != "peer refused" || r["remote"] != "192.0.2.7:4433" || r["cached"] != false || r["suppressed"] != nil {
			t.Errorf("first refusal of a name logged as %v", r)
		}
	}

	// Within the interval, still nothing; past it, one line with the count.
	clock.Advance(RefusalLogInterval - time.Second)
	core.Verify(ctx, "sensor1._device.example.test", bad)
	if n := len(logRecords(t, &logs)); n != 2 {
		t.Fatalf("%d lines before the interval passed, want 2", n)
	}
	clock.Advance(time.Second)
	core.Verify(ctx, "sensor1._device.example.test", bad)
	recs = logRecords(t, &logs)
	if len(recs) != 3 {
		t.Fatalf("%d lines once the interval passed, want 3: %s", len(recs), logs.String())
	}
	if last := recs[2]; last["cached"] != true || last["suppressed"] != float64(50) {
		t.Errorf("the line after the interval is %v, want cached with suppressed=50", last)
	}
}

// TestLogBoundsPeerText: a claimed name the peer made huge does not go
// into the log whole.
func TestLogBoundsPeerText(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	core := newCore(t, Config{
		Resolver: refusingResolver{t},
		Allow:    mustAllow(t, "*._device.example.test"),
		Logger:   slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	huge := strings.Repeat("a", 5000) + "._device.example.test"
	core.Verify(context.Background(), huge, Presented{})
	recs := logRecords(t, &logs)
	if len(recs) != 1 {
		t.Fatalf("%d lines, want 1", len(recs))
	}
	if len(logs.String()) > 2000 {
		t.Fatalf("one refusal wrote %d bytes of log: %.200s...", len(logs.String()), logs.String())
	}
	if name, _ := recs[0]["name"].(string); !strings.Contains(name, "more bytes") {
		t.Errorf("name %.100q is not marked as cut", name)
	}
}

// TestOffListRefusalsRateLimited: names off the allow-list are refused
// without a lookup and never cached, so nothing else slows a peer that
// sends them in a loop. One name sent again and again costs one line per
// RefusalLogInterval (the next counts the ones left out); many names cost
// at most MaxOffListLines lines per interval, and a refusal that cost a
// lookup is logged all the same.
func TestOffListRefusalsRateLimited(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Now()}
	var logs bytes.Buffer
	core := newCore(t, Config{
		Resolver: indeterminateResolver{},
		Allow:    mustAllow(t, "*._device.example.test"),
		Time:     clock.Now,
		Logger:   slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	ctx := WithPeerAddr(context.Background(), "192.0.2.7:4433")
	dev := testident.SelfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	refuse := func(name string, want Reason) {
		t.Helper()
		if _, err := core.Verify(ctx, name, Presented{Chain: []*x509.Certificate{dev.Cert}}); ReasonOf(err) != want {
			t.Fatalf("%s: refusal %v, want %v", name, err, want)
		}
	}
	for range 50 {
		refuse("intruder.example.org", ReasonNotAllowed)
	}
	for range 5 {
		refuse("bad..name", ReasonNameSyntax)
	}
	recs := logRecords(t, &logs)
	if len(recs) != 2 {
		t.Fatalf("%d log lines for 50 refusals of one name off the list and 5 of a bad name, want 2: %s", len(recs), logs.String())
	}
	clock.Advance(RefusalLogInterval)
	refuse("intruder.example.org", ReasonNotAllowed)
	recs = logRecords(t, &logs)
	if len(recs) != 3 || recs[2]["suppressed"] != float64(49) {
		t.Fatalf("after the interval: %d lines, last %v; want 3, the last with suppressed=49", len(recs), recs[len(recs)-1])
	}

	// A flood of names of their own: the cap holds.
	clock.Advance(RefusalLogInterval)
	logs.Reset()
	const flood = 3 * MaxOffListLines
	for i := range flood {
		refuse(fmt.Sprintf("x%d.example.org", i), ReasonNotAllowed)
	}
	if n := len(logRecords(t, &logs)); n != MaxOffListLines {
		t.Fatalf("%d lines for %d names off the list within an interval, want %d", n, flood, MaxOffListLines)
	}
	// An allowed name refused after a lookup is not held back by the cap.
	refuse("sensor1._device.example.test", ReasonDNSIndeterminate)
	recs = logRecords(t, &logs)
	if last := recs[len(recs)-1]; len(recs) != MaxOffListLines+1 || last["reason"] != ReasonDNSIndeterminate.String() {
		t.Fatalf("a refusal after a lookup, with the off-list cap reached: %d lines, last %v", len(recs), last)
	}
	clock.Advance(RefusalLogInterval)
	refuse("late.example.org", ReasonNotAllowed)
	recs = logRecords(t, &logs)
	if last := recs[len(recs)-1]; last["name"] != "late.example.org" || last["suppressed_other_names"] != float64(flood-MaxOffListLines) {
		t.Errorf("the first off-list line of the next interval is %v, want suppressed_other_names=%d", last, flood-MaxOffListLines)
	}
}

// indeterminateResolver answers every lookup with an Indeterminate result.
type indeterminateResolver struct{}

func (indeterminateResolver) Lookup(_ context.Context, name string, _ uint16) (*resolver.Result, error) {
	return &resolver.Result{Name: name, Type: "TLSA", Status: resolver.Indeterminate}, nil
}
