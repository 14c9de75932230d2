package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestRolloverAPITiming: the API refuses a step taken before the TTLs it
// depends on have passed (409, with when it becomes allowed), and a KSK
// retire the parent's DS does not allow; force=true takes them; each step
// says what to do next.
func TestRolloverAPITiming(t *testing.T) {
	clock := &testClock{t: time.Now().Truncate(time.Second)}
	dir := filepath.Join(t.TempDir(), "z")
	if _, err := zone.Init(dir, zone.InitOptions{Origin: origin, Time: clock.Now}); err != nil {
		t.Fatal(err)
	}
	z, err := zone.Open(dir, zone.Options{Time: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	var parentErr error
	parentHas := false
	checker := func(_ context.Context, _ string, _ *dns.DNSKEY) (zone.ParentDS, error) {
		return zone.ParentDS{Names: parentHas, TTL: time.Hour}, parentErr
	}
	srv := httptest.NewServer(Handler(Config{Zone: z, Token: "t", CheckParentDS: checker}))
	t.Cleanup(srv.Close)
	c := &Client{BaseURL: srv.URL, Token: "t"}
	refused := func(what string, role zone.KeyRole, step zone.RolloverStep, wantAllowed time.Time, wantMsg string) {
		t.Helper()
		before := z.Serial()
		q := "step=" + string(step) + "&key=" + string(role)
		code, body := post(t, c, srv.URL+"/v1/keys/rollover?"+q)
		var res rolloverRefusal
		if code != http.StatusConflict || json.Unmarshal(body, &res) != nil || !strings.Contains(res.Error, wantMsg) {
			t.Fatalf("%s: %d %s", what, code, body)
		}
		if !wantAllowed.IsZero() && (res.Allowed == nil || !res.Allowed.Equal(wantAllowed)) {
			t.Fatalf("%s: allowed %v, want %v", what, res.Allowed, wantAllowed)
		}
		// Only the first sight of the parent's DS is stored.
		if z.Serial() != before && wantMsg != "first seen" {
			t.Fatalf("%s: the zone changed", what)
		}
	}
	res, err := c.Rollover(t.Context(), zone.RoleZSK, zone.Prepublish, RolloverOptions{})
	if err != nil || res.NextAllowed == nil || !strings.Contains(res.Next, "activate it at") {
		t.Fatalf("zsk prepublish: %v %+v", err, res)
	}
	allowed := clock.Now().Add(time.Hour + zone.PropagationDelay)
	if !res.NextAllowed.Equal(allowed) {
		t.Fatalf("next allowed %v, want %v", res.NextAllowed, allowed)
	}
	refused("zsk activate at once", zone.RoleZSK, zone.Activate, allowed, "refused until")
	clock.Add(time.Hour + zone.PropagationDelay)
	if res, err = c.Rollover(t.Context(), zone.RoleZSK, zone.Activate, RolloverOptions{}); err != nil || res.Forced {
		t.Fatalf("zsk activate in time: %v %+v", err, res)
	}
	// The zone is signed again with the new ZSK in the background, and
	// the serial moves when that has finished.
	if err := z.ResignWait(t.Context()); err != nil {
		t.Fatal(err)
	}
	refused("zsk retire at once", zone.RoleZSK, zone.Retire, clock.Now().Add(time.Hour+zone.PropagationDelay), "largest TTL")
	if res, err = c.Rollover(t.Context(), zone.RoleZSK, zone.Retire, RolloverOptions{Force: true}); err != nil || !res.Forced {
		t.Fatalf("zsk retire forced: %v %+v", err, res)
	}
	// A bad force value changes nothing.
	if code, body := post(t, c, srv.URL+"/v1/keys/rollover?step=prepublish&key=ksk&force=perhaps"); code != http.StatusBadRequest {
		t.Fatalf("force=perhaps: %d %s", code, body)
	}
	// KSK: the parent's DS decides the retire.
	if _, err = c.Rollover(t.Context(), zone.RoleKSK, zone.Prepublish, RolloverOptions{}); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Hour + zone.PropagationDelay)
	if res, err = c.Rollover(t.Context(), zone.RoleKSK, zone.Activate, RolloverOptions{}); err != nil || !strings.Contains(res.Next, "publish this DS at the parent now") {
		t.Fatalf("ksk activate: %v %+v", err, res)
	}
	clock.Add(time.Hour + zone.PropagationDelay)
	refused("ksk retire, old DS at the parent", zone.RoleKSK, zone.Retire, time.Time{}, "does not name the new key")
	parentErr = errors.New("parent unreachable")
	refused("ksk retire, parent unreachable", zone.RoleKSK, zone.Retire, time.Time{}, "parent unreachable")
	parentErr, parentHas = nil, true
	refused("ksk retire, new DS first seen", zone.RoleKSK, zone.Retire, clock.Now().Add(time.Hour+zone.ParentPropagationDelay), "first seen")
	clock.Add(time.Hour + zone.ParentPropagationDelay)
	if res, err = c.Rollover(t.Context(), zone.RoleKSK, zone.Retire, RolloverOptions{}); err != nil || res.Forced || !strings.Contains(res.Next, "reload validators that use a static copy of") {
		t.Fatalf("ksk retire: %v %+v", err, res)
	}
}
