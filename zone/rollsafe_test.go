package zone

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeParentZone is a fake parent zone: the DS RRset a validating resolver would
// return for the zone, or err when it cannot tell.
type fakeParentZone struct {
	mu    sync.Mutex
	ds    []*dns.DS
	ttl   time.Duration
	err   error
	calls int
}

func (p *fakeParentZone) check(_ context.Context, origin string, key *dns.DNSKEY) (ParentDS, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.err != nil {
		return ParentDS{}, p.err
	}
	if !strings.EqualFold(origin, key.Hdr.Name) {
		return ParentDS{}, errors.New("asked for another zone's key")
	}
	for _, d := range p.ds {
		if DSNamesKey(d, key) {
			return ParentDS{Names: true, TTL: p.ttl}, nil
		}
	}
	return ParentDS{TTL: p.ttl}, nil
}

// fakeParent is a checker with a fixed answer.
func fakeParent(names bool, ttl time.Duration, err error) ParentDSChecker {
	return func(context.Context, string, *dns.DNSKEY) (ParentDS, error) {
		return ParentDS{Names: names, TTL: ttl}, err
	}
}

// activeKeyDNSKEY is the DNSKEY of the zone's active key of role.
func activeKeyDNSKEY(t *testing.T, z *Zone, role KeyRole) *dns.DNSKEY {
	t.Helper()
	for _, k := range z.Keys() {
		if k.Role == role && k.State == "active" {
			ks, err := z.loadKeys([]string{k.File})
			if err != nil {
				t.Fatal(err)
			}
			return ks[0].DNSKEY
		}
	}
	t.Fatalf("no active %s", role)
	return nil
}

// refusedUntil checks that err is a *RolloverWaitError allowing the step
// at want.
func refusedUntil(t *testing.T, what string, err error, want time.Time) {
	t.Helper()
	var we *RolloverWaitError
	if !errors.As(err, &we) || !errors.Is(err, ErrRollover) || !errors.Is(err, ErrRolloverTooEarly) {
		t.Fatalf("%s: %v, want a RolloverWaitError", what, err)
	}
	if !we.Allowed.Equal(want) {
		t.Fatalf("%s: allowed at %v, want %v (%v)", what, we.Allowed, want, err)
	}
}

// TestRolloverTiming: each step is refused one second before the TTLs it
// depends on have passed since the step before, and taken at that time;
// the recorded times survive a restart. The KSK and CSK retire also wait
// for the parent's DS.
func TestRolloverTiming(t *testing.T) {
	for _, tt := range []struct {
		role KeyRole
		opt  InitOptions
	}{{RoleZSK, InitOptions{}}, {RoleKSK, InitOptions{}}, {RoleCSK, InitOptions{CSK: true}}} {
		t.Run(string(tt.role), func(t *testing.T) {
			clock := newClock()
			z, dir := newZoneWith(t, clock, tt.opt)
			if _, err := z.Update(nil, []dns.RR{rr(t, "s1._device.devices.test. 7200 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")}, Policy{}); err != nil {
				t.Fatal(err)
			}
			p := &fakeParentZone{ttl: 3 * time.Hour}
			opt := RolloverOptions{CheckParentDS: p.check}
			step := func(s RolloverStep) (RolloverResult, error) { return z.Rollover(t.Context(), tt.role, s, opt) }
			// refused checks that s is refused and changes nothing.
			refused := func(s RolloverStep) error {
				t.Helper()
				before, keys := z.Serial(), len(z.Keys())
				_, err := step(s)
				if err == nil {
					t.Fatalf("%s taken", s)
				}
				if z.Serial() != before || len(z.Keys()) != keys {
					t.Fatalf("refused %s changed the zone", s)
				}
				return err
			}
			res, err := step(Prepublish)
			if err != nil {
				t.Fatal(err)
			}
			prepublished := clock.Now()
			keyWait := time.Hour + PropagationDelay // DefaultKeyTTL
			if !res.NextAllowed.Equal(prepublished.Add(keyWait)) {
				t.Fatalf("prepublish: next allowed at %v", res.NextAllowed)
			}
			// A restart keeps the time of prepublish.
			z.Close()
			if z, err = Open(dir, Options{Time: clock.Now}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { z.Close() })
			if _, err := step(Retire); !errors.Is(err, ErrRollover) {
				t.Fatalf("retire before activate: %v", err)
			}
			clock.Advance(keyWait - time.Second)
			refusedUntil(t, "activate", refused(Activate), prepublished.Add(keyWait))
			clock.Advance(time.Second)
			if res, err = step(Activate); err != nil || res.Forced {
				t.Fatalf("activate at the time allowed: %v %+v", err, res)
			}
			activated := clock.Now()
			if tt.role == RoleZSK {
				// The TLSA record's 2 hours are the largest TTL.
				retireWait := 2*time.Hour + PropagationDelay
				// Plus the estimated re-signing: milliseconds here.
				if d := res.NextAllowed.Sub(activated.Add(retireWait)); d < 0 || d > time.Second {
					t.Fatalf("activate: next allowed at %v", res.NextAllowed)
				}
				// The re-signing finishes at once on the zone's
				// clock, which stands still meanwhile.
				if err := z.ResignWait(t.Context()); err != nil {
					t.Fatal(err)
				}
				clock.Advance(retireWait - time.Second)
				refusedUntil(t, "retire", refused(Retire), activated.Add(retireWait))
				clock.Advance(time.Second)
				if _, err := step(Retire); err != nil {
					t.Fatal(err)
				}
				if p.calls != 0 {
					t.Fatal("a ZSK retire asked the parent")
				}
				return
			}
			// KSK or CSK: CDS must have propagated first.
			clock.Advance(keyWait - time.Second)
			refusedUntil(t, "retire before CDS propagated", refused(Retire), activated.Add(keyWait))
			if p.calls != 0 {
				t.Fatal("the parent was asked before the wait")
			}
			clock.Advance(time.Second)
			// The parent still has the old DS only.
			newKey := activeKeyDNSKEY(t, z, tt.role)
			oldKey := func() *dns.DNSKEY {
				for _, k := range z.Keys() {
					if k.State == "outgoing" {
						ks, _ := z.loadKeys([]string{k.File})
						return ks[0].DNSKEY
					}
				}
				t.Fatal("no outgoing key")
				return nil
			}()
			p.ds = []*dns.DS{oldKey.ToDS(dns.SHA256)}
			err = refused(Retire)
			var pe *ParentDSError
			if !errors.As(err, &pe) || pe.Unverified || !errors.Is(err, ErrParentDS) || !strings.Contains(pe.DS, strings.Fields(newKey.ToDS(dns.SHA256).String())[7]) {
				t.Fatalf("retire with the old DS at the parent: %v", err)
			}
			// The parent's answer cannot be validated.
			p.err = errors.New("DS answer is bogus")
			if err := refused(Retire); !errors.As(err, &pe) || !pe.Unverified || !strings.Contains(err.Error(), "bogus") {
				t.Fatalf("retire with the parent unverifiable: %v", err)
			}
			// No resolver at all.
			if _, err := z.Rollover(t.Context(), tt.role, Retire, RolloverOptions{}); !errors.As(err, &pe) || !pe.Unverified {
				t.Fatalf("retire without a checker: %v", err)
			}
			// The parent serves the new DS (SHA-384 beside the old
			// one): first seen now, so resolvers may hold the old
			// RRset for its TTL.
			p.err = nil
			p.ds = append(p.ds, newKey.ToDS(dns.SHA384))
			seen := clock.Now()
			dsWait := 3*time.Hour + ParentPropagationDelay
			before := z.Serial()
			_, err = step(Retire)
			refusedUntil(t, "retire when the DS is first seen", err, seen.Add(dsWait))
			if z.Serial() == before {
				t.Fatal("when the parent's DS was seen is not stored")
			}
			z.Close()
			if z, err = Open(dir, Options{Time: clock.Now}); err != nil {
				t.Fatal(err)
			}
			clock.Advance(dsWait - time.Second)
			refusedUntil(t, "retire within the DS TTL", refused(Retire), seen.Add(dsWait))
			clock.Advance(time.Second)
			res, err = step(Retire)
			if err != nil {
				t.Fatal(err)
			}
			if len(z.Keys()) != len(tt.opt.keysWanted()) {
				t.Fatalf("keys after retire: %+v", z.Keys())
			}
			anchors := filepath.Join(dir, AnchorsFile)
			if !strings.Contains(res.Next, "reload validators that use a static copy of "+anchors) {
				t.Fatalf("retire says: %s", res.Next)
			}
			if z.settings.Rollover != nil {
				t.Fatalf("rollover times kept after retire: %+v", z.settings.Rollover)
			}
		})
	}
}

// keysWanted is the number of keys of a zone made with o, as a slice.
func (o InitOptions) keysWanted() []KeyRole {
	if o.CSK {
		return []KeyRole{RoleCSK}
	}
	return []KeyRole{RoleKSK, RoleZSK}
}

// TestRolloverForce: with Force, each step the checks refuse is taken at
// once, and the result says it was forced.
func TestRolloverForce(t *testing.T) {
	for _, role := range []KeyRole{RoleZSK, RoleKSK} {
		t.Run(string(role), func(t *testing.T) {
			z, _ := newZone(t, newClock())
			force := RolloverOptions{Force: true}
			if res, err := z.Rollover(t.Context(), role, Prepublish, force); err != nil || res.Forced {
				t.Fatalf("prepublish: %v %+v", err, res)
			}
			for _, s := range []RolloverStep{Activate, Retire} {
				if _, err := z.Rollover(t.Context(), role, s, RolloverOptions{}); !errors.Is(err, ErrRolloverTooEarly) && !errors.Is(err, ErrParentDS) {
					t.Fatalf("%s without force: %v", s, err)
				}
				res, err := z.Rollover(t.Context(), role, s, force)
				if err != nil || !res.Forced || res.Serial != z.Serial() {
					t.Fatalf("%s with force: %v %+v", s, err, res)
				}
			}
			if len(z.Keys()) != 2 {
				t.Fatalf("keys: %+v", z.Keys())
			}
		})
	}
}

// TestRolloverLegacyTimes: a rollover under way without recorded times (a
// zone of an earlier version) cannot be continued without force.
func TestRolloverLegacyTimes(t *testing.T) {
	clock := newClock()
	z, _ := newZone(t, clock)
	if _, err := z.Rollover(t.Context(), "", Prepublish, RolloverOptions{}); err != nil {
		t.Fatal(err)
	}
	z.wmu.Lock()
	z.settings.Rollover = nil
	z.wmu.Unlock()
	clock.Advance(30 * 24 * time.Hour)
	_, err := z.Rollover(t.Context(), "", Activate, RolloverOptions{})
	var we *RolloverWaitError
	if !errors.As(err, &we) || !we.Since.IsZero() || !strings.Contains(err.Error(), "not recorded") {
		t.Fatalf("activate without a recorded prepublish: %v", err)
	}
	if _, err := z.Rollover(t.Context(), "", Activate, RolloverOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
}

// TestRolloverNextSteps: each step says what the operator must do next.
func TestRolloverNextSteps(t *testing.T) {
	z, dir := newZone(t, newClock())
	anchors := filepath.Join(dir, AnchorsFile)
	force := RolloverOptions{Force: true}
	res, err := z.Rollover(t.Context(), RoleKSK, Prepublish, force)
	if err != nil || !strings.Contains(res.Next, "reload validators that use a static copy of "+anchors) {
		t.Fatalf("prepublish: %v %q", err, res.Next)
	}
	if res, err = z.Rollover(t.Context(), RoleKSK, Activate, force); err != nil {
		t.Fatal(err)
	}
	ds := activeKeyDNSKEY(t, z, RoleKSK).ToDS(dns.SHA256)
	if !strings.Contains(res.Next, "publish this DS at the parent now") || !strings.Contains(strings.ToLower(res.Next), strings.ToLower(ds.Digest)) {
		t.Fatalf("activate: %q (DS %s)", res.Next, ds)
	}
}

// TestDSNamesKey checks the comparison the parent check relies on.
func TestDSNamesKey(t *testing.T) {
	z, _ := newZone(t, newClock())
	k := activeKeyDNSKEY(t, z, RoleKSK)
	other := activeKeyDNSKEY(t, z, RoleZSK)
	good := k.ToDS(dns.SHA256)
	bad := *good
	bad.Digest = strings.Repeat("0", len(good.Digest))
	tag := *good
	tag.KeyTag++
	owner := *good
	owner.Hdr.Name = "other.test."
	for _, tc := range []struct {
		name string
		ds   *dns.DS
		want bool
	}{
		{"sha256", good, true},
		{"sha384", k.ToDS(dns.SHA384), true},
		{"upper-case owner", func() *dns.DS { d := *good; d.Hdr.Name = strings.ToUpper(d.Hdr.Name); return &d }(), true},
		{"wrong digest", &bad, false},
		{"wrong tag", &tag, false},
		{"other owner", &owner, false},
		{"another key", other.ToDS(dns.SHA256), false},
	} {
		if got := DSNamesKey(tc.ds, k); got != tc.want {
			t.Errorf("%s: %v", tc.name, got)
		}
	}
}
