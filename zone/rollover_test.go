package zone

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/resolver"
)

// sigTags returns the key tags of the RRSIGs over type t in rrs.
func sigTags(rrs []dns.RR, t uint16) []uint16 {
	var out []uint16
	for _, r := range rrs {
		if s, ok := r.(*dns.RRSIG); ok && s.TypeCovered == t {
			out = append(out, s.KeyTag)
		}
	}
	return out
}

func TestRollover(t *testing.T) {
	clock := newClock()
	z, dir := newCSKZone(t, clock)
	if _, err := z.Update(nil, []dns.RR{rr(t, "s1._device.devices.test. 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")}, Policy{}); err != nil {
		t.Fatal(err)
	}
	oldTag := z.Keys()[0].Tag
	oldDS := z.Keys()[0].DS
	current := func() *Zone { return z }
	// A validator anchored at the DS of before, caching across the steps.
	cached := validator(t, current, clock, oldDS)
	secure := func(step string, r *resolver.Resolver) {
		t.Helper()
		if s := lookupStatus(t, r); s != resolver.Secure {
			t.Errorf("%s: %v", step, s)
		}
	}
	secure("before", cached)
	query := func(name string, qt uint16) []dns.RR {
		a, err := z.Query(name, qt, QueryOptions{DNSSEC: true})
		if err != nil {
			t.Fatal(err)
		}
		return a.Answer
	}
	anchors := func() string {
		b, err := os.ReadFile(filepath.Join(dir, AnchorsFile))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if _, err := z.Rollover(t.Context(), "", Activate, RolloverOptions{}); !errors.Is(err, ErrRollover) {
		t.Fatalf("activate first: %v", err)
	}
	// Pre-publish: two DNSKEYs, everything still signed by the old key.
	s0 := z.Serial()
	if _, err := z.Rollover(t.Context(), "", Prepublish, RolloverOptions{}); err != nil {
		t.Fatal(err)
	}
	ks := z.Keys()
	if len(ks) != 2 || ks[1].State != "incoming" {
		t.Fatalf("keys after prepublish: %+v", ks)
	}
	newTag := ks[1].Tag
	if z.Serial() == s0 || len(z.Get(origin, dns.TypeDNSKEY)) != 2 {
		t.Fatal("DNSKEY RRset not extended")
	}
	if got := sigTags(query("s1._device.devices.test.", dns.TypeTLSA), dns.TypeTLSA); len(got) != 2 || !slices.Contains(got, oldTag) {
		t.Fatalf("TLSA signed by %v, want both keys", got)
	}
	if cds := z.Get(origin, dns.TypeCDS); len(cds) != 1 || cds[0].(*dns.CDS).KeyTag != oldTag {
		t.Fatalf("CDS moved before activation: %v", cds)
	}
	if strings.Count(anchors(), "DNSKEY") != 2 {
		t.Fatalf("anchors:\n%s", anchors())
	}
	rrs, err := z.Transfer()
	if err != nil {
		t.Fatal(err)
	}
	// kzonecheck before Knot 3.4 reports "no valid signature for a
	// record" (on one RRset, a different one from run to run) while two
	// CSKs are published, although every RRset carries a valid signature
	// by each (checked here by the two other verifiers and by
	// verifyAllKeys). Its validation derives key roles from the DNSKEY
	// RRset alone and takes a key with flags 257 for a CSK only when it
	// is the only DNSKEY; two of them count as two KSKs, which may sign
	// only DNSKEY, CDS and CDNSKEY, so no key may sign anything else.
	// Knot 3.4.0 fixed this ("dnssec/validation: fix validation of two
	// CSKs"). kzonecheck runs on the single-key states, and on every
	// state of the KSK and ZSK rollovers (TestRolloverSplit).
	checkWith(t, writeZoneFile(t, rrs), true, false)
	verifyAllKeys(t, z, rrs)
	secure("prepublish, old DS", validator(t, current, clock, oldDS))
	secure("prepublish, cached", cached)
	if _, err := z.Rollover(t.Context(), "", Prepublish, RolloverOptions{}); !errors.Is(err, ErrRollover) {
		t.Fatalf("second prepublish: %v", err)
	}
	// Activate: CDS points at the new key; both keys still sign. (The
	// waits are TestRolloverTiming's; here the states are checked.)
	if _, err := z.Rollover(t.Context(), "", Activate, RolloverOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if got := sigTags(query(origin, dns.TypeDNSKEY), dns.TypeDNSKEY); len(got) != 2 {
		t.Fatalf("DNSKEY signed by %v, want both", got)
	}
	if cds := z.Get(origin, dns.TypeCDS); len(cds) != 1 || cds[0].(*dns.CDS).KeyTag != newTag {
		t.Fatalf("CDS %v", cds)
	}
	if rrs, err = z.Transfer(); err != nil {
		t.Fatal(err)
	}
	checkWith(t, writeZoneFile(t, rrs), true, false)
	verifyAllKeys(t, z, rrs)
	secure("activate, old DS", validator(t, current, clock, oldDS))
	secure("activate, cached", cached)
	newDS := z.Get(origin, dns.TypeCDS)[0].(*dns.CDS).DS
	newDS.Hdr.Rrtype = dns.TypeDS
	secure("activate, new DS", validator(t, current, clock, newDS.String()))
	// Retire: one DNSKEY; the new key alone signs.
	if _, err := z.Rollover(t.Context(), "", Retire, RolloverOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	dk := z.Get(origin, dns.TypeDNSKEY)
	if len(dk) != 1 || dk[0].(*dns.DNSKEY).KeyTag() != newTag {
		t.Fatalf("DNSKEY after retire: %v", dk)
	}
	if got := sigTags(query("s1._device.devices.test.", dns.TypeTLSA), dns.TypeTLSA); len(got) != 1 || got[0] != newTag {
		t.Fatalf("TLSA signed by %v after retire, want %d", got, newTag)
	}
	if strings.Count(anchors(), "DNSKEY") != 1 {
		t.Fatalf("anchors after retire:\n%s", anchors())
	}
	rrs, err = z.Transfer()
	if err != nil {
		t.Fatal(err)
	}
	checkWith(t, writeZoneFile(t, rrs), true, true)
	secure("retire, new DS", validator(t, current, clock, newDS.String()))
	if s := lookupStatus(t, validator(t, current, clock, oldDS)); s != resolver.Bogus {
		t.Errorf("retire: the old DS still validates (%v)", s)
	}
	// The state survives a restart.
	z.Close()
	z2, err := Open(dir, Options{Time: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer z2.Close()
	a, err := z2.Query("s1._device.devices.test.", dns.TypeTLSA, QueryOptions{DNSSEC: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := sigTags(a.Answer, dns.TypeTLSA); len(got) != 1 || got[0] != newTag {
		t.Fatalf("after reopen, TLSA signed by %v", got)
	}
	verifyAll(t, z2, a.Answer)
}

// verifyAllKeys checks that every RRSIG in rrs verifies with the DNSKEY of
// its key tag over the RRset it covers.
func verifyAllKeys(t *testing.T, z *Zone, rrs []dns.RR) {
	t.Helper()
	byTag := map[uint16]*dns.DNSKEY{}
	for _, k := range z.Get(origin, dns.TypeDNSKEY) {
		byTag[k.(*dns.DNSKEY).KeyTag()] = k.(*dns.DNSKEY)
	}
	n := 0
	for _, r := range rrs {
		sig, ok := r.(*dns.RRSIG)
		if !ok {
			continue
		}
		var set []dns.RR
		for _, o := range rrs {
			if o.Header().Rrtype == sig.TypeCovered && strings.EqualFold(o.Header().Name, sig.Hdr.Name) {
				set = append(set, o)
			}
		}
		if sig.TypeCovered == dns.TypeSOA {
			set = set[:1] // the transfer repeats the SOA at its end
		}
		k := byTag[sig.KeyTag]
		if k == nil {
			t.Fatalf("RRSIG by unknown key %d", sig.KeyTag)
		}
		if err := sig.Verify(k, set); err != nil {
			t.Fatalf("RRSIG %s %s by %d: %v", sig.Hdr.Name, dns.TypeToString[sig.TypeCovered], sig.KeyTag, err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no signatures")
	}
}

// zoneExchange answers resolver queries from the zone zf returns, as the
// server would.
func zoneExchange(zf func() *Zone) func(context.Context, *dns.Msg) (*dns.Msg, error) {
	return func(_ context.Context, q *dns.Msg) (*dns.Msg, error) {
		z := zf()
		if len(q.Question) != 1 {
			return nil, errors.New("want one question")
		}
		do := q.IsEdns0() != nil && q.IsEdns0().Do()
		a, err := z.Query(q.Question[0].Name, q.Question[0].Qtype, QueryOptions{DNSSEC: do})
		if err != nil {
			return nil, err
		}
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		m.Rcode = a.Rcode
		m.Answer, m.Ns = a.Answer, a.Ns
		if q.IsEdns0() != nil {
			m.SetEdns0(1232, do)
		}
		return m, nil
	}
}

// validator is a validating resolver anchored at ds (the parent's DS
// records), asking the zone zf returns, at the zone's clock.
func validator(t *testing.T, zf func() *Zone, clock *fakeClock, ds ...string) *resolver.Resolver {
	t.Helper()
	a, err := resolver.ParseAnchorsString(strings.Join(ds, "\n") + "\n")
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{Exchange: zoneExchange(zf), Anchors: a, Time: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// lookupStatus is the validation status of the identity record.
func lookupStatus(t *testing.T, r *resolver.Resolver) resolver.Status {
	t.Helper()
	res, err := r.Lookup(context.Background(), "s1._device.devices.test.", dns.TypeTLSA)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status == resolver.Secure && len(res.Records) != 1 {
		t.Fatalf("secure answer with %d records", len(res.Records))
	}
	return res.Status
}

func tagsOfRole(ks []KeyInfo, role KeyRole, state string) []uint16 {
	var out []uint16
	for _, k := range ks {
		if k.Role == role && k.State == state {
			out = append(out, k.Tag)
		}
	}
	return out
}

// TestRolloverSplit walks the ZSK rollover (pre-publication) and the KSK
// rollover (double-KSK) of a zone with a KSK and a ZSK. After every step
// the transferred zone passes the three verifiers, which keys sign what is
// checked, and validators anchored at the DS of before keep validating:
// fresh ones, and one that caches across steps while the clock moves by
// the waits the rollover help text asks for.
func TestRolloverSplit(t *testing.T) {
	type state struct {
		step RolloverStep
		wait time.Duration // before the step: what an operator waits
		// roles' tags by state after the step: old/new active, old
		// outgoing, new incoming (true: the rolled role's new key).
		dnskeys int
		// signers of TLSA and DNSKEY: "old", "new", "both" for the
		// rolled role; the other role's key is fixed.
		zoneData, keySet string
		cds              string // "old" or "new" KSK
		oldDSValid       bool   // the DS of before still validates
	}
	tests := []struct {
		role  KeyRole
		steps []state
	}{
		{RoleZSK, []state{
			{Prepublish, 0, 3, "old", "ksk", "old", true},
			// the DNSKEY TTL plus the propagation delay: caches
			// must hold the new ZSK first
			{Activate, time.Hour + PropagationDelay, 3, "new", "ksk", "old", true},
			// the largest TTL plus the propagation delay:
			// signatures by the old ZSK expire
			{Retire, time.Hour + PropagationDelay, 2, "new", "ksk", "old", true},
		}},
		{RoleKSK, []state{
			{Prepublish, 0, 3, "zsk", "both", "old", true},
			{Activate, time.Hour + PropagationDelay, 3, "zsk", "both", "new", true},
			// CDS propagated; then the parent's DS is seen, and
			// retire waits the DS TTL plus the parent's delay
			{Retire, time.Hour + PropagationDelay, 2, "zsk", "new", "new", false},
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			// Start in the past, so that after the waits the
			// signatures' inception is still behind the real clock
			// the external verifiers use.
			clock := &fakeClock{t: time.Now().Add(-8 * time.Hour).Truncate(time.Second)}
			z, dir := newZone(t, clock)
			current := func() *Zone { return z } // z is reopened below
			if _, err := z.Update(nil, []dns.RR{rr(t, "s1._device.devices.test. 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")}, Policy{}); err != nil {
				t.Fatal(err)
			}
			before := z.Keys()
			oldKSK, oldZSK := tagsOfRole(before, RoleKSK, "active"), tagsOfRole(before, RoleZSK, "active")
			if len(before) != 2 || len(oldKSK) != 1 || len(oldZSK) != 1 {
				t.Fatalf("keys of a new zone: %+v", before)
			}
			var oldDS string
			for _, k := range before {
				if k.Role == RoleKSK {
					oldDS = k.DS
				}
			}
			if oldDS == "" || before[1].DS != "" && before[0].DS != "" {
				t.Fatalf("DS of the keys: %+v", before)
			}
			cached := validator(t, current, clock, oldDS)
			if s := lookupStatus(t, cached); s != resolver.Secure {
				t.Fatalf("before the rollover: %v", s)
			}
			var newTag uint16
			for i, st := range tt.steps {
				clock.Advance(st.wait)
				// The parent serves the new KSK's DS with a TTL of
				// an hour.
				opt := RolloverOptions{CheckParentDS: fakeParent(true, time.Hour, nil)}
				_, err := z.Rollover(t.Context(), tt.role, st.step, opt)
				if tt.role == RoleKSK && st.step == Retire {
					// First seen now: wait for the DS TTL.
					var we *RolloverWaitError
					if !errors.As(err, &we) {
						t.Fatalf("%s, the parent's DS first seen: %v", st.step, err)
					}
					clock.Advance(time.Hour + ParentPropagationDelay)
					_, err = z.Rollover(t.Context(), tt.role, st.step, opt)
				}
				if err != nil {
					t.Fatalf("%s: %v", st.step, err)
				}
				if tt.role == RoleZSK && st.step == Activate {
					// The old ZSK's signatures are served until the
					// background re-signing has replaced them.
					a, err := z.Query("s1._device.devices.test.", dns.TypeTLSA, QueryOptions{DNSSEC: true})
					if err != nil {
						t.Fatal(err)
					}
					if got := sigTags(a.Answer, dns.TypeTLSA); !slices.Equal(got, oldZSK) && !slices.Equal(got, []uint16{newTag}) {
						t.Errorf("TLSA signed by %v right after activate, want the old %v or the new %d", got, oldZSK, newTag)
					}
					if err := z.ResignWait(t.Context()); err != nil {
						t.Fatal(err)
					}
				}
				if i == 0 {
					// Steps without a role continue the rollover
					// under way; the other role must wait.
					other := RoleKSK
					if tt.role == RoleKSK {
						other = RoleZSK
					}
					if _, err := z.Rollover(t.Context(), other, Activate, RolloverOptions{}); !errors.Is(err, ErrRollover) {
						t.Fatalf("%s activate during a %s rollover: %v", other, tt.role, err)
					}
					if _, err := z.Rollover(t.Context(), "", Prepublish, RolloverOptions{}); !errors.Is(err, ErrRollover) {
						t.Fatalf("second prepublish: %v", err)
					}
					inc := tagsOfRole(z.Keys(), tt.role, "incoming")
					if len(inc) != 1 {
						t.Fatalf("after prepublish: %+v", z.Keys())
					}
					newTag = inc[0]
					// The state survives a restart: a pre-published
					// ZSK still signs nothing.
					z.Close()
					var err error
					if z, err = Open(dir, Options{Time: clock.Now}); err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { z.Close() })
				}
				old := map[KeyRole]uint16{RoleKSK: oldKSK[0], RoleZSK: oldZSK[0]}[tt.role]
				want := func(which string) []uint16 {
					switch which {
					case "old":
						return []uint16{old}
					case "new":
						return []uint16{newTag}
					case "both":
						return []uint16{old, newTag}
					case "ksk":
						return oldKSK
					case "zsk":
						return oldZSK
					}
					t.Fatalf("bad table entry %q", which)
					return nil
				}
				query := func(name string, qt uint16) []dns.RR {
					a, err := z.Query(name, qt, QueryOptions{DNSSEC: true})
					if err != nil {
						t.Fatal(err)
					}
					return a.Answer
				}
				sorted := func(tags []uint16) []uint16 { slices.Sort(tags); return tags }
				if got, w := sorted(sigTags(query("s1._device.devices.test.", dns.TypeTLSA), dns.TypeTLSA)), sorted(want(st.zoneData)); !slices.Equal(got, w) {
					t.Errorf("%s: TLSA signed by %v, want %v", st.step, got, w)
				}
				if got, w := sorted(sigTags(query(origin, dns.TypeDNSKEY), dns.TypeDNSKEY)), sorted(want(st.keySet)); !slices.Equal(got, w) {
					t.Errorf("%s: DNSKEY signed by %v, want %v", st.step, got, w)
				}
				if got, w := sorted(sigTags(query(origin, dns.TypeCDS), dns.TypeCDS)), sorted(want(st.keySet)); !slices.Equal(got, w) {
					t.Errorf("%s: CDS signed by %v, want %v", st.step, got, w)
				}
				if n := len(z.Get(origin, dns.TypeDNSKEY)); n != st.dnskeys {
					t.Errorf("%s: %d DNSKEYs, want %d", st.step, n, st.dnskeys)
				}
				cdsTag := oldKSK[0]
				if st.cds == "new" {
					cdsTag = newTag
				}
				cds := z.Get(origin, dns.TypeCDS)
				if len(cds) != 1 || cds[0].(*dns.CDS).KeyTag != cdsTag {
					t.Errorf("%s: CDS %v, want key %d", st.step, cds, cdsTag)
				}
				anchors, err := os.ReadFile(filepath.Join(dir, AnchorsFile))
				if err != nil {
					t.Fatal(err)
				}
				wantAnchors := 1
				if tt.role == RoleKSK && st.step != Retire {
					wantAnchors = 2
				}
				if n := strings.Count(string(anchors), "IN\tDS\t"); n != wantAnchors {
					t.Errorf("%s: %d DS lines in anchors, want %d:\n%s", st.step, n, wantAnchors, anchors)
				}
				rrs, err := z.Transfer()
				if err != nil {
					t.Fatal(err)
				}
				checkWithTools(t, writeZoneFile(t, rrs))
				verifyAllKeys(t, z, rrs)

				// Validators with the DS of before.
				wantOld := resolver.Secure
				if !st.oldDSValid {
					wantOld = resolver.Bogus
				}
				if s := lookupStatus(t, validator(t, current, clock, oldDS)); s != wantOld {
					t.Errorf("%s: fresh validator with the old DS: %v, want %v", st.step, s, wantOld)
				}
				if st.oldDSValid {
					if s := lookupStatus(t, cached); s != resolver.Secure {
						t.Errorf("%s: validator caching since before the rollover: %v", st.step, s)
					}
				}
				// Once CDS names the new KSK, the parent's new DS works.
				if st.cds == "new" {
					ds := cds[0].(*dns.CDS).DS
					ds.Hdr.Rrtype = dns.TypeDS
					if s := lookupStatus(t, validator(t, current, clock, ds.String())); s != resolver.Secure {
						t.Errorf("%s: validator with the DS from CDS: %v", st.step, s)
					}
				}
			}
			after := z.Keys()
			if len(after) != 2 || slices.ContainsFunc(after, func(k KeyInfo) bool { return k.State != "active" }) {
				t.Fatalf("keys after the rollover: %+v", after)
			}
			if got := tagsOfRole(after, tt.role, "active"); len(got) != 1 || got[0] != newTag {
				t.Fatalf("active %s after the rollover: %v, want %d", tt.role, got, newTag)
			}
		})
	}
}

// TestRolloverRoles checks the roles a rollover may name in each kind of
// zone.
func TestRolloverRoles(t *testing.T) {
	clock := newClock()
	csk, _ := newCSKZone(t, clock)
	split, _ := newZone(t, clock)
	tests := []struct {
		name string
		z    *Zone
		role KeyRole
		step RolloverStep
		ok   bool
	}{
		{"ksk in a csk zone", csk, RoleKSK, Prepublish, false},
		{"zsk in a csk zone", csk, RoleZSK, Prepublish, false},
		{"csk in a split zone", split, RoleCSK, Prepublish, false},
		{"unknown role", split, "psk", Prepublish, false},
		{"upper-case role", split, "ZSK", Prepublish, false},
		{"unknown step", split, RoleZSK, "sideways", false},
		{"activate first", split, RoleKSK, Activate, false},
		{"retire first", split, "", Retire, false},
		{"default role of a split zone", split, "", Prepublish, true},
		{"zsk activate too early", split, RoleZSK, Activate, false},
		{"zsk under way", split, RoleZSK, Activate, true},
		{"default role of a csk zone", csk, "", Prepublish, true},
	}
	for _, tt := range tests {
		if tt.name == "zsk under way" {
			clock.Advance(time.Hour + PropagationDelay)
		}
		_, err := tt.z.Rollover(t.Context(), tt.role, tt.step, RolloverOptions{})
		if (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.name, err)
		}
		if err != nil && tt.name != "unknown step" && !errors.Is(err, ErrRollover) {
			t.Errorf("%s: %v is not ErrRollover", tt.name, err)
		}
	}
	// The default role of the split zone was the ZSK.
	ks := split.Keys()
	if got := tagsOfRole(ks, RoleZSK, "outgoing"); len(got) != 1 {
		t.Fatalf("split zone keys: %+v", ks)
	}
	if got := tagsOfRole(csk.Keys(), RoleCSK, "incoming"); len(got) != 1 {
		t.Fatalf("csk zone keys: %+v", csk.Keys())
	}
}

// TestSettingsCompatible opens settings as the code before KSK/ZSK split
// stored them.
func TestSettingsCompatible(t *testing.T) {
	old := `{"origin":"devices.test.","key_files":["Kdevices.test.+013+01234.key"],"incoming_key_files":["Kdevices.test.+013+04321.key"],"ttl":300,"negative_ttl":60,"key_ttl":3600,"created":"2026-01-02T03:04:05Z"}`
	s, err := unmarshalSettings([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.KeyFiles) != 1 || len(s.IncomingKeyFiles) != 1 || s.PublishedKeyFiles != nil || s.RetiredKeyFiles != nil {
		t.Fatalf("settings %+v", s)
	}
	if strings.Contains(string(s.marshal()), "published_key_files") {
		t.Fatalf("empty new fields stored: %s", s.marshal())
	}
}

// TestRolloverConcurrent takes the same step from several goroutines: one
// prepublish wins, the others find the rollover under way.
func TestRolloverConcurrent(t *testing.T) {
	z, _ := newZone(t, newClock())
	const n = 4
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := z.Rollover(t.Context(), "", Prepublish, RolloverOptions{})
			errs <- err
		}()
	}
	ok := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			ok++
		case !errors.Is(err, ErrRollover):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 || len(z.Get(origin, dns.TypeDNSKEY)) != 3 {
		t.Fatalf("%d prepublish steps succeeded, DNSKEY RRset %v", ok, z.Get(origin, dns.TypeDNSKEY))
	}
}
