package resolver_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/resolver"
)

// TestCheckZones: each configuration that cannot validate the zones is
// named for what to change, an unreachable upstream for what it is, and a
// good one passes, names of one zone checked together.
func TestCheckZones(t *testing.T) {
	names := []string{"_device.example.test.", "dev1._device.example.test.", "nope._device.example.test"}
	other, err := resolver.ParseAnchorsString("other.test. IN DS 1 13 2 " + strings.Repeat("AB", 32))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		zones map[string]dnstest.ZoneOptions
		setAD bool
		mod   func(*resolver.Config)
		want  resolver.Problem
		ede   resolver.EDE // checked when not 0
	}{
		{name: "secure", want: resolver.ProblemNone},
		{name: "root keys only: the hierarchy's root is not the anchor", mod: func(c *resolver.Config) { c.Anchors = nil }, want: resolver.ProblemNoAnchor},
		{name: "no anchor covers the zone", mod: func(c *resolver.Config) { c.Anchors = other }, want: resolver.ProblemNoAnchor},
		{name: "unsigned delegation", zones: map[string]dnstest.ZoneOptions{dnstest.Device: {Fault: dnstest.MissingDS}}, want: resolver.ProblemInsecure},
		{name: "signatures stripped", zones: map[string]dnstest.ZoneOptions{dnstest.Device: {Fault: dnstest.StripSignatures}}, want: resolver.ProblemNoSignatures, ede: resolver.EDERRSIGsMissing},
		{name: "expired signatures", zones: map[string]dnstest.ZoneOptions{dnstest.Device: {Fault: dnstest.ExpiredSignatures}}, want: resolver.ProblemBogus, ede: resolver.EDESignatureExpired},
		{name: "DS names another key", zones: map[string]dnstest.ZoneOptions{dnstest.Device: {Fault: dnstest.MismatchedDS}}, want: resolver.ProblemBogus},
		{name: "trust-ad, upstream does not validate", mod: func(c *resolver.Config) { c.TrustAD = true }, want: resolver.ProblemNotValidated},
		{name: "trust-ad, upstream validates", setAD: true, mod: func(c *resolver.Config) { c.TrustAD = true; c.Anchors = nil }, want: resolver.ProblemNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := dnstest.Start(t, dnstest.Config{Zones: tt.zones, SetAD: tt.setAD})
			r := newResolver(t, h, tt.mod)
			got := r.CheckZones(context.Background(), names)
			if len(got) != 1 {
				t.Fatalf("%d zones, want one: %+v", len(got), got)
			}
			c := got[0]
			if c.Zone != dnstest.Device || len(c.Names) != len(names) {
				t.Fatalf("zone %s with %v, want %s with all names", c.Zone, c.Names, dnstest.Device)
			}
			if c.Problem != tt.want {
				t.Fatalf("problem %v (status %v, %v), want %v", c.Problem, c.Status, c.Reason, tt.want)
			}
			if tt.want == resolver.ProblemNone {
				if c.Status != resolver.Secure || c.Err() != nil || !c.OK() {
					t.Fatalf("secure zone reported as %v, %v", c.Status, c.Err())
				}
				return
			}
			if c.Reason == nil || c.Err() == nil || !strings.Contains(c.Err().Error(), tt.want.String()) {
				t.Fatalf("problem without a reason or error: %+v, %v", c, c.Err())
			}
			if tt.ede != 0 && c.Reason.Code != tt.ede {
				t.Errorf("reason %v, want EDE %d", c.Reason, tt.ede)
			}
		})
	}
}

// TestCheckZonesSeveral: names in different zones get one check each, in
// the order they came.
func TestCheckZonesSeveral(t *testing.T) {
	h := dnstest.Start(t, dnstest.Config{Zones: map[string]dnstest.ZoneOptions{dnstest.Device: {Fault: dnstest.WrongKey}}})
	r := newResolver(t, h, nil)
	got := r.CheckZones(context.Background(), []string{"www.example.test", "dev1._device.example.test", "example.test"})
	if len(got) != 2 || got[0].Zone != dnstest.Zone || got[1].Zone != dnstest.Device || len(got[0].Names) != 2 {
		t.Fatalf("got %+v", got)
	}
	if !got[0].OK() || got[1].Problem != resolver.ProblemBogus {
		t.Fatalf("example.test %v, _device %v: want ok and bogus", got[0].Problem, got[1].Problem)
	}
}

// TestCheckZonesUnreachable: an upstream that does not answer is a
// passing problem, not the configuration's.
func TestCheckZonesUnreachable(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close() // nothing listens there now: queries are refused at once
	h := dnstest.Start(t, dnstest.Config{})
	r := newResolver(t, h, func(c *resolver.Config) {
		c.Upstreams = []string{addr}
		c.Attempts = 1
		c.QueryTimeout = 5 * time.Second
	})
	got := r.CheckZones(context.Background(), []string{"dev1._device.example.test"})
	if len(got) != 1 || got[0].Problem != resolver.ProblemUnreachable || got[0].Reason == nil {
		t.Fatalf("got %+v", got)
	}
}

// TestCheckZonesUnbound: the same checks through a real validating
// Unbound, as an operator points dance at it.
func TestCheckZonesUnbound(t *testing.T) {
	env := dnstest.StartReal(t)
	anchors, err := resolver.ParseAnchorsString(env.Anchor)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		anchors *resolver.Anchors
		trustAD bool
		zone    string
		want    resolver.Problem
	}{
		{"with the zone's anchor", anchors, false, dnstest.Device, resolver.ProblemNone},
		{"root keys only, a private zone", nil, false, dnstest.Device, resolver.ProblemNoAnchor},
		{"trusting Unbound's AD bit", nil, true, dnstest.Device, resolver.ProblemNone},
		{"unsigned delegation", anchors, false, dnstest.Unsigned, resolver.ProblemInsecure},
		{"DS of another key", anchors, false, dnstest.Broken, resolver.ProblemBogus},
		{"DS of another key, Unbound's verdict", nil, true, dnstest.Broken, resolver.ProblemBogus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := resolver.New(resolver.Config{Upstreams: []string{env.UnboundAddr}, Anchors: tt.anchors, TrustAD: tt.trustAD})
			if err != nil {
				t.Fatal(err)
			}
			got := r.CheckZones(context.Background(), []string{"dev1." + tt.zone})
			if len(got) != 1 || got[0].Zone != tt.zone || got[0].Problem != tt.want {
				t.Fatalf("got %+v (reason %v), want %s: %v", got, got[0].Reason, tt.zone, tt.want)
			}
		})
	}
}
