package verify

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestMetricsAndLogs: verdicts are counted by result, lookups timed, the
// resolver's counters exported, and every refusal logged with its reason.
func TestMetricsAndLogs(t *testing.T) {
	t.Parallel()
	dev := testident.SelfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	other := testident.SelfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	h := dnstest.Start(t, dnstest.Config{Records: []string{testident.EELine(t, "sensor1._device.example.test", dev.Key.Public())}})
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	core := newCore(t, Config{
		Resolver:   testident.Resolver(t, h, resolver.Config{}),
		Allow:      mustAllow(t, "*._device.example.test"),
		Registerer: reg,
		Logger:     slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	ctx := context.Background()
	good := Presented{Chain: []*x509.Certificate{dev.Cert}}
	bad := Presented{Chain: []*x509.Certificate{other.Cert}}
	core.Verify(ctx, "sensor1._device.example.test", good)
	core.Verify(ctx, "sensor1._device.example.test", good) // cached
	core.Verify(ctx, "sensor1._device.example.test", bad)
	core.Verify(ctx, "x._device.other.test", good)
	core.VerifyCertificate(ctx, nil)

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	verdicts := map[string]float64{}
	for _, m := range byName["dance_verify_verdicts_total"].GetMetric() {
		verdicts[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
	}
	want := map[string]float64{"ok": 2, "no-match": 1, "not-allowed": 1, "no-credential": 1, "dns-bogus": 0}
	for k, v := range want {
		if verdicts[k] != v {
			t.Errorf("verdicts_total{result=%q} = %v, want %v", k, verdicts[k], v)
		}
	}
	if got := byName["dance_verify_cache_hits_total"].GetMetric()[0].GetCounter().GetValue(); got != 1 {
		t.Errorf("cache hits %v, want 1", got)
	}
	// Two lookups: the first verification and the wrong key (its chain
	// differs, so its verdict is not cached).
	if got := byName["dance_verify_lookup_duration_seconds"].GetMetric()[0].GetHistogram().GetSampleCount(); got != 2 {
		t.Errorf("lookup latency samples %v, want 2", got)
	}
	if got := byName["dance_verify_in_flight"].GetMetric()[0].GetGauge().GetValue(); got != 0 {
		t.Errorf("in flight %v after all returned", got)
	}
	if got := byName["dance_resolver_lookups_total"].GetMetric()[0].GetCounter().GetValue(); got != 2 {
		t.Errorf("resolver lookups %v, want 2", got)
	}
	if _, err := New(Config{Resolver: refusingResolver{t}, Registerer: reg}); err == nil {
		t.Error("a second core registered the same metrics without error")
	}

	var reasons []string
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if r, ok := rec["reason"].(string); ok {
			reasons = append(reasons, r)
			if rec["level"] != "INFO" || rec["error"] == nil {
				t.Errorf("refusal logged as %v", rec)
			}
		} else if rec["msg"] != "peer authenticated" || rec["name"] != "sensor1._device.example.test" {
			t.Errorf("unexpected log record %v", rec)
		}
	}
	if got := strings.Join(reasons, " "); got != "no-match not-allowed no-credential" {
		t.Errorf("logged reasons %q", got)
	}
}
